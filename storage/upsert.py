"""INSERT ... ON CONFLICT for the two dialects we support, so concurrent writers never race."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import Base


def insert_for(session: AsyncSession, table: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts are not implemented for {dialect}")


async def upsert(
    session: AsyncSession,
    table: type[Base],
    values: dict[str, Any],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert `values`, or on a clash on `conflict` columns overwrite the `update` columns."""
    stmt = insert_for(session, table).values(**values)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(conflict), set_={col: stmt.excluded[col] for col in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    await session.execute(stmt)


async def insert_ignoring_duplicates(
    session: AsyncSession, table: type[Base], values: dict[str, Any], conflict: Sequence[str]
) -> bool:
    """True when the row was new; False when an equal key was already there (or just arrived)."""
    stmt = insert_for(session, table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))
