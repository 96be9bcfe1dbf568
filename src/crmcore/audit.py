"""The audit trail: who changed which record, when, how, and which fields (never values).

Every write a store makes leaves an :class:`AuditEntry`: the actor (named once
per request with :func:`acting_as`), the time, an :class:`AuditAction`, the
operation of the service that wrote (``"merge"``, ``"import"``), and one
:class:`AuditTarget` per record written: its entity, id, stored version and
the *names* of the fields that changed. Entries hold ids and field names only,
so erasing a person never needs to rewrite the trail: an id is not personal
data once the record it names is gone or anonymised, and a field name never is.

How entries are grouped (decided here, the same for every store):

- A store write outside :func:`audited` leaves one entry of its own, written in
  the write's own transaction: an ``add_many`` of 500 records is one entry
  with 500 targets.
- Inside :func:`audited`, every write on that store reports its targets to the
  block, and the block writes ONE entry when it ends, inside the same
  transaction; a block that raises (and rolls back) writes nothing, and a
  block that wrote nothing leaves no entry.
- ``audited`` blocks on the same store nest by joining: an import that converts
  a lead leaves one IMPORT entry, not an IMPORT and a CONVERT.
- A store that keeps no audit trail (no ``audit`` attribute) still gets the
  transaction: services stay usable on any store.

This module is part of the domain: it imports nothing from storage. Stores
call :func:`report` from their write paths; adapters do the same.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Final, Protocol

import attrs

from crmcore._repr import count
from crmcore._validation import Problems, enum_member, utcnow
from crmcore.errors import ValidationError
from crmcore.ids import AuditId, is_valid_id, new_audit_id

__all__ = [
    "AUDIT_ENTITIES",
    "AuditAction",
    "AuditCollection",
    "AuditEntry",
    "AuditTarget",
    "acting_as",
    "audited",
    "changed_fields",
    "collecting",
    "current_actor",
    "report",
]


class AuditAction(enum.Enum):
    """What a write did."""

    ADD = "add"
    """A new record was stored."""
    UPDATE = "update"
    """A stored record was replaced by a newer version."""
    DELETE = "delete"
    """A record was deleted."""
    MERGE = "merge"
    """Records were merged (:func:`crmcore.merge`)."""
    UNMERGE = "unmerge"
    """A merge was undone (:func:`crmcore.unmerge`)."""
    CONVERT = "convert"
    """A lead was converted into a customer."""
    IMPORT = "import"
    """Rows were imported (:mod:`crmcore.io`): one entry per import batch."""
    ERASE = "erase"
    """A person's data was erased or anonymised (Art. 17)."""
    CONSENT = "consent"
    """A consent event was recorded."""
    RESTRICT = "restrict"
    """Processing of a record was restricted (Art. 18)."""
    LIFT_RESTRICTION = "lift_restriction"
    """A restriction was lifted."""
    LOAD = "load"
    """Stored copies were placed as they are (a restore)."""


AUDIT_ENTITIES: Final = (
    "customer",
    "lead",
    "interaction",
    "opportunity",
    "task",
    "case",
    "merge",
    "request",
)
"""The entities an :class:`AuditTarget` may name."""

MAX_TARGET_ID: Final = 64
MAX_ACTOR: Final = 200
MAX_OPERATION: Final = 100
# A field name, or a dotted path of them: what a target may list. Anything else
# (a space, an @, a digit first) could be a value slipped in by mistake.
_FIELD_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,63}(?:\.[a-z_][a-z0-9_]{0,63})*")
# Printable text without line breaks: an actor or an operation ends up in logs
# and reports, where a newline could forge a line.
_LABEL: Final = re.compile(r"[^\x00-\x1f\x7f]+")


def _check_label(value: object, field: str, cap: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= cap or not _LABEL.fullmatch(value):
        raise ValidationError(field, f"must be 1 to {cap} printable characters")
    return value


@attrs.frozen
class AuditTarget:
    """One record an audited write touched: which, at what version, and which fields.

    ``fields`` names the fields that changed (for an update), never their
    values; it is empty when the whole record was written or removed (add,
    delete, load).
    """

    entity: str
    id: str
    version: int | None = None
    fields: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if self.entity not in AUDIT_ENTITIES:
            problems.add("entity", f"must be one of {', '.join(AUDIT_ENTITIES)}")
        if not isinstance(self.id, str) or not 1 <= len(self.id) <= MAX_TARGET_ID:
            problems.add("id", f"must be an id of 1 to {MAX_TARGET_ID} characters")
        if self.version is not None:
            problems.check_version(self.version)
        if type(self.fields) is not tuple or not all(
            isinstance(f, str) and _FIELD_NAME.fullmatch(f) for f in self.fields
        ):
            problems.add("fields", "must be a tuple of field names")
        problems.raise_if_any()


@attrs.frozen
class AuditEntry:
    """One entry of the audit trail: who did what to which records, and when.

    Build one with :meth:`create`; stores write them, apps read them through
    ``store.audit`` (:class:`~crmcore.storage.SupportsPrivacy`).
    """

    id: AuditId
    at: datetime
    # The actor names a member of staff or a system: not the data subject, but
    # still a person, so it stays out of the repr like every name.
    actor: str | None = attrs.field(repr=False)
    action: AuditAction
    operation: str | None = None
    targets: tuple[AuditTarget, ...] = attrs.field(default=(), repr=count)

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if not is_valid_id(self.id, "aud_"):
            problems.add("id", "must be an audit id")
        problems.utc(self, "at")
        if self.actor is not None:
            problems.value(_check_label, self.actor, "actor", MAX_ACTOR)
        if not isinstance(self.action, AuditAction):
            problems.add("action", "must be an AuditAction")
        if self.operation is not None:
            problems.value(_check_label, self.operation, "operation", MAX_OPERATION)
        if type(self.targets) is not tuple or not all(
            isinstance(t, AuditTarget) for t in self.targets
        ):
            problems.add("targets", "must be a tuple of AuditTarget")
        problems.raise_if_any()

    @classmethod
    def create(
        cls,
        action: AuditAction | str,
        targets: Iterable[AuditTarget],
        *,
        operation: str | None = None,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """A new entry: a fresh id, now, and the :func:`current_actor` unless ``actor`` is given.

        Raises:
            ValidationError: naming the field that is invalid.
        """
        return cls(
            id=new_audit_id(),
            at=utcnow() if at is None else at,
            actor=current_actor() if actor is None else actor,
            action=enum_member(AuditAction, action, "action"),
            operation=operation,
            targets=tuple(targets),
        )

    @property
    def record_ids(self) -> tuple[str, ...]:
        """The ids of the records the entry names, in order, each once."""
        return tuple(dict.fromkeys(t.id for t in self.targets))


# --------------------------------------------------------------------------- the actor

_ACTOR: ContextVar[str | None] = ContextVar("crmcore_audit_actor", default=None)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Name the actor of every write inside the block (per thread and per async task).

    An app calls it once per request (``with acting_as(user.id): ...``);
    blocks nest, the innermost wins.

    Raises:
        ValidationError: naming ``actor`` when it is not 1 to 200 printable characters.
    """
    token = _ACTOR.set(_check_label(actor, "actor", MAX_ACTOR))
    try:
        yield
    finally:
        _ACTOR.reset(token)


def current_actor() -> str | None:
    """The actor named by the innermost :func:`acting_as` block, or ``None``."""
    return _ACTOR.get()


# --------------------------------------------------------------------------- collecting


@attrs.define(eq=False)
class AuditCollection:
    """The targets an open :func:`audited` block has collected so far (what it yields).

    A nested block yields a view of the outer block's collection (``owner``
    false): the same targets, and :meth:`relabel` does nothing there.
    """

    store: object = attrs.field(repr=False)
    action: AuditAction
    operation: str | None
    targets: list[AuditTarget] = attrs.field(factory=list, repr=count)
    owner: bool = True

    def relabel(self, action: AuditAction) -> None:
        """Name the block's action once the block knows it (an update that only
        records consent is a CONSENT); ignored in a nested block, whose outer one decides."""
        if self.owner:
            self.action = action

    def entry(self) -> AuditEntry | None:
        """The entry the block writes: ``None`` when nothing was written."""
        if not self.targets:
            return None
        return AuditEntry.create(self.action, self.targets, operation=self.operation)


_OPEN: ContextVar[tuple[AuditCollection, ...]] = ContextVar("crmcore_audit_open", default=())


def collecting(store: object) -> AuditCollection | None:
    """The open :func:`audited` block of ``store`` in this context, if any."""
    for collection in reversed(_OPEN.get()):
        if collection.store is store:
            return collection
    return None


def report(store: object, action: AuditAction, targets: Sequence[AuditTarget]) -> AuditEntry | None:
    """What a store's write path calls, inside its write transaction, with what it wrote.

    Inside an :func:`audited` block of ``store`` the targets join the block's
    entry and nothing is returned; otherwise the one entry the write must
    store now (with ``action``) is returned; ``None`` when ``targets`` is empty.
    """
    collection = collecting(store)
    if collection is not None:
        collection.targets.extend(targets)
        return None
    if not targets:
        return None
    return AuditEntry.create(action, targets)


class _Transactional(Protocol):
    def transaction(self) -> AbstractContextManager[None]: ...


@contextmanager
def audited(
    store: _Transactional, action: AuditAction | str, *, operation: str | None = None
) -> Iterator[AuditCollection]:
    """A transaction of ``store`` whose writes leave ONE audit entry, written at its end.

    Args:
        store: any store; one without an audit trail only gets the transaction.
        action: what the block does (:class:`AuditAction` or its value).
        operation: the name of the service (``"merge"``, ``"import"``).

    Inside an open block of the same store this joins the outer block (its
    action wins). Nothing is written when the block raises or writes nothing.

    Raises:
        ValidationError: naming ``action`` or ``operation`` when invalid.
    """
    checked = enum_member(AuditAction, action, "action")
    if operation is not None:
        _check_label(operation, "operation", MAX_OPERATION)
    outer = collecting(store)
    if outer is not None:
        with store.transaction():
            yield AuditCollection(store, outer.action, outer.operation, outer.targets, owner=False)
        return
    collection = AuditCollection(store, checked, operation)
    with store.transaction():
        token = _OPEN.set((*_OPEN.get(), collection))
        try:
            yield collection
        finally:
            _OPEN.reset(token)
        entry = collection.entry()
        trail: Any = getattr(store, "audit", None)
        if entry is not None and trail is not None:
            trail.append(entry)


def changed_fields(before: Any, after: Any) -> tuple[str, ...]:
    """The names of the attrs fields whose values differ, bookkeeping left out.

    ``version``, ``created_at`` and ``updated_at`` change on every write and
    say nothing about what the write did.
    """
    names = []
    for field in attrs.fields(type(after)):
        if field.name in _BOOKKEEPING:
            continue
        if getattr(before, field.name, None) != getattr(after, field.name):
            names.append(field.name)
    return tuple(names)


_BOOKKEEPING: Final = frozenset({"version", "created_at", "updated_at"})
