"""What opportunities, tasks and cases share: slugs, probabilities, tags and custom fields.

The three work items are checked the same way as customers and leads (one
:class:`~crmcore._validation.Problems` collector, paths naming the field), and
these are the checks they have in common.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Protocol

from crmcore._validation import Problems, ensure_utc, given, utcnow
from crmcore.errors import ValidationError
from crmcore.values import CustomFields, check_unicode, normalize_tags

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "PROBABILITY_PLACES",
    "check_description",
    "check_probability",
    "check_slug",
    "check_work_fields",
    "moment",
    "parse_probability",
    "parse_work_fields",
]

_SLUG: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_LONG_SLUG: Final = re.compile(r"[a-z0-9][a-z0-9_-]*")
MAX_DESCRIPTION_LENGTH: Final = 100_000
PROBABILITY_PLACES: Final = 4
"""A probability has at most four decimal places (``0.1234`` is 12.34 %).

The cap keeps ``amount * probability`` exact and storable: an amount of at
most 34 digits times such a probability has at most 38, what :class:`Money`
holds.
"""
_ONE: Final = Decimal(1)
_QUANTUM: Final = Decimal(1).scaleb(-PROBABILITY_PLACES)


class _Tagged(Protocol):
    @property
    def tags(self) -> frozenset[str]: ...
    @property
    def custom_fields(self) -> CustomFields: ...
    @property
    def version(self) -> int: ...


def check_slug(value: object, field: str, *, max_length: int = 64) -> str:
    """An app-chosen identifier: lowercase letters, digits, ``_`` and ``-``.

    Pipelines, stages and contact roles are named by slugs, so they can be
    stored, filtered and put in a URL without escaping.
    """
    shape = _SLUG if max_length == 64 else _LONG_SLUG
    if not isinstance(value, str) or len(value) > max_length or not shape.fullmatch(value):
        raise ValidationError(
            field,
            f"must be a slug of at most {max_length} characters "
            "(lowercase letters, digits, '_' and '-', starting with a letter or digit)",
        )
    return value


def check_probability(value: object, field: str) -> Decimal:
    """A probability as an exact Decimal from 0 to 1, in its canonical form.

    ``0.50`` and ``0.5`` are one probability; the canonical form (``0.5``)
    makes their text equal too, so that stores can group on it.
    """
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= _ONE:
        raise ValidationError(field, "must be a decimal from 0 to 1")
    if value != value.quantize(_QUANTUM):
        raise ValidationError(field, f"must have at most {PROBABILITY_PLACES} decimal places")
    if value == 0:
        return Decimal(0)
    return value.normalize() if value != _ONE else _ONE


def parse_probability(value: object, field: str) -> Decimal:
    """Read a probability from a Decimal, an int, a decimal string or a float (as written).

    A float (from a JSON configuration file, say) is read by its shortest
    repr, so ``0.2`` is ``Decimal("0.2")``, not the binary fraction.
    """
    if isinstance(value, bool):
        raise ValidationError(field, "must be a decimal from 0 to 1")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, int) and -10 < value < 10:
        value = Decimal(value)
    if isinstance(value, str):
        if len(value) > 32:
            raise ValidationError(field, "must be a decimal from 0 to 1")
        try:
            value = Decimal(value)
        except InvalidOperation:
            raise ValidationError(field, "must be a decimal from 0 to 1") from None
    return check_probability(value, field)


def check_work_fields(record: _Tagged, problems: Problems) -> None:
    """Check (and normalise in place) a frozen work item's tags, custom fields and bookkeeping.

    The bookkeeping: ``created_at`` and ``updated_at`` in UTC, ``version``.
    """
    if type(record.tags) is not frozenset or record.tags:
        try:
            object.__setattr__(record, "tags", normalize_tags(record.tags))
        except ValidationError as exc:
            problems.found.extend(exc.problems)
    if not isinstance(record.custom_fields, CustomFields):
        problems.add("custom_fields", "must be CustomFields")
    problems.utc(record, "created_at", "updated_at")
    problems.check_version(record.version)


def parse_work_fields(
    problems: Problems,
    values: dict[str, Any],
    tags: Iterable[object],
    custom_fields: Mapping[str, object] | None,
) -> None:
    """Parse the raw tags and custom fields of a ``create`` call into ``values``."""
    if given(tags):
        problems.parse_into(values, "tags", normalize_tags, tags)
    if given(custom_fields):
        problems.parse_into(
            values, "custom_fields", CustomFields.parse, custom_fields, field="custom_fields"
        )


def check_description(record: Any, problems: Problems) -> None:
    """Check a work item's ``description``: free text (line breaks kept), capped, valid Unicode."""
    value = record.description
    if value is None:
        return
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_LENGTH:
        problems.add("description", f"must be text of at most {MAX_DESCRIPTION_LENGTH} characters")
    elif not value.strip():
        object.__setattr__(record, "description", None)
    else:
        problems.set(record, "description", check_unicode, value, "description")


def moment(value: object, field: str = "at") -> datetime:
    """The time of a change: ``value`` in UTC (timezone-aware), or now when ``None``."""
    return utcnow() if value is None else ensure_utc(value, field)
