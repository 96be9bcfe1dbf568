"""Hypothesis strategies for groups of overlapping records, the raw material of merges.

Values come from small pools so that groups share emails (in different case),
phones, tags and identifiers the way real duplicates do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import attrs
from hypothesis import strategies as st

from crmcore import (
    Channel,
    ConsentStatus,
    Customer,
    CustomerKind,
    Direction,
    Interaction,
    Lead,
    LeadStatus,
    LifecycleStage,
    Participant,
    PostalAddress,
)

EMAILS = [
    "ada@example.com",
    "ADA@Example.com",
    "ada.l@example.org",
    "bob@example.net",
    "info@shop.example",
    "c.d@example.com",
]
PHONES = ["+14155552671", "+442071838750", "+4930123456", "+6281234567890", "+46701234567"]
TAGS = ["vip", "VIP", "newsletter", "b2b", "churn-risk"]
NAMES = ["Ada Lovelace", "Ada King", "A. Lovelace", "Augusta Ada King", "Bob Smith"]
ORGS = ["Acme Ltd", "ACME", "Globex GmbH"]
ADDRESSES = [
    PostalAddress(lines=("1 Main St",), locality="Springfield", country="US"),
    PostalAddress(lines=("1  main st",), locality="SPRINGFIELD", country="US"),
    PostalAddress(lines=("Unter den Linden 1",), locality="Berlin", country="DE"),
]
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def stamps() -> st.SearchStrategy[datetime]:
    """Aware datetimes in 2024."""
    return st.integers(0, 365 * 24).map(lambda h: BASE + timedelta(hours=h))


@st.composite
def customers(draw: st.DrawFn, *, kind: CustomerKind = CustomerKind.PERSON) -> Customer:
    """A customer with values drawn from the shared pools."""
    name = draw(st.sampled_from(NAMES if kind is CustomerKind.PERSON else ORGS))
    customer = Customer.create(
        name=name,
        kind=kind,
        emails=draw(st.lists(st.sampled_from(EMAILS), max_size=3)),
        phones=draw(st.lists(st.sampled_from(PHONES), max_size=2)),
        addresses=draw(st.lists(st.sampled_from(ADDRESSES), max_size=2, unique=True)),
        stage=draw(st.sampled_from(LifecycleStage)),
        tags=draw(st.lists(st.sampled_from(TAGS), max_size=3)),
        custom_fields=draw(
            st.dictionaries(st.sampled_from(["size", "plan", "source"]), st.integers(0, 3))
        ),
        owner=draw(st.none() | st.sampled_from(["u1", "u2"])),
        identifiers=draw(
            st.dictionaries(st.sampled_from(["vat", "crm"]), st.sampled_from(["1", "2"]))
        ),
        birth_date=draw(st.none() | st.just(date(1815, 12, 10))),
        notes=draw(st.none() | st.sampled_from(["called twice", "prefers email", ""])) or None,
    )
    for channel, purpose, status in draw(
        st.lists(
            st.tuples(
                st.sampled_from([Channel.EMAIL, Channel.SMS]),
                st.sampled_from(["marketing", "newsletter"]),
                st.sampled_from(ConsentStatus),
            ),
            max_size=3,
        )
    ):
        customer = customer.with_consent(channel, purpose, status, at=draw(stamps()))
    created = draw(stamps())
    updated = created + timedelta(hours=draw(st.integers(0, 100)))
    return attrs.evolve(customer, created_at=created, updated_at=updated)


@st.composite
def leads(draw: st.DrawFn) -> Lead:
    """A lead with values drawn from the shared pools."""
    lead = Lead.create(
        name=draw(st.sampled_from(NAMES)),
        company=draw(st.none() | st.sampled_from(ORGS)),
        emails=draw(st.lists(st.sampled_from(EMAILS), max_size=2)),
        phones=draw(st.lists(st.sampled_from(PHONES), max_size=2)),
        score=draw(st.none() | st.integers(0, 100)),
        tags=draw(st.lists(st.sampled_from(TAGS), max_size=2)),
    )
    status = draw(st.sampled_from([LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED]))
    created = draw(stamps())
    return attrs.evolve(lead, status=status, created_at=created, updated_at=created)


def groups(*, min_size: int = 2, max_size: int = 4) -> st.SearchStrategy[list[Customer]]:
    """Two or more people (or two or more organisations) with distinct ids."""
    return st.sampled_from(CustomerKind).flatmap(
        lambda kind: st.lists(
            customers(kind=kind), min_size=min_size, max_size=max_size, unique_by=lambda c: c.id
        )
    )


def interactions_for(record_ids: Sequence[str]) -> st.SearchStrategy[list[Interaction]]:
    """Interactions each logged against one or two of ``record_ids``."""

    @st.composite
    def one(draw: st.DrawFn) -> Interaction:
        who = draw(st.lists(st.sampled_from(record_ids), min_size=1, max_size=2, unique=True))
        return Interaction.log(
            channel=draw(st.sampled_from(Channel)),
            direction=draw(st.sampled_from(Direction)),
            occurred_at=draw(stamps()),
            participants=[Participant(i) for i in who],  # type: ignore[arg-type]
            subject="hello",
        )

    return st.lists(one(), max_size=6)
