"""Merges, unmerges and the timeline need a store that keeps merge records.

A store may be a :class:`~crmcore.storage.Store` without
:class:`~crmcore.storage.SupportsMerges`; the services that need merge records
refuse it by name instead of failing on a missing attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crmcore import Customer, ValidationError, merge, timeline, unmerge
from crmcore.merge import merge_duplicates
from crmcore.storage import Store, SupportsMerges
from tests.merge.stores import NoMergesStore


def test_the_fake_is_a_store_without_merges() -> None:
    store = NoMergesStore()
    assert isinstance(store, Store)
    assert not isinstance(store, SupportsMerges)


CALLS: list[tuple[str, Callable[[Any, list[str]], object]]] = [
    ("merge", lambda store, ids: merge(store, ids)),
    ("unmerge", lambda store, ids: unmerge(store, "mrg_01J0000000000000000000000")),
    ("merge_duplicates", lambda store, ids: merge_duplicates(store, None)),  # type: ignore[arg-type]
    ("timeline", lambda store, ids: timeline(store, ids[0])),
]


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_a_store_without_merge_records_is_refused_by_name(
    name: str, call: Callable[[Any, list[str]], object]
) -> None:
    store = NoMergesStore()
    ids: list[str] = [store.customers.add(Customer.create(name="Ada")).id for _ in range(2)]
    with pytest.raises(ValidationError) as raised:
        call(store, ids)
    assert raised.value.paths == ("store",)
    # Nothing was written: both records are still there, unmerged.
    assert all(store.customers.get(i).merged_into is None for i in ids)
