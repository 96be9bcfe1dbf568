"""What the pipeline, agenda and support queries share: argument checks and duration figures.

:mod:`crmcore.sales`, :mod:`crmcore.agenda` and :mod:`crmcore.support` take a
:class:`~crmcore.storage.WorkStore`; the checks here refuse anything else by
name, and :class:`DurationStats` is the one shape their time metrics return.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from crmcore import _store_ops as ops
from crmcore._validation import ensure_utc
from crmcore.errors import ValidationError

if TYPE_CHECKING:
    from crmcore.storage import Filter, ItemRepository

__all__ = ["DurationStats"]

W = TypeVar("W")

_MAX_TEXT = 1_000


def check_work_store(store: object) -> None:
    """Refuse a store without opportunities, tasks and cases, naming ``store``.

    The check :class:`~crmcore.storage.SupportsWorkItems` makes at run time,
    done without importing the storage package.
    """
    if not all(hasattr(store, name) for name in ("opportunities", "tasks", "cases")):
        raise ValidationError("store", "must hold opportunities, tasks and cases (WorkStore)")


def check_period(since: object, until: object) -> tuple[datetime, datetime]:
    """A period ``since`` (inclusive) to ``until`` (exclusive), both aware, in UTC."""
    start = ensure_utc(since, "since")
    end = ensure_utc(until, "until")
    if end <= start:
        raise ValidationError("until", "must be after since")
    return start, end


def optional_key(value: object, field: str) -> str | None:
    """An optional identifier-like argument (a pipeline id, an assignee), as text."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise ValidationError(field, f"must be text of 1 to {_MAX_TEXT} characters")
    return value


def iter_matching(repository: ItemRepository[W, Any], *filters: Filter) -> Iterator[W]:
    """Every item matching ``filters``, in id order, read a page at a time as consumed."""
    return ops._paged(lambda cursor: repository.list(*filters, limit=ops.PAGE_SIZE, cursor=cursor))


@attrs.frozen
class DurationStats:
    """How long something took, over the records of a period.

    Attributes:
        count: the records measured.
        mean: their mean duration (to the microsecond); ``None`` when ``count`` is 0.
        median: their median duration (the mean of the middle two for an even
            count); ``None`` when ``count`` is 0.
        pending: records of the period still waiting for the moment measured
            (cases not answered yet, for first-response times).
    """

    count: int
    mean: timedelta | None
    median: timedelta | None
    pending: int = 0

    @classmethod
    def of(cls, durations: Iterable[timedelta], *, pending: int = 0) -> DurationStats:
        """The figures of ``durations``."""
        ordered = sorted(durations)
        if not ordered:
            return cls(0, None, None, pending)
        n = len(ordered)
        # timedelta arithmetic is exact integer microseconds; the divisions round
        # half to even, as timedelta does.
        mean = sum(ordered, timedelta()) / n
        middle = n // 2
        median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        return cls(n, mean, median, pending)
