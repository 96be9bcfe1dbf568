"""pytest fixtures for crmcore stores.

pytest loads this module through the ``pytest11`` entry point that installing
crmcore registers, so no ``pytest_plugins`` line is needed (an old one is
harmless: the entry point is named after this module). Switch it off with
``-p no:crmcore.testing.plugin``.

Every fixture yields a fresh, empty store and closes it after the test:

- ``memory_store``: an :class:`~crmcore.storage.InMemoryStore`;
- ``sqlite_store``: a :class:`~crmcore.storage.SQLiteStore` on a file in ``tmp_path``;
- ``sqlite_memory_store``: a :class:`~crmcore.storage.SQLiteStore` on ``":memory:"``;
- ``any_store``: parametrised over the three above, so a test runs once per store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmcore.storage import InMemoryStore, SQLiteStore, Store
from crmcore.testing import _register_assert_rewrite

# Loaded by pytest before any test module imports the kit: the one moment when
# the contract kit's asserts can still be rewritten.
_register_assert_rewrite()

__all__ = ["any_store", "memory_store", "sqlite_memory_store", "sqlite_store"]


@pytest.fixture
def memory_store() -> Iterator[InMemoryStore]:
    """A fresh InMemoryStore."""
    with InMemoryStore() as store:
        yield store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """A fresh SQLiteStore on a file in the test's temporary directory."""
    with SQLiteStore(tmp_path / "crmcore.db") as store:
        yield store


@pytest.fixture
def sqlite_memory_store() -> Iterator[SQLiteStore]:
    """A fresh SQLiteStore in memory."""
    with SQLiteStore(":memory:") as store:
        yield store


@pytest.fixture(params=["memory", "sqlite", "sqlite-memory"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each shipped store in turn (the test runs once per store)."""
    store: Store
    if request.param == "memory":
        store = InMemoryStore()
    elif request.param == "sqlite":
        store = SQLiteStore(tmp_path / "crmcore.db")
    else:
        store = SQLiteStore(":memory:")
    with store:
        yield store
