"""The vendored Slack and Teams manifest schemas (see schemas/LICENSE.*) and validators for them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

SCHEMAS = Path(__file__).parent / "schemas"


@cache
def slack_validator() -> Draft7Validator:
    """Slack's published app-manifest schema for manifest major version 1; it declares draft-07."""
    schema = json.loads((SCHEMAS / "slack-app-manifest-1.0.0.schema.json").read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@cache
def teams_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / "teams-app-manifest-1.29.schema.json").read_text(encoding="utf-8"))
    return schema


@cache
def teams_validator() -> Draft7Validator:
    """The Teams schema says draft-04 but uses draft-06/07 keywords (`const`, `if`/`then`) that a draft-04
    validator silently skips, so it is checked with draft-07 semantics; it has no remote `$ref`s to resolve.

    Its structure is checked against the draft-07 metaschema without the `regex` format check: one pattern
    (extension function names, unused by whybot) is ECMAScript `\\p{L}`, which Python's `re` cannot compile."""
    Draft7Validator(Draft7Validator.META_SCHEMA).validate(teams_schema())
    return Draft7Validator(teams_schema())


def errors(validator: Draft7Validator, instance: object) -> list[str]:
    """Readable schema errors; empty when the instance is valid."""
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]
