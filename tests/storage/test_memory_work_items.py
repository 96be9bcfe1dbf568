"""What only the reference store promises about opportunities, tasks and cases.

The contract kit (``TestInMemoryStore`` in test_memory.py) checks the shared
behaviour; these check the in-memory implementation's own choices.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from crmcore import Money
from crmcore.errors import ValidationError
from crmcore.storage import InMemoryStore, SupportsWorkItems, WorkStore, where
from crmcore.storage.front import check_load
from crmcore.testing import _work_builders as work
from crmcore.testing._stand_ins import store_referenced


def test_the_reference_store_keeps_work_items() -> None:
    store = InMemoryStore()
    assert isinstance(store, SupportsWorkItems)
    assert isinstance(store, WorkStore)


def test_totals_stay_exact_beyond_the_default_decimal_precision() -> None:
    # Python's default context keeps 28 digits: 10**33 + 0.01 would round to 10**33.
    store = InMemoryStore()
    big = Money(Decimal(10) ** 33, "EUR")
    cent = Money(Decimal("0.01"), "EUR")
    batch = [work.opportunity(0, amount=big), work.opportunity(4, amount=cent)]
    store_referenced(store, batch)
    store.opportunities.add_many(batch)
    (total,) = store.opportunities.totals(where("currency").eq("EUR"))
    assert total.amount == Decimal("1000000000000000000000000000000000.01")
    assert total.count == 2


def test_load_can_refuse_work_items_for_a_store_that_keeps_none() -> None:
    deal = work.opportunity(1)
    assert check_load([deal]) == [deal]
    with pytest.raises(ValidationError) as info:
        check_load([deal], work_items=False)
    assert info.value.paths == ("records[0]",)
