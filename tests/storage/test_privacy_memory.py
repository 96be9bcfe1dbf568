"""InMemoryStore and the example adapter through the privacy contract (SupportsPrivacy)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmcore.storage import InMemoryStore, SupportsPrivacy
from crmcore.testing import PrivacyContract
from tests.examples import load_example

jsonl_store = load_example("jsonl_store.py")


class TestInMemoryPrivacy(PrivacyContract):
    supports_nested_transactions = True

    @pytest.fixture
    def store(self) -> Iterator[InMemoryStore]:
        with InMemoryStore() as store:
            yield store


class TestExampleAdapterSkipsPrivacy(PrivacyContract):
    """The docs' adapter keeps no audit trail: every check is skipped, visibly."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Any]:
        with jsonl_store.JsonLinesStore(tmp_path / "crm.jsonl") as store:
            yield store


def test_the_example_adapter_does_not_claim_privacy(tmp_path: Path) -> None:
    with jsonl_store.JsonLinesStore(tmp_path / "crm.jsonl") as store:
        assert not isinstance(store, SupportsPrivacy)


def test_two_stores_have_different_secrets() -> None:
    assert InMemoryStore().privacy_secret() != InMemoryStore().privacy_secret()
