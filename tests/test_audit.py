"""The audit trail's models and context: targets hold field names only, entries one actor."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.audit import (
    AUDIT_ENTITIES,
    AuditAction,
    AuditEntry,
    AuditTarget,
    acting_as,
    audited,
    changed_fields,
    current_actor,
)
from crmcore.errors import ValidationError
from crmcore.ids import is_audit_id, new_customer_id
from crmcore.storage import InMemoryStore
from crmcore.testing._builders import customer

field_names = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True)


@given(st.sampled_from(AUDIT_ENTITIES), st.lists(field_names, max_size=4))
def test_a_target_takes_an_entity_and_field_names(entity: str, fields: list[str]) -> None:
    target = AuditTarget(entity, new_customer_id(), 1, tuple(fields))
    assert target.fields == tuple(fields)


_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}(?:\.[a-z_][a-z0-9_]{0,63})*")


@given(
    st.one_of(
        st.text(min_size=1).filter(lambda t: _NAME.fullmatch(t) is None),
        st.sampled_from(["ada@example.com", "Ada Lovelace", "+46701234567", "1st"]),
    )
)
def test_a_target_refuses_anything_but_field_names(text: str) -> None:
    # A value must never pass for a field name: the trail would then hold it.
    with pytest.raises(ValidationError) as info:
        AuditTarget("customer", new_customer_id(), 1, (text,))
    assert info.value.paths == ("fields",)


def test_a_target_refuses_an_unknown_entity_naming_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        AuditTarget("person", new_customer_id())
    assert info.value.paths == ("entity",)


def test_an_entry_keeps_the_actor_out_of_its_repr() -> None:
    with acting_as("anna@example.com"):
        entry = AuditEntry.create(AuditAction.ADD, [AuditTarget("customer", new_customer_id())])
    assert entry.actor == "anna@example.com"
    assert "anna" not in repr(entry)
    assert is_audit_id(entry.id)
    assert entry.at.tzinfo is UTC


@pytest.mark.parametrize("actor", ["", "a\nb", "x" * 201, 5])
def test_acting_as_refuses_a_bad_actor(actor: object) -> None:
    with pytest.raises(ValidationError) as info, acting_as(actor):  # type: ignore[arg-type]
        pass
    assert info.value.paths == ("actor",)


def test_acting_as_nests_and_is_per_thread() -> None:
    seen: list[str | None] = []
    with acting_as("outer"):
        with acting_as("inner"):
            assert current_actor() == "inner"
        assert current_actor() == "outer"
        thread = threading.Thread(target=lambda: seen.append(current_actor()))
        thread.start()
        thread.join()
    assert current_actor() is None
    assert seen == [None]


def test_an_entry_refuses_a_naive_time() -> None:
    with pytest.raises(ValidationError) as info:
        AuditEntry.create(AuditAction.ADD, [], at=datetime(2024, 1, 1))
    assert info.value.paths == ("at",)


def test_changed_fields_leaves_bookkeeping_out() -> None:
    before = customer(1)
    later = attrs.evolve(before.add_tag("gold"), version=before.version + 3, owner="usr_z")
    assert set(changed_fields(before, later)) == {"tags", "owner"}


def test_audited_on_a_store_without_a_trail_is_only_a_transaction() -> None:
    class Plain:
        def __init__(self) -> None:
            self.opened = 0

        def transaction(self):  # type: ignore[no-untyped-def]
            from contextlib import nullcontext

            self.opened += 1
            return nullcontext()

    plain = Plain()
    with audited(plain, AuditAction.MERGE) as collection:
        assert collection.targets == []
    assert plain.opened == 1


def test_audited_refuses_an_unknown_action() -> None:
    with pytest.raises(ValidationError) as info, audited(InMemoryStore(), "rename"):
        pass
    assert info.value.paths == ("action",)
