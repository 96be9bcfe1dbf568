"""A data subject's records: find them (Art. 15), export them (Art. 15 and 20), import them.

:func:`find_subject` gathers every record that concerns one person from what
a data-protection request gives (an email address, a phone number, a name);
:func:`export_subject` writes everything held about a person as one
versioned, JSON-serialisable document, and :func:`import_subject` places such
a document into an empty store, reproducing the person's records exactly.

Decisions:

- **Matching.** An email address is compared as the mailbox it delivers to:
  case folded, the ``+tag`` dropped, dots ignored in Gmail addresses
  (:func:`crmcore.dedup.normalize.email_match_key` with provider rules), so a
  request from ``ada@example.org`` finds the lead that typed
  ``ADA+news@Example.org``. Stores index the exact match key only, so an
  email or a name query reads every customer and lead once (``iter_all``):
  a subject request is rare, and must not miss a record. A phone number is
  compared in E.164 through the stores' index (``find_by_phone``). A name is
  compared by :func:`crmcore.dedup.normalize.person_name_key` (word order,
  case, accents and nicknames do not matter). Several criteria are combined
  with *or*: a record matching any of them is found; review the result
  before acting on it, since a name alone may be another person's too.
- **Following.** From the records found, the search follows merges (the
  survivor a record was merged into, the records merged into it, every
  record a merge record names) and conversions (the customer a lead became,
  the leads converted into a customer) until nothing new turns up. The
  person's organisation (``organization_id``) is not followed: it is not them.
- **What concerns them.** The interactions on their timelines and on the
  threads of their cases; the opportunities whose customer, contact or lead
  they are; their cases; the tasks about them or about those opportunities
  and cases; the merge records they took part in; and the audit entries
  naming any of those records (on a store that keeps them). Restricted
  records are found like any other: a restriction does not suspend a right.
- **Export.** :func:`export_subject` starts from one customer or lead id (a
  merged-away id stands for its survivor) and follows merges and
  conversions the same way. The document holds each record as
  :func:`crmcore.serialization.to_dict` writes it; ``consent_history`` is
  derived from the records' consent ledgers (for a reader) and is not read
  back. An interaction shared with another person is exported as stored:
  the other participant appears as an id only. An audit entry is exported
  with the targets that are the person's own records: an import of many
  rows is one entry, and the other rows are other people.
- **Import.** :func:`import_subject` takes a store that holds no customer,
  lead or work item, checks the whole document first, and places every
  record with :meth:`~crmcore.storage.SupportsLoad.load` in one transaction;
  the audit entries of the document are appended to the store's trail
  (those it holds already are left alone).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from crmcore import _store_ops as ops
from crmcore._repr import count
from crmcore._validation import utcnow
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import NotFound, ValidationError
from crmcore.ids import is_customer_id, is_lead_id
from crmcore.interactions import Interaction
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord
from crmcore.opportunities import Opportunity
from crmcore.privacy._suppression import any_suppressed, refuse_suppressed
from crmcore.tasks import Task
from crmcore.values import EmailAddress, PersonName, PhoneNumber

if TYPE_CHECKING:
    from crmcore.audit import AuditEntry
    from crmcore.storage.protocols import Store

__all__ = [
    "SUBJECT_FORMAT",
    "SUBJECT_FORMAT_VERSION",
    "SubjectRecords",
    "export_subject",
    "find_subject",
    "import_subject",
]

SUBJECT_FORMAT: Final = "crmcore-subject"
"""The ``format`` of an :func:`export_subject` document."""
SUBJECT_FORMAT_VERSION: Final = 1
"""The ``version`` of the document format this crmcore writes and reads."""

T = TypeVar("T")
_BATCH: Final = 500


def _by_id(items: Iterable[T]) -> tuple[T, ...]:
    found: dict[str, T] = {}
    for item in items:
        found.setdefault(item.id, item)  # type: ignore[attr-defined]
    return tuple(found[key] for key in sorted(found))


@attrs.frozen
class SubjectRecords:
    """Every record that concerns one person, by entity, each in id order.

    Iterating yields every record (customers first, audit entries last);
    ``len`` counts them; the records are true when a customer or lead was
    found. The repr shows how many of each, never a record.
    """

    customers: tuple[Customer, ...] = attrs.field(default=(), repr=count)
    leads: tuple[Lead, ...] = attrs.field(default=(), repr=count)
    interactions: tuple[Interaction, ...] = attrs.field(default=(), repr=count)
    opportunities: tuple[Opportunity, ...] = attrs.field(default=(), repr=count)
    tasks: tuple[Task, ...] = attrs.field(default=(), repr=count)
    cases: tuple[Case, ...] = attrs.field(default=(), repr=count)
    merge_records: tuple[MergeRecord, ...] = attrs.field(default=(), repr=count)
    audit_entries: tuple[AuditEntry, ...] = attrs.field(default=(), repr=count)

    @property
    def ids(self) -> tuple[str, ...]:
        """The id of every record held, customers first, then leads, interactions,
        opportunities, tasks, cases, merge records and audit entries."""
        return tuple(record.id for record in self)

    @property
    def people(self) -> tuple[Customer | Lead, ...]:
        """The customers and leads: the person's own records."""
        return (*self.customers, *self.leads)

    def __iter__(self) -> Iterator[Any]:
        yield from self.customers
        yield from self.leads
        yield from self.interactions
        yield from self.opportunities
        yield from self.tasks
        yield from self.cases
        yield from self.merge_records
        yield from self.audit_entries

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return bool(self.customers or self.leads)


# --------------------------------------------------------------------------- finding


def _check_store(store: object) -> None:
    if not hasattr(store, "customers") or not hasattr(store, "leads"):
        raise ValidationError("store", "must be a store (with customers and leads)")


def _name_key(name: object) -> str:
    from crmcore.dedup.normalize import person_name_key

    if isinstance(name, PersonName):
        return person_name_key(name)
    if not isinstance(name, str) or not 1 <= len(name) <= 500:
        raise ValidationError("name", "must be a name of 1 to 500 characters")
    key = person_name_key(name)
    if not key:
        raise ValidationError("name", "must hold at least one word")
    return key


def _record_name_key(record: Customer | Lead) -> str:
    from crmcore.dedup.normalize import person_name_key

    name = record.name
    return "" if name is None else person_name_key(name)


def _seeds(
    store: Store,
    email: EmailAddress | str | None,
    phone: PhoneNumber | str | None,
    name: PersonName | str | None,
    region: str | None,
) -> list[Customer | Lead]:
    from crmcore.privacy._suppression import email_identity

    if email is None and phone is None and name is None:
        raise ValidationError("email", "give an email address, a phone number or a name")
    mailbox = None if email is None else email_identity(EmailAddress.parse(email, field="email"))
    number = None if phone is None else PhoneNumber.parse(phone, region, field="phone")
    wanted_name = None if name is None else _name_key(name)
    found: list[Customer | Lead] = []
    if number is not None:
        found += store.customers.find_by_phone(number)
        found += store.leads.find_by_phone(number)
    if mailbox is None and wanted_name is None:
        return found
    # The stores index exact match keys only: a plus-tag or a reordered name
    # is found by reading every record once.
    repositories: Sequence[Any] = (store.customers, store.leads)
    for repository in repositories:
        for record in repository.iter_all(batch_size=_BATCH):
            by_email = mailbox is not None and any(
                email_identity(e.address) == mailbox for e in record.emails
            )
            if by_email or (wanted_name is not None and _record_name_key(record) == wanted_name):
                found.append(record)
    return found


def _get_person(store: Store, record_id: str) -> Customer | Lead | None:
    if not (is_customer_id(record_id) or is_lead_id(record_id)):
        return None
    try:
        return ops.get_record(store, record_id)
    except NotFound:
        return None


def _merges(store: Store) -> Any:
    return getattr(store, "merges", None)


def _people(store: Store, seeds: Iterable[Customer | Lead]) -> dict[str, Customer | Lead]:
    """The seeds and every record a merge or a conversion ties them to."""
    people: dict[str, Customer | Lead] = {}
    merges = _merges(store)
    todo = list(seeds)
    while todo:
        batch = [r for r in {r.id: r for r in todo}.values() if r.id not in people]
        todo = []
        if not batch:
            break
        for record in batch:
            people[record.id] = record
        customer_ids = [r.id for r in batch if isinstance(r, Customer)]
        lead_ids = [r.id for r in batch if isinstance(r, Lead)]
        related: list[str] = []
        for record in batch:
            if record.merged_into is not None:
                related.append(record.merged_into)
            if isinstance(record, Lead) and record.converted_customer_id is not None:
                related.append(record.converted_customer_id)
        merged_customers: list[Customer] = ops.having(store.customers, "merged_into", customer_ids)
        merged_leads: list[Lead] = ops.having(store.leads, "merged_into", lead_ids)
        todo += [*merged_customers, *merged_leads]
        todo += ops.leads_converted_into(store, customer_ids)
        if merges is not None:
            for record in batch:
                for merge in merges.list_for(record.id):
                    related += [merge.survivor_id, *merge.merged_ids]
        for record_id in dict.fromkeys(related):
            if record_id not in people:
                found = _get_person(store, record_id)
                if found is not None:
                    todo.append(found)
    return people


def _gather(store: Store, people: Mapping[str, Customer | Lead]) -> SubjectRecords:
    """Everything that concerns the people found: their work, their timeline, their trail."""
    ids = list(people)
    lead_ids = [i for i in ids if is_lead_id(i)]
    opportunities: list[Opportunity] = []
    tasks: list[Task] = []
    cases: list[Case] = []
    work = ops.work_items(store)
    if work is not None:
        opportunities, tasks, cases = ops.work_items_of(work, ids)
        opportunities += ops.having(work.opportunities, "lead_id", lead_ids)
        about = [o.id for o in opportunities] + [c.id for c in cases]
        tasks += ops.having(work.tasks, "about_id", about)
    interactions: dict[str, Interaction] = {}
    for holder in [*ids, *(c.id for c in cases)]:
        for interaction in store.interactions.list_for(holder, limit=None):
            interactions.setdefault(interaction.id, interaction)
    merge_records: dict[str, MergeRecord] = {}
    merges = _merges(store)
    if merges is not None:
        for record_id in ids:
            for merge in merges.list_for(record_id):
                merge_records.setdefault(merge.id, merge)
    records = SubjectRecords(
        customers=_by_id(p for p in people.values() if isinstance(p, Customer)),
        leads=_by_id(p for p in people.values() if isinstance(p, Lead)),
        interactions=_by_id(interactions.values()),
        opportunities=_by_id(opportunities),
        tasks=_by_id(tasks),
        cases=_by_id(cases),
        merge_records=_by_id(merge_records.values()),
    )
    return attrs.evolve(records, audit_entries=_audit_of(store, records.ids))


def _audit_of(store: Store, record_ids: Iterable[str]) -> tuple[AuditEntry, ...]:
    trail = getattr(store, "audit", None)
    if trail is None:
        return ()
    found: dict[str, AuditEntry] = {}
    for record_id in dict.fromkeys(record_ids):
        cursor: str | None = None
        while True:
            page = trail.list(record_id=record_id, limit=_BATCH, cursor=cursor)
            for entry in page.items:
                found.setdefault(entry.id, entry)
            cursor = page.next_cursor
            if cursor is None:
                break
    return _by_id(found.values())


def find_subject(
    store: Store,
    *,
    email: EmailAddress | str | None = None,
    phone: PhoneNumber | str | None = None,
    name: PersonName | str | None = None,
    region: str | None = None,
) -> SubjectRecords:
    """Every record that concerns the person with this email, phone or name.

    See the module documentation for how each criterion matches and what is
    followed from the records found. ``region`` (ISO 3166 alpha-2) reads a
    phone number written without ``+``.

    Example:
        >>> from crmcore import Customer, InMemoryStore, Lead
        >>> store = InMemoryStore()
        >>> _ = store.leads.add(Lead.create(name="Ada Lovelace", emails=["ADA+news@example.org"]))
        >>> _ = store.customers.add(Customer.create(name="Bob Stone", emails=["bob@example.org"]))
        >>> found = find_subject(store, email="ada@example.org")
        >>> len(found.leads), len(found.customers)
        (1, 0)

    Raises:
        ValidationError: no criterion is given (naming ``email``), one cannot
            be read (naming it), or ``store`` is not a store.
    """
    _check_store(store)
    seeds = _seeds(store, email, phone, name, region)
    return _gather(store, _people(store, seeds))


# --------------------------------------------------------------------------- export


def _subject(store: Store, subject_id: object) -> Customer | Lead:
    if not isinstance(subject_id, str) or not (
        is_customer_id(subject_id) or is_lead_id(subject_id)
    ):
        raise ValidationError("customer_id", "must be a customer or lead id")
    return ops.resolve(store, subject_id)


def subject_records(store: Store, subject_id: str) -> SubjectRecords:
    """The records of the person ``subject_id`` (a customer or lead id) stands for.

    What :func:`export_subject` writes; merges and conversions are followed
    as :func:`find_subject` follows them.

    Raises:
        NotFound: no customer or lead is stored under the id.
        ValidationError: naming ``customer_id`` for anything but a customer or lead id.
    """
    _check_store(store)
    return _gather(store, _people(store, [_subject(store, subject_id)]))


def _consent_history(people: Sequence[Customer | Lead]) -> list[dict[str, Any]]:
    from crmcore.privacy._consent import consent_history
    from crmcore.serialization import to_dict

    rows = []
    for person in people:
        for event in consent_history(person):
            data = to_dict(event)
            data.pop("schema_version", None)
            rows.append({"record_id": person.id, **data})
    return rows


_ENTITIES: Final[tuple[tuple[str, str, type[Any]], ...]] = (
    ("customers", "customers", Customer),
    ("leads", "leads", Lead),
    ("interactions", "interactions", Interaction),
    ("opportunities", "opportunities", Opportunity),
    ("tasks", "tasks", Task),
    ("cases", "cases", Case),
    ("merges", "merge_records", MergeRecord),
)


def export_subject(store: Store, customer_id: str) -> dict[str, Any]:
    """Everything held about one person, as a versioned JSON-serialisable document.

    ``customer_id`` is the person's customer id (a lead id is taken too, for
    a person who never became a customer; a merged-away id stands for the
    survivor). The document::

        {"format": "crmcore-subject", "version": 1, "exported_at": "...",
         "subject_id": "cus_...", "customers": [...], "leads": [...],
         "interactions": [...], "opportunities": [...], "tasks": [...],
         "cases": [...], "merges": [...], "consent_history": [...], "audit": [...]}

    Each record is written as :func:`crmcore.serialization.to_dict` writes it;
    ``consent_history`` lists every consent event of the person's records in
    the order they take effect, with the ``record_id`` it belongs to.
    :func:`import_subject` reads the document back.

    Raises:
        NotFound: no customer or lead is stored under the id.
        ValidationError: naming ``customer_id`` for anything but a customer or lead id.
    """
    from crmcore.serialization import to_dict

    _check_store(store)
    subject = _subject(store, customer_id)
    records = _gather(store, _people(store, [subject]))
    document: dict[str, Any] = {
        "format": SUBJECT_FORMAT,
        "version": SUBJECT_FORMAT_VERSION,
        "exported_at": utcnow().isoformat(),
        "subject_id": subject.id,
    }
    for key, field, _ in _ENTITIES:
        document[key] = [to_dict(record) for record in getattr(records, field)]
    document["consent_history"] = _consent_history(records.people)
    document["audit"] = [to_dict(entry) for entry in _own_targets(records)]
    return document


def _own_targets(records: SubjectRecords) -> list[AuditEntry]:
    # An import of 500 rows is one entry naming 500 records: the person is
    # given the entry with their own records only (Art. 15(4): a copy must not
    # disclose other people's data, and their ids are theirs).
    own = set(attrs.evolve(records, audit_entries=()).ids)
    return [
        attrs.evolve(entry, targets=tuple(t for t in entry.targets if t.id in own))
        for entry in records.audit_entries
    ]


# --------------------------------------------------------------------------- import


def _read_list(document: Mapping[str, Any], key: str, model: type[T]) -> list[T]:
    from crmcore.serialization import from_dict

    items = document.get(key, [])
    if not isinstance(items, list):
        raise ValidationError(key, "must be a list of records")
    read = []
    for i, item in enumerate(items):
        try:
            read.append(from_dict(model, item))
        except ValidationError as exc:
            raise exc.prefixed(f"{key}[{i}]") from None
    return read


_KEYS: Final = frozenset(
    {
        "format",
        "version",
        "exported_at",
        "subject_id",
        "consent_history",
        "audit",
        *(key for key, _, _ in _ENTITIES),
    }
)


def _read_document(document: object) -> tuple[SubjectRecords, str]:
    if not isinstance(document, Mapping):
        raise ValidationError("document", "must be a subject export (a mapping)")
    if document.get("format") != SUBJECT_FORMAT:
        raise ValidationError("format", f"must be {SUBJECT_FORMAT!r}")
    version = document.get("version")
    if type(version) is not int or version != SUBJECT_FORMAT_VERSION:
        raise ValidationError("version", f"must be {SUBJECT_FORMAT_VERSION}")
    unknown = sorted(str(k) for k in document if k not in _KEYS)
    if unknown:
        raise ValidationError(unknown[0], "is not a field of a subject export")
    subject_id = document.get("subject_id")
    if not isinstance(subject_id, str) or not (
        is_customer_id(subject_id) or is_lead_id(subject_id)
    ):
        raise ValidationError("subject_id", "must be a customer or lead id")
    from crmcore.audit import AuditEntry

    read = {field: tuple(_read_list(document, key, model)) for key, field, model in _ENTITIES}
    audit = tuple(_read_list(document, "audit", AuditEntry))
    records = SubjectRecords(**read, audit_entries=audit)
    for key, field, _ in (*_ENTITIES, ("audit", "audit_entries", None)):
        seen: set[str] = set()
        for i, record in enumerate(getattr(records, field)):
            if record.id in seen:
                raise ValidationError(f"{key}[{i}].id", "repeats the id of another record")
            seen.add(record.id)
    if subject_id not in {p.id for p in records.people}:
        raise ValidationError("subject_id", "must name a customer or lead of the document")
    return records, subject_id


def _check_empty(store: Store) -> None:
    repositories: list[Any] = [store.customers, store.leads]
    work = ops.work_items(store)
    if work is not None:
        repositories += [work.opportunities, work.tasks, work.cases]
    if any(repository.count() for repository in repositories):
        raise ValidationError("store", "must be empty: a subject is imported into a new store")


def import_subject(store: Store, document: Mapping[str, Any]) -> SubjectRecords:
    """Place the records of an :func:`export_subject` document into an empty store.

    Every record keeps its id, version and timestamps (through
    :meth:`~crmcore.storage.SupportsLoad.load`), all in one transaction: the
    records come back equal to the ones exported. The document's audit
    entries are appended to the store's trail when it keeps one. Returns the
    records placed, as the document held them.

    Raises:
        ValidationError: the document is not a subject export of this
            version (naming the field, ``customers[2].emails[0]`` for a
            record), the store is not empty, or it cannot take stored copies
            (naming ``store``).
        Suppressed: a person of the document holds a contact point of
            someone erased from this store (``customers[0].emails[0]``).
    """
    from crmcore.storage.protocols import SupportsLoad

    _check_store(store)
    if not isinstance(store, SupportsLoad):
        raise ValidationError("store", "must take stored copies (SupportsLoad)")
    records, _ = _read_document(document)
    if ops.work_items(store) is None and (records.opportunities or records.tasks or records.cases):
        raise ValidationError("store", "keeps no work items, and the document holds some")
    if records.merge_records and _merges(store) is None:
        raise ValidationError("store", "keeps no merge records, and the document holds some")
    trail = getattr(store, "audit", None)
    with _import_transaction(store):
        _check_empty(store)
        # The store may be empty because the person was erased from it: their
        # suppression list must keep them out (Art. 17).
        if any_suppressed(store):
            for key in ("customers", "leads"):
                for i, person in enumerate(getattr(records, key)):
                    refuse_suppressed(store, person, f"{key}[{i}].")
        loaded: list[Any] = [
            *records.customers,
            *records.leads,
            *records.interactions,
            *records.opportunities,
            *records.tasks,
            *records.cases,
            *records.merge_records,
        ]
        if loaded:
            store.load(loaded)
        if trail is not None:
            for entry in records.audit_entries:
                if not _has_entry(trail, entry.id):
                    trail.append(entry)
    return records


def _has_entry(trail: Any, entry_id: str) -> bool:
    try:
        trail.get(entry_id)
    except NotFound:
        return False
    return True


def _import_transaction(store: Store) -> Any:
    from crmcore.audit import AuditAction, audited

    return audited(store, AuditAction.IMPORT, operation="import_subject")
