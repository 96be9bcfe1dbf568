"""``make demo``: a short scripted tour of crmcore (``python -m crmcore.demo``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
    ValidationError,
    to_json,
)


def main() -> None:
    """Walk through the model and print what happens at each step."""
    acme = Customer.create(
        name="Acme AB", kind=CustomerKind.ORGANIZATION, phones=["+46 8 555 000 00"]
    )
    ada = Customer.create(
        name="Ada Lovelace",
        emails=["  Ada.Lovelace@EXAMPLE.com "],
        phones=["070-123 45 67"],
        region="SE",
        organization_id=acme.id,
        tags=["VIP"],
    ).with_consent(Channel.EMAIL, "newsletter", ConsentStatus.GRANTED, source="demo")
    print(f"created {ada!r} in {acme!r}")
    print(f"  email match key: {ada.primary_email.match_key if ada.primary_email else None}")
    print(f"  phone E.164:     {ada.primary_phone.e164 if ada.primary_phone else None}")

    try:
        Customer.create(name="Grace Hopper", emails=["grace@"], phones=["12"], region="US")
    except ValidationError as error:
        print(f"refused bad input: {error}")

    lead = Lead.create(name="Grace Hopper", company="Navy", emails=["grace@example.org"])
    for status in (LeadStatus.CONTACTED, LeadStatus.QUALIFIED):
        lead = lead.transition_to(status)
    print(f"lead worked to {lead.status.value}: {lead!r}")

    call = Interaction.log(
        channel=Channel.PHONE_CALL,
        direction=Direction.INBOUND,
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
        customer_id=ada.id,
        subject="Billing question",
        duration=timedelta(minutes=7),
    )
    print(f"logged {call!r}")

    ada = ada.advance_stage(LifecycleStage.EVANGELIST)
    print(f"stage now {ada.stage.value}; JSON payload is {len(to_json(ada))} bytes")


if __name__ == "__main__":
    main()
