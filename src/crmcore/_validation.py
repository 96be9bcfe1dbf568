"""The checks every model shares: one problem collector, enum coercion, timestamps,
collection arguments, flags, dates and versions."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, Final, TypeVar

from crmcore.errors import ValidationError

__all__ = [
    "MAX_VERSION",
    "Problems",
    "check_date",
    "check_flag",
    "check_version",
    "ensure_utc",
    "enum_member",
    "given",
    "items_of",
    "tuple_of",
    "utcnow",
]


T = TypeVar("T")


class Problems:
    """Every problem a constructor finds, so that one ValidationError reports them all."""

    __slots__ = ("found",)

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        """Record one problem."""
        self.found.append((path, message))

    def value(self, check: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``check(*args, **kwargs)``, or ``None`` with why recorded."""
        try:
            return check(*args, **kwargs)
        except ValidationError as exc:
            self.found.extend(exc.problems)
            return None

    def set(self, instance: object, field: str, check: Any, *args: Any, **kwargs: Any) -> None:
        """Set frozen ``instance``'s ``field`` to ``check(*args, **kwargs)``, or record why not."""
        try:
            object.__setattr__(instance, field, check(*args, **kwargs))
        except ValidationError as exc:
            self.found.extend(exc.problems)

    def parse_into(
        self, values: dict[str, Any], name: str, parse: Any, *args: Any, **kwargs: Any
    ) -> None:
        """Store ``parse(*args, **kwargs)`` under ``name``, or record why not.

        Raw input of the wrong type (``LeadSource(5)``) counts as a problem too.
        """
        try:
            values[name] = parse(*args, **kwargs)
        except ValidationError as exc:
            self.found.extend(exc.problems)
        except (TypeError, ValueError):
            self.found.append((name, "is invalid"))

    def utc(self, instance: object, *fields: str) -> None:
        """Set each of frozen ``instance``'s datetime ``fields`` to UTC, or record why not."""
        for field in fields:
            value = getattr(instance, field)
            # The common case costs no call: this runs for every record decoded.
            if not (type(value) is datetime and value.tzinfo is UTC):
                self.set(instance, field, ensure_utc, value, field)

    def check_version(self, value: object) -> None:
        """Record a version that is not a non-negative 64-bit int."""
        try:
            check_version(value)
        except ValidationError as exc:
            self.found.extend(exc.problems)

    def raise_if_any(self) -> None:
        """Raise one ValidationError listing everything recorded."""
        if self.found:
            raise ValidationError(self.found)


E = TypeVar("E", bound=enum.Enum)


def enum_member(kind: type[E], value: object, field: str, message: str | None = None) -> E:
    """``value`` as a member of ``kind``: a member, or its value (``"qualified"``).

    ``message`` says what is wrong (by default "must be a <kind>").
    """
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except (ValueError, TypeError):
        raise ValidationError(field, message or f"must be a {kind.__name__}") from None


def utcnow() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(UTC)


def ensure_utc(value: object, field: str) -> datetime:
    """Return an aware datetime converted to UTC.

    Naive datetimes are refused, and so is an aware one whose UTC value is
    outside ``datetime``'s range (9999-12-31 23:00 at -05:00 is year 10000 in
    UTC): converting it would raise ``OverflowError``.
    """
    if not isinstance(value, datetime):
        raise ValidationError(field, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, "must be timezone-aware (naive datetimes are ambiguous)")
    if value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValidationError(field, "is outside the range of datetimes in UTC") from None


_EMPTY_TYPES: Final = (tuple, list, dict, set, frozenset, str, bytes)


def given(value: object) -> bool:
    """Whether an optional collection argument was passed: not ``None``, not empty.

    Only built-in collections count as empty; the truth of anything else is
    never asked (``bool()`` of ``NotImplemented`` warns, of a numpy array
    raises), so it goes on to be checked, and refused, by name.
    """
    if value is None:
        return False
    return not (type(value) in _EMPTY_TYPES and len(value) == 0)  # type: ignore[arg-type]


def items_of(value: object, field: str) -> list[Any]:
    """The items of a collection argument, as a list.

    One string is refused rather than read as a sequence of characters, and a
    non-iterable (``emails=5``) is refused by name instead of escaping as a
    ``TypeError``.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError(field, "must be a collection (a list or tuple, not one value)")
    return list(value)


def check_flag(value: object, field: str) -> bool:
    """A true-or-false argument: ``force="no"`` must not count as true."""
    if not isinstance(value, bool):
        raise ValidationError(field, "must be true or false")
    return value


def tuple_of(value: object, cls: type, field: str) -> tuple[Any, ...]:
    """A collection field as a tuple of ``cls`` values.

    Entities are frozen and hashable, so a list (from ``attrs.evolve``, say)
    becomes a tuple; anything else is refused by name.
    """
    items = value if type(value) is tuple else tuple(items_of(value, field))
    if not all(isinstance(item, cls) for item in items):
        raise ValidationError(field, f"must hold {cls.__name__} values")
    return items


def check_date(value: object, field: str) -> date | None:
    """Accept a ``date`` (not a datetime) or ``None``."""
    if value is None:
        return None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(field, "must be a date")
    return value


MAX_VERSION: Final = 2**63 - 1
"""The largest version: versions are 64-bit integers, as every SQL store keeps them."""


def check_version(value: object, field: str = "version", *, least: int = 0) -> None:
    """A version is an int from ``least`` to :data:`MAX_VERSION`.

    0 is a record no store has seen yet. The upper bound keeps a version
    storable, and printable: ``repr`` and JSON of 10**5000 would raise.
    """
    if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= MAX_VERSION:
        kind = "non-negative" if least == 0 else "positive"
        raise ValidationError(field, f"must be a {kind} integer within 64 bits")
