"""The kit as an installed package finds it: entry points, no set-up lines, no pytest needed.

Each check runs in a fresh interpreter or a real pytest run in an empty
directory (no conftest.py), the way an app's test suite meets crmcore.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_distribution_declares_both_entry_points() -> None:
    dist = importlib.metadata.distribution("crmcore")
    points = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    assert points[("pytest11", "crmcore.testing.plugin")] == "crmcore.testing.plugin"
    assert points[("hypothesis", "crmcore")] == "crmcore.testing:_hypothesis_setup_hook"
    classifiers = dist.metadata.get_all("Classifier") or []
    assert {"Framework :: Pytest", "Framework :: Hypothesis"} <= set(classifiers)


def test_store_fixtures_need_no_pytest_plugins_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from crmcore import Customer
        from crmcore.storage import InMemoryStore, SQLiteStore

        def test_memory(memory_store):
            assert isinstance(memory_store, InMemoryStore)

        def test_sqlite(sqlite_store, sqlite_memory_store):
            assert isinstance(sqlite_store, SQLiteStore)
            assert sqlite_memory_store.path == ":memory:"

        def test_any(any_store):
            any_store.customers.add(Customer.create(name="Ada Lovelace"))
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_an_old_pytest_plugins_line_still_works(pytester: pytest.Pytester) -> None:
    # Registered under the module's name, the entry point is what the line asks for.
    pytester.makeconftest('pytest_plugins = ["crmcore.testing.plugin"]')
    pytester.makepyfile("def test_memory(memory_store):\n    assert memory_store is not None\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_from_type_needs_no_registration_call(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from hypothesis import given, settings, strategies as st
        from crmcore import Customer, Participant
        from crmcore.merge import MergeRecord

        @settings(max_examples=5, database=None)
        @given(st.from_type(Customer), st.from_type(Participant), st.from_type(MergeRecord))
        def test_drawn(customer, participant, record):
            assert isinstance(customer, Customer)
            assert isinstance(participant, Participant)
            assert isinstance(record, MergeRecord)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_hypothesis_hook_is_cheap_and_imports_no_pytest() -> None:
    done = _python(
        """
        import sys
        import hypothesis
        from hypothesis import strategies as st
        from crmcore import Customer
        assert "pytest" not in sys.modules, "the hook imported pytest"
        assert "crmcore.testing.strategies" not in sys.modules, "the hook built the strategies"

        @hypothesis.settings(max_examples=3, database=None)
        @hypothesis.given(st.from_type(Customer))
        def draw(customer):
            assert isinstance(customer, Customer)

        draw()
        assert "pytest" not in sys.modules
        print("drawn")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "drawn"


def test_strategies_import_and_draw_without_pytest() -> None:
    done = _python(
        """
        import sys
        sys.modules["pytest"] = None  # as if pytest were not installed
        from hypothesis import given, settings
        from crmcore import Customer
        from crmcore.testing import StoreStateMachine, strategies

        @settings(max_examples=3, database=None)
        @given(strategies.customers())
        def draw(customer):
            assert isinstance(customer, Customer)
            assert customer.merged_into != customer.id

        draw()
        assert StoreStateMachine.__name__ == "StoreStateMachine"
        print("drawn")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "drawn"


def test_a_failing_contract_check_shows_the_compared_values(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from crmcore.storage import InMemoryStore
        from crmcore.testing import StorageContract

        class TestMiscounting(StorageContract):
            @pytest.fixture
            def store(self):
                with InMemoryStore() as store:
                    setattr(store.customers, "count", lambda *args, **kwargs: 2)
                    yield store
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-k", "test_adding_an_existing_id_is_refused"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 2 == 1*"])


def test_the_kit_exports_the_merge_contract_and_machine() -> None:
    import crmcore.testing as kit
    from crmcore.testing.merge_contract import MergeContract
    from crmcore.testing.merge_stateful import MergeStoreStateMachine

    assert kit.MergeContract is MergeContract
    assert kit.MergeStoreStateMachine is MergeStoreStateMachine
    assert set(kit.__all__) <= set(dir(kit))
    with pytest.raises(AttributeError):
        _ = kit.NoSuchThing
