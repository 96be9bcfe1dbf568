"""What every crmcore store shares above its reads and writes.

A backend (in memory, SQLite, a third party's) supplies only how records are
read and written; the argument checks, the errors a compare-and-set raises,
pages and their cursors, and ``resolve`` live here so that every store means
the same thing by them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

from crmcore.customers import Customer
from crmcore.errors import StorageError, ValidationError
from crmcore.ids import is_customer_id, is_lead_id
from crmcore.interactions import Channel
from crmcore.leads import Lead
from crmcore.storage._common import check_limit, decode_cursor, micros

R = TypeVar("R", bound=Customer | Lead)

MAX_CHAIN: Final = 1_000
"""How many merges deep ``resolve`` follows before calling the chain broken."""

TIMELINE_TAG: Final = "timeline"
"""The ordering tag of ``list_for`` cursors (newest first)."""


def resolve_chain(get: Callable[[Any], R], record_id: Any) -> R:
    """Follow ``merged_into`` from ``record_id`` to the live record.

    Raises:
        NotFound: a record on the chain is not stored.
        StorageError: the chain loops or is absurdly long (a corrupt store).
    """
    record = get(record_id)
    seen = {record.id}
    while record.merged_into is not None:
        record = get(record.merged_into)
        if record.id in seen or len(seen) > MAX_CHAIN:
            raise StorageError("the chain of merges from this record loops")
        seen.add(record.id)
    return record


def check_record_id(record_id: object) -> str:
    """The ``record_id`` of ``merges.list_for``: text (a list must not reach a driver)."""
    if not isinstance(record_id, str):
        raise ValidationError("record_id", "must be a customer or lead id")
    return record_id


def check_timeline_args(
    record_id: object,
    since: object,
    until: object,
    channel: object,
    limit: object,
    cursor: object,
) -> tuple[int | None, int | None, Channel | None, int | None, tuple[int, str] | None]:
    """Check ``list_for``'s arguments; times become microseconds since the epoch."""
    if not (is_customer_id(record_id) or is_lead_id(record_id)):
        raise ValidationError("record_id", "must be a customer or lead id")
    bounds: list[int | None] = []
    for name, value in (("since", since), ("until", until)):
        if value is None:
            bounds.append(None)
        elif isinstance(value, datetime) and value.utcoffset() is not None:
            bounds.append(micros(value))
        else:
            raise ValidationError(name, "must be a timezone-aware datetime")
    if channel is not None and not isinstance(channel, Channel):
        raise ValidationError("channel", "must be a Channel")
    size = check_limit(limit, optional=True)
    after = None
    if cursor is not None:
        after = decode_cursor(cursor, TIMELINE_TAG, int)
    return bounds[0], bounds[1], channel, size, after
