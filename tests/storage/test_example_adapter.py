"""The adapter of docs/adapters.md (docs/examples/jsonl_store.py) passes the contract kit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmcore import merge
from crmcore.testing import StorageContract
from crmcore.testing._builders import customer, interaction
from tests.examples import load_example

jsonl_store = load_example("jsonl_store.py")


class TestJsonLinesStore(StorageContract):
    supports_nested_transactions = True
    supports_concurrent_writers = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Any]:
        with jsonl_store.JsonLinesStore(tmp_path / "crm.jsonl") as store:
            yield store


def test_reopening_replays_every_committed_transaction(tmp_path: Path) -> None:
    path = tmp_path / "crm.jsonl"
    with jsonl_store.JsonLinesStore(path) as store:
        kept = store.customers.add(customer(1))
        changed = store.customers.update(kept.add_tag("gold"))
        gone = store.customers.add(customer(2))
        store.customers.delete(gone.id)
        logged = store.interactions.add(interaction(kept.id, 1, external_id="m-1"))

        def doomed() -> None:
            with store.transaction():
                store.customers.add(customer(3))
                raise RuntimeError

        with pytest.raises(RuntimeError):
            doomed()
    with jsonl_store.JsonLinesStore(path) as again:
        assert again.customers.get(kept.id) == changed
        assert again.customers.count() == 1
        assert again.interactions.find_by_external_id("m-1") == logged
        assert again.customers.find_by_email(customer(3).emails[0].address) == []


def test_a_torn_last_line_is_a_transaction_that_never_committed(tmp_path: Path) -> None:
    path = tmp_path / "crm.jsonl"
    with jsonl_store.JsonLinesStore(path) as store:
        kept = store.customers.add(customer(1))
    with path.open("a", encoding="utf-8") as journal:
        journal.write('[{"op": "put", "type": "customer", "doc": {"id"')
    with jsonl_store.JsonLinesStore(path) as again:
        assert again.customers.get(kept.id) == kept
        assert again.customers.count() == 1


def test_merges_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "crm.jsonl"
    with jsonl_store.JsonLinesStore(path) as store:
        a = store.customers.add(customer(1))
        b = store.customers.add(customer(2))
        result = merge(store, [a.id, b.id], survivor=a.id)
    with jsonl_store.JsonLinesStore(path) as again:
        assert again.merges.get(result.merge_id) == result.record
        assert again.customers.resolve(b.id).id == a.id
