"""open_store(url): the URL schemes crmcore knows, and third-party entry points."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from crmcore import Customer, InMemoryStore, SQLiteStore, ValidationError, open_store
from crmcore.errors import StorageError
from crmcore.storage import ENTRY_POINT_GROUP, Store


def test_memory_url_opens_an_empty_in_memory_store() -> None:
    with open_store("memory://") as store:
        assert isinstance(store, InMemoryStore)
        assert store.customers.count() == 0


def test_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///crm.db") as store:
        assert isinstance(store, SQLiteStore)
        store.customers.add(Customer.create(name="Ada Lovelace"))
    assert (tmp_path / "crm.db").exists()


def test_absolute_sqlite_url_keeps_its_leading_slash(tmp_path: Path) -> None:
    path = tmp_path / "abs.db"
    assert path.is_absolute()
    with open_store(f"sqlite:///{path}") as store:
        stored = store.customers.add(Customer.create(name="Ada Lovelace"))
    with open_store(f"sqlite:///{path}") as again:
        assert again.customers.get(stored.id) == stored


def test_sqlite_memory_url() -> None:
    with open_store("sqlite:///:memory:") as store:
        assert isinstance(store, SQLiteStore)
        assert store.path == ":memory:"


def test_options_reach_the_constructor() -> None:
    with open_store("memory://", key_function=lambda record: ["same"]) as store:
        a = store.customers.add(Customer.create(name="Ada Lovelace"))
        b = store.customers.add(Customer.create(name="Grace Hopper"))
        assert store.customers.find_by_keys(["same"]) == sorted([a, b], key=lambda r: r.id)


@pytest.mark.parametrize(
    "url",
    ["", "memory", "memory://x", "sqlite://", "sqlite:///", "nosuch://user:secret@host/db", 42],
)
def test_bad_urls_name_the_url_but_never_repeat_it(url: Any) -> None:
    with pytest.raises(ValidationError) as info:
        open_store(url)
    assert info.value.paths == ("url",)
    assert "secret" not in str(info.value)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return [
            EntryPoint("fake", f"{__name__}:fake_factory", group),
            EntryPoint("broken", f"{__name__}:does_not_exist", group),
            EntryPoint("notastore", f"{__name__}:not_a_store", group),
            EntryPoint("picky", f"{__name__}:picky_factory", group),
        ]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    _CALLS[:] = []
    return _CALLS


_CALLS: list[tuple[str, dict[str, Any]]] = []


def fake_factory(url: str, **options: Any) -> Store:
    """A third-party factory, as an adapter package would register it."""
    _CALLS.append((url, options))
    return InMemoryStore()


def not_a_store(url: str, **options: Any) -> object:
    """A factory returning something that is not a store."""
    return object()


def picky_factory(url: str, **options: Any) -> Store:
    """A factory whose signature binds any option but whose body refuses unknown ones."""

    def build(*, key_function: Any = None) -> Store:
        return InMemoryStore(key_function=key_function)

    return build(**options)


def test_an_option_a_permissive_factory_refuses_is_a_validation_error(
    registered: list[tuple[str, dict[str, Any]]],
) -> None:
    with pytest.raises(ValidationError) as info:
        open_store("picky://x", no_such_option=1)
    assert info.value.paths == ("options",)
    assert "no_such_option" not in str(info.value)
    with open_store("picky://x", key_function=None) as store:
        assert isinstance(store, InMemoryStore)


def test_third_party_schemes_come_from_entry_points(
    registered: list[tuple[str, dict[str, Any]]],
) -> None:
    with open_store("fake://host/db", timeout=3) as store:
        assert isinstance(store, InMemoryStore)
    assert registered == [("fake://host/db", {"timeout": 3})]


def test_a_factory_that_fails_to_load_is_a_storage_error(
    registered: list[tuple[str, dict[str, Any]]],
) -> None:
    with pytest.raises(StorageError):
        open_store("broken://x")
    with pytest.raises(StorageError):
        open_store("notastore://x")


def test_an_unknown_scheme_is_refused(registered: list[tuple[str, dict[str, Any]]]) -> None:
    with pytest.raises(ValidationError):
        open_store("postgres://localhost/crm")


def test_the_real_entry_point_group_is_readable() -> None:
    # Nothing is registered in this environment: the real lookup runs and finds nothing.
    with pytest.raises(ValidationError):
        open_store("nothing-registered-here://x")


def test_an_option_the_store_does_not_take_is_a_validation_error(tmp_path: Path) -> None:
    for url in ("memory://", f"sqlite:///{tmp_path}/crm.db"):
        with pytest.raises(ValidationError) as info:
            open_store(url, no_such_option=1)
        assert info.value.paths == ("options",)
    assert not (tmp_path / "crm.db").exists()  # refused before anything was opened


def test_importing_storage_leaves_entry_point_metadata_unloaded() -> None:
    # importlib.metadata costs ~30 ms at import; only a third-party scheme needs it.
    code = "import sys, crmcore.storage; print('importlib.metadata' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
