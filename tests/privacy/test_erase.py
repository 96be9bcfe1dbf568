"""Erasure and restriction: the contract kit on the three stores, plus the receipt's masks.

The SQLite file store is checked down to the bytes of its main file, ``-wal``
and ``-shm``, and row by row through a second connection; PostgreSQL row by
row (its files are the server's).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from crmcore.errors import ValidationError
from crmcore.privacy import ErasureReceipt, erase, mask_email, mask_phone
from crmcore.storage import InMemoryStore, SQLiteStore, Store
from crmcore.storage.sql import SQLStore
from crmcore.testing import ErasureContract
from crmcore.testing.strategies import email_addresses, phone_numbers
from tests.storage.sql.conftest import (  # noqa: F401  (fixtures used by TestPostgres)
    pg_cluster,
    pg_engine,
    pg_store,
)


class TestMemory(ErasureContract):
    @pytest.fixture
    def store(self) -> Iterator[InMemoryStore]:
        with InMemoryStore() as store:
            yield store


class TestSQLiteFile(ErasureContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        with SQLiteStore(tmp_path / "crm.db") as store:
            yield store

    def _path(self, store: Store) -> Path:
        assert isinstance(store, SQLiteStore)
        return Path(str(store.path))

    def raw_files(self, store: Store) -> list[Path]:
        path = self._path(store)
        return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]

    def table_texts(self, store: Store) -> Iterable[str]:
        # A second connection, read-only: what any other process would read.
        conn = sqlite3.connect(f"file:{self._path(store)}?mode=ro", uri=True)
        try:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            for name in names:
                for row in conn.execute(f'SELECT * FROM "{name}"'):  # names from sqlite_master
                    yield f"{name}: {row!r}"
        finally:
            conn.close()

    def test_every_table_is_searched(self, store: SQLiteStore) -> None:
        # The row dump must see what the store wrote, or the checks above prove nothing.
        from crmcore.testing._builders import customer

        stored = store.customers.add(customer(3))
        assert any(stored.id in text for text in self.table_texts(store))


class TestPostgres(ErasureContract):
    @pytest.fixture
    def store(self, pg_store: SQLStore) -> SQLStore:  # noqa: F811
        return pg_store

    def table_texts(self, store: Store) -> Iterable[str]:
        assert isinstance(store, SQLStore)
        engine = store._engine  # the test's own engine: rows as the server holds them
        assert engine is not None
        with engine.connect() as conn:
            for table in store.tables.all():
                for row in conn.execute(select(table)):
                    yield f"{table.name}: {tuple(row)!r}"


# --------------------------------------------------------------------------- receipt and masks


def test_mask_email_keeps_first_letters_and_the_top_level_domain() -> None:
    assert mask_email("anna.berg@example.se") == "a***@e***.se"
    assert mask_email("x@localhost") == "x***@l***"
    assert mask_email("no-at-sign") == "***"


def test_mask_phone_keeps_the_country_code_and_two_digits() -> None:
    assert mask_phone("+46701234578") == "+46*****78"
    assert mask_phone("+12125550100") == "+1*****00"


@given(email=email_addresses())
def test_a_masked_email_holds_no_part_of_the_address(email: object) -> None:
    address = email.normalized  # type: ignore[attr-defined]
    masked = mask_email(address)
    local, _, domain = address.rpartition("@")
    labels = domain.split(".")
    for part in (local, *labels[:-1]):
        if len(part) >= 3 and part != labels[-1]:
            assert part.casefold() not in masked.casefold()
    assert len(masked) <= len("a***@e***.") + len(labels[-1])


@given(phone=phone_numbers())
def test_a_masked_phone_holds_at_most_two_digits_of_the_subscriber(phone: object) -> None:
    e164 = phone.e164  # type: ignore[attr-defined]
    masked = mask_phone(e164)
    assert masked.count("*") == 5
    digits = [c for c in masked if c.isdigit()]
    assert len(digits) <= 3 + 2
    assert e164[3:-2] not in masked or len(e164[3:-2]) < 3


def _receipt(**changes: object) -> ErasureReceipt:
    values: dict[str, object] = {
        "subject": "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "mode": "anonymize",
        "erased_at": datetime(2026, 1, 2, tzinfo=UTC),
        "records": {"customers": 1},
        "suppressed": 2,
        "masked": ("a***@e***.se", "+46*****78"),
    }
    values.update(changes)
    return ErasureReceipt(**values)  # type: ignore[arg-type]


def test_the_receipt_is_frozen_and_round_trips_to_a_dict() -> None:
    receipt = _receipt()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        receipt.subject = "cus_other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        receipt.records["customers"] = 5  # type: ignore[index]
    assert receipt.to_dict() == {
        "subject": "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "mode": "anonymize",
        "erased_at": "2026-01-02T00:00:00+00:00",
        "records": {"customers": 1},
        "suppressed": 2,
        "masked": ["a***@e***.se", "+46*****78"],
    }


def test_erase_refuses_a_store_without_privacy() -> None:
    class Plain:
        """Not a SupportsPrivacy store."""

    with pytest.raises(ValidationError) as caught:
        erase(Plain(), "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ")  # type: ignore[arg-type]
    assert caught.value.problems[0][0] == "store"


@given(mode=st.sampled_from(["anonymize", "delete"]))
def test_erase_checks_its_mode_before_reading(mode: str) -> None:
    with InMemoryStore() as store, pytest.raises(ValidationError):
        erase(store, "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ", mode=mode.upper())  # type: ignore[arg-type]


def test_erase_empties_the_decoded_records_of_a_sqlite_store(tmp_path: Path) -> None:
    from crmcore.testing._builders import customer

    with SQLiteStore(tmp_path / "crm.db") as store:
        stored = store.customers.add(customer(1))
        store.customers.get(stored.id)
        assert store._decode._cached.cache_info().currsize > 0
        erase(store, stored.id)
        assert store._decode._cached.cache_info().currsize == 0


def test_the_byte_check_catches_a_store_that_leaves_the_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without compact() the write-ahead log still holds the old pages: the
    # contract's byte check must say so, or it proves nothing.
    from crmcore.testing.erasure_contract import Person, salted

    kit = TestSQLiteFile()
    group = salted(
        [
            Person("zouwaaaa", "zouwbbbb", "zouwcccc", "1234567", "zouwdddd"),
            Person("zouxffff", "zouxgggg", "zouxhhhh", "7654321", "zouxjjjj"),
        ]
    )
    with SQLiteStore(tmp_path / "crm.db") as store:
        monkeypatch.setattr(store, "compact", lambda: None)
        with pytest.raises(AssertionError, match=r"bytes of crm\.db"):
            kit._erase_and_check(store, group, "delete")
