"""InMemoryStore through the contract kit, plus what only the reference store promises."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmcore.errors import ValidationError
from crmcore.storage import InMemoryStore
from crmcore.testing import StorageContract


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
