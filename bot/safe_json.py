"""JSON from strangers. `json.loads` recurses once per nesting level and accepts lone surrogates and
integers of any size, so a hostile body can raise RecursionError (a 500) or smuggle unencodable text into
storage. pydantic_core's parser refuses all three with a ValueError, which callers turn into a 400."""

from __future__ import annotations

from typing import Any

import pydantic_core


def loads(data: str | bytes) -> Any:
    """The parsed value, or ValueError saying why the text is not JSON we accept."""
    try:
        return pydantic_core.from_json(data)
    except (ValueError, TypeError) as exc:  # TypeError: unencodable str (a lone surrogate in the text itself)
        raise ValueError(str(exc)) from exc
