"""Random sequences of adds, edits, merges and unmerges: nothing is ever lost or orphaned."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from crmcore import Channel, Customer, Direction, Interaction, Participant, merge, timeline, unmerge
from crmcore.merge import UnmergeConflict
from crmcore.storage import InMemoryStore, SQLiteStore
from tests.merge.records import EMAILS, PHONES, TAGS, stamps


class MergeMachine(RuleBasedStateMachine):
    """Drives one store; subclasses pick which."""

    def make_store(self) -> Any:
        raise NotImplementedError

    @initialize()
    def open_store(self) -> None:
        self.store = self.make_store()
        self.emails: dict[str, set[str]] = {}  # record id -> match keys it was given
        self.interactions: dict[str, tuple[str, ...]] = {}  # id -> original participants
        self.merges: list[str] = []
        self.ids: list[str] = []

    def teardown(self) -> None:
        store = getattr(self, "store", None)
        if store is not None:
            store.close()

    @rule(
        name=st.sampled_from(["Ada Lovelace", "Ada King", "Bob Smith"]),
        emails=st.lists(st.sampled_from(EMAILS), max_size=2),
        phones=st.lists(st.sampled_from(PHONES), max_size=1),
        owner=st.none() | st.sampled_from(["u1", "u2"]),
    )
    def add_customer(
        self, name: str, emails: list[str], phones: list[str], owner: str | None
    ) -> None:
        stored = self.store.customers.add(
            Customer.create(name=name, emails=emails, phones=phones, owner=owner)
        )
        self.emails[stored.id] = {e.address.match_key for e in stored.emails}
        self.ids.append(stored.id)

    def _some(self, data: st.DataObject, min_size: int, max_size: int) -> list[str]:
        return data.draw(
            st.lists(st.sampled_from(self.ids), min_size=min_size, max_size=max_size, unique=True)
        )

    @precondition(lambda self: len(self.ids) >= 1)
    @rule(data=st.data(), when=stamps())
    def log(self, data: st.DataObject, when: Any) -> None:
        who = self._some(data, 1, 2)
        stored = self.store.interactions.add(
            Interaction.log(
                channel=Channel.EMAIL,
                direction=Direction.INBOUND,
                occurred_at=when,
                participants=[Participant(self.store.customers.resolve(i).id) for i in who],
            )
        )
        self.interactions[stored.id] = stored.record_ids

    @precondition(lambda self: len(self.ids) >= 1)
    @rule(data=st.data(), tag=st.sampled_from(TAGS))
    def edit(self, data: st.DataObject, tag: str) -> None:
        record = data.draw(st.sampled_from(self.ids))
        live = self.store.customers.resolve(record)
        self.store.customers.update(live.add_tag(tag))

    @precondition(lambda self: len(self.ids) >= 1)
    @rule(data=st.data(), owner=st.none() | st.sampled_from(["u1", "u3"]))
    def reassign(self, data: st.DataObject, owner: str | None) -> None:
        live = self.store.customers.resolve(data.draw(st.sampled_from(self.ids)))
        self.store.customers.update(live.assigned_to(owner))

    @precondition(lambda self: len(self.ids) >= 2)
    @rule(data=st.data())
    def merge_some(self, data: st.DataObject) -> None:
        records = self._some(data, 2, 3)
        live = list(dict.fromkeys(self.store.customers.resolve(r).id for r in records))
        if len(live) < 2:
            return
        survivor = data.draw(st.sampled_from(live))
        self.merges.append(merge(self.store, live, survivor=survivor).merge_id)

    @precondition(lambda self: bool(self.merges))
    @rule(data=st.data(), force=st.booleans())
    def unmerge_one(self, data: st.DataObject, force: bool) -> None:
        active = [m for m in self.merges if self.store.merges.get(m).is_active]
        if not active:
            return
        chosen = data.draw(st.sampled_from(active))
        try:
            unmerge(self.store, chosen)
        except UnmergeConflict as conflict:
            assert self.store.merges.get(chosen).is_active
            # Forcing past a later merge still in effect is lossy by design
            # (documented); forcing past edits to single values is not.
            if force and not conflict.later_merges:
                unmerge(self.store, chosen, force=True)
                assert not self.store.merges.get(chosen).is_active

    @invariant()
    def every_id_resolves_to_a_live_record_holding_its_emails(self) -> None:
        if not hasattr(self, "store"):
            return
        for record_id, keys in self.emails.items():
            live = self.store.customers.resolve(record_id)
            assert live.merged_into is None
            assert keys <= {e.address.match_key for e in live.emails}

    @invariant()
    def every_interaction_is_on_the_timeline_of_its_participants(self) -> None:
        if not hasattr(self, "store"):
            return
        for interaction_id, participants in self.interactions.items():
            for record_id in participants:
                survivor = self.store.customers.resolve(record_id).id
                on_timeline = {e.key for e in timeline(self.store, survivor)}
                assert interaction_id in on_timeline


class MemoryMergeMachine(MergeMachine):
    def make_store(self) -> Any:
        return InMemoryStore()


class SQLiteMergeMachine(MergeMachine):
    def make_store(self) -> Any:
        return SQLiteStore(":memory:")


_bounded = settings(max_examples=40, stateful_step_count=20, deadline=None)
TestMemoryMergeMachine = _bounded(MemoryMergeMachine).TestCase
TestSQLiteMergeMachine = _bounded(SQLiteMergeMachine).TestCase
