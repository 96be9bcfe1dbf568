"""Field reprs for attrs classes that hold records: show ids and counts, never the records.

Results and plans carry customers and leads; their reprs (in logs, tracebacks,
test output) must not print a name or an email. Each such field says how it is
shown, ``attrs.field(repr=count)`` or ``attrs.field(repr=id_of)``, or is left
out with ``repr=False``; attrs writes the rest of the repr.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Protocol

__all__ = ["count", "id_of"]


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


def count(items: Sized) -> str:
    """A collection, shown by its size."""
    return str(len(items))


def id_of(record: _HasId) -> str:
    """A record, shown by its id."""
    return repr(record.id)
