"""A store that claims key locks, for tests of the checked write paths."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from crmcore.storage import InMemoryStore


class LockingStore(InMemoryStore):
    """A store that claims SupportsKeyLocks and records what it was asked to lock, and when."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.locked: list[tuple[int, list[str]]] = []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with super().transaction():
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1

    def lock_keys(self, keys: Iterable[str]) -> None:
        self.locked.append((self.depth, list(keys)))
