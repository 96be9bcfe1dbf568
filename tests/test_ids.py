"""Typed ids: parsing an id string from outside (a URL) into its NewType."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import Customer, InMemoryStore, ValidationError
from crmcore.ids import (
    CustomerId,
    is_case_id,
    is_opportunity_id,
    is_task_id,
    is_valid_id,
    new_case_id,
    new_customer_id,
    new_interaction_id,
    new_lead_id,
    new_merge_id,
    new_opportunity_id,
    new_task_id,
    parse_case_id,
    parse_customer_id,
    parse_interaction_id,
    parse_lead_id,
    parse_merge_id,
    parse_opportunity_id,
    parse_record_id,
    parse_task_id,
)

_PARSERS: list[tuple[Any, Any]] = [
    (parse_customer_id, new_customer_id),
    (parse_lead_id, new_lead_id),
    (parse_interaction_id, new_interaction_id),
    (parse_merge_id, new_merge_id),
    (parse_opportunity_id, new_opportunity_id),
    (parse_task_id, new_task_id),
    (parse_case_id, new_case_id),
]


@pytest.mark.parametrize(
    ("check", "new", "prefix"),
    [
        (is_opportunity_id, new_opportunity_id, "opp_"),
        (is_task_id, new_task_id, "tsk_"),
        (is_case_id, new_case_id, "cas_"),
    ],
)
def test_the_work_item_ids(check: Any, new: Any, prefix: str) -> None:
    first, second = new(), new()
    assert first.startswith(prefix)
    assert first < second  # time-ordered, monotonic within a millisecond
    assert check(first)
    assert not check(new_customer_id())
    assert not check(prefix + "x" * 26)


@pytest.mark.parametrize(("parse", "new"), _PARSERS)
def test_a_fresh_id_parses_to_itself(parse: Any, new: Any) -> None:
    value = new()
    assert parse(value) == value
    assert parse(str(value), field="path") == value


@pytest.mark.parametrize(("parse", "new"), _PARSERS)
def test_an_id_of_another_kind_is_refused_naming_the_field(parse: Any, new: Any) -> None:
    others = [other() for _, other in _PARSERS if other is not new]
    for text in [*others, new().lower(), new() + "0", "", 42, None, "x" * 10_000]:
        with pytest.raises(ValidationError) as info:
            parse(text, field="customer_id")
        assert info.value.paths == ("customer_id",)
        if isinstance(text, str) and text:
            assert text not in str(info.value)


@given(st.text(max_size=40) | st.sampled_from([new_customer_id(), new_lead_id()]))
def test_arbitrary_text_is_an_id_exactly_when_it_is_well_formed(text: str) -> None:
    for parse, new in _PARSERS:
        prefix = new()[:4]
        well_formed = text.startswith(prefix) and is_valid_id(text, prefix)
        if well_formed:
            assert parse(text) == text
        else:
            with pytest.raises(ValidationError) as info:
                parse(text)
            assert info.value.paths == ("id",)


def test_a_record_id_is_a_customer_or_a_lead_id() -> None:
    customer, lead = new_customer_id(), new_lead_id()
    assert parse_record_id(customer) == customer
    assert parse_record_id(lead) == lead
    with pytest.raises(ValidationError) as info:
        parse_record_id(new_interaction_id(), field="record")
    assert info.value.paths == ("record",)


def test_repositories_take_plain_text_ids_and_return_typed_ones() -> None:
    with InMemoryStore() as store:
        stored = store.customers.add(Customer.create(name="Ada Lovelace"))
        from_url: str = str(stored.id)
        assert store.customers.get(from_url) == stored
        found: dict[CustomerId, Customer] = store.customers.get_many([from_url])
        assert list(found) == [stored.id]
        assert store.customers.get(parse_customer_id(from_url)) == stored
