"""Deterministic opportunities, tasks and cases for the contract kit and the state machine.

Like :mod:`crmcore.testing._builders`: every field follows from ``i``, and the
fields apps filter on cycle with it so that every filter selects something.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

import attrs

from crmcore.cases import Case, CaseStatus
from crmcore.ids import CustomerId, new_case_id, new_customer_id, new_lead_id, new_opportunity_id
from crmcore.interactions import Channel
from crmcore.leads import LeadSource
from crmcore.opportunities import ROLE_DECISION_MAKER, ROLE_INFLUENCER, ContactRole, Opportunity
from crmcore.pipelines import DealStatus, Pipeline, Stage
from crmcore.tasks import Priority, Task, TaskKind
from crmcore.testing._builders import BASE_TIME
from crmcore.values import Money


def _pipeline(pipeline_id: str, name: str, *probabilities: str) -> Pipeline:
    # Both pipelines share stage ids with different probabilities: grouping by
    # stage alone mixes them, grouping by pipeline and stage does not.
    stages = [
        Stage("new", "New", Decimal(probabilities[0])),
        Stage("qualified", "Qualified", Decimal(probabilities[1])),
        Stage("proposal", "Proposal", Decimal(probabilities[2])),
        Stage("won", "Won", Decimal(1), DealStatus.WON),
        Stage("lost", "Lost", Decimal(0), DealStatus.LOST),
    ]
    return Pipeline.create(pipeline_id, name, stages)


B2B: Final = _pipeline("b2b", "B2B", "0.1", "0.3", "0.6")
WEB_SHOP: Final = _pipeline("web-shop", "Web shop", "0.05", "0.25", "0.75")
PIPELINES: Final = (B2B, WEB_SHOP)
OPEN_STAGES: Final = ("new", "qualified", "proposal")

_OWNERS: Final = (None, "usr_anna", "usr_bo", "usr_anders")
_TAGS: Final[tuple[frozenset[str], ...]] = (
    frozenset(),
    frozenset({"vip"}),
    frozenset({"vip", "renewal"}),
    frozenset({"b2b"}),
)
_SOURCES: Final = (None, LeadSource.WEB_FORM, LeadSource.CAMPAIGN)


def pipeline_of(deal: Opportunity) -> Pipeline:
    """The pipeline of :data:`PIPELINES` a built deal is in."""
    return next(p for p in PIPELINES if p.id == deal.pipeline_id)


def amount(i: int) -> Money | None:
    """An amount per ``i``: none, euros, dollars, or cents of a euro."""
    choices = (
        None,
        Money(Decimal(f"{i}.50"), "EUR"),
        Money(Decimal(i * 10), "USD"),
        Money(Decimal(i).scaleb(-2), "EUR"),
    )
    return choices[i % len(choices)]


def opportunity(
    i: int = 0, *, customer_id: CustomerId | None = None, **changes: Any
) -> Opportunity:
    """A deal in one of :data:`PIPELINES`: open for most ``i``, won or lost for some.

    ``created_at`` is ``BASE_TIME + i minutes``; a third of the deals list
    ``customer_id`` itself again as a contact, beside another person.
    """
    pipeline = PIPELINES[i // 4 % 2]
    start = BASE_TIME + timedelta(minutes=i)
    owner = customer_id or new_customer_id()
    contacts: tuple[ContactRole, ...] = ()
    if i % 3 == 0:
        contacts = (
            ContactRole(new_customer_id(), ROLE_DECISION_MAKER),
            ContactRole(owner, ROLE_INFLUENCER),
        )
    deal = Opportunity.create(
        name=f"Deal {i}",
        customer_id=owner,
        pipeline=pipeline,
        stage=OPEN_STAGES[i % 3],
        amount=amount(i),
        close_date=date(2025, 1 + i % 12, 1 + i % 28) if i % 5 else None,
        owner=_OWNERS[i % len(_OWNERS)],
        contacts=contacts,
        lead_id=new_lead_id() if i % 4 == 1 else None,
        source=_SOURCES[i % len(_SOURCES)],
        tags=_TAGS[i % len(_TAGS)],
        at=start,
    )
    if i % 7 == 5:
        deal = deal.move_to(pipeline, "lost", at=start + timedelta(days=3), reason="price")
    elif i % 7 == 6:
        deal = deal.move_to(pipeline, "won", at=start + timedelta(days=i % 10 + 1))
    return attrs.evolve(deal, created_at=start, updated_at=start, **changes)


def task(i: int = 0, **changes: Any) -> Task:
    """A follow-up per ``i``: kinds, priorities, assignees and subjects cycle; some are done."""
    subjects = (new_customer_id(), new_lead_id(), new_opportunity_id(), new_case_id(), None)
    created = BASE_TIME + timedelta(minutes=i)
    made = Task.create(
        title=f"Follow-up {i}",
        kind=list(TaskKind)[i % len(TaskKind)],
        priority=list(Priority)[i % len(Priority)],
        due_at=BASE_TIME + timedelta(hours=i) if i % 4 else None,
        assignee=_OWNERS[i % len(_OWNERS)],
        about_id=subjects[i % len(subjects)],
        tags=_TAGS[i % len(_TAGS)],
    )
    if i % 3 == 2:
        made = made.complete(at=BASE_TIME + timedelta(hours=i, minutes=30))
    return attrs.evolve(made, created_at=created, updated_at=created, **changes)


_CASE_PATHS: Final = (
    (),
    (CaseStatus.OPEN,),
    (CaseStatus.OPEN, CaseStatus.RESOLVED),
    (CaseStatus.OPEN, CaseStatus.WAITING_ON_CUSTOMER),
    (CaseStatus.RESOLVED, CaseStatus.CLOSED),
)


def case(i: int = 0, *, customer_id: CustomerId | None = None, **changes: Any) -> Case:
    """A support case per ``i``, reported at ``BASE_TIME + i minutes``, moved along a path."""
    reported = BASE_TIME + timedelta(minutes=i)
    made = Case.create(
        subject=f"Case {i}",
        customer_id=customer_id or new_customer_id(),
        channel=(Channel.WEB_FORM, Channel.EMAIL, Channel.CHAT)[i % 3],
        priority=list(Priority)[i % len(Priority)],
        assignee=_OWNERS[i % len(_OWNERS)],
        reported_at=reported,
        tags=_TAGS[i % len(_TAGS)],
    )
    for step, status in enumerate(_CASE_PATHS[i % len(_CASE_PATHS)], start=1):
        made = made.transition_to(status, at=reported + timedelta(hours=step))
    return attrs.evolve(made, created_at=reported, updated_at=reported, **changes)
