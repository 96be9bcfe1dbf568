"""The SQL side of referential integrity: one ``IN`` query per probe and chunk.

The rules live in :mod:`crmcore.storage._integrity`; this only answers its
probes, built once per store and probe. On PostgreSQL a probe for the
records a write names locks the rows it finds (``FOR KEY SHARE``, or ``FOR
SHARE`` when the row's kind matters), as a foreign key would: a concurrent
delete of one of them waits, and then refuses or finds it gone. Other
databases (SQLite) have one writer at a time and no row locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.engine import Connection

from crmcore.storage._integrity import Probe
from crmcore.storage.sql._connection import chunks
from crmcore.storage.sql._schema import Tables


class References:
    """The probes of one store's tables, each statement built on first use."""

    def __init__(self, tables: Tables, postgres: bool) -> None:
        self._tables = tables
        self._postgres = postgres
        self._built: dict[Probe, Select[Any]] = {}

    def _statement(self, probe: Probe) -> Select[Any]:
        query = self._built.get(probe)
        if query is None:
            # Table and column names come from the rule list of _integrity, never from input.
            table = getattr(self._tables, probe.table)
            column = table.c[probe.column]
            query = select(column).where(column.in_(bindparam("values", expanding=True)))
            if probe.where is not None:
                query = query.where(table.c[probe.where[0]] == probe.where[1])
            if probe.lock is not None and self._postgres:
                query = query.with_for_update(read=True, key_share=probe.lock == "key_share")
            elif probe.lock is None:
                query = query.distinct()
            self._built[probe] = query
        return query

    def present(self, conn: Connection, probe: Probe, values: Sequence[str]) -> set[str]:
        """The values among ``values`` that the probed column holds."""
        query = self._statement(probe)
        found: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(values))):
            found.update(row[0] for row in conn.execute(query, {"values": list(chunk)}))
        return found
