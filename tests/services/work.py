"""Stores and builders for the sales, agenda and support tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crmcore import DealStatus, Pipeline, Stage
from crmcore.storage import InMemoryStore, SQLiteStore

BASE = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

WORK_FACTORIES: dict[str, Callable[[], Any]] = {
    "memory": InMemoryStore,
    "sqlite": lambda: SQLiteStore(":memory:"),
}

B2B = Pipeline.create(
    "b2b",
    "B2B",
    [
        Stage("qualify", "Qualify", Decimal("0.1")),
        Stage("propose", "Proposal", Decimal("0.4")),
        Stage("negotiate", "Negotiation", Decimal("0.7")),
        Stage("won", "Won", Decimal("1"), DealStatus.WON),
        Stage("lost", "Lost", Decimal("0"), DealStatus.LOST),
    ],
)

SHOP = Pipeline.create(
    "shop",
    "Web shop",
    [
        Stage("cart", "Cart", Decimal("0.25")),
        Stage("checkout", "Checkout", Decimal("0.8")),
        Stage("paid", "Paid", Decimal("1"), DealStatus.WON),
        Stage("abandoned", "Abandoned", Decimal("0"), DealStatus.LOST),
    ],
)

PIPELINES = {p.id: p for p in (B2B, SHOP)}
