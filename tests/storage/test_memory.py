"""InMemoryStore through the contract kit, plus what only the reference store promises."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crmcore.errors import ValidationError
from crmcore.storage import InMemoryStore
from crmcore.testing import StorageContract
from crmcore.testing import _work_builders as work
from crmcore.testing._builders import customer
from crmcore.testing._stand_ins import store_referenced


class TestInMemoryStore(StorageContract):
    supports_nested_transactions = True
    supports_concurrent_writers = True

    @pytest.fixture
    def store(self) -> Iterator[InMemoryStore]:
        with InMemoryStore() as store:
            yield store


def test_a_key_function_that_is_not_callable_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        InMemoryStore(key_function="email")  # type: ignore[arg-type]
    assert info.value.paths == ("key_function",)


@pytest.mark.parametrize(
    ("repository", "build"),
    [("customers", customer), ("tasks", work.task), ("opportunities", work.opportunity)],
)
def test_iter_all_sorts_once_instead_of_once_per_batch(
    monkeypatch: pytest.MonkeyPatch, repository: str, build: Callable[[int], Any]
) -> None:
    store = InMemoryStore()
    repo = getattr(store, repository)
    batch = [build(i) for i in range(300)]
    late_one = build(1_000)
    store_referenced(store, [*batch, late_one])  # the customers and leads they name
    stored = repo.add_many(batch)
    built = 0
    row: Callable[[Any], dict[str, Any]] = repo._row

    def counting_row(record: Any) -> dict[str, Any]:
        nonlocal built
        built += 1
        found: dict[str, Any] = row(record)
        return found

    monkeypatch.setattr(repo, "_row", counting_row)
    seen = []
    for record in repo.iter_all(batch_size=7):
        seen.append(record.id)
        if len(seen) == 150:  # a writer adds one record mid-way: it is still found
            late = repo.add(late_one)
    assert seen == sorted([r.id for r in stored] + [late.id])
    # Paging through list() built every record's row for every batch: 300 x 43 times.
    assert built <= 301


def test_load_refuses_what_is_not_a_collection_of_records() -> None:
    store = InMemoryStore()
    for junk in (5, "cus_01", [5]):
        with pytest.raises(ValidationError) as info:
            store.load(junk)  # type: ignore[arg-type]
        assert info.value.paths[0].startswith("records")
