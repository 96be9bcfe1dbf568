"""The exceptions crmcore raises: everything derives from :class:`CrmError`.

Messages never contain the offending value: a rejected email address or phone
number is personal data, and error messages end up in logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "CrmError",
    "DataError",
    "DuplicateDetected",
    "DuplicateRecord",
    "IntegrityError",
    "InvalidTransition",
    "NotFound",
    "OperationalError",
    "RecordRestricted",
    "StorageError",
    "Suppressed",
    "ValidationError",
    "VersionConflict",
]


class CrmError(Exception):
    """Base class of every exception crmcore raises on purpose.

    Every crmcore error pickles exactly (its message, its attributes and its
    notes), whatever its constructor's signature: errors cross process
    boundaries (worker pools, task queues) and must arrive unchanged.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickling calls ``cls(*self.args)``: ValidationError would
        # read its rendered message as a path and come back with another message.
        return (_restore, (type(self), self.args), self.__dict__ or None)


def _restore(cls: type[CrmError], args: tuple[Any, ...]) -> CrmError:
    # BaseException.__new__ sets ``args`` without running ``__init__``; pickle then
    # restores ``__dict__`` (problems, expected/actual, matches, notes).
    return cls.__new__(cls, *args)


class ValidationError(CrmError, ValueError):
    """Input that crmcore cannot accept.

    Carries every problem found as ``(path, message)`` pairs in
    :attr:`problems`. A path names the field (``emails[1]``, ``name.family``);
    a message says what is wrong without repeating the value.
    """

    problems: tuple[tuple[str, str], ...]

    def __init__(self, problems: Iterable[tuple[str, str]] | str, message: str | None = None):
        if isinstance(problems, str):
            found: tuple[tuple[str, str], ...] = ((problems, message or "is invalid"),)
        else:
            found = tuple(problems)
        if not found:
            found = (("", message or "is invalid"),)
        self.problems = found
        super().__init__(self._render(found))

    @staticmethod
    def _render(problems: Sequence[tuple[str, str]]) -> str:
        parts = [f"{path}: {message}" if path else message for path, message in problems]
        return "; ".join(parts)

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths of the fields with problems, in the order found."""
        return tuple(path for path, _ in self.problems)

    def prefixed(self, prefix: str) -> ValidationError:
        """Return a copy with every path under ``prefix`` (``family`` -> ``name.family``)."""
        return ValidationError(
            (join_path(prefix, path), message) for path, message in self.problems
        )

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.problems)


def join_path(prefix: str, path: str) -> str:
    """Join two parts of a field path: ``emails`` + ``[1]`` -> ``emails[1]``."""
    if not prefix:
        return path
    if not path:
        return prefix
    if path.startswith("["):
        return prefix + path
    return f"{prefix}.{path}"


class NotFound(CrmError, LookupError):
    """No record has the requested id."""


class VersionConflict(CrmError):
    """A write was based on a stale copy: someone else changed the record first."""

    def __init__(self, message: str, *, expected: int | None = None, actual: int | None = None):
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class InvalidTransition(CrmError):
    """A state change that the record's state machine does not allow."""


class DuplicateRecord(CrmError):
    """A record was refused because it duplicates one already stored.

    Raised as it is when the record's id (or an interaction's external id) is
    stored already; the duplicate policy raises the subclass
    :class:`DuplicateDetected`. ``matches`` holds whatever the refusing code
    found (for the duplicate policy, the :class:`crmcore.dedup.Match` objects).
    """

    def __init__(self, message: str, *, matches: Sequence[Any] = ()):
        super().__init__(message)
        self.matches = tuple(matches)


class DuplicateDetected(DuplicateRecord):
    """The duplicate policy refused a new record that looks like a stored person.

    Unlike its base class this is a judgement, not a key collision: ``matches``
    holds the :class:`crmcore.dedup.Match` objects that decided it.
    """


class RecordRestricted(CrmError):
    """An operation refused because a record's processing is restricted (GDPR Art. 18).

    A restricted record stays stored and readable, but is left out of
    merges, conversions and deduplication until the restriction is lifted.
    ``record_id`` names the record (an id is not personal data).
    """

    def __init__(self, message: str, *, record_id: str | None = None):
        super().__init__(message)
        self.record_id = record_id


class Suppressed(CrmError):
    """A write refused because a contact point is on the store's suppression list.

    The list holds keyed digests of the contact points of erased people (see
    :mod:`crmcore.privacy`): an address coming back is flagged, and under
    ``BLOCK`` refused. ``fields`` names the suppressed points by path
    (``emails[0]``, ``phones[1]``), never by value.
    """

    def __init__(self, fields: tuple[str, ...] | list[str] | str):
        self.fields = (fields,) if isinstance(fields, str) else tuple(fields)
        super().__init__(f"{', '.join(self.fields)}: is on the suppression list")


class StorageError(CrmError):
    """The storage backend failed; the original driver error is the ``__cause__``.

    Three subclasses say what kind of failure it was, so callers can act on it
    without reading messages (the split follows PEP 249):
    :class:`OperationalError` (worth retrying), :class:`IntegrityError` and
    :class:`DataError` (worth an alert).
    """


class OperationalError(StorageError):
    """The backend could not do the work now: busy, locked, unavailable, out of space.

    Retrying later may succeed; nothing was written.
    """


class IntegrityError(StorageError):
    """The backend refused a write that breaks one of its constraints.

    A write naming a record that is not stored, or a delete of a record that
    is still named (``docs/storage.md``, "Referential integrity"), sets
    ``field`` to the reference (``participants[1].record_id``); a constraint
    the database itself enforced leaves it ``None``.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class DataError(StorageError):
    """A stored document cannot be read back: the store holds something corrupt."""
