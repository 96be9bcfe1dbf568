"""The merge kit checks the moves of opportunities, tasks and cases, and has teeth."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from crmcore.storage import InMemoryStore, Page, Store
from crmcore.testing.merge_contract import MergeContract
from crmcore.testing.merge_stateful import MergeStoreStateMachine
from tests.merge.work import NoWorkItemsStore

_DETERMINISTIC = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
)


class _BlindTasks(InMemoryStore):
    """A broken adapter: a filtered listing of tasks finds none, so merges leave them behind."""

    def __init__(self) -> None:
        super().__init__()
        tasks = self.tasks
        listing = tasks.list

        def blind(*filters: Any, **options: Any) -> Page[Any]:
            return Page(()) if filters else listing(**options)

        object.__setattr__(tasks, "list", blind)


class MemoryMergeMachine(MergeStoreStateMachine):
    def make_store(self) -> Store:
        return InMemoryStore()


TestMemoryMergeMachine = MemoryMergeMachine.TestCase
TestMemoryMergeMachine.settings = settings(max_examples=15, stateful_step_count=30, deadline=None)


def test_the_contract_checks_the_moves_on_the_reference() -> None:
    MergeContract().test_merge_moves_work_items_and_unmerge_moves_them_back(InMemoryStore())


def test_the_contract_catches_a_store_that_loses_the_work() -> None:
    with pytest.raises(AssertionError):
        MergeContract().test_merge_moves_work_items_and_unmerge_moves_them_back(_BlindTasks())


def test_the_contract_skips_a_store_without_work_items_visibly() -> None:
    with pytest.raises(pytest.skip.Exception):
        MergeContract().test_merge_moves_work_items_and_unmerge_moves_them_back(
            NoWorkItemsStore(InMemoryStore())
        )


def test_the_state_machine_catches_a_store_that_loses_the_work() -> None:
    class Machine(MergeStoreStateMachine):
        def make_store(self) -> Store:
            return _BlindTasks()

    with pytest.raises(AssertionError):
        run_state_machine_as_test(Machine, settings=_DETERMINISTIC)
