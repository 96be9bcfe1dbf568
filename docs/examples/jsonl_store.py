"""JsonLinesStore: a small but complete crmcore storage adapter over a JSON-lines file.

The working set lives in an :class:`~crmcore.storage.InMemoryStore` (so every
query, lookup and filter has the reference semantics); every committed
transaction is appended to the file as one JSON line holding the stored
documents, and opening the file replays it. One line per transaction makes
commits all-or-nothing: a crash while writing leaves a torn last line, which
replay ignores.

It passes crmcore's contract kit (``tests/storage/test_example_adapter.py``).
Single process only: two processes appending to one file would not see each
other's writes.
"""

from __future__ import annotations

import builtins
import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from crmcore import Customer, Interaction, Lead, StorageError, from_dict, to_dict
from crmcore.ids import InteractionId
from crmcore.interactions import Channel
from crmcore.merge_record import MergeRecord
from crmcore.storage import InMemoryStore, KeyFunction, MergeRepository, Page
from crmcore.storage.front import StoreFront, check_load
from crmcore.storage.protocols import (
    Filter,
    InteractionRepository,
    LoadedRecord,
    RecordRepository,
)
from crmcore.values import EmailAddress, PhoneNumber

R = TypeVar("R", bound=Customer | Lead)
I = TypeVar("I", bound=str)  # noqa: E741
T = TypeVar("T", bound=LoadedRecord)

_TYPES: dict[str, type[Customer | Lead | Interaction | MergeRecord]] = {
    "customer": Customer,
    "lead": Lead,
    "interaction": Interaction,
    "merge": MergeRecord,
}
_KINDS: dict[type, str] = {cls: kind for kind, cls in _TYPES.items()}


class _Records(Generic[R, I]):
    """Reads go to the working set; writes go there too, and into the journal."""

    def __init__(self, store: JsonLinesStore, inner: RecordRepository[R, I], kind: str) -> None:
        self._store = store
        self._inner = inner
        self._kind = kind

    # Writes: done on the working set inside a transaction, journaled at commit.
    def add(self, record: R) -> R:
        with self._store.transaction():
            return self._store._put(self._inner.add(record))

    def add_many(self, records: Iterable[R]) -> builtins.list[R]:
        with self._store.transaction():
            return [self._store._put(r) for r in self._inner.add_many(records)]

    def update(self, record: R) -> R:
        with self._store.transaction():
            return self._store._put(self._inner.update(record))

    def delete(self, record_id: str, *, expected_version: int | None = None) -> None:
        with self._store.transaction():
            self._inner.delete(record_id, expected_version=expected_version)
            self._store._journal({"op": "delete", "type": self._kind, "id": record_id})

    # Reads: straight from the working set.
    def get(self, record_id: str) -> R:
        return self._inner.get(record_id)

    def get_many(self, record_ids: Iterable[str]) -> dict[I, R]:
        return self._inner.get_many(record_ids)

    def count(self, *filters: Filter) -> int:
        return self._inner.count(*filters)

    def list(
        self,
        *filters: Filter,
        order_by: str = "id",
        descending: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[R]:
        return self._inner.list(
            *filters, order_by=order_by, descending=descending, limit=limit, cursor=cursor
        )

    def iter_all(self, *, batch_size: int = 500) -> Iterator[R]:
        return self._inner.iter_all(batch_size=batch_size)

    def find_by_email(self, email: EmailAddress | str) -> builtins.list[R]:
        return self._inner.find_by_email(email)

    def find_by_phone(
        self, phone: PhoneNumber | str, region: str | None = None
    ) -> builtins.list[R]:
        return self._inner.find_by_phone(phone, region)

    def find_by_identifier(self, scheme: str, value: str) -> builtins.list[R]:
        return self._inner.find_by_identifier(scheme, value)

    def find_by_keys(self, keys: Iterable[str], *, limit: int | None = None) -> builtins.list[R]:
        return self._inner.find_by_keys(keys, limit=limit)

    def resolve(self, record_id: str) -> R:
        return self._inner.resolve(record_id)


class _Merges:
    """Merge records (the audit trail of crmcore.merge), journaled like the rest."""

    def __init__(self, store: JsonLinesStore, inner: MergeRepository) -> None:
        self._store = store
        self._inner = inner

    def add(self, record: MergeRecord) -> MergeRecord:
        with self._store.transaction():
            return self._store._put(self._inner.add(record))

    def update(self, record: MergeRecord) -> MergeRecord:
        with self._store.transaction():
            return self._store._put(self._inner.update(record))

    def get(self, merge_id: str) -> MergeRecord:
        return self._inner.get(merge_id)

    def list_for(self, record_id: str) -> builtins.list[MergeRecord]:
        return self._inner.list_for(record_id)


class _Interactions:
    def __init__(self, store: JsonLinesStore, inner: InteractionRepository) -> None:
        self._store = store
        self._inner = inner

    def add(self, interaction: Interaction) -> Interaction:
        with self._store.transaction():
            return self._store._put(self._inner.add(interaction))

    def add_many(self, interactions: Iterable[Interaction]) -> builtins.list[Interaction]:
        with self._store.transaction():
            return [self._store._put(i) for i in self._inner.add_many(interactions)]

    def update(self, interaction: Interaction) -> Interaction:
        with self._store.transaction():
            return self._store._put(self._inner.update(interaction))

    def delete(self, interaction_id: str, *, expected_version: int | None = None) -> None:
        with self._store.transaction():
            self._inner.delete(interaction_id, expected_version=expected_version)
            self._store._journal({"op": "delete", "type": "interaction", "id": interaction_id})

    def get(self, interaction_id: str) -> Interaction:
        return self._inner.get(interaction_id)

    def get_many(self, interaction_ids: Iterable[str]) -> dict[InteractionId, Interaction]:
        return self._inner.get_many(interaction_ids)

    def list_for(
        self,
        record_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        channel: Channel | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Interaction]:
        return self._inner.list_for(
            record_id, since=since, until=until, channel=channel, limit=limit, cursor=cursor
        )

    def find_by_external_id(self, external_id: str) -> Interaction | None:
        return self._inner.find_by_external_id(external_id)


class JsonLinesStore(
    StoreFront["_Records[Customer, Any]", "_Records[Lead, Any]", "_Interactions", "_Merges"]
):
    """A crmcore store kept in one JSON-lines file (one line per committed transaction).

    Args:
        path: the journal file; created when missing, replayed when present.
        key_function: blocking keys for ``find_by_keys`` (crmcore's default when ``None``).
    """

    def __init__(self, path: str | os.PathLike[str], *, key_function: KeyFunction | None = None):
        self._path = Path(path)
        self._memory = InMemoryStore(key_function=key_function)
        self._lock = threading.RLock()
        self._pending: list[dict[str, Any]] = []
        self._depth = 0
        self._replay()
        self._customers = _Records(self, self._memory.customers, "customer")
        self._leads = _Records(self, self._memory.leads, "lead")
        self._interactions = _Interactions(self, self._memory.interactions)
        self._merges = _Merges(self, self._memory.merges)

    def _replay(self) -> None:
        if not self._path.exists():
            return
        with self._path.open(encoding="utf-8") as journal:
            for line in journal:
                try:
                    operations = json.loads(line)
                except ValueError:
                    break  # a torn last line: that transaction never committed
                for op in operations:
                    if op["op"] == "put":
                        self._memory.load([from_dict(_TYPES[op["type"]], op["doc"])])
                    elif op["type"] == "customer":
                        self._memory.customers.delete(op["id"])
                    elif op["type"] == "lead":
                        self._memory.leads.delete(op["id"])
                    else:
                        self._memory.interactions.delete(op["id"])

    def _journal(self, operation: dict[str, Any]) -> None:
        self._pending.append(operation)

    def _put(self, record: T) -> T:
        self._journal({"op": "put", "type": _KINDS[type(record)], "doc": to_dict(record)})
        return record

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing; nested blocks are savepoints (the working set's and the journal's)."""
        with self._lock, self._memory.transaction():
            mark = len(self._pending)
            self._depth += 1
            try:
                yield
            except BaseException:
                del self._pending[mark:]
                raise
            finally:
                self._depth -= 1
            if self._depth == 0 and self._pending:
                line = json.dumps(self._pending, ensure_ascii=False, separators=(",", ":"))
                self._pending = []
                try:
                    with self._path.open("a", encoding="utf-8") as journal:
                        journal.write(line + "\n")
                        journal.flush()
                        os.fsync(journal.fileno())
                except OSError as exc:
                    # Raising inside the block makes the working set roll back too.
                    raise StorageError("the journal cannot be written") from exc

    def load(self, records: Iterable[Customer | Lead | Interaction | MergeRecord]) -> None:
        """Place already-stored copies as they are (``crmcore.io.restore`` needs it); journalled."""
        batch = check_load(records, work_items=False)  # it keeps no work items
        with self.transaction():
            self._memory.load(batch)
            for record in batch:
                self._put(record)

    def close(self) -> None:
        """Drop the working set; the file stays."""
        self._memory.close()
