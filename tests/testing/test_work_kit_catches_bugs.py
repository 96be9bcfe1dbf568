"""The work item checks of the kit must be able to fail: broken adapters do not pass them.

As in tests/storage/test_kit_catches_bugs.py: each broken store is an
InMemoryStore with one promise about opportunities, tasks or cases
sabotaged; the checks that name the promise pass on the intact store and fail
on the broken one, and the state machine finds the difference too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import attrs
import pytest

from crmcore.storage import InMemoryStore, Total
from crmcore.storage.front import CASES, OPPORTUNITIES, Condition
from tests.storage import test_kit_catches_bugs as customer_bugs


def _history_rewritable(store: InMemoryStore) -> None:
    store.opportunities._kind = attrs.evolve(OPPORTUNITIES, history=None)
    store.cases._kind = attrs.evolve(CASES, history=None)


def _totals_mix_currencies(store: InMemoryStore) -> None:
    repo = store.opportunities
    totals = repo._totals

    def mixed(conditions: Sequence[Condition], by: tuple[str, ...]) -> list[Total]:
        merged: dict[tuple[str | None, ...], Total] = {}
        for t in totals(conditions, by):
            seen = merged.get(t.group)
            if seen is None:
                merged[t.group] = t
            else:  # one total per group, whatever the currencies: the classic forecast bug
                merged[t.group] = Total(
                    t.group, seen.currency, seen.count + t.count, seen.amount + t.amount
                )
        return list(merged.values())

    setattr(repo, "_totals", mixed)  # noqa: B010 - sabotage on purpose


def _totals_in_floats(store: InMemoryStore) -> None:
    repo = store.opportunities
    totals = repo._totals

    def rounded(conditions: Sequence[Condition], by: tuple[str, ...]) -> list[Total]:
        return [
            attrs.evolve(t, amount=Decimal(repr(float(t.amount)))) for t in totals(conditions, by)
        ]

    setattr(repo, "_totals", rounded)  # noqa: B010


def _tasks_added_one_by_one(store: InMemoryStore) -> None:
    repo = store.tasks
    insert = repo._insert

    def one_by_one(batch: list[Any]) -> None:
        for item in batch:
            insert([item])

    setattr(repo, "_insert", one_by_one)  # noqa: B010


def _contacts_not_indexed(store: InMemoryStore) -> None:
    repo = store.opportunities
    row = repo._row

    def without_contacts(item: Any) -> dict[str, Any]:
        return {**row(item), "contact_ids": frozenset()}

    setattr(repo, "_row", without_contacts)  # noqa: B010


def _threads_lost(store: InMemoryStore) -> None:
    repo = store.interactions
    list_for = repo.list_for

    def customers_only(record_id: str, **kwargs: Any) -> Any:
        page = list_for(record_id, **kwargs)
        return attrs.evolve(page, items=()) if record_id.startswith("cas_") else page

    setattr(repo, "list_for", customers_only)  # noqa: B010


def _stale_case_updates_win(store: InMemoryStore) -> None:
    repo = store.cases
    update = repo.update

    def blind(item: Any) -> Any:
        current = repo.get_many([item.id]).get(item.id)
        return update(item if current is None else attrs.evolve(item, version=current.version))

    setattr(repo, "update", blind)  # noqa: B010


SABOTAGE: dict[str, tuple[Callable[[InMemoryStore], None], list[str]]] = {
    "histories can be rewritten": (
        _history_rewritable,
        ["test_stage_history_is_append_only", "test_case_history_is_append_only"],
    ),
    "totals sum across currencies": (
        _totals_mix_currencies,
        [
            "test_totals_never_sum_across_currencies",
            "test_totals_are_exact_sums_per_group_and_currency:fields=status",
        ],
    ),
    "totals go through floats": (
        _totals_in_floats,
        ["test_totals_are_exact_sums_per_group_and_currency:fields=status"],
    ),
    "add_many of tasks is not atomic": (
        _tasks_added_one_by_one,
        ["test_work_item_batches_are_all_or_nothing:kind=task"],
    ),
    "contact roles are not filterable": (
        _contacts_not_indexed,
        ["test_opportunity_filters_select_exactly_the_matching_items"],
    ),
    "case threads are empty": (
        _threads_lost,
        ["test_a_case_thread_is_its_interactions_newest_first"],
    ),
    "case updates ignore the version": (
        _stale_case_updates_win,
        ["test_updates_and_deletes_are_compare_and_set:kind=case"],
    ),
}


@pytest.fixture
def with_work_sabotage(monkeypatch: pytest.MonkeyPatch) -> None:
    # The customers' checks of the kit, run on these sabotages: the same runner, no copy.
    for name, entry in SABOTAGE.items():
        monkeypatch.setitem(customer_bugs.SABOTAGE, name, entry)


@pytest.mark.usefixtures("with_work_sabotage")
@pytest.mark.parametrize("sabotage", list(SABOTAGE))
def test_the_work_item_contract_fails_a_broken_adapter(sabotage: str) -> None:
    customer_bugs.test_the_contract_fails_a_broken_adapter(sabotage)


def test_a_sabotage_of_one_kind_leaves_the_others_passing() -> None:
    broken = InMemoryStore()
    _stale_case_updates_win(broken)
    assert (
        customer_bugs._run("test_updates_and_deletes_are_compare_and_set:kind=task", broken) is None
    )


@pytest.mark.parametrize(
    "sabotage",
    [
        "histories can be rewritten",
        "totals sum across currencies",
        "add_many of tasks is not atomic",
    ],
)
@pytest.mark.usefixtures("with_work_sabotage")
def test_the_state_machine_finds_a_broken_work_item_store(sabotage: str) -> None:
    customer_bugs.test_the_state_machine_finds_a_broken_adapter(sabotage)


def test_no_work_item_check_is_shadowed_by_another_part_of_the_contract() -> None:
    # StorageContract inherits WorkItemsContract: a test of the same name elsewhere
    # in the kit would silently replace the work item check.
    from crmcore.testing.contract import StorageContract as Whole
    from crmcore.testing.work_contract import WorkItemsContract

    for name in vars(WorkItemsContract):
        if name.startswith("test_"):
            assert getattr(Whole, name) is vars(WorkItemsContract)[name], name
