"""The part of the storage contract that covers erasure and restriction.

Subclass :class:`ErasureContract` beside :class:`~crmcore.testing.StorageContract`
and provide the same ``store`` fixture (a store that
:class:`~crmcore.storage.SupportsPrivacy`). The checks build a small world of
people with hypothesis (a subject with a duplicate merged into it, a lead
converted into it, interactions alone and shared, deals, tasks and a support
case, and other people around), erase the subject in both modes, and read
everything back:

- through the store's own reads, no token of the subject (name parts of 3
  characters or more, email addresses, phone digits and the phone as typed)
  is left in any record or merge snapshot;
- through :meth:`ErasureContract.table_texts`, none is left in any table;
- through :meth:`ErasureContract.raw_files`, none is left in the bytes of the
  database files (for SQLite: the main file, ``-wal`` and ``-shm``);
- every record of the other people is unchanged, but for the subject's place
  in what they shared;
- the erasure is one transaction: a failure half-way leaves every record
  as it was, and suppresses nothing;
- the receipt holds no token, in its repr or its dict;
- a restricted record is refused by :func:`crmcore.plan_merge`, and
  :func:`~crmcore.privacy.restrict` / :func:`~crmcore.privacy.lift_restriction`
  round-trip.

Set ``supports_erasure = False`` to skip the checks visibly. Override
:meth:`raw_files` to point the byte check at the adapter's files (default:
none), and :meth:`table_texts` to dump every table as text (default: none;
the store's reads are always searched).
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from crmcore.audit import AuditAction
from crmcore.cases import Case
from crmcore.consent import ConsentEvidence, ConsentStatus
from crmcore.customers import Customer
from crmcore.errors import CrmError, NotFound, RecordRestricted
from crmcore.ids import RecordId, new_customer_id, new_interaction_id
from crmcore.interactions import Channel, Direction, Interaction, Participant, ParticipantRole
from crmcore.leads import Lead, LeadStatus
from crmcore.opportunities import ContactRole, Opportunity
from crmcore.serialization import to_json
from crmcore.storage.protocols import (
    Store,
    SupportsMerges,
    SupportsPrivacy,
    SupportsWorkItems,
    WorkStore,
)
from crmcore.tasks import Task
from crmcore.testing._builders import BASE_TIME
from crmcore.testing._work_builders import B2B
from crmcore.values import PostalAddress

__all__ = ["ErasureContract", "Person", "World", "build_world", "people"]

_LETTERS = string.ascii_lowercase
# Drawn words leave out "z": a word's "z" is where its salt starts (see _salt).
_WORD_LETTERS = _LETTERS.replace("z", "")
_SALT_LETTERS = "bcdfghjkmnpqrstvwxy"
_DIGITS = "123456789"
_SERIAL = itertools.count()
# Every token holds a letter the ids' alphabet (Crockford base32) leaves out and
# starts with a prefix no schema word has, so a token found is the person's.
_PREFIX = "zou"


@attrs.frozen
class Person:
    """The identifying texts of one drawn person: unique to them within a world."""

    given: str
    family: str
    domain: str
    digits: str
    """Seven digits: the number is ``+4670`` and these."""
    lead_given: str
    """The given name the person typed into a lead form."""

    @property
    def email(self) -> str:
        return f"{self.given}@{self.domain}.se"

    @property
    def second_email(self) -> str:
        return f"{self.family}@{self.domain}.se"

    @property
    def lead_email(self) -> str:
        return f"{self.lead_given}.{self.family}@{self.domain}.se"

    @property
    def ledger_email(self) -> str:
        """An address only the consent ledger names."""
        return f"{self.lead_given}@{self.family}.se"

    @property
    def phone(self) -> str:
        return f"+4670{self.digits}"

    @property
    def typed_phone(self) -> str:
        """The number as typed in Sweden: ``070-123 45 67``."""
        d = self.digits
        return f"070-{d[:3]} {d[3:5]} {d[5:]}"

    @property
    def tokens(self) -> tuple[str, ...]:
        """What must not survive the person's erasure, casefolded."""
        return tuple(
            t.casefold()
            for t in (
                self.given,
                self.family,
                self.domain,
                self.lead_given,
                self.email,
                self.second_email,
                self.lead_email,
                self.ledger_email,
                "4670" + self.digits,
                "70" + self.digits,
                self.typed_phone,
            )
        )


def _word() -> st.SearchStrategy[str]:
    return st.text(_WORD_LETTERS, min_size=4, max_size=8).map(lambda s: _PREFIX + s)


def _in_base(n: int, alphabet: str, width: int) -> str:
    out = []
    for _ in range(width):
        n, digit = divmod(n, len(alphabet))
        out.append(alphabet[digit])
    return "".join(reversed(out))


def salted(group: list[Person]) -> list[Person]:
    """The group made unique in the process: every word gains a salt, every phone a serial.

    The checks share one store between examples, and hypothesis draws the
    same words again and again: without the salt a word of this example could
    be one that an earlier example's other person keeps, legitimately.
    """
    out = []
    for person in group:
        n = next(_SERIAL)
        salt = "z" + _in_base(n, _SALT_LETTERS, 4)
        out.append(
            Person(
                given=person.given + salt,
                family=person.family + salt,
                domain=person.domain + salt,
                digits=_in_base(n, _DIGITS, 7),
                lead_given=person.lead_given + salt,
            )
        )
    return out


def _person() -> st.SearchStrategy[Person]:
    return st.builds(
        Person,
        given=_word(),
        family=_word(),
        domain=_word(),
        digits=st.just("1234567"),
        lead_given=_word(),
    )


def people(*, min_size: int = 2, max_size: int = 3) -> st.SearchStrategy[list[Person]]:
    """Groups of people (the first is the subject); pass them through :func:`salted`."""
    return st.lists(_person(), min_size=min_size, max_size=max_size)


@attrs.frozen
class World:
    """What :func:`build_world` stored: the subject's ids and everyone's records."""

    subject_id: str
    subject_ids: frozenset[str]
    other_ids: tuple[str, ...]
    shared_interactions: tuple[str, ...]
    other_deals: tuple[str, ...]
    subject_work: frozenset[str] = frozenset()
    """The subject's deals and cases: what links to them may lose the link."""


def _customer(person: Person, *, duplicate: bool = False) -> Customer:
    return Customer.create(
        name=f"{person.given.title()} {person.family.title()}",
        emails=[person.second_email if duplicate else person.email],
        phones=[person.typed_phone if not duplicate else person.phone],
        region="SE",
        addresses=[
            PostalAddress(lines=(f"{person.family.title()}vägen 1",), locality="Lund", country="SE")
        ],
        tags=[person.family],
        custom_fields={"nickname": person.given},
        identifiers={"crm": f"C-{person.digits}"},
        notes=f"Met {person.given.title()} at the fair; call {person.typed_phone}.",
    )


def _interaction(
    ids: Iterable[RecordId], body: str, *, external_id: str | None = None, case_id: Any = None
) -> Interaction:
    return Interaction(
        id=new_interaction_id(),
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=BASE_TIME,
        participants=tuple(
            Participant(rid, ParticipantRole.PRIMARY if n == 0 else ParticipantRole.CC)
            for n, rid in enumerate(ids)
        ),
        subject=f"Re: {body}",
        body=body,
        outcome=body,
        external_id=external_id,
        case_id=case_id,
    )


def build_world(store: Store, group: list[Person], *, merges: bool = True) -> World:
    """Store a subject (``group[0]``) and the other people, linked every way erasure must follow."""
    from crmcore.conversion import convert_lead
    from crmcore.merge import merge

    subject, others = group[0], group[1:]
    work = isinstance(store, SupportsWorkItems)
    can_merge = merges and isinstance(store, SupportsMerges)
    other_customers = [store.customers.add(_customer(p)) for p in others]
    b = other_customers[0]
    a = _customer(subject)
    a = a.with_consent(Channel.EMAIL, "newsletter", ConsentStatus.GRANTED, source=subject.given)
    a = a.with_consent(
        Channel.EMAIL,
        "marketing",
        ConsentStatus.GRANTED,
        source=f"form of {subject.family}",
        contact_point=subject.ledger_email,
        evidence=ConsentEvidence(
            form_id="signup", ip_address="192.0.2.7", reference=f"ticket {subject.given}"
        ),
    )
    a = store.customers.add(a)
    subject_ids: set[str] = {a.id}
    shared: list[str] = []
    other_deals: list[str] = []
    subject_work: set[str] = set()
    ixn = store.interactions
    ixn.add(_interaction([a.id], f"Dear {subject.given}", external_id=f"<1.{subject.email}>"))
    shared.append(
        ixn.add(
            _interaction([b.id, a.id], f"{subject.family} and me", external_id=f"<2@{b.id}>")
        ).id
    )
    if can_merge:
        # A duplicate of the subject merged into it: the merge record keeps its copy.
        dup = store.customers.add(_customer(subject, duplicate=True))
        ixn.add(_interaction([dup.id], f"Hi {subject.family}"))
        merge(store, [a.id, dup.id], survivor=a.id)  # type: ignore[arg-type]
        subject_ids.add(dup.id)
        if len(other_customers) > 1:
            # Another person's duplicate shared a message with the subject; merging it
            # copies that message into a merge record the subject takes no part in.
            c = other_customers[1]
            c_dup = store.customers.add(_customer(others[1], duplicate=True))
            shared.append(
                ixn.add(_interaction([c_dup.id, a.id], f"To {subject.given} from a friend")).id
            )
            merge(store, [c.id, c_dup.id], survivor=c.id)  # type: ignore[arg-type]
        lead = Lead.create(
            name=f"{subject.lead_given.title()} {subject.family.title()}",
            emails=[subject.lead_email],
            phones=[subject.phone],
            company=f"{subject.family.title()} AB",
        )
        lead = store.leads.add(attrs.evolve(lead, status=LeadStatus.QUALIFIED))
        ixn.add(_interaction([lead.id], f"Form from {subject.lead_given}"))
        convert_lead(store, lead.id, customer_id=a.id)
        subject_ids.add(lead.id)
    else:
        lead = store.leads.add(Lead.create(name=subject.lead_given, emails=[subject.lead_email]))
        subject_ids.add(lead.id)
        store.leads.update(
            attrs.evolve(lead, converted_customer_id=a.id, status=LeadStatus.CONVERTED)
        )
    for p in others:
        store.leads.add(Lead.create(name=p.lead_given, emails=[p.lead_email]))
    if work:
        ws: WorkStore = store  # type: ignore[assignment]
        deal = Opportunity.create(
            name=f"Deal with {subject.family}",
            customer_id=a.id,
            pipeline=B2B,
            contacts=[ContactRole(b.id, "influencer")],
            at=BASE_TIME,
        )
        deal = deal.move_to(
            B2B, "lost", at=BASE_TIME + timedelta(days=1), reason=f"{subject.given} moved"
        )
        deal = ws.opportunities.add(deal)
        other = ws.opportunities.add(
            Opportunity.create(
                name="Their deal",
                customer_id=b.id,
                pipeline=B2B,
                contacts=[ContactRole(a.id, "champion")],
                at=BASE_TIME,
            )
        )
        other_deals.append(other.id)
        case = ws.cases.add(
            Case.create(
                subject=f"{subject.given} cannot log in",
                customer_id=a.id,
                description=subject.email,
                reported_at=BASE_TIME,
            )
        )
        subject_work |= {deal.id, case.id}
        ixn.add(_interaction([b.id], "Colleague reports the same", case_id=case.id))
        for about in (a.id, deal.id, case.id):
            ws.tasks.add(Task.create(title=f"Call {subject.given}", about_id=about))
        ws.tasks.add(Task.create(title="Their task", about_id=b.id))
    return World(
        subject_id=a.id,
        subject_ids=frozenset(subject_ids),
        other_ids=tuple(c.id for c in other_customers),
        shared_interactions=tuple(shared),
        other_deals=tuple(other_deals),
        subject_work=frozenset(subject_work),
    )


def everything(store: Store, record_ids: Iterable[str]) -> dict[str, str]:
    """Every record the store's reads return, by id, as JSON: parties, work, the
    interactions and merge records of ``record_ids``."""
    found: dict[str, str] = {}
    for customer in store.customers.iter_all():
        found[customer.id] = to_json(customer)
    for lead in store.leads.iter_all():
        found[lead.id] = to_json(lead)
    if isinstance(store, SupportsWorkItems):
        ws: WorkStore = store
        for deal in ws.opportunities.iter_all():
            found[deal.id] = to_json(deal)
        for task in ws.tasks.iter_all():
            found[task.id] = to_json(task)
        for case in ws.cases.iter_all():
            found[case.id] = to_json(case)
    ids = set(record_ids) | {i for i in found if i.startswith(("cus_", "led_", "cas_"))}
    for record_id in sorted(ids):
        for interaction in store.interactions.list_for(record_id, limit=None):
            found[interaction.id] = to_json(interaction)
        if isinstance(store, SupportsMerges) and not record_id.startswith("cas_"):
            for merge_record in store.merges.list_for(record_id):
                found[merge_record.id] = to_json(merge_record)
    return found


def _found(tokens: Iterable[str], text: str) -> list[str]:
    folded = text.casefold()
    return [t for t in tokens if t in folded]


class ErasureContract:
    """Erasure and restriction checks for any store that :class:`SupportsPrivacy`."""

    supports_erasure: ClassVar[bool] = True
    """Set ``False`` when the store keeps no suppression list: the checks then skip."""
    erasure_examples: ClassVar[int] = 8
    """How many worlds each property check draws at most (each one is a few dozen writes)."""

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        """The store under test: override in the adapter's test module."""
        raise NotImplementedError("provide a `store` fixture")

    def raw_files(self, store: Store) -> list[Path]:
        """The files whose bytes must hold no token after an erasure (default: none)."""
        del store
        return []

    def table_texts(self, store: Store) -> Iterable[str]:
        """Every row of every table, as text (default: none: only the store's reads)."""
        del store
        return ()

    # ----------------------------------------------------------------- helpers

    def _private(self, store: Store) -> Store:
        if not self.supports_erasure:
            pytest.skip("the adapter does not claim erasure (supports_erasure = False)")
        if not isinstance(store, SupportsPrivacy):
            pytest.skip("the store keeps no suppression list (SupportsPrivacy)")
        return store

    def _examples(self) -> settings:
        current = settings()
        # No shrinking: every example adds a world to the one store, so shrinking a
        # failure would take minutes; the failing world is printed as drawn.
        return settings(
            current,
            max_examples=min(current.max_examples, self.erasure_examples),
            phases=[p for p in current.phases if p is not Phase.shrink],
        )

    def _check_gone(self, store: Store, tokens: Iterable[str], ids: Iterable[str]) -> None:
        tokens = tuple(tokens)
        for record_id, text in everything(store, ids).items():
            assert not _found(tokens, text), f"a token of the subject is left in {record_id}"
        for n, text in enumerate(self.table_texts(store)):
            assert not _found(tokens, text), f"a token of the subject is left in table row {n}"
        for path in self.raw_files(store):
            if not path.exists():
                continue
            data = path.read_bytes().lower()
            left = [t for t in tokens if t.encode() in data]
            assert not left, f"{len(left)} token(s) of the subject left in the bytes of {path.name}"

    def _erase_and_check(self, store: Store, group: list[Person], mode: str) -> None:
        from crmcore.privacy import erase, find_subject, is_suppressed

        group = salted(group)
        subject = group[0]
        world = build_world(store, group)
        known = [*world.subject_ids, *world.other_ids]
        before = everything(store, known)
        trail = store.audit  # type: ignore[attr-defined]
        entries_before = trail.count()
        receipt = erase(store, world.subject_id, mode=mode)  # type: ignore[arg-type]
        assert trail.count() == entries_before + 1, "an erasure leaves exactly one audit entry"
        after = everything(store, known)

        self._check_gone(store, subject.tokens, known)
        # Other people's records: unchanged, unless they named the subject.
        touching = world.subject_ids | world.subject_work
        for record_id, text in before.items():
            if record_id in world.subject_ids:
                continue
            if any(i in text for i in touching) or _found(subject.tokens, text):
                continue
            assert after.get(record_id) == text, f"{record_id} changed"
        for ixn_id in world.shared_interactions:
            shared = store.interactions.get(ixn_id)
            kept = {p.record_id for p in shared.participants}
            assert kept, "a shared interaction lost every participant"
            assert not kept & world.subject_ids, "a shared interaction still names the subject"
        for deal_id in world.other_deals:
            deal = store.opportunities.get(deal_id)  # type: ignore[attr-defined]
            assert deal.customer_id in world.other_ids
            assert all(c.customer_id not in world.subject_ids for c in deal.contacts)
        # The subject: gone, or a tombstone under the same id.
        for record_id in world.subject_ids:
            repo = store.customers if record_id.startswith("cus_") else store.leads
            if mode == "delete":
                with pytest.raises(NotFound):
                    repo.get(record_id)
            else:
                tombstone = repo.get(record_id)
                assert not tombstone.emails
                assert not tombstone.phones
        # A subject access request made afterwards finds nothing of the person.
        for lookup in ({"email": subject.email}, {"phone": subject.phone}):
            assert not find_subject(store, **lookup).ids
        assert is_suppressed(store, email=subject.email)
        assert is_suppressed(store, email=subject.lead_email)
        assert is_suppressed(store, email=subject.ledger_email)
        assert is_suppressed(store, phone=subject.phone)
        # The audit entry names the erasure, and nothing of the person.
        entries = trail.list(record_id=world.subject_id, action=AuditAction.ERASE).items
        assert len(entries) == 1
        assert not _found(subject.tokens, to_json(entries[0]) + repr(entries[0]))
        # The receipt: counts and masked contact points, nothing of the person.
        assert receipt.subject == world.subject_id
        assert receipt.mode == mode
        assert receipt.records["customers"] == sum(
            1 for i in world.subject_ids if i.startswith("cus_")
        )
        assert receipt.masked
        for text in (repr(receipt), str(receipt.to_dict())):
            assert not _found(subject.tokens, text), "the receipt names the subject"

    # ----------------------------------------------------------------- checks

    @pytest.mark.parametrize("mode", ["anonymize", "delete"])
    def test_erase_leaves_no_token_and_others_unchanged(self, store: Store, mode: str) -> None:
        private = self._private(store)

        @self._examples()
        @given(group=people())
        def check(group: list[Person]) -> None:
            self._erase_and_check(private, group, mode)

        check()

    def test_erase_is_one_transaction(self, store: Store) -> None:
        import crmcore.privacy._erase as erasing
        from crmcore.privacy import erase, is_suppressed

        private = self._private(store)

        class Boom(Exception):
            pass

        def fail(*args: object, **kwargs: object) -> Any:
            raise Boom

        steps = ("_write_merges", "_write_parties", "_write_deals_and_cases")

        @self._examples()
        @given(
            group=people(),
            step=st.sampled_from(steps),
            mode=st.sampled_from(["anonymize", "delete"]),
        )
        def check(group: list[Person], step: str, mode: str) -> None:
            group = salted(group)
            world = build_world(private, group)
            known = [*world.subject_ids, *world.other_ids]
            before = everything(private, known)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(erasing._Walk, step, fail)
                with pytest.raises(Boom):
                    erase(private, world.subject_id, mode=mode)  # type: ignore[arg-type]
            assert everything(private, known) == before
            assert not is_suppressed(private, email=group[0].email)

        check()

    def test_erase_fails_whole_when_the_suppression_fails(self, store: Store) -> None:
        import crmcore.privacy._erase as erasing
        from crmcore.privacy import erase

        private = self._private(store)
        group = salted(
            [
                Person("zouqaaaa", "zouqbbbb", "zouqcccc", "1234567", "zouqdddd"),
                Person("zourffff", "zourgggg", "zourhhhh", "7654321", "zourjjjj"),
            ]
        )
        world = build_world(private, group)
        known = [*world.subject_ids, *world.other_ids]
        before = everything(private, known)

        def fail(*args: object, **kwargs: object) -> int:
            raise CrmError("suppression failed")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(erasing, "suppress", fail)
            with pytest.raises(CrmError):
                erase(private, world.subject_id, mode="delete")
        assert everything(private, known) == before

    def test_delete_mode_removes_every_reference_first(self, store: Store) -> None:
        # Referential integrity refuses deleting a record still named: erasure
        # re-points or drops what other people's records say about the subject.
        from crmcore.privacy import erase

        private = self._private(store)
        (person, other) = salted(
            [
                Person("zoutaaaa", "zoutbbbb", "zoutcccc", "1234567", "zoutdddd"),
                Person("zouveeee", "zouvffff", "zouvgggg", "7654321", "zouvhhhh"),
            ]
        )
        org = private.customers.add(
            Customer.create(name=f"{person.family.title()} AB", kind="organization")
        )
        member = private.customers.add(attrs.evolve(_customer(other), organization_id=org.id))
        lead = private.leads.add(Lead.create(name=person.lead_given, emails=[person.email]))
        lead = private.leads.update(
            attrs.evolve(lead, status=LeadStatus.CONVERTED, converted_customer_id=org.id)
        )
        alone = private.interactions.add(_interaction([org.id], f"To {person.family}"))
        if isinstance(private, SupportsWorkItems):
            ws: WorkStore = private
            deal = ws.opportunities.add(
                Opportunity.create(
                    name="Their deal", customer_id=member.id, pipeline=B2B, lead_id=lead.id
                )
            )
            # A done task names the interaction it was done by: history, kept as it is.
            done = Task.create(title="Their follow-up", about_id=member.id)
            linked = ws.tasks.add(done.complete(at=BASE_TIME, interaction_id=alone.id))
        erase(private, org.id, mode="delete")
        with pytest.raises(NotFound):
            private.customers.get(org.id)
        with pytest.raises(NotFound):
            private.leads.get(lead.id)
        with pytest.raises(NotFound):
            private.interactions.get(alone.id)
        assert private.customers.get(member.id).organization_id is None
        if isinstance(private, SupportsWorkItems):
            assert ws.opportunities.get(deal.id).lead_id is None
            assert ws.tasks.get(linked.id) == linked
        self._check_gone(private, person.tokens, [org.id, member.id])

    def test_erase_refuses_a_bad_mode_or_id(self, store: Store) -> None:
        from crmcore.errors import ValidationError
        from crmcore.privacy import erase

        private = self._private(store)
        with pytest.raises(ValidationError) as bad_mode:
            erase(private, new_customer_id(), mode="shred")  # type: ignore[arg-type]
        assert bad_mode.value.problems[0][0] == "mode"
        with pytest.raises(ValidationError) as bad_id:
            erase(private, "ixn_01")
        assert bad_id.value.problems[0][0] == "customer_id"
        with pytest.raises(NotFound):
            erase(private, new_customer_id())

    def test_erasing_a_lead_alone(self, store: Store) -> None:
        from crmcore.privacy import erase, is_suppressed

        private = self._private(store)

        @self._examples()
        @given(group=people(min_size=1, max_size=1), mode=st.sampled_from(["anonymize", "delete"]))
        def check(group: list[Person], mode: str) -> None:
            group = salted(group)
            person = group[0]
            lead = private.leads.add(
                Lead.create(
                    name=f"{person.given} {person.family}",
                    emails=[person.email],
                    phones=[person.typed_phone],
                    region="SE",
                )
            )
            private.interactions.add(_interaction([lead.id], f"Hello {person.given}"))
            receipt = erase(private, lead.id, mode=mode)  # type: ignore[arg-type]
            assert receipt.subject == lead.id
            assert receipt.records["leads"] == 1
            self._check_gone(private, person.tokens, [lead.id])
            assert is_suppressed(private, phone=person.phone)

        check()

    def test_restrict_and_lift_round_trip(self, store: Store) -> None:
        from crmcore.merge import plan_merge
        from crmcore.privacy import lift_restriction, restrict

        private = self._private(store)

        @self._examples()
        @given(
            reason=st.text(_LETTERS + " ", min_size=1, max_size=40).filter(str.strip),
            lead=st.booleans(),
        )
        def check(reason: str, lead: bool) -> None:
            if lead:
                first: Customer | Lead = private.leads.add(Lead.create(name="Ann Lee"))
                second: Customer | Lead = private.leads.add(Lead.create(name="Ann Lee"))
            else:
                first = private.customers.add(Customer.create(name="Ann Lee"))
                second = private.customers.add(Customer.create(name="Ann Lee"))
            trail = private.audit  # type: ignore[attr-defined]
            entries = trail.count()
            # A distinctive word: the reason itself may be one letter of any repr.
            restricted = restrict(private, first.id, reason=f"zoureason {reason}")
            assert trail.count() == entries + 1
            (entry,) = trail.list(record_id=first.id, action=AuditAction.RESTRICT).items
            assert "zoureason" not in repr(entry) + to_json(entry)
            assert restricted.is_restricted
            assert restricted.version == first.version + 1
            repo = private.leads if lead else private.customers
            assert repo.get(first.id).is_restricted
            with pytest.raises(RecordRestricted):
                plan_merge([repo.get(first.id), second])
            with pytest.raises(RecordRestricted):
                plan_merge([second, repo.get(first.id)])
            lifted = lift_restriction(private, first.id)
            assert trail.count() == entries + 2
            assert not lifted.is_restricted
            assert attrs.evolve(lifted, version=first.version, updated_at=first.updated_at) == first
            plan_merge([lifted, second])
            # Lifting what is not restricted writes nothing, so leaves no entry.
            assert lift_restriction(private, first.id).version == lifted.version
            assert trail.count() == entries + 2

        check()

    def test_an_erased_subject_leaves_no_restriction_reason(self, store: Store) -> None:
        from crmcore.privacy import erase, restrict

        private = self._private(store)
        (person,) = salted([Person("zousaaaa", "zousbbbb", "zousccccc", "2345678", "zousdddd")])
        customer = private.customers.add(_customer(person))
        restrict(private, customer.id, reason=f"disputes {person.given}")
        erase(private, customer.id)
        tombstone = private.customers.get(customer.id)
        assert not tombstone.is_restricted
        self._check_gone(private, person.tokens, [customer.id])
