"""Lead conversion: a qualified lead becomes a customer (a new one or one found), once.

The conversion can open the deal the lead was about in the same transaction
(an :class:`OpportunityDraft`), as Salesforce's ``convertLead`` does.

The lead's consent ledger follows it: a new customer starts with the lead's
events, an existing one gets them through
:func:`crmcore.consent.merge_consent_events` (so the conversion never upgrades
what either of them had withdrawn). A restricted lead (GDPR Art. 18) is not
converted, and the duplicate check never picks a restricted customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import attrs

from crmcore import _store_ops as ops
from crmcore._repr import count, id_of
from crmcore._validation import check_flag
from crmcore.audit import AuditAction, audited
from crmcore.customers import Customer, CustomerKind, LifecycleStage
from crmcore.errors import InvalidTransition, RecordRestricted, ValidationError
from crmcore.events import (
    CustomerCreated,
    CustomerUpdated,
    DomainEvent,
    EventDispatcher,
    LeadConverted,
    LeadStatusChanged,
    OpportunityCreated,
    publish,
)
from crmcore.ids import CustomerId, LeadId, is_customer_id, is_lead_id, new_customer_id
from crmcore.interactions import Participant
from crmcore.leads import Lead, LeadStatus
from crmcore.merge import MergePolicy, Rule, plan_merge
from crmcore.opportunities import Opportunity
from crmcore.pipelines import Pipeline
from crmcore.privacy._suppression import refuse_added, refuse_suppressed
from crmcore.values import Money, PersonName

if TYPE_CHECKING:
    from crmcore.storage import Store

__all__ = ["ConversionResult", "OpportunityDraft", "convert_lead"]


@attrs.frozen
class OpportunityDraft:
    """The deal to open when a lead converts: :func:`convert_lead`'s ``opportunity=``.

    ``stage`` defaults to the pipeline's first open stage, ``amount`` to the
    lead's ``estimated_value`` and ``owner`` to the lead's owner; the deal's
    ``lead_id`` and ``source`` come from the lead. ``close_date`` is a date
    or ISO text (``"2026-03-31"``). The values are checked when the
    opportunity is built (errors name ``opportunity.<field>``).
    """

    name: str = attrs.field(repr=False)
    pipeline: Pipeline = attrs.field(repr=lambda p: repr(getattr(p, "id", None)))
    stage: str | None = None
    amount: Money | None = attrs.field(default=None, repr=False)
    close_date: date | str | None = None
    owner: str | None = attrs.field(default=None, repr=False)

    def build(self, customer_id: CustomerId, lead: Lead) -> Opportunity:
        """The opportunity this draft opens for ``customer_id``, from ``lead``.

        Raises:
            ValidationError: naming ``opportunity.<field>`` for a bad value.
            InvalidTransition: a lost starting stage.
        """
        try:
            return Opportunity.create(
                name=self.name,
                customer_id=customer_id,
                pipeline=self.pipeline,
                stage=self.stage,
                amount=self.amount if self.amount is not None else lead.estimated_value,
                close_date=self.close_date,
                owner=self.owner if self.owner is not None else lead.owner,
                lead_id=lead.id,
                source=lead.source,
            )
        except ValidationError as exc:
            raise exc.prefixed("opportunity") from None


@attrs.frozen
class ConversionResult:
    """A converted lead and the customer it became.

    ``created`` tells whether the customer is new; ``matched`` whether an
    existing customer was found by the duplicate check; ``relinked`` lists the
    interactions newly linked to the customer; ``opportunity`` is the deal
    opened from the lead (when an :class:`OpportunityDraft` was given, or
    found again by its ``lead_id``).
    """

    customer: Customer = attrs.field(repr=id_of)
    lead: Lead = attrs.field(repr=id_of)
    created: bool
    matched: bool = False
    relinked: tuple[str, ...] = attrs.field(default=(), repr=count)
    opportunity: Opportunity | None = attrs.field(
        default=None, repr=lambda o: repr(getattr(o, "id", None))
    )


def convert_lead(
    store: Store,
    lead_id: str,
    *,
    customer_id: str | None = None,
    policy: MergePolicy | Mapping[str, Rule] | None = None,
    find_existing: bool = True,
    stage: LifecycleStage = LifecycleStage.CUSTOMER,
    opportunity: OpportunityDraft | None = None,
    events: EventDispatcher | None = None,
) -> ConversionResult:
    """Convert a qualified lead into a customer, in one transaction; idempotent.

    The customer is, in order: ``customer_id`` when given; else the best
    ``match`` of the duplicate check (:func:`crmcore.dedup.check_duplicates`)
    among customers, when ``find_existing``; else a new customer built from
    the lead (kind person when the lead has a name, organisation when it has
    only a company), at lifecycle ``stage``. An existing customer keeps its
    values and gains what the lead adds: by default its empty fields are
    filled and the lead's emails, phones, tags and custom fields are added
    (the rules of :func:`crmcore.plan_merge`; ``policy`` overrides them).

    Every interaction of the lead gains the customer as a participant (the
    lead stays on it, so the timeline can tell where it was logged), and the
    lead becomes ``converted`` with ``converted_customer_id``.

    With ``opportunity``, the conversion also opens that deal with the
    customer (``lead_id`` the lead, ``source`` the lead's source), on a store
    that keeps work items (:class:`~crmcore.storage.SupportsWorkItems`).

    Converting a converted lead again returns its customer (following
    merges) and the opportunity that has the lead's ``lead_id``, if any, and
    writes nothing; only when such a lead has no opportunity yet and a draft
    is given is the opportunity opened then. Events (``CustomerCreated`` or
    ``CustomerUpdated``, ``LeadStatusChanged``, ``LeadConverted``,
    ``OpportunityCreated``) are published before the commit.

    The lead's consent events are carried to the customer (see the module's
    docstring); a restricted customer is never found by the duplicate check.

    Raises:
        NotFound: no such lead or customer.
        RecordRestricted: the lead, or the customer named by ``customer_id``,
            is restricted (GDPR Art. 18).
        Suppressed: the lead would give the customer a contact point of
            someone erased from the store (``emails[0]``); nothing is written.
        InvalidTransition: the lead is not qualified, or was converted into
            another customer than ``customer_id``; the draft's stage is a lost one.
        ValidationError: a bad argument, naming it (``opportunity.amount``
            for a draft's bad value), or ``store`` when a draft is given to
            a store without work items.
    """
    if not is_lead_id(lead_id):
        raise ValidationError("lead_id", "must be a lead id")
    if customer_id is not None and not is_customer_id(customer_id):
        raise ValidationError("customer_id", "must be a customer id")
    check_flag(find_existing, "find_existing")
    if opportunity is not None and not isinstance(opportunity, OpportunityDraft):
        raise ValidationError("opportunity", "must be an OpportunityDraft")
    work = ops.work_items(store)
    if opportunity is not None and work is None:
        raise ValidationError("store", "must keep opportunities to open one (SupportsWorkItems)")
    with audited(store, AuditAction.CONVERT, operation="convert_lead"):
        lead: Lead = store.leads.resolve(LeadId(lead_id))
        if lead.is_restricted:
            raise RecordRestricted(
                "a restricted lead cannot be converted; lift the restriction first",
                record_id=lead.id,
            )
        deal = None if work is None else ops.opportunity_from_lead(work, lead.id)
        # Built before anything is written: a bad draft refuses the whole
        # conversion; the customer it is for is known only further down.
        draft = None
        if opportunity is not None and deal is None:
            draft = opportunity.build(new_customer_id(), lead)
        if lead.status is LeadStatus.CONVERTED and lead.converted_customer_id is not None:
            existing: Customer = store.customers.resolve(lead.converted_customer_id)
            if (
                customer_id is not None
                and store.customers.resolve(CustomerId(customer_id)).id != existing.id
            ):
                raise InvalidTransition("the lead was already converted into another customer")
            if draft is not None:
                assert work is not None
                deal = work.opportunities.add(attrs.evolve(draft, customer_id=existing.id))
                publish(events, [OpportunityCreated(opportunity_id=deal.id)])
            return ConversionResult(customer=existing, lead=lead, created=False, opportunity=deal)
        if not lead.status.can_become(LeadStatus.CONVERTED):
            raise InvalidTransition(
                f"only a qualified lead converts, not a {lead.status.value} one"
            )

        found: list[DomainEvent] = []
        target: Customer | None = None
        matched = False
        if customer_id is not None:
            target = store.customers.resolve(CustomerId(customer_id))
        elif find_existing:
            target = _matching_customer(store, lead)
            matched = target is not None
        if target is None:
            fresh = _customer_from(lead, stage)
            # A lead left over from someone erased must not bring them back.
            refuse_suppressed(store, fresh)
            customer = store.customers.add(fresh)
            created = True
            found.append(CustomerCreated(customer_id=customer.id))
        else:
            plan = plan_merge(
                [target, lead], survivor=target.id, policy=policy, at=datetime.now(UTC)
            )
            created = False
            filled = plan.result
            assert isinstance(filled, Customer)  # a customer survives a lead
            if plan.changed_fields:
                refuse_added(store, target, filled)
                customer = store.customers.update(filled)
                found.append(CustomerUpdated(customer_id=customer.id, fields=plan.changed_fields))
            else:
                customer = target

        relinked = []
        for interaction in list(ops.iter_interactions(store, lead.id)):
            if customer.id in interaction.record_ids:
                continue
            role = next(p.role for p in interaction.participants if p.record_id == lead.id)
            linked = attrs.evolve(
                interaction,
                participants=(*interaction.participants, Participant(customer.id, role)),
            )
            relinked.append(store.interactions.update(linked).id)

        converted = store.leads.update(
            lead.transition_to(LeadStatus.CONVERTED, customer_id=CustomerId(customer.id))
        )
        found.append(
            LeadStatusChanged(
                lead_id=lead.id, old_status=lead.status.value, new_status=converted.status.value
            )
        )
        found.append(LeadConverted(lead_id=lead.id, customer_id=customer.id, created=created))
        if draft is not None:
            assert work is not None
            deal = work.opportunities.add(attrs.evolve(draft, customer_id=customer.id))
            found.append(OpportunityCreated(opportunity_id=deal.id))
        publish(events, found)
    return ConversionResult(
        customer=customer,
        lead=converted,
        created=created,
        matched=matched,
        relinked=tuple(relinked),
        opportunity=deal,
    )


def _matching_customer(store: Store, lead: Lead) -> Customer | None:
    # Imported here: importing crmcore must not load the dedup engine.
    from crmcore.dedup import Decision, check_duplicates, find_duplicates

    best: Customer | None = None
    best_score = -1.0
    for match in check_duplicates(lead, store, include_leads=False):
        if match.decision is not Decision.MATCH or not is_customer_id(match.record_id):
            continue
        if match.score > best_score:
            candidate = store.customers.resolve(CustomerId(match.record_id))
            if candidate.is_restricted:
                continue  # Art. 18: not matched, nor written to, while restricted
            best, best_score = candidate, match.score
    if best is not None:
        return best
    # find_by_keys only knows the keys the store's key function indexed; the
    # email and phone indexes every store keeps catch exact contact points
    # whatever that function is, and the same rules then judge them.
    found: dict[CustomerId, Customer] = {}
    for email in lead.emails:
        for customer in store.customers.find_by_email(email.address):
            found.setdefault(customer.id, customer)
    for phone in lead.phones:
        for customer in store.customers.find_by_phone(phone.number):
            found.setdefault(customer.id, customer)
    live: dict[str, Customer] = {
        c.id: c for c in (store.customers.resolve(i) for i in found) if not c.is_restricted
    }
    if not live:
        return None
    cluster = find_duplicates([lead, *live.values()]).cluster_of(lead.id)
    if cluster is None:
        return None
    scores: dict[str, float] = {}
    for pair in cluster.pairs:
        if pair.decision is not Decision.MATCH or lead.id not in (pair.a, pair.b):
            continue
        other = pair.b if pair.a == lead.id else pair.a
        scores[other] = max(scores.get(other, 0.0), pair.score)
    if not scores:
        return None
    return live[max(scores, key=lambda i: (scores[i], i))]


def _customer_from(lead: Lead, stage: LifecycleStage) -> Customer:
    kind = CustomerKind.PERSON
    name: PersonName | str
    if lead.name is not None:
        name = lead.name
    elif lead.company is not None:
        kind, name = CustomerKind.ORGANIZATION, lead.company
    elif lead.emails:
        # Nothing better is known: the address's local part is how the
        # person signed up; the CRM user renames them later.
        name = PersonName.parse(lead.emails[0].address.local_part)
    else:
        raise ValidationError("name", "a lead needs a name, a company or an email to convert")
    customer = Customer.create(
        name=name,
        kind=kind,
        emails=lead.emails,
        phones=lead.phones,
        tags=lead.tags,
        custom_fields=lead.custom_fields,
        owner=lead.owner,
        stage=stage,
    )
    # The lead's ledger as it is: a new customer has no state of its own to
    # reconcile it with.
    return attrs.evolve(customer, consent_events=lead.consent_events)
