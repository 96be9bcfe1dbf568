"""Erasure (GDPR Art. 17) and restriction (Art. 18) of one person's records.

:func:`erase` walks everything a store holds about a person and, in one
audited transaction, removes it (``mode="delete"``) or leaves an anonymised
tombstone under the same id (``mode="anonymize"``, the default), so that what
other records say about the person's id stays valid. The walk, from the id
asked for:

1. **The person.** The id is resolved to the live record (a merged-away id
   stands for its survivor; a converted lead for the customer it became).
   The subject is that customer, every record merged into it (through any
   chain of merges) and every lead converted into one of those, with the
   leads merged into those leads. A lead that was never converted is a
   subject on its own.
2. **Interactions** naming any of the subject's ids: one that only the
   subject took part in is deleted (delete mode) or kept with its subject,
   body and outcome cleared (anonymize); one shared with other people loses
   the subject's participants and its texts in both modes, and keeps the
   other people. A provider id (``external_id``, ``thread_id``) is kept, so
   that ingesting the same message again finds it, unless it quotes one of
   the person's tokens (an address in a Message-ID).
3. **Work items** (on a store that keeps them): tasks about the subject
   (or about the subject's deals and cases), the subject's opportunities and
   support cases are deleted, or kept with their texts replaced by
   :data:`ERASED` (their amounts and stages are the business's own records);
   another customer's deal that names the subject among its contacts loses
   that contact role. An opportunity's stage history can only be appended to
   through ``update``, so a history whose reasons hold text is rewritten
   with the store's ``load`` (every built-in store has it).
4. **Merge records** that hold a copy of any of the subject's records (found
   through the merges of every id the subject's records name: the subject,
   its organisations, the other people of its interactions and deals): in
   delete mode a merge of the subject's own records is forgotten
   (``forget_merge``); every other one keeps its ids, and its snapshots' copies
   are scrubbed like the live records (``merges.update``). An unmerge of a
   scrubbed merge restores the tombstones, not the person.
5. **Suppression**: every email address and phone number the subject's
   records held (live, in snapshots, and in the consent ledger) is added to
   the store's suppression list as a keyed hash
   (:func:`crmcore.privacy.suppress`), so a later create or import of them is
   flagged.
6. The process caches over personal data are emptied
   (:func:`crmcore._caches.clear_all`) and, after the commit,
   ``store.compact()`` makes the deleted bytes leave the database files (SQLite
   runs with ``secure_delete`` and is vacuumed and checkpointed). Call
   :func:`erase` outside any transaction of your own: a database cannot be
   compacted while a transaction is open.

Delete mode follows the referential integrity rules: references to the
subject are removed before the subject (a shared interaction's participant, a
deal's contact role, another deal's ``lead_id``, an organisation member's
``organization_id``, a thread's ``case_id``), then tasks, interactions, deals
and cases, then leads, then customers. A done task of someone else that
names an interaction deleted here keeps that id: the integrity rules call it
history, and an id says nothing about the person.

What is not erased, by design: the audit trail holds ids, actions and field
names, never values, so it stays (accountability, Art. 5(2)); the subject
request that asked for the erasure stays (it is the proof it was honoured),
without its free-text note;
other people's free text that happens to mention the person is theirs (the
app's job to review). Tombstones keep ids, timestamps, the lifecycle stage,
the owner (a member of staff), a lead's source, status and estimated value,
and the merge and conversion links.

:func:`restrict` and :func:`lift_restriction` mark a customer or a lead
restricted (Art. 18) and clear the mark, each in one audited transaction; a
restricted record is kept out of deduplication, merges, conversion matching
and marketing consent checks by those services.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final, Literal, TypeVar, cast, overload

import attrs
import phonenumbers

from crmcore._caches import clear_all
from crmcore._validation import utcnow
from crmcore.audit import AuditAction, audited
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import ValidationError
from crmcore.ids import is_customer_id, is_lead_id
from crmcore.interactions import Interaction
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord, Snapshot, StoredRecord
from crmcore.opportunities import Opportunity
from crmcore.privacy._suppression import suppress
from crmcore.storage.protocols import (
    Filter,
    Page,
    Store,
    SupportsLoad,
    SupportsMerges,
    SupportsPrivacy,
    SupportsWorkItems,
    WorkStore,
    where,
)
from crmcore.tasks import Task
from crmcore.values import CustomFields, EmailAddress, ExternalIds, PersonName, PhoneNumber

__all__ = [
    "ERASED",
    "ErasureMode",
    "ErasureReceipt",
    "erase",
    "lift_restriction",
    "mask_email",
    "mask_phone",
    "restrict",
]

ErasureMode = Literal["anonymize", "delete"]
"""How :func:`erase` treats the person's records: an anonymised tombstone, or gone."""

ERASED: Final = "Erased"
"""The text that stands in for an erased name, title or subject in a tombstone."""

_MODES: Final = ("anonymize", "delete")
_MIN_TOKEN: Final = 3
"""Name parts shorter than this are too common to be evidence of anyone."""
_BATCH: Final = 500
_IN_CHUNK: Final = 200
"""Ids per ``IN`` filter: bounded, so no database meets an over-long statement."""

R = TypeVar("R")


# --------------------------------------------------------------------------- receipt


def mask_email(address: str) -> str:
    """Mask an email address for a receipt or a log line: ``a***@e***.se``.

    The first character of the local part and of the domain stay, and the
    top-level domain; the lengths do not.
    """
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    labels = domain.split(".")
    tld = "." + labels[-1] if len(labels) > 1 else ""
    return f"{local[0]}***@{domain[:1]}***{tld}"


def mask_phone(e164: str) -> str:
    """Mask a phone number in E.164 for a receipt: ``+46*****78``.

    The country calling code and the last two digits stay; the length does not.
    """
    digits = e164.lstrip("+")
    try:
        code = str(phonenumbers.parse(e164, None).country_code)
    except phonenumbers.NumberParseException:
        code = ""
    if not code or not digits.startswith(code):
        code = ""
    return f"+{code}*****{digits[-2:]}"


def _frozen_counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return types.MappingProxyType(dict(value))


@attrs.frozen(hash=False)
class ErasureReceipt:
    """What :func:`erase` did, holding masked identifiers only.

    ``subject`` is the id of the customer (or lead) erased: ids are random and
    say nothing about the person. ``records`` counts the records erased or
    scrubbed per entity (``customers``, ``leads``, ``interactions``,
    ``opportunities``, ``tasks``, ``cases``, ``merges``); ``suppressed`` is how
    many contact points were newly added to the suppression list, and
    ``masked`` shows every contact point erased, masked (``a***@e***.se``,
    ``+46*****78``), sorted.
    """

    subject: str
    mode: ErasureMode
    erased_at: datetime
    records: Mapping[str, int] = attrs.field(converter=_frozen_counts)
    suppressed: int
    masked: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The receipt as JSON-ready values (the time in ISO 8601)."""
        return {
            "subject": self.subject,
            "mode": self.mode,
            "erased_at": self.erased_at.isoformat(),
            "records": dict(self.records),
            "suppressed": self.suppressed,
            "masked": list(self.masked),
        }


# --------------------------------------------------------------------------- reading


def _pages(read: Callable[..., Page[R]], *filters: Filter) -> Iterator[R]:
    cursor: str | None = None
    while True:
        page = read(*filters, limit=_BATCH, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _chunks(ids: Iterable[str]) -> Iterator[tuple[str, ...]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), _IN_CHUNK):
        yield tuple(ordered[start : start + _IN_CHUNK])


def _where_in(read: Callable[..., Page[R]], field: str, ids: Iterable[str]) -> list[R]:
    found: list[R] = []
    for chunk in _chunks(ids):
        found.extend(_pages(read, where(field).in_(chunk)))
    return found


# --------------------------------------------------------------------------- tokens


def _email_texts(email: EmailAddress) -> set[str]:
    return {email.normalized, email.match_key}


def _phone_texts(phone: PhoneNumber) -> set[str]:
    texts = {phone.e164.lstrip("+")}
    try:
        parsed = phonenumbers.parse(phone.e164, None)
        texts.add(str(parsed.national_number))
    except phonenumbers.NumberParseException:  # pragma: no cover - e164 was checked
        pass
    return texts


def _name_parts(name: PersonName | str | None) -> set[str]:
    if name is None:
        return set()
    text = name.full if isinstance(name, PersonName) else name
    return {w for w in text.replace(",", " ").split() if len(w) >= _MIN_TOKEN}


# --------------------------------------------------------------------------- the walk


@attrs.define
class _Subject:
    """Everything the walk found about the person, and what it will write."""

    customers: dict[str, Customer] = attrs.Factory(dict)
    leads: dict[str, Lead] = attrs.Factory(dict)
    emails: dict[str, EmailAddress] = attrs.Factory(dict)
    phones: dict[str, PhoneNumber] = attrs.Factory(dict)
    tokens: set[str] = attrs.Factory(set)

    @property
    def ids(self) -> set[str]:
        return set(self.customers) | set(self.leads)

    def note_party(self, record: Customer | Lead) -> None:
        """Collect the contact points and tokens of one of the subject's copies."""
        for entry in record.emails:
            self.emails.setdefault(entry.address.match_key, entry.address)
        for phone_entry in record.phones:
            self.phones.setdefault(phone_entry.number.e164, phone_entry.number)
        for event in record.consent_events:
            point = event.contact_point
            if point is None:
                continue
            if point.startswith("+"):
                with contextlib.suppress(ValidationError):
                    self.phones.setdefault(point, PhoneNumber.parse(point))
            else:
                try:
                    email = EmailAddress.parse(point)
                except ValidationError:
                    continue
                self.emails.setdefault(email.match_key, email)
        self.tokens |= _name_parts(record.name)
        if isinstance(record, Lead) and record.company:
            self.tokens |= _name_parts(record.company)

    def finish_tokens(self) -> None:
        for email in self.emails.values():
            self.tokens |= _email_texts(email)
        for phone in self.phones.values():
            self.tokens |= _phone_texts(phone)
        self.tokens = {t.casefold() for t in self.tokens if t}

    def leaks(self, text: str | None) -> bool:
        """Whether ``text`` quotes one of the person's tokens."""
        if not text:
            return False
        folded = text.casefold()
        return any(token in folded for token in self.tokens)


def _cleared(record: Customer | Lead) -> dict[str, Any]:
    """What a tombstone of either kind empties."""
    cleared: dict[str, Any] = {
        "emails": (),
        "phones": (),
        "tags": frozenset(),
        "custom_fields": CustomFields.EMPTY,
        # The consent ledger names contact points and holds evidence (an IP
        # address); a restriction's reason is free text. Neither outlives the person.
        "consent_events": (),
        "restriction": None,
    }
    del record
    return cleared


@overload
def _tombstone(record: Customer) -> Customer: ...
@overload
def _tombstone(record: Lead) -> Lead: ...
def _tombstone(record: Customer | Lead) -> Customer | Lead:
    """The anonymised copy of one of the subject's customers or leads (same id and version)."""
    if isinstance(record, Customer):
        name: PersonName | str = (
            PersonName(given=ERASED) if isinstance(record.name, PersonName) else ERASED
        )
        return attrs.evolve(
            record,
            name=name,
            addresses=(),
            organization_id=None,
            stage_reason=None,
            identifiers=ExternalIds.EMPTY,
            birth_date=None,
            notes=None,
            **_cleared(record),
        )
    return attrs.evolve(
        record,
        name=PersonName(given=ERASED),
        company=None,
        status_reason=None,
        score=None,
        **_cleared(record),
    )


class _Walk:
    """One erasure: collects the subject's records, then writes every change."""

    def __init__(self, store: Store, mode: ErasureMode) -> None:
        self.store = store
        self.mode = mode
        self.delete = mode == "delete"
        self.work: WorkStore | None = (
            cast(WorkStore, store) if isinstance(store, SupportsWorkItems) else None
        )
        self.subject = _Subject()
        self.counts: dict[str, int] = dict.fromkeys(
            ("customers", "leads", "interactions", "opportunities", "tasks", "cases", "merges"), 0
        )

    # ----------------------------------------------------------------- finding

    def find(self, record_id: str) -> str:
        """Collect the subject from ``record_id``; return the id of its live root record."""
        store = self.store
        root: Customer | Lead
        if is_lead_id(record_id):
            lead = store.leads.resolve(record_id)
            if lead.converted_customer_id is not None:
                root = store.customers.resolve(lead.converted_customer_id)
            else:
                root = lead
        elif is_customer_id(record_id):
            root = store.customers.resolve(record_id)
        else:
            raise ValidationError("customer_id", "must be a customer or lead id")
        if isinstance(root, Customer):
            self._close_customers(root)
            self._close_leads(
                _where_in(store.leads.list, "converted_customer_id", self.subject.customers)
            )
        else:
            self._close_leads([root])
        for customer in self.subject.customers.values():
            self.subject.note_party(customer)
        for lead in self.subject.leads.values():
            self.subject.note_party(lead)
        return root.id

    def _close_customers(self, root: Customer) -> None:
        found = self.subject.customers
        found[root.id] = root
        frontier: set[str] = {root.id}
        while frontier:
            merged = _where_in(self.store.customers.list, "merged_into", frontier)
            frontier = {c.id for c in merged if c.id not in found}
            found.update((c.id, c) for c in merged)

    def _close_leads(self, leads: Iterable[Lead]) -> None:
        found = self.subject.leads
        frontier = {lead.id for lead in leads if lead.id not in found}
        found.update((lead.id, lead) for lead in leads)
        while frontier:
            merged = _where_in(self.store.leads.list, "merged_into", frontier)
            frontier = {lead.id for lead in merged if lead.id not in found}
            found.update((lead.id, lead) for lead in merged)

    def _interactions(self, ids: Iterable[str]) -> dict[str, Interaction]:
        found: dict[str, Interaction] = {}
        for record_id in sorted(set(ids)):
            page = self.store.interactions.list_for(record_id, limit=None)
            found.update((i.id, i) for i in page.items)
        return found

    # ----------------------------------------------------------------- scrubbing

    def _scrub_interaction(self, interaction: Interaction, *, keep_all: bool) -> Interaction:
        """The interaction without its texts, and without the subject unless ``keep_all``."""
        ids = self.subject.ids
        participants = interaction.participants
        if not keep_all:
            others = tuple(p for p in participants if p.record_id not in ids)
            participants = others or participants
        leaks = self.subject.leaks
        return attrs.evolve(
            interaction,
            participants=participants,
            subject=None,
            body=None,
            outcome=None,
            external_id=None if leaks(interaction.external_id) else interaction.external_id,
            thread_id=None if leaks(interaction.thread_id) else interaction.thread_id,
        )

    def _scrub_opportunity(self, deal: Opportunity) -> Opportunity:
        ids = self.subject.ids
        contacts = tuple(c for c in deal.contacts if c.customer_id not in ids)
        if deal.customer_id not in ids:
            # Another customer's deal: only the subject's part of it goes.
            lead_id = None if (self.delete and deal.lead_id in ids) else deal.lead_id
            return attrs.evolve(deal, contacts=contacts, lead_id=lead_id)
        # A move to a lost stage must keep a reason: the placeholder stands in.
        history = tuple(
            attrs.evolve(change, reason=ERASED if change.reason else None)
            for change in deal.stage_history
        )
        return attrs.evolve(
            deal,
            name=ERASED,
            contacts=contacts,
            lost_reason=ERASED if deal.lost_reason else None,
            stage_history=history,
            custom_fields=CustomFields.EMPTY,
        )

    def _scrub_task(self, task: Task) -> Task:
        return attrs.evolve(task, title=ERASED, description=None, custom_fields=CustomFields.EMPTY)

    def _scrub_case(self, case: Case) -> Case:
        return attrs.evolve(
            case, subject=ERASED, description=None, custom_fields=CustomFields.EMPTY
        )

    def _scrub_copy(self, record: StoredRecord, about: set[str]) -> StoredRecord:
        """A merge snapshot's copy of ``record`` without the subject, ids kept."""
        ids = self.subject.ids
        if isinstance(record, Customer):
            if record.id in ids:
                self.subject.note_party(record)
                return _tombstone(record)
            return record
        if isinstance(record, Lead):
            if record.id in ids:
                self.subject.note_party(record)
                return _tombstone(record)
            return record
        if isinstance(record, Interaction):
            if any(p.record_id in ids for p in record.participants):
                return self._scrub_interaction(record, keep_all=True)
            return record
        if isinstance(record, Opportunity):
            if record.customer_id in ids or any(c.customer_id in ids for c in record.contacts):
                return self._scrub_opportunity(record)
            return record
        if isinstance(record, Task):
            return self._scrub_task(record) if record.about_id in about else record
        return self._scrub_case(record) if record.customer_id in ids else record

    def _scrub_snapshot(self, snapshot: Snapshot, about: set[str]) -> Snapshot:
        return Snapshot.of([self._scrub_copy(r, about) for r in snapshot])

    # ----------------------------------------------------------------- the walk

    def run(self, record_id: str) -> str:
        """Find the subject and write every change; return the root id."""
        root_id = self.find(record_id)
        ids = self.subject.ids
        interactions = self._interactions(ids)
        deals: dict[str, Opportunity] = {}
        tasks: dict[str, Task] = {}
        cases: dict[str, Case] = {}
        members: list[Customer] = [
            c
            for c in _where_in(self.store.customers.list, "organization_id", self.subject.customers)
            if c.id not in ids
        ]
        if self.work is not None:
            work = self.work
            for deal in _where_in(work.opportunities.list, "customer_id", self.subject.customers):
                deals[deal.id] = deal
            for deal in _where_in(work.opportunities.list, "lead_id", self.subject.leads):
                deals[deal.id] = deal
            for customer_id in sorted(self.subject.customers):
                for deal in _pages(
                    work.opportunities.list, where("contact_ids").contains(customer_id)
                ):
                    deals[deal.id] = deal
            for case in _where_in(work.cases.list, "customer_id", self.subject.customers):
                cases[case.id] = case
        own_deals = {d.id for d in deals.values() if d.customer_id in ids}
        about = ids | own_deals | set(cases)
        if self.work is not None:
            for task in _where_in(self.work.tasks.list, "about_id", about):
                tasks[task.id] = task
        # A case's thread may hold other people's messages: in delete mode they lose the case.
        thread = self._interactions(cases) if cases else {}
        self.subject.finish_tokens()
        merges = self._merges(interactions, deals.values())

        alone: set[str] = {
            i.id for i in interactions.values() if all(p.record_id in ids for p in i.participants)
        }
        # Order matters in delete mode (integrity): what links to a record goes first.
        self._write_tasks(tasks)
        self._write_interactions(interactions, alone, thread, set(cases))
        self._write_deals_and_cases(deals, cases)
        if self.delete:
            for member in members:
                self.store.customers.update(attrs.evolve(member, organization_id=None))
        self._write_merges(merges, about)
        self._write_parties()
        return root_id

    def _merges(
        self, interactions: Mapping[str, Interaction], deals: Iterable[Opportunity]
    ) -> dict[str, MergeRecord]:
        """The merge records that may hold a copy of the subject, by id."""
        if not isinstance(self.store, SupportsMerges):
            return {}
        ids = self.subject.ids
        named: set[str] = set(ids)
        for interaction in interactions.values():
            named.update(p.record_id for p in interaction.participants)
        for deal in deals:
            named.add(deal.customer_id)
        for customer in self.subject.customers.values():
            if customer.organization_id is not None:
                named.add(customer.organization_id)
        found: dict[str, MergeRecord] = {}
        asked: set[str] = set()
        while named - asked:
            record_id = min(named - asked)
            asked.add(record_id)
            for record in self.store.merges.list_for(record_id):
                if record.id in found:
                    continue
                found[record.id] = record
                # A snapshot names more ids (an organisation merged earlier...).
                named.update(record.participant_ids)
                for copy in (*record.before, *record.after):
                    if isinstance(copy, Customer) and copy.id in ids and copy.organization_id:
                        named.add(copy.organization_id)
        return found

    def _write_tasks(self, tasks: Mapping[str, Task]) -> None:
        if self.work is None:
            return
        repo = self.work.tasks
        for task in tasks.values():
            if self.delete:
                repo.delete(task.id)
            else:
                repo.update(self._scrub_task(task))
            self.counts["tasks"] += 1

    def _write_interactions(
        self,
        interactions: Mapping[str, Interaction],
        alone: set[str],
        thread: Mapping[str, Interaction],
        cases: set[str],
    ) -> None:
        repo = self.store.interactions
        for interaction in interactions.values():
            if self.delete and interaction.id in alone:
                repo.delete(interaction.id)
            else:
                scrubbed = self._scrub_interaction(interaction, keep_all=interaction.id in alone)
                if self.delete and scrubbed.case_id in cases:
                    scrubbed = attrs.evolve(scrubbed, case_id=None)
                repo.update(scrubbed)
            self.counts["interactions"] += 1
        if self.delete:
            # Other people's messages in the subject's case thread lose the case only.
            for other in thread.values():
                if other.id not in interactions:
                    repo.update(attrs.evolve(other, case_id=None))

    def _write_deals_and_cases(
        self, deals: Mapping[str, Opportunity], cases: Mapping[str, Case]
    ) -> None:
        if self.work is None:
            return
        work = self.work
        ids = self.subject.ids
        for deal in deals.values():
            if self.delete and deal.customer_id in ids:
                work.opportunities.delete(deal.id)
            else:
                self._rewrite_deal(deal, self._scrub_opportunity(deal))
            self.counts["opportunities"] += 1
        for case in cases.values():
            if self.delete:
                work.cases.delete(case.id)
            else:
                work.cases.update(self._scrub_case(case))
            self.counts["cases"] += 1

    def _rewrite_deal(self, deal: Opportunity, scrubbed: Opportunity) -> None:
        assert self.work is not None
        if scrubbed == deal:
            return
        if scrubbed.stage_history == deal.stage_history:
            self.work.opportunities.update(scrubbed)
            return
        # An update may only append to the history; erasing a reason rewrites it.
        if not isinstance(self.store, SupportsLoad):
            self.work.opportunities.update(attrs.evolve(scrubbed, stage_history=deal.stage_history))
            return
        self.store.load([attrs.evolve(scrubbed, version=deal.version + 1, updated_at=utcnow())])

    def _write_merges(self, merges: Mapping[str, MergeRecord], about: set[str]) -> None:
        if not merges:
            return
        store = self.store
        assert isinstance(store, SupportsMerges)
        ids = self.subject.ids
        for record in merges.values():
            if self.delete and set(record.participant_ids) <= ids:
                cast(SupportsPrivacy, store).forget_merge(record.id)
                self.counts["merges"] += 1
                continue
            scrubbed = attrs.evolve(
                record,
                before=self._scrub_snapshot(record.before, about),
                after=self._scrub_snapshot(record.after, about),
            )
            if scrubbed.before != record.before or scrubbed.after != record.after:
                store.merges.update(scrubbed)
                self.counts["merges"] += 1

    def _write_parties(self) -> None:
        store = self.store
        leads = sorted(self.subject.leads.values(), key=_live_last)
        customers = sorted(self.subject.customers.values(), key=_live_last)
        for lead in leads:
            if self.delete:
                store.leads.delete(lead.id)
            else:
                store.leads.update(_tombstone(lead))
            self.counts["leads"] += 1
        for customer in customers:
            if self.delete:
                store.customers.delete(customer.id)
            else:
                store.customers.update(_tombstone(customer))
            self.counts["customers"] += 1


def _live_last(record: Customer | Lead) -> tuple[bool, str]:
    # Merged-away records first: the live record is what they point at.
    return (record.merged_into is None, record.id)


# --------------------------------------------------------------------------- public


def _clear_request_notes(store: SupportsPrivacy, ids: set[str]) -> None:
    # A request's kind and dates are the proof it was honoured; its free-text
    # note is where a name or an address is likeliest to be typed.
    cursor = None
    while True:
        page = store.requests.list(cursor=cursor)
        for request in page.items:
            if request.subject_id in ids and request.note is not None:
                store.requests.update(attrs.evolve(request, note=None))
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def erase(store: Store, customer_id: str, *, mode: ErasureMode = "anonymize") -> ErasureReceipt:
    """Erase a person: their records, copies, contact points and cached values.

    In one :func:`crmcore.audit.audited` transaction (``AuditAction.ERASE``):
    the customer, the records merged into it, the leads converted into it,
    the copies in merge records, the interactions and work items about them
    (see the module documentation for each rule), then the contact points go
    on the suppression list. After the commit the process caches are emptied
    and the store is compacted so that no byte of the person stays in its
    files. Other people's records are untouched but for the subject's place
    in them (a participant, a contact role, a link).

    Args:
        store: a store that :class:`~crmcore.storage.SupportsPrivacy`.
        customer_id: the customer to erase; a lead id erases the lead (or the
            customer it was converted into), a merged-away id its survivor.
        mode: ``"anonymize"`` keeps a tombstone under each id, so references
            stay valid; ``"delete"`` removes the records.

    Returns:
        An :class:`ErasureReceipt` holding masked identifiers only.

    Raises:
        ValidationError: naming ``mode`` or ``customer_id``, or ``store`` when
            it keeps no suppression list.
        NotFound: nothing is stored under ``customer_id``.
    """
    if mode not in _MODES:
        raise ValidationError("mode", "must be 'anonymize' or 'delete'")
    if not isinstance(customer_id, str):
        raise ValidationError("customer_id", "must be a customer or lead id")
    if not isinstance(store, SupportsPrivacy):
        raise ValidationError(
            "store", "must keep an audit trail and suppressions (SupportsPrivacy)"
        )
    walk = _Walk(store, mode)
    with audited(store, AuditAction.ERASE, operation="erase"):
        root_id = walk.run(customer_id)
        subject = walk.subject
        suppressed = suppress(
            store,
            emails=[e.normalized for e in subject.emails.values()],
            phones=[p.e164 for p in subject.phones.values()],
        )
        _clear_request_notes(store, subject.ids)
    clear_all()
    store.compact()
    masked = sorted(
        {mask_email(e.normalized) for e in subject.emails.values()}
        | {mask_phone(p.e164) for p in subject.phones.values()}
    )
    return ErasureReceipt(
        subject=root_id,
        mode=mode,
        erased_at=utcnow(),
        records=walk.counts,
        suppressed=suppressed,
        masked=tuple(masked),
    )


def _party(store: Store, record_id: str) -> Customer | Lead:
    if is_customer_id(record_id):
        return store.customers.get(record_id)
    if is_lead_id(record_id):
        return store.leads.get(record_id)
    raise ValidationError("customer_id", "must be a customer or lead id")


def _save(store: Store, record: Customer | Lead) -> Customer | Lead:
    if isinstance(record, Customer):
        return store.customers.update(record)
    return store.leads.update(record)


def restrict(
    store: Store, customer_id: str, *, reason: str, at: datetime | None = None
) -> Customer | Lead:
    """Restrict processing of a customer or lead (Art. 18) and return the stored copy.

    The record stays; deduplication, merges, conversion matching and
    marketing consent checks leave it out until :func:`lift_restriction`.
    Audited as ``AuditAction.RESTRICT``. Restricting a restricted record
    replaces its reason.

    Raises:
        ValidationError: naming ``customer_id`` or ``reason``.
        NotFound: nothing is stored under ``customer_id``.
    """
    if not isinstance(customer_id, str):
        raise ValidationError("customer_id", "must be a customer or lead id")
    with audited(store, AuditAction.RESTRICT, operation="restrict"):
        record = _party(store, customer_id)
        return _save(store, record.restricted(reason, at=at))


def lift_restriction(store: Store, customer_id: str) -> Customer | Lead:
    """Lift a customer's or lead's restriction and return the stored copy.

    Audited as ``AuditAction.LIFT_RESTRICTION``; a record that is not
    restricted is returned as stored, and nothing is written.

    Raises:
        ValidationError: naming ``customer_id``.
        NotFound: nothing is stored under ``customer_id``.
    """
    if not isinstance(customer_id, str):
        raise ValidationError("customer_id", "must be a customer or lead id")
    with audited(store, AuditAction.LIFT_RESTRICTION, operation="lift_restriction"):
        record = _party(store, customer_id)
        if not record.is_restricted:
            return record
        return _save(store, record.unrestricted())
