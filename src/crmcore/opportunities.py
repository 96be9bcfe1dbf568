"""Opportunities: deals in progress with a customer, moving through a pipeline's stages.

An opportunity's stage, status and probability are those of its last stage
change, and its stage history is an append-only record of those changes:
the time spent in each stage and the moment a deal was won or lost come from
it.
"""

from __future__ import annotations

import decimal
import itertools
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import attrs

from crmcore._validation import (
    Problems,
    check_date,
    check_flag,
    enum_member,
    items_of,
    tuple_of,
    utcnow,
)
from crmcore._work import (
    check_probability,
    check_slug,
    check_work_fields,
    moment,
    parse_probability,
    parse_work_fields,
)
from crmcore.errors import InvalidTransition, ValidationError
from crmcore.ids import (
    CustomerId,
    LeadId,
    OpportunityId,
    is_customer_id,
    is_lead_id,
    is_opportunity_id,
    new_opportunity_id,
)
from crmcore.leads import LeadSource
from crmcore.pipelines import DealStatus, Pipeline
from crmcore.values import (
    MAX_AMOUNT_DIGITS,
    CustomFields,
    Money,
    amount_digits,
    clean_text,
    optional_text,
)

__all__ = [
    "MAX_DEAL_AMOUNT_DIGITS",
    "ROLE_DECISION_MAKER",
    "ROLE_ECONOMIC_BUYER",
    "ROLE_INFLUENCER",
    "ROLE_TECHNICAL_BUYER",
    "ROLE_USER",
    "ContactRole",
    "Opportunity",
    "StageChange",
]

ROLE_DECISION_MAKER: Final = "decision_maker"
ROLE_INFLUENCER: Final = "influencer"
ROLE_TECHNICAL_BUYER: Final = "technical_buyer"
ROLE_ECONOMIC_BUYER: Final = "economic_buyer"
ROLE_USER: Final = "user"

MAX_DEAL_AMOUNT_DIGITS: Final = MAX_AMOUNT_DIGITS - 4
"""The most digits of a deal's amount: 34, so that ``amount * probability`` (a
probability has at most four places) is exact and still :class:`Money`."""
MAX_CONTACTS: Final = 100
MAX_HISTORY: Final = 10_000

# Exact products: the default context rounds to 28 significant digits.
_EXACT: Final = decimal.Context(prec=MAX_AMOUNT_DIGITS + 10, traps=[decimal.Inexact])


@attrs.frozen
class ContactRole:
    """A person involved in a deal and the part they play (``decision_maker``, an app's own)."""

    customer_id: CustomerId
    role: str

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if not is_customer_id(self.customer_id):
            problems.add("customer_id", "must be a customer id")
        problems.value(check_slug, self.role, "role", max_length=100)
        problems.raise_if_any()


@attrs.frozen
class StageChange:
    """One entry of a deal's append-only stage history.

    ``probability`` is the deal's probability as the move set it (the
    stage's default); ``reason`` is required for a move to a lost stage.
    """

    stage_id: str
    status: DealStatus
    probability: Decimal
    at: datetime
    from_stage_id: str | None = None
    reason: str | None = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        problems.value(check_slug, self.stage_id, "stage_id")
        if self.from_stage_id is not None:
            problems.value(check_slug, self.from_stage_id, "from_stage_id")
        if not isinstance(self.status, DealStatus):
            problems.add("status", "must be a DealStatus")
        problems.set(self, "probability", check_probability, self.probability, "probability")
        problems.utc(self, "at")
        problems.set(self, "reason", optional_text, self.reason, "reason")
        if self.status is DealStatus.LOST and self.reason is None and not problems.found:
            problems.add("reason", "a move to a lost stage needs a reason")
        problems.raise_if_any()


def _check_amount(value: object, problems: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, Money):
        problems.add("amount", "must be Money")
    elif value.amount < 0:
        problems.add("amount", "must not be negative")
    elif amount_digits(value.amount) > MAX_DEAL_AMOUNT_DIGITS:
        problems.add("amount", f"must have at most {MAX_DEAL_AMOUNT_DIGITS} digits")


def _check_history(record: Opportunity, problems: Problems) -> None:
    try:
        history = tuple_of(record.stage_history, StageChange, "stage_history")
    except ValidationError as exc:
        problems.found.extend(exc.problems)
        return
    object.__setattr__(record, "stage_history", history)
    if not history:
        problems.add("stage_history", "a deal needs at least one stage change")
        return
    if len(history) > MAX_HISTORY:
        problems.add("stage_history", f"must hold at most {MAX_HISTORY} changes")
    if history[0].from_stage_id is not None:
        problems.add("stage_history[0].from_stage_id", "the first change comes from no stage")
    for i in range(1, len(history)):
        before, change = history[i - 1], history[i]
        if change.at < before.at:
            problems.add(f"stage_history[{i}].at", "is before the change before it")
        if change.from_stage_id != before.stage_id:
            problems.add(f"stage_history[{i}].from_stage_id", "is not the stage before it")
    last = history[-1]
    if record.stage_id != last.stage_id:
        problems.add("stage_id", "must be the stage of the last stage change")
    if record.status is not last.status:
        problems.add("status", "must be the status of the last stage change")
    if record.status is DealStatus.LOST:
        if record.lost_reason is None:
            problems.add("lost_reason", "a lost deal needs a reason")
    elif record.lost_reason is not None:
        problems.add("lost_reason", "is only for a lost deal")
    if isinstance(record.status, DealStatus) and record.status.is_closed:
        if record.closed_at != last.at:
            problems.add("closed_at", "must be the time of the move that closed the deal")
        fixed = Decimal(1) if record.status is DealStatus.WON else Decimal(0)
        if record.probability != fixed:
            problems.add("probability", f"a {record.status.value} deal's probability is {fixed}")
    elif record.closed_at is not None:
        problems.add("closed_at", "is only for a closed deal")


@attrs.frozen(repr=False)
class Opportunity:
    """A named deal with a customer (a person or an organisation), in one pipeline.

    Build one with :meth:`create` and move it with :meth:`move_to`: its
    ``stage_id``, ``status`` and ``closed_at`` always agree with the last
    entry of ``stage_history``. ``probability`` is the stage's default as of
    the last move, unless :meth:`with_probability` overrode it. ``amount`` is
    never negative; ``close_date`` is the expected close date.
    """

    id: OpportunityId
    name: str
    customer_id: CustomerId
    pipeline_id: str
    stage_id: str
    status: DealStatus
    probability: Decimal
    stage_history: tuple[StageChange, ...]
    amount: Money | None = None
    close_date: date | None = None
    owner: str | None = None
    contacts: tuple[ContactRole, ...] = ()
    lead_id: LeadId | None = None
    source: LeadSource | None = None
    campaign: str | None = None
    lost_reason: str | None = None
    closed_at: datetime | None = None
    tags: frozenset[str] = frozenset()
    custom_fields: CustomFields = CustomFields.EMPTY
    version: int = 0
    created_at: datetime = attrs.field(factory=utcnow)
    updated_at: datetime = attrs.field(factory=utcnow)

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if not is_opportunity_id(self.id):
            problems.add("id", "must be an opportunity id")
        problems.set(self, "name", clean_text, self.name, "name", max_length=300)
        if not is_customer_id(self.customer_id):
            problems.add("customer_id", "must be a customer id")
        problems.value(check_slug, self.pipeline_id, "pipeline_id")
        problems.value(check_slug, self.stage_id, "stage_id")
        if not isinstance(self.status, DealStatus):
            problems.add("status", "must be a DealStatus")
        problems.set(self, "probability", check_probability, self.probability, "probability")
        _check_amount(self.amount, problems)
        problems.value(check_date, self.close_date, "close_date")
        problems.set(self, "owner", optional_text, self.owner, "owner", max_length=200)
        try:
            contacts = tuple_of(self.contacts, ContactRole, "contacts")
        except ValidationError as exc:
            problems.found.extend(exc.problems)
        else:
            object.__setattr__(self, "contacts", contacts)
            if len(contacts) > MAX_CONTACTS:
                problems.add("contacts", f"must hold at most {MAX_CONTACTS} contact roles")
            elif len(set(contacts)) != len(contacts):
                problems.add("contacts", "lists the same person in the same role twice")
        if self.lead_id is not None and not is_lead_id(self.lead_id):
            problems.add("lead_id", "must be a lead id")
        if self.source is not None and not isinstance(self.source, LeadSource):
            problems.add("source", "must be a LeadSource")
        problems.set(self, "campaign", optional_text, self.campaign, "campaign", max_length=200)
        problems.set(self, "lost_reason", optional_text, self.lost_reason, "lost_reason")
        if self.closed_at is not None:
            problems.utc(self, "closed_at")
        check_work_fields(self, problems)
        if not problems.found:
            _check_history(self, problems)
        problems.raise_if_any()

    @classmethod
    def create(
        cls,
        *,
        name: str,
        customer_id: CustomerId,
        pipeline: Pipeline,
        stage: str | None = None,
        amount: Money | None = None,
        close_date: date | str | None = None,
        owner: str | None = None,
        contacts: Iterable[ContactRole] = (),
        lead_id: LeadId | None = None,
        source: LeadSource | str | None = None,
        campaign: str | None = None,
        tags: Iterable[str] = (),
        custom_fields: Mapping[str, object] | None = None,
        at: datetime | None = None,
    ) -> Opportunity:
        """Open a deal at ``stage`` of ``pipeline`` (by default its first open stage).

        ``close_date`` is a date or ISO text (``"2026-03-31"``); ``at`` is
        when the deal entered its first stage (default: now). A deal cannot
        start in a lost stage (a loss needs a reason: move it there).

        Raises:
            ValidationError: naming each bad field (``amount``, ``close_date``, ``stage``).
            InvalidTransition: for a lost starting stage.
        """
        problems = Problems()
        values: dict[str, Any] = {}
        if not isinstance(pipeline, Pipeline):
            raise ValidationError("pipeline", "must be a Pipeline")
        chosen = pipeline.first if stage is None else problems.value(pipeline.stage, stage)
        if source is not None:
            problems.parse_into(values, "source", enum_member, LeadSource, source, "source")
        if isinstance(close_date, str):
            problems.parse_into(values, "close_date", _iso_date, close_date)
        else:
            values["close_date"] = close_date
        problems.parse_into(values, "contacts", _contacts, contacts)
        problems.parse_into(values, "start", moment, at, "at")
        parse_work_fields(problems, values, tags, custom_fields)
        problems.raise_if_any()
        assert chosen is not None
        if chosen.status is DealStatus.LOST:
            raise InvalidTransition("a deal cannot start in a lost stage (a loss needs a reason)")
        start = values.pop("start")
        first = StageChange(chosen.id, chosen.status, chosen.probability, start)
        now = utcnow()
        return cls(
            id=new_opportunity_id(),
            name=name,
            customer_id=customer_id,
            pipeline_id=pipeline.id,
            stage_id=chosen.id,
            status=chosen.status,
            probability=chosen.probability,
            stage_history=(first,),
            amount=amount,
            owner=owner,
            lead_id=lead_id,
            campaign=campaign,
            closed_at=start if chosen.is_closed else None,
            created_at=now,
            updated_at=now,
            **values,
        )

    def move_to(
        self,
        pipeline: Pipeline,
        stage_id: str,
        *,
        at: datetime | None = None,
        reason: str | None = None,
        reopen: bool = False,
    ) -> Opportunity:
        """Move the deal to stage ``stage_id`` of its pipeline, appending to its history.

        Backwards moves are allowed (and recorded like any other). The
        probability becomes the stage's default. A closed deal (won or lost)
        moves only with ``reopen=True``.

        Raises:
            ValidationError: naming ``stage`` for another pipeline or an unknown
                stage, ``at`` for a time before the last change.
            InvalidTransition: a move to a lost stage without a ``reason``, a
                move of a closed deal without ``reopen``, a move to the stage
                the deal is in.
        """
        if not isinstance(pipeline, Pipeline):
            raise ValidationError("pipeline", "must be a Pipeline")
        if pipeline.id != self.pipeline_id:
            raise ValidationError("stage", "is not a stage of this deal's pipeline")
        stage = pipeline.stage(stage_id)
        when = moment(at)
        last = self.stage_history[-1]
        if when < last.at:
            raise ValidationError("at", "is before the deal's last stage change")
        text = optional_text(reason, "reason")
        if self.is_closed and not check_flag(reopen, "reopen"):
            raise InvalidTransition(
                f"a {self.status.value} deal is closed: move it with reopen=True"
            )
        if stage.id == self.stage_id:
            raise InvalidTransition("the deal is already at that stage")
        if stage.status is DealStatus.LOST and text is None:
            raise InvalidTransition("a move to a lost stage needs a reason")
        change = StageChange(
            stage.id,
            stage.status,
            stage.probability,
            when,
            from_stage_id=self.stage_id,
            reason=text,
        )
        return attrs.evolve(
            self,
            stage_id=stage.id,
            status=stage.status,
            probability=stage.probability,
            stage_history=(*self.stage_history, change),
            lost_reason=text if stage.status is DealStatus.LOST else None,
            closed_at=when if stage.is_closed else None,
        )

    def with_probability(self, probability: Decimal | int | str) -> Opportunity:
        """Override the stage's default probability for this deal (an open deal only)."""
        value = parse_probability(probability, "probability")
        if self.is_closed:
            raise ValidationError("probability", "a closed deal's probability is fixed")
        return attrs.evolve(self, probability=value)

    @property
    def is_closed(self) -> bool:
        """Whether the deal is won or lost."""
        return self.status.is_closed

    @property
    def won_at(self) -> datetime | None:
        """When the deal was won, if it is won (the move that won it)."""
        return self.closed_at if self.status is DealStatus.WON else None

    @property
    def lost_at(self) -> datetime | None:
        """When the deal was lost, if it is lost (the move that lost it)."""
        return self.closed_at if self.status is DealStatus.LOST else None

    def time_in_stages(self, *, now: datetime | None = None) -> dict[str, timedelta]:
        """How long the deal spent in each stage it visited, summed over visits.

        An open deal's current stage counts until ``now`` (default: the
        current time); a closed deal's clock stopped when it closed, so its
        closing stage counts zero.

        Raises:
            ValidationError: naming ``now`` when it is before the last stage change.
        """
        history = self.stage_history
        spent: dict[str, timedelta] = {}
        for change, following in itertools.pairwise(history):
            spent[change.stage_id] = spent.get(change.stage_id, timedelta(0)) + (
                following.at - change.at
            )
        last = history[-1]
        if self.is_closed:
            end = last.at
        else:
            end = moment(now, "now")
            if end < last.at:
                raise ValidationError("now", "is before the deal's last stage change")
        spent[last.stage_id] = spent.get(last.stage_id, timedelta(0)) + (end - last.at)
        return spent

    @property
    def weighted_amount(self) -> Money | None:
        """``amount * probability``, exact (no rounding), or ``None`` without an amount."""
        if self.amount is None:
            return None
        return Money(_EXACT.multiply(self.amount.amount, self.probability), self.amount.currency)

    def repointed(self, old: CustomerId, new: CustomerId) -> Opportunity:
        """Return a copy where customer ``old`` is ``new``: the deal's and every contact role's.

        Used by merges: a role both customers held is kept once.
        """
        if not is_customer_id(new):
            raise ValidationError("new", "must be a customer id")
        contacts: list[ContactRole] = []
        for contact in self.contacts:
            moved = ContactRole(new, contact.role) if contact.customer_id == old else contact
            if moved not in contacts:
                contacts.append(moved)
        return attrs.evolve(
            self,
            customer_id=new if self.customer_id == old else self.customer_id,
            contacts=tuple(contacts),
        )

    def __repr__(self) -> str:
        return (
            f"Opportunity(id={self.id!r}, stage_id={self.stage_id!r}, "
            f"status={self.status.value!r}, version={self.version})"
        )

    __str__ = __repr__


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text) if len(text) == 10 else _no_date()
    except ValueError:
        return _no_date()


def _no_date() -> date:
    raise ValidationError("close_date", "must be a date (YYYY-MM-DD)")


def _contacts(value: object) -> tuple[ContactRole, ...]:
    items = items_of(value, "contacts")
    for i, item in enumerate(items):
        if not isinstance(item, ContactRole):
            raise ValidationError(f"contacts[{i}]", "must be a ContactRole")
    return tuple(items)
