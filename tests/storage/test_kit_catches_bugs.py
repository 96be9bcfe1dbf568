"""The kit must be able to fail: deliberately broken adapters do not pass it.

Each broken store is an InMemoryStore with one behaviour sabotaged. For every
sabotage, the contract checks that name the broken promise fail against it and
pass against the intact store, and the state machine finds the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky

import crmcore.storage.sqlite._records as sqlite_module
from crmcore import Customer, Interaction
from crmcore.storage import InMemoryStore, Page, SQLiteStore, Store
from crmcore.testing import StorageContract, StoreStateMachine
from tests.merge.stores import NoMergesStore

pytest_plugins = ["pytester"]


def _no_compare_and_set(store: InMemoryStore) -> None:
    repo = store.customers
    update = repo.update

    def blind_update(record: Customer) -> Customer:
        current = repo.get_many([record.id]).get(record.id)
        version = current.version if current is not None else record.version
        return update(attrs.evolve(record, version=version))

    setattr(repo, "update", blind_update)  # noqa: B010 - sabotage on purpose


def _email_lookup_misses(store: InMemoryStore) -> None:
    setattr(store.customers, "find_by_email", lambda email: [])  # noqa: B010


def _add_many_not_atomic(store: InMemoryStore) -> None:
    repo = store.customers

    def one_by_one(records: Iterable[Customer]) -> list[Customer]:
        return [repo.add(r) for r in records]

    setattr(repo, "add_many", one_by_one)  # noqa: B010


def _cursor_repeats_last_item(store: InMemoryStore) -> None:
    repo = store.customers
    list_ = repo.list

    def sloppy_list(*filters: Any, **kwargs: Any) -> Page[Customer]:
        page = list_(*filters, **kwargs)
        if kwargs.get("cursor") is not None:
            # Re-serve the previous page's last record: a classic >= instead of >.
            previous = list_(*filters, **{**kwargs, "cursor": None, "limit": 1})
            return Page(previous.items + page.items, page.next_cursor)
        return page

    setattr(repo, "list", sloppy_list)  # noqa: B010


def _driver_error_leaks(store: InMemoryStore) -> None:
    repo = store.customers

    def raw_get(record_id: str) -> Customer:
        return repo._records[record_id]  # KeyError, not NotFound

    setattr(repo, "get", raw_get)  # noqa: B010


def _external_ids_duplicate(store: InMemoryStore) -> None:
    repo = store.interactions
    add = repo.add

    def add_twice(interaction: Interaction) -> Interaction:
        return add(attrs.evolve(interaction, external_id=None))

    setattr(repo, "add", add_twice)  # noqa: B010


SABOTAGE: dict[str, tuple[Callable[[InMemoryStore], None], list[str]]] = {
    "update ignores the version": (
        _no_compare_and_set,
        [
            "test_a_stale_copy_raises_version_conflict_and_changes_nothing",
            "test_concurrent_read_modify_write_loses_no_update",
        ],
    ),
    "email lookups miss": (
        _email_lookup_misses,
        ["test_find_by_email_compares_match_keys", "test_lookups_follow_updates_and_deletes"],
    ),
    "add_many is not atomic": (_add_many_not_atomic, ["test_add_many_is_all_or_nothing"]),
    "cursors repeat a record": (
        _cursor_repeats_last_item,
        ["test_pages_stay_complete_while_others_insert:order_by=id"],
    ),
    "a driver error leaks": (
        _driver_error_leaks,
        ["test_unknown_ids_raise_not_found", "test_only_crmcore_errors_escape"],
    ),
    "external ids are not idempotent": (
        _external_ids_duplicate,
        ["test_external_ids_make_ingestion_idempotent"],
    ),
}


class _Contract(StorageContract):
    supports_nested_transactions = True
    supports_concurrent_writers = True


def _run(test_name: str, store: Store) -> BaseException | None:
    # "name:arg=value" runs one case of a parametrized check.
    name, _, argument = test_name.partition(":")
    kwargs = dict([argument.split("=", 1)]) if argument else {}
    test = getattr(_Contract(), name)
    try:
        test(store, **kwargs)
    except BaseException as exc:  # AssertionError, pytest's Failed, or a leaked error
        return exc
    finally:
        store.close()
    return None


@pytest.mark.parametrize("sabotage", list(SABOTAGE))
def test_the_contract_fails_a_broken_adapter(sabotage: str) -> None:
    breaker, tests = SABOTAGE[sabotage]
    for name in tests:
        assert _run(name, InMemoryStore()) is None, f"{name} fails the intact store"
        broken = InMemoryStore()
        breaker(broken)
        assert _run(name, broken) is not None, f"{name} passed despite: {sabotage}"


@pytest.mark.parametrize(
    "sabotage", ["update ignores the version", "email lookups miss", "add_many is not atomic"]
)
def test_the_state_machine_finds_a_broken_adapter(sabotage: str) -> None:
    breaker, _ = SABOTAGE[sabotage]

    class BrokenMachine(StoreStateMachine):
        def make_store(self) -> Store:
            store = InMemoryStore()
            breaker(store)
            return store

    case = BrokenMachine.TestCase
    case.settings = settings(
        max_examples=300,
        stateful_step_count=30,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        phases=[Phase.generate],  # finding the bug is the point; shrinking it costs time
        derandomize=True,  # the same examples every run: found once, found always
    )
    with pytest.raises((AssertionError, Flaky)):
        case().runTest()


def test_pytest_collects_subclasses_only_and_shows_skips(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from hypothesis import settings
        settings.register_profile("tiny", max_examples=5, deadline=None)
        settings.load_profile("tiny")
        """
    )
    pytester.makepyfile(
        test_adapter="""
        import pytest
        from crmcore.storage import InMemoryStore
        from crmcore.testing import StorageContract

        class TestMinimalAdapter(StorageContract):
            @pytest.fixture
            def store(self):
                with InMemoryStore() as store:
                    yield store
        """
    )
    result = pytester.runpytest_inprocess("-q", "-rs", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes["passed"] > 30
    # Only the subclass was collected: nothing ran twice under the base name.
    assert "StorageContract::" not in result.stdout.str()
    # Capabilities not claimed are skipped, with the reason shown.
    assert outcomes["skipped"] == 3  # nesting is not claimed but works: checked, not skipped
    result.stdout.fnmatch_lines(["*does not claim concurrent writers*"])


def test_a_subclass_without_a_store_fixture_fails_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_forgot="""
        from crmcore.testing import StorageContract

        class TestForgotTheFixture(StorageContract):
            pass
        """
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-x")
    result.stdout.fnmatch_lines(["*define a `store` fixture*"])


def test_the_state_machine_finds_a_wrong_sql_translation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A range filter whose SQL includes its upper bound: only the differential test sees it."""
    original = sqlite_module._sql_conditions

    def inclusive_ranges(*args: Any) -> tuple[list[str], list[Any]]:
        parts, params = original(*args)
        return [part.replace(" < ?", " <= ?") for part in parts], params

    monkeypatch.setattr(sqlite_module, "_sql_conditions", inclusive_ranges)

    class SloppySQLMachine(StoreStateMachine):
        def __init__(self) -> None:
            super().__init__()
            # The sloppy ranges are the records'; the work item rules would only dilute
            # the same derandomized examples (tests/testing/test_work_kit_catches_bugs.py).
            self.works = False

        def make_store(self) -> Store:
            return SQLiteStore(":memory:")

    case = SloppySQLMachine.TestCase
    case.settings = settings(
        max_examples=300,
        stateful_step_count=30,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        phases=[Phase.generate],  # finding the bug is the point; shrinking it costs time
        derandomize=True,  # the same examples every run: found once, found always
    )
    with pytest.raises((AssertionError, Flaky)):
        case().runTest()


def test_the_contract_catches_a_store_that_claims_merges_it_lacks() -> None:
    name = "test_a_store_that_claims_merges_supports_them"
    assert _run(name, InMemoryStore()) is None
    assert isinstance(_run(name, NoMergesStore()), AssertionError)

    class WithoutMerges(StorageContract):
        supports_merges = False

    # A store that does not claim merges is skipped, with or without a merges attribute.
    for store in (NoMergesStore(), InMemoryStore()):
        with pytest.raises(pytest.skip.Exception):
            getattr(WithoutMerges(), name)(store)


def test_the_contract_catches_a_merge_loop_that_is_not_a_data_error() -> None:
    name = "test_resolve_refuses_a_loop_as_data_error"
    assert _run(name, InMemoryStore()) is None
    broken = InMemoryStore()

    def endless(record_id: str) -> Customer:
        raise RecursionError("followed the loop forever")

    setattr(broken.customers, "resolve", endless)  # noqa: B010 - sabotage on purpose
    assert _run(name, broken) is not None
