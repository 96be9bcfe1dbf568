"""The contract of :class:`~crmcore.storage.SupportsPrivacy`: audit trail, suppression
list, subject requests, the privacy secret, ``compact`` and ``forget_merge``.

An adapter's test module subclasses :class:`PrivacyContract` (beside
:class:`~crmcore.testing.StorageContract`) and provides a ``store`` fixture. A
store that does not claim the capability (``supports_privacy = False``, or no
:class:`~crmcore.storage.SupportsPrivacy`) has every check skipped, visibly.

The central property: every public write path of the store leaves exactly one
new audit entry, naming the records it wrote, and inside
:func:`crmcore.audit.audited` a whole block leaves one.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import strategies as st

from crmcore.audit import AuditAction, AuditEntry, AuditTarget, acting_as, audited
from crmcore.errors import DuplicateRecord, NotFound, ValidationError, VersionConflict
from crmcore.ids import new_request_id
from crmcore.merge_record import MergeRecord
from crmcore.serialization import to_json
from crmcore.storage.protocols import (
    PrivateStore,
    Store,
    SupportsLoad,
    SupportsMerges,
    SupportsPrivacy,
    SupportsWorkItems,
)
from crmcore.subject_requests import RequestKind, SubjectRequest
from crmcore.testing import _builders as build
from crmcore.testing import _work_builders as work
from crmcore.testing._kit import check_every
from crmcore.values import PersonName

__all__ = ["PrivacyContract", "require_privacy"]


class _Abort(Exception):
    """Raised to abort a transaction half-way."""


def require_privacy(contract: object, store: Store) -> PrivateStore:
    """``store`` as a :class:`~crmcore.storage.PrivateStore`, or skip the check visibly.

    Skipped when the contract's ``supports_privacy`` flag is ``False`` or the
    store does not implement :class:`~crmcore.storage.SupportsPrivacy`.
    """
    if not getattr(contract, "supports_privacy", True):
        pytest.skip("the adapter does not claim privacy support (supports_privacy = False)")
    if not isinstance(store, SupportsPrivacy):
        pytest.skip("the store keeps no audit trail, suppressions or requests (SupportsPrivacy)")
    return store


def _aborted(block: AbstractContextManager[Any], write: Callable[[], object]) -> None:
    """Run ``write`` inside ``block`` and abort the block."""
    with block:
        write()
        raise _Abort


def _all_entries(store: PrivateStore, **filters: Any) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    cursor = None
    for _ in range(10_000):
        page = store.audit.list(cursor=cursor, limit=50, **filters)
        entries.extend(page.items)
        if page.next_cursor is None:
            return entries
        cursor = page.next_cursor
    raise AssertionError("audit pagination did not end")


def _merge_record(store: PrivateStore) -> MergeRecord:
    survivor = store.customers.add(build.customer(1))
    other = store.customers.add(build.customer(2))
    return build.merge_of(survivor, other)


# One write path: (name, what it needs, set up before counting) -> the write, returning
# the ids it must name. Each setup writes (and audits) on its own, before the count.
Setup = Callable[[PrivateStore], Any]
Act = Callable[[PrivateStore, Any], tuple[AuditAction, set[str]]]


def _customer_add(store: PrivateStore, _: Any) -> tuple[AuditAction, set[str]]:
    return AuditAction.ADD, {store.customers.add(build.customer(3)).id}


def _customer_add_many(store: PrivateStore, _: Any) -> tuple[AuditAction, set[str]]:
    stored = store.customers.add_many([build.customer(4), build.customer(5)])
    return AuditAction.ADD, {c.id for c in stored}


def _stored_customer(store: PrivateStore) -> Any:
    return store.customers.add(build.customer(6))


def _customer_update(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    store.customers.update(attrs.evolve(stored, owner="usr_audit"))
    return AuditAction.UPDATE, {stored.id}


def _customer_delete(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    store.customers.delete(stored.id)
    return AuditAction.DELETE, {stored.id}


def _lead_add(store: PrivateStore, _: Any) -> tuple[AuditAction, set[str]]:
    return AuditAction.ADD, {store.leads.add(build.lead(7)).id}


def _stored_lead(store: PrivateStore) -> Any:
    return store.leads.add(build.lead(8))


def _lead_update(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    store.leads.update(attrs.evolve(stored, owner="usr_audit"))
    return AuditAction.UPDATE, {stored.id}


def _lead_delete(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    store.leads.delete(stored.id)
    return AuditAction.DELETE, {stored.id}


def _interaction_add(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    return AuditAction.ADD, {store.interactions.add(build.interaction(stored.id, 1)).id}


def _interaction_add_many(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    added = store.interactions.add_many(
        [build.interaction(stored.id, 2), build.interaction(stored.id, 3)]
    )
    return AuditAction.ADD, {i.id for i in added}


def _stored_interaction(store: PrivateStore) -> Any:
    person = store.customers.add(build.customer(9))
    return store.interactions.add(build.interaction(person.id, 4))


def _interaction_update(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    store.interactions.update(attrs.evolve(stored, subject="Changed"))
    return AuditAction.UPDATE, {stored.id}


def _interaction_delete(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    store.interactions.delete(stored.id)
    return AuditAction.DELETE, {stored.id}


def _merge_add(store: PrivateStore, record: Any) -> tuple[AuditAction, set[str]]:
    assert isinstance(store, SupportsMerges)
    return AuditAction.MERGE, {store.merges.add(record).id}


def _stored_merge(store: PrivateStore) -> Any:
    assert isinstance(store, SupportsMerges)
    return store.merges.add(_merge_record(store))


def _merge_update(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    assert isinstance(store, SupportsMerges)
    store.merges.update(attrs.evolve(stored, unmerged_at=build.BASE_TIME + timedelta(days=1)))
    return AuditAction.UPDATE, {stored.id}


def _forget_merge(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    store.forget_merge(stored.id)
    return AuditAction.DELETE, {stored.id}


def _request_add(store: PrivateStore, _: Any) -> tuple[AuditAction, set[str]]:
    return AuditAction.ADD, {store.requests.add(SubjectRequest.create(RequestKind.ACCESS)).id}


def _stored_request(store: PrivateStore) -> Any:
    return store.requests.add(SubjectRequest.create(RequestKind.ERASURE))


def _request_update(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    store.requests.update(stored.answered())
    return AuditAction.UPDATE, {stored.id}


def _load(store: PrivateStore, _: Any) -> tuple[AuditAction, set[str]]:
    assert isinstance(store, SupportsLoad)
    person = build.customer(10, version=3)
    store.load([person])
    return AuditAction.LOAD, {person.id}


def _work_add(store: PrivateStore, customer: Any) -> tuple[AuditAction, set[str]]:
    assert isinstance(store, SupportsWorkItems)
    deal = store.opportunities.add(work.opportunity(2, customer_id=customer.id))
    return AuditAction.ADD, {deal.id}


def _work_add_many(store: PrivateStore, customer: Any) -> tuple[AuditAction, set[str]]:
    assert isinstance(store, SupportsWorkItems)
    tasks = store.tasks.add_many([work.task(4), work.task(9)])
    return AuditAction.ADD, {t.id for t in tasks}


def _stored_case(store: PrivateStore) -> Any:
    assert isinstance(store, SupportsWorkItems)
    customer = store.customers.add(build.customer(11))
    return store.cases.add(work.case(1, customer_id=customer.id))


def _case_update(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    assert isinstance(store, SupportsWorkItems)
    store.cases.update(attrs.evolve(stored, assignee="usr_audit"))
    return AuditAction.UPDATE, {stored.id}


def _case_delete(store: PrivateStore, stored: Any) -> tuple[AuditAction, set[str]]:
    assert isinstance(store, SupportsWorkItems)
    store.cases.delete(stored.id)
    return AuditAction.DELETE, {stored.id}


def _nothing(store: PrivateStore) -> Any:
    return None


def _person(store: PrivateStore) -> Any:
    return store.customers.add(build.customer(12))


_WRITE_PATHS: dict[str, tuple[str, Setup, Act]] = {
    "customers.add": ("", _nothing, _customer_add),
    "customers.add_many": ("", _nothing, _customer_add_many),
    "customers.update": ("", _stored_customer, _customer_update),
    "customers.delete": ("", _stored_customer, _customer_delete),
    "leads.add": ("", _nothing, _lead_add),
    "leads.update": ("", _stored_lead, _lead_update),
    "leads.delete": ("", _stored_lead, _lead_delete),
    "interactions.add": ("", _person, _interaction_add),
    "interactions.add_many": ("", _person, _interaction_add_many),
    "interactions.update": ("", _stored_interaction, _interaction_update),
    "interactions.delete": ("", _stored_interaction, _interaction_delete),
    "merges.add": ("merges", _merge_record, _merge_add),
    "merges.update": ("merges", _stored_merge, _merge_update),
    "forget_merge": ("merges", _stored_merge, _forget_merge),
    "requests.add": ("", _nothing, _request_add),
    "requests.update": ("", _stored_request, _request_update),
    "load": ("load", _nothing, _load),
    "opportunities.add": ("work", _person, _work_add),
    "tasks.add_many": ("work", _person, _work_add_many),
    "cases.update": ("work", _stored_case, _case_update),
    "cases.delete": ("work", _stored_case, _case_delete),
}


def _available(store: PrivateStore) -> list[str]:
    needs = {
        "": True,
        "merges": isinstance(store, SupportsMerges),
        "load": isinstance(store, SupportsLoad),
        "work": isinstance(store, SupportsWorkItems),
    }
    return [name for name, (need, _, _) in _WRITE_PATHS.items() if needs[need]]


class PrivacyContract:
    """Checks of :class:`~crmcore.storage.SupportsPrivacy` for any store.

    Attributes:
        supports_privacy: the store keeps an audit trail, a suppression list
            and subject requests. ``False`` skips every check here, visibly.
    """

    supports_privacy: ClassVar[bool] = True

    def _privacy(self, store: Store) -> PrivateStore:
        return require_privacy(self, store)

    # ------------------------------------------------------------------ audit: one entry per write

    def test_every_write_path_leaves_exactly_one_audit_entry(self, store: Store) -> None:
        private = self._privacy(store)
        paths = _available(private)

        def check(chosen: list[str]) -> None:
            for name in chosen:
                _, setup, act = _WRITE_PATHS[name]
                context = setup(private)
                before = private.audit.count()
                with acting_as("usr_contract"):
                    action, ids = act(private, context)
                assert private.audit.count() == before + 1, name
                # Ids are time-ordered: the newest entry naming the record is the write's.
                new = _all_entries(private, record_id=min(ids))[-1]
                assert new.action is action, name
                assert new.actor == "usr_contract", name
                assert set(new.record_ids) == ids, name
                assert private.audit.get(new.id) == new

        check_every(st.lists(st.sampled_from(paths), min_size=1, max_size=6), check)

    def test_an_update_names_the_changed_fields_only(self, store: Store) -> None:
        private = self._privacy(store)
        stored = private.customers.add(build.customer(20))
        private.customers.update(
            attrs.evolve(stored, owner="usr_someone_else", tags=frozenset({"audited"}))
        )
        entry = _all_entries(private, record_id=stored.id)[-1]
        (target,) = entry.targets
        assert target == AuditTarget("customer", stored.id, 2, target.fields)
        assert set(target.fields) == {"owner", "tags"}

    def test_entries_hold_no_values(self, store: Store) -> None:
        private = self._privacy(store)
        # Without its organisation: a store refuses an organization_id naming nothing.
        person = attrs.evolve(build.full_customer(), organization_id=None)
        stored = private.customers.add(person)
        private.customers.update(attrs.evolve(stored, emails=(), phones=()))
        text = " ".join(repr(t) for e in _all_entries(private) for t in e.targets)
        for email in person.emails:
            assert email.address.normalized not in text
        for phone in person.phones:
            assert phone.number.e164 not in text
        name = person.name
        parts = (name.given, name.family) if isinstance(name, PersonName) else (name,)
        for part in parts:
            assert part is None or part not in text

    def test_a_failed_write_leaves_no_entry(self, store: Store) -> None:
        private = self._privacy(store)
        stored = private.customers.add(build.customer(21))
        before = private.audit.count()
        with pytest.raises(DuplicateRecord):
            private.customers.add(stored)
        with pytest.raises(VersionConflict):
            private.customers.update(attrs.evolve(stored, version=7))
        with pytest.raises(NotFound):
            private.customers.delete(build.customer(22).id)
        assert private.audit.count() == before

    def test_writes_inside_a_transaction_leave_one_entry_each(self, store: Store) -> None:
        private = self._privacy(store)
        before = private.audit.count()
        with private.transaction():
            private.customers.add(build.customer(23))
            private.leads.add(build.lead(23))
        assert private.audit.count() == before + 2

    def test_a_rolled_back_transaction_leaves_no_entry(self, store: Store) -> None:
        private = self._privacy(store)
        before = private.audit.count()
        with pytest.raises(_Abort):
            _aborted(private.transaction(), lambda: private.customers.add(build.customer(24)))
        assert private.audit.count() == before

    # ------------------------------------------------------------------ audit: audited blocks

    def test_an_audited_block_leaves_one_entry_naming_every_write(self, store: Store) -> None:
        private = self._privacy(store)
        before = private.audit.count()
        with acting_as("usr_block"), audited(private, AuditAction.MERGE, operation="contract"):
            a = private.customers.add(build.customer(25))
            b = private.leads.add(build.lead(25))
            private.customers.update(attrs.evolve(a, owner="usr_x"))
            private.leads.delete(b.id)
        assert private.audit.count() == before + 1
        entry = _all_entries(private)[-1]
        assert entry.action is AuditAction.MERGE
        assert entry.operation == "contract"
        assert entry.actor == "usr_block"
        assert [(t.entity, t.id) for t in entry.targets] == [
            ("customer", a.id),
            ("lead", b.id),
            ("customer", a.id),
            ("lead", b.id),
        ]

    def test_an_audited_block_that_raises_leaves_nothing(self, store: Store) -> None:
        private = self._privacy(store)
        before = (private.audit.count(), private.customers.count())
        with pytest.raises(_Abort):
            _aborted(
                audited(private, AuditAction.IMPORT),
                lambda: private.customers.add(build.customer(26)),
            )
        assert (private.audit.count(), private.customers.count()) == before

    def test_an_audited_block_without_writes_leaves_nothing(self, store: Store) -> None:
        private = self._privacy(store)
        before = private.audit.count()
        with audited(private, AuditAction.UPDATE):
            private.customers.count()
        assert private.audit.count() == before

    def test_nested_audited_blocks_join_the_outer_one(self, store: Store) -> None:
        private = self._privacy(store)
        before = private.audit.count()
        with audited(private, AuditAction.IMPORT, operation="import"):
            private.customers.add(build.customer(27))
            with audited(private, AuditAction.CONVERT, operation="convert"):
                private.leads.add(build.lead(27))
        assert private.audit.count() == before + 1
        entry = _all_entries(private)[-1]
        assert (entry.action, entry.operation, len(entry.targets)) == (
            AuditAction.IMPORT,
            "import",
            2,
        )

    def test_an_inner_rollback_takes_its_targets_back(self, store: Store) -> None:
        private = self._privacy(store)
        if not getattr(self, "supports_nested_transactions", True):
            pytest.skip("the adapter does not claim nested transactions")
        with audited(private, AuditAction.IMPORT):
            kept = private.customers.add(build.customer(28))
            with pytest.raises(_Abort):
                _aborted(private.transaction(), lambda: private.customers.add(build.customer(29)))
        entry = _all_entries(private)[-1]
        assert entry.record_ids == (kept.id,)

    # ------------------------------------------------------------------ audit: reading

    def test_audit_list_filters_and_pages(self, store: Store) -> None:
        private = self._privacy(store)
        stored = [private.customers.add(build.customer(30 + i)) for i in range(5)]
        private.customers.update(attrs.evolve(stored[0], owner="usr_y"))
        everything = _all_entries(private)
        assert len(everything) == private.audit.count()
        assert [e.id for e in everything] == sorted(e.id for e in everything)
        mine = _all_entries(private, record_id=stored[0].id)
        assert [e.action for e in mine] == [AuditAction.ADD, AuditAction.UPDATE]
        updates = _all_entries(private, action=AuditAction.UPDATE)
        assert all(e.action is AuditAction.UPDATE for e in updates)
        assert mine[-1] in updates
        later = _all_entries(private, since=mine[-1].at)
        assert mine[-1] in later
        assert all(e.at >= mine[-1].at for e in later)

    def test_audit_arguments_are_checked(self, store: Store) -> None:
        private = self._privacy(store)
        with pytest.raises(ValidationError):
            private.audit.list(limit=0)
        with pytest.raises(ValidationError):
            private.audit.list(cursor="nope")
        with pytest.raises(ValidationError):
            private.audit.list(action="nothing")  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            private.audit.get("aud_nothing")

    def test_an_appended_entry_reads_back_and_is_not_audited(self, store: Store) -> None:
        private = self._privacy(store)
        before = private.audit.count()
        entry = AuditEntry.create(
            AuditAction.ERASE,
            [AuditTarget("customer", build.customer(40).id, None, ("emails",))],
            operation="app",
            actor="usr_app",
        )
        private.audit.append(entry)
        assert private.audit.count() == before + 1
        assert private.audit.get(entry.id) == entry
        with pytest.raises(DuplicateRecord):
            private.audit.append(entry)

    # ------------------------------------------------------------------ suppressions

    def test_suppressions(self, store: Store) -> None:
        private = self._privacy(store)

        def check(digests: list[str]) -> None:
            before = private.suppressions.count()
            fresh = {d for d in digests if d not in private.suppressions}
            assert private.suppressions.add(digests) == len(fresh)
            assert private.suppressions.count() == before + len(fresh)
            assert all(private.suppressions.contains(d) for d in digests)
            assert private.suppressions.add(digests) == 0

        alphabet = st.characters(min_codepoint=33, max_codepoint=126)
        check_every(st.lists(st.text(alphabet, min_size=1, max_size=64), max_size=5), check)
        assert "never-added" not in private.suppressions
        with pytest.raises(ValidationError) as info:
            private.suppressions.add(["fine", ""])
        assert info.value.paths == ("digests[1]",)

    def test_suppressions_roll_back(self, store: Store) -> None:
        private = self._privacy(store)
        before = private.suppressions.count()
        with pytest.raises(_Abort):
            _aborted(
                private.transaction(), lambda: private.suppressions.add(["rolled-back-digest"])
            )
        assert private.suppressions.count() == before
        assert "rolled-back-digest" not in private.suppressions

    # ------------------------------------------------------------------ requests

    def test_requests(self, store: Store) -> None:
        private = self._privacy(store)
        made = SubjectRequest.create(
            RequestKind.PORTABILITY,
            subject_id=build.customer(50).id,
            received_at=build.BASE_TIME,
            note="by letter",
        )
        stored = private.requests.add(made)
        assert stored == attrs.evolve(made, version=1)
        assert private.requests.get(made.id) == stored
        with pytest.raises(DuplicateRecord):
            private.requests.add(made)
        extended = private.requests.update(stored.extended(months=1))
        assert extended.version == 2
        assert extended.deadline == build.BASE_TIME.replace(month=3)
        with pytest.raises(VersionConflict):
            private.requests.update(stored)
        answered = private.requests.update(extended.answered(at=build.BASE_TIME))
        assert private.requests.get(made.id) == answered
        with pytest.raises(NotFound):
            private.requests.get(new_request_id())
        with pytest.raises(NotFound):
            private.requests.update(SubjectRequest.create(RequestKind.ACCESS, note=None))

    def test_request_lists(self, store: Store) -> None:
        private = self._privacy(store)
        made = [private.requests.add(SubjectRequest.create(RequestKind.ACCESS)) for _ in range(5)]
        private.requests.update(made[1].answered())
        seen: list[SubjectRequest] = []
        cursor = None
        while True:
            page = private.requests.list(limit=2, cursor=cursor)
            seen.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        ids = [r.id for r in seen]
        assert ids == sorted(ids)
        assert {r.id for r in made} <= set(ids)
        open_ids = {r.id for r in private.requests.list(open_only=True, limit=1000)}
        assert made[1].id not in open_ids
        assert {made[0].id, made[2].id} <= open_ids
        with pytest.raises(ValidationError):
            private.requests.list(open_only="yes")  # type: ignore[arg-type]

    # ------------------------------------------------------------------ secret, compact, forget

    def test_the_privacy_secret_is_32_stable_bytes(self, store: Store) -> None:
        private = self._privacy(store)
        secret = private.privacy_secret()
        assert isinstance(secret, bytes)
        assert len(secret) == 32
        assert private.privacy_secret() == secret
        assert secret.hex() not in repr(private)

    def test_compact_keeps_every_record(self, store: Store) -> None:
        private = self._privacy(store)
        kept = private.customers.add(build.customer(60))
        gone = private.customers.add(build.customer(61))
        private.customers.delete(gone.id)
        private.compact()
        assert to_json(private.customers.get(kept.id)) == to_json(kept)
        with pytest.raises(NotFound):
            private.customers.get(gone.id)

    def test_forget_merge(self, store: Store) -> None:
        private = self._privacy(store)
        if not isinstance(private, SupportsMerges):
            pytest.skip("the store keeps no merge records (SupportsMerges)")
        record = private.merges.add(_merge_record(private))
        private.forget_merge(record.id)
        with pytest.raises(NotFound):
            private.merges.get(record.id)
        assert private.merges.list_for(record.survivor_id) == []
        with pytest.raises(NotFound):
            private.forget_merge(record.id)
