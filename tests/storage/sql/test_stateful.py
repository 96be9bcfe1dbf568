"""SQLStore driven side by side with the in-memory reference, with and without merges."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import Engine

from crmcore.storage import Store
from crmcore.storage.sql import SQLStore
from crmcore.testing import StoreStateMachine
from crmcore.testing.merge_stateful import MergeStoreStateMachine
from tests.storage.sql.conftest import empty, sqlite_engine


def _settings(divisor: int, steps: int) -> settings:
    return settings(
        max_examples=max(1, (settings.default or settings()).max_examples // divisor),
        stateful_step_count=steps,
        deadline=None,
    )


def _on_postgres(base: type[StoreStateMachine], engine: Engine) -> type[StoreStateMachine]:
    class Machine(base):  # type: ignore[valid-type,misc]
        def make_store(self) -> Store:
            empty(engine)
            return SQLStore(engine)

    return Machine


def _on_sqlite(base: type[StoreStateMachine]) -> type[StoreStateMachine]:
    class Machine(base):  # type: ignore[valid-type,misc]
        def make_store(self) -> Store:
            self.directory = tempfile.mkdtemp(prefix="crmcore-sql-machine-")
            self.engine = sqlite_engine(Path(self.directory) / "crm.db")
            store = SQLStore(self.engine)
            store.create_all()
            return store

        def teardown(self) -> None:
            super().teardown()
            self.engine.dispose()
            shutil.rmtree(self.directory, ignore_errors=True)

    return Machine


def test_postgres_matches_the_reference(pg_engine: Engine) -> None:
    run_state_machine_as_test(_on_postgres(StoreStateMachine, pg_engine), settings=_settings(2, 30))


def test_postgres_merges_match_the_reference(pg_engine: Engine) -> None:
    machine = _on_postgres(MergeStoreStateMachine, pg_engine)
    run_state_machine_as_test(machine, settings=_settings(2, 40))


def test_sqlalchemy_sqlite_matches_the_reference() -> None:
    run_state_machine_as_test(_on_sqlite(StoreStateMachine), settings=_settings(4, 25))


def test_sqlalchemy_sqlite_merges_match_the_reference() -> None:
    run_state_machine_as_test(_on_sqlite(MergeStoreStateMachine), settings=_settings(4, 25))
