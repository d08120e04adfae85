"""The layering DESIGN.md promises, checked on the source: the runtime never imports the offline tooling,
skills never import an adapter, and only storage talks SQL."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ("bot", "adapters", "skills", "storage")


def imports(package: str) -> Iterator[tuple[Path, str]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module


def offending(packages: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(ROOT)} imports {name}"
            for package in packages for path, name in imports(package)
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


def test_runtime_never_imports_offline_tooling() -> None:
    assert offending(RUNTIME, ("offline",)) == []


def test_skills_never_import_an_adapter() -> None:
    assert offending(("skills",), ("adapters",)) == []


def test_only_storage_talks_sql() -> None:
    assert offending(("bot", "adapters", "skills"), ("sqlalchemy",)) == []


def test_storage_imports_nothing_of_ours() -> None:
    assert offending(("storage",), ("bot", "adapters", "skills", "offline")) == []


def test_the_offline_tooling_is_found_by_the_layering_check() -> None:
    """Guards the guard: a rename that made `offline` invisible would pass the checks above vacuously."""
    assert any(name.startswith("offline.") for _, name in imports("offline"))
