"""The SQLite side of referential integrity: one ``IN`` query per probe and chunk.

The rules live in :mod:`crmcore.storage._integrity`; this only answers its
probes. SQLite has one writer at a time (``BEGIN IMMEDIATE``), so a probe
takes no lock: the write and its check see the same database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache
from typing import Final

from crmcore.storage._integrity import Probe
from crmcore.storage.sqlite._connection import chunks, placeholders

# The logical table names of a probe that are spelled otherwise here.
_TABLES: Final = {"participants": "interaction_participants"}


@cache
def _statement(probe: Probe, count: int) -> str:
    # Table and column names come from the rule list of _integrity, never from input.
    table = _TABLES.get(probe.table, probe.table)
    sql = (
        f"SELECT DISTINCT {probe.column} FROM {table} "
        f"WHERE {probe.column} IN ({placeholders(count)})"
    )
    if probe.where is not None:
        sql += f" AND {probe.where[0]} = ?"
    return sql


def present(conn: sqlite3.Connection, probe: Probe, values: Sequence[str]) -> set[str]:
    """The values among ``values`` that the probed column holds."""
    found: set[str] = set()
    extra = () if probe.where is None else (probe.where[1],)
    for chunk in chunks(list(dict.fromkeys(values))):
        rows = conn.execute(_statement(probe, len(chunk)), (*chunk, *extra)).fetchall()
        found.update(row[0] for row in rows)
    return found
