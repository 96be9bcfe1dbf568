"""InMemoryStore through the contract kit, plus what only the reference store promises."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmcore.storage import InMemoryStore
from crmcore.testing import StorageContract


class TestInMemoryStore(StorageContract):
    supports_nested_transactions = True
    supports_concurrent_writers = True

    @pytest.fixture
    def store(self) -> Iterator[InMemoryStore]:
        with InMemoryStore() as store:
            yield store
