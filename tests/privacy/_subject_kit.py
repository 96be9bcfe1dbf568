"""What the subject tests share: fresh stores of each kind, and a world of people.

``STORES`` names the store factories the tests run on (memory, and SQLite on a
real file); tests/storage/sql adds PostgreSQL by overriding the ``fresh``
fixture. A factory is a context manager, so that a hypothesis example gets an
empty store of its own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from hypothesis import strategies as st

from crmcore import Channel, Customer, Direction, Interaction, Lead, Participant
from crmcore.storage import InMemoryStore, SQLiteStore

Fresh = Callable[[], AbstractContextManager[Any]]


@contextmanager
def memory_store() -> Iterator[InMemoryStore]:
    """An empty in-memory store."""
    with InMemoryStore() as store:
        yield store


@contextmanager
def sqlite_store() -> Iterator[SQLiteStore]:
    """An empty SQLite store on a real file, removed afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="crmcore-subject-") as folder,
        SQLiteStore(Path(folder) / "crm.db") as store,
    ):
        yield store


STORES: dict[str, Fresh] = {"memory": memory_store, "sqlite": sqlite_store}

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)

DOMAINS = ("example.org", "gmail.com", "firma.se", "contoh.co.id")


def variant(draw: Callable[[st.SearchStrategy[Any]], Any], local: str, domain: str) -> str:
    """One way a person may type their own address: case, a ``+tag``, Gmail dots."""
    if domain == "gmail.com" and draw(st.booleans()) and len(local) > 1:
        cut = draw(st.integers(1, len(local) - 1))
        local = f"{local[:cut]}.{local[cut:]}"
    if draw(st.booleans()):
        local += "+" + draw(st.sampled_from(["news", "shop", "x1", "crm"]))
    text = f"{local}@{domain}"
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


@attrs.frozen
class Person:
    """One drawn person: their mailbox, their records and their interactions."""

    local: str
    domain: str
    records: tuple[Customer | Lead, ...]
    interactions: tuple[Interaction, ...]

    @property
    def ids(self) -> set[str]:
        """The ids of the person's customers and leads."""
        return {r.id for r in self.records}


@st.composite
def people(draw: st.DrawFn, *, min_size: int = 2, max_size: int = 4) -> list[Person]:
    """Distinct people (no two share a mailbox), each with one to three records.

    Each record carries one or two ways of typing the person's own address,
    and maybe an address of its own; each person may have interactions
    between their own records.
    """
    count = draw(st.integers(min_size, max_size))
    found = []
    for i in range(count):
        # The person's number in the local part keeps mailboxes distinct.
        local = f"p{i}" + draw(st.text("abcdefghij", min_size=1, max_size=6))
        domain = draw(st.sampled_from(DOMAINS))
        records: list[Customer | Lead] = []
        for k in range(draw(st.integers(1, 3))):
            emails = [variant(draw, local, domain) for _ in range(draw(st.integers(1, 2)))]
            if draw(st.booleans()):
                emails.append(f"own{i}x{k}@other.example")
            # Addresses differing only in case are one address: keep one.
            unique = list({e.casefold(): e for e in emails}.values())
            if draw(st.booleans()):
                records.append(Customer.create(name=f"Person{i} Family{k}", emails=unique))
            else:
                records.append(Lead.create(name=f"Lead{i} Family{k}", emails=unique))
        interactions = []
        for n in range(draw(st.integers(0, 2))):
            holder = draw(st.sampled_from(records))
            interactions.append(
                Interaction.log(
                    channel=Channel.EMAIL,
                    direction=Direction.INBOUND,
                    occurred_at=T0 + timedelta(hours=n),
                    participants=[Participant(holder.id)],
                    subject=f"note {n}",
                )
            )
        found.append(Person(local, domain, tuple(records), tuple(interactions)))
    return found


def store_people(store: Any, persons: list[Person]) -> None:
    """Store every person's records and interactions."""
    for person in persons:
        for record in person.records:
            if isinstance(record, Customer):
                store.customers.add(record)
            else:
                store.leads.add(record)
        for interaction in person.interactions:
            store.interactions.add(interaction)
