"""SQLStore's work item tables: exact totals on PostgreSQL and SQLite, the version 1 upgrade."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text, update

from crmcore.errors import StorageError
from crmcore.storage import open_store, where
from crmcore.storage.sql import SCHEMA_VERSION, SQLStore
from crmcore.testing._builders import customer
from crmcore.testing._stand_ins import store_referenced
from crmcore.testing._work_builders import opportunity, task
from tests.storage.sql.conftest import empty, sqlite_engine
from tests.storage.test_sqlite_totals import BY, OVERFLOWING, build, check_totals, deals


@given(rows=deals, by=st.sampled_from(BY))
def test_postgres_totals_are_exact(
    pg_engine: Engine, rows: list[tuple[int, Decimal | None, str]], by: tuple[str, ...]
) -> None:
    def make() -> SQLStore:
        empty(pg_engine)
        return SQLStore(pg_engine)

    check_totals(make, build(rows), by)


@given(rows=deals, by=st.sampled_from(BY))
def test_sqlalchemy_sqlite_totals_are_exact(
    sqlalchemy_sqlite: Callable[[], SQLStore],
    rows: list[tuple[int, Decimal | None, str]],
    by: tuple[str, ...],
) -> None:
    check_totals(sqlalchemy_sqlite, build(rows), by)


def test_postgres_sums_what_overflows_64_bits_exactly(pg_engine: Engine) -> None:
    def make() -> SQLStore:
        empty(pg_engine)
        return SQLStore(pg_engine)

    check_totals(make, build(OVERFLOWING), ("status",))


def test_sqlalchemy_sqlite_sums_what_overflows_64_bits_exactly(
    sqlalchemy_sqlite: Callable[[], SQLStore],
) -> None:
    # SQLite's sum() raises "integer overflow" here: the store sums with Decimals.
    check_totals(sqlalchemy_sqlite, build(OVERFLOWING), ("status",))


@pytest.fixture(scope="module")
def sqlalchemy_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], SQLStore]]:
    """Stores on one SQLAlchemy SQLite file, its opportunities deleted for each."""
    engine = sqlite_engine(tmp_path_factory.mktemp("totals") / "crm.db")
    SQLStore(engine).create_all()

    def make() -> SQLStore:
        store = SQLStore(engine)
        t = store.tables
        with engine.begin() as conn:
            conn.execute(t.opportunities.delete())
            conn.execute(t.opportunity_members.delete())
        return store

    yield make
    engine.dispose()


def _as_version_1(store: SQLStore, engine: Engine) -> None:
    """Turn ``store``'s tables into what crmcore left before the work item tables."""
    t = store.tables
    work = (
        t.opportunities,
        t.opportunity_members,
        t.tasks,
        t.task_members,
        t.cases,
        t.case_members,
    )
    with engine.begin() as conn:
        for table in work:
            table.drop(conn)
        conn.execute(update(t.meta).where(t.meta.c.key == "schema_version").values(value="1"))


def _check_upgrade(engine: Engine, schema: str | None = None) -> None:
    store = SQLStore(engine, schema=schema)
    store.create_all()
    ada = store.customers.add(customer(1))
    _as_version_1(store, engine)
    # Version 1 tables still serve what they hold; the work items need create_all().
    old = SQLStore(engine, schema=schema)
    assert old.schema_version() == 1
    assert old.customers.get(ada.id) == ada
    with pytest.raises(StorageError):
        old.opportunities.count()
    old.create_all()
    assert old.schema_version() == SCHEMA_VERSION
    assert old.customers.get(ada.id) == ada
    deal, followup = opportunity(1, customer_id=ada.id), task(1)
    store_referenced(old, [deal, followup])  # the lead and the subject they name
    deal = old.opportunities.add(deal)
    assert old.opportunities.list(where("customer_id").eq(ada.id)).items == (deal,)
    assert old.tasks.add(followup).version == 1
    meta = old.tables.meta
    with engine.connect() as conn:
        version = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))
        assert version.scalar_one() == str(SCHEMA_VERSION)


def test_postgres_version_1_tables_are_upgraded_by_create_all(pg_engine: Engine) -> None:
    with pg_engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS crm_v1 CASCADE"))
        conn.execute(text("CREATE SCHEMA crm_v1"))
    _check_upgrade(pg_engine, "crm_v1")


def test_sqlalchemy_sqlite_version_1_tables_are_upgraded_by_create_all(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "crm.db")
    try:
        _check_upgrade(engine)
    finally:
        engine.dispose()


def test_open_store_upgrades_version_1_tables(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    engine = sqlite_engine(path)
    store = SQLStore(engine)
    store.create_all()
    _as_version_1(store, engine)
    engine.dispose()
    with open_store(f"sqlite+pysqlite:///{path}") as opened:
        assert isinstance(opened, SQLStore)
        assert opened.schema_version() == SCHEMA_VERSION
        assert opened.cases.count() == 0
