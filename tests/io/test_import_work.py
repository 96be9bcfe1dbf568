"""crmcore.io's import of work items: opportunities, tasks and support cases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import Pipeline, ValidationError
from crmcore.cases import CaseStatus
from crmcore.interactions import Channel
from crmcore.io import (
    ColumnError,
    Table,
    import_columns,
    import_table,
)
from crmcore.pipelines import DealStatus
from crmcore.storage import InMemoryStore
from crmcore.tasks import Priority, TaskKind, TaskStatus

SALES = Pipeline.create(
    "b2b",
    "B2B sales",
    [
        {"id": "qualify", "name": "Qualify", "probability": "0.1"},
        {"id": "proposal", "name": "Proposal", "probability": "0.5"},
        {"id": "won", "name": "Closed Won", "probability": "1", "status": "won"},
        {"id": "lost", "name": "Closed Lost", "probability": "0", "status": "lost"},
    ],
)
SHOP = Pipeline.create(
    "shop",
    "Web shop",
    [
        {"id": "cart", "name": "Cart", "probability": "0.2"},
        {"id": "paid", "name": "Paid", "probability": "1", "status": "won"},
    ],
)


def _people(store: InMemoryStore) -> dict[str, str]:
    """Two customers imported from contacts.csv with ids c1 and c2; their store ids."""
    people = Table.from_dicts(
        [
            {"id": "c1", "Name": "Ada Lovelace", "Email": "ada@example.com"},
            {"id": "c2", "Name": "Bo Ek", "Email": "bo@example.se"},
        ]
    )
    report = import_table(store, people, source="contacts.csv", id_column="id")
    assert report.imported == 2
    found: dict[str, str] = {}
    for sid in ("c1", "c2"):
        (customer,) = store.customers.find_by_identifier("source:contacts.csv", sid)
        found[sid] = customer.id
    return found


# --------------------------------------------------------------------------- opportunities

DEALS = [
    {  # row 2: open, named by the customer import's row id
        "Deal ID": "d1",
        "Deal Name": "Website redesign",
        "Deal Stage": "Proposal",
        "Amount": "12 000,50",
        "Close Date": "2026-03-31",
        "Associated Company IDs": "c1",
        "Deal owner": "anna",
        "Notes": "met at the fair",
    },
    {  # row 3: won, named by email, the currency in the cell
        "Deal ID": "d2",
        "Deal Name": "Shop rollout",
        "Deal Stage": "closed_won",
        "Amount": "EUR 5.000,00",
        "Close Date": "15.01.2026",
        "Associated Company IDs": "BO@example.se",
        "Deal owner": "",
        "Notes": "",
    },
    {  # row 4: lost, without a reason
        "Deal ID": "d3",
        "Deal Name": "Lost one",
        "Deal Stage": "Closed Lost",
        "Amount": "100",
        "Close Date": "",
        "Associated Company IDs": "c2",
        "Deal owner": "",
        "Notes": "",
    },
    {  # row 5: a negative amount
        "Deal ID": "d4",
        "Deal Name": "Refund",
        "Deal Stage": "",
        "Amount": "-5",
        "Close Date": "",
        "Associated Company IDs": "c1",
        "Deal owner": "",
        "Notes": "",
    },
    {  # row 6: nobody stored has this email
        "Deal ID": "d5",
        "Deal Name": "Ghost",
        "Deal Stage": "",
        "Amount": "",
        "Close Date": "",
        "Associated Company IDs": "ghost@example.com",
        "Deal owner": "",
        "Notes": "",
    },
    {  # row 7: a stage the pipeline does not have
        "Deal ID": "d6",
        "Deal Name": "Haggling",
        "Deal Stage": "Negotiation",
        "Amount": "",
        "Close Date": "",
        "Associated Company IDs": "c1",
        "Deal owner": "",
        "Notes": "",
    },
]


def _deals(store: InMemoryStore, rows: list[dict[str, str]] = DEALS, **options: object) -> object:
    table = Table(tuple(rows[0]), [list(r.values()) for r in rows], delimiter=";")
    arguments: dict[str, object] = {
        "source": "deals.csv",
        "entity": "opportunities",
        "id_column": "Deal ID",
        "participant_source": "contacts.csv",
        "pipelines": [SALES],
        "currency": "SEK",
    }
    arguments.update(options)
    return import_table(store, table, **arguments)  # type: ignore[arg-type]


def test_deals_import_at_their_stage_with_their_customer_and_rejects_name_the_field() -> None:
    with InMemoryStore() as store:
        people = _people(store)
        report = _deals(store)
        assert (report.imported, report.rejected, report.skipped) == (2, 4, 0)  # type: ignore[attr-defined]
        assert [(r.row, r.field) for r in report.rejects] == [  # type: ignore[attr-defined]
            (4, "lost_reason"),
            (5, "amount"),
            (6, "customer"),
            (7, "stage"),
        ]
        for reject in report.rejects:  # type: ignore[attr-defined]
            assert "ghost" not in reject.reason
            assert "Negotiation" not in reject.reason
        deals = {d.custom_fields["source:deals.csv"]: d for d in store.opportunities.iter_all()}
        open_deal, won = deals["d1"], deals["d2"]
        assert open_deal.customer_id == people["c1"]
        assert (open_deal.stage_id, open_deal.status) == ("proposal", DealStatus.OPEN)
        assert open_deal.probability == Decimal("0.5")
        assert open_deal.amount is not None
        assert open_deal.amount.amount == Decimal("12000.50")
        assert open_deal.amount.currency == "SEK"  # --currency, for a cell without one
        assert open_deal.close_date == date(2026, 3, 31)
        assert open_deal.owner == "anna"
        assert open_deal.custom_fields["Notes"] == "met at the fair"
        assert won.customer_id == people["c2"]
        assert won.status is DealStatus.WON
        assert won.closed_at == datetime(2026, 1, 15, tzinfo=UTC)
        assert won.amount is not None
        assert (won.amount.amount, won.amount.currency) == (
            Decimal("5000.00"),
            "EUR",
        )


def test_a_lost_deal_with_its_reason_is_moved_there_and_a_rerun_stores_nothing() -> None:
    lost = dict(DEALS[2], **{"Lost Reason": "price"})
    rows = [dict(DEALS[0], **{"Lost Reason": ""}), lost]
    with InMemoryStore() as store:
        _people(store)
        first = _deals(store, rows)
        assert first.imported == 2  # type: ignore[attr-defined]
        (deal,) = [d for d in store.opportunities.iter_all() if d.status is DealStatus.LOST]
        assert deal.lost_reason == "price"
        assert [c.stage_id for c in deal.stage_history] == ["qualify", "lost"]
        again = _deals(store, rows)
        assert (again.imported, again.already_imported) == (0, 2)  # type: ignore[attr-defined]
        assert store.opportunities.count() == 2


def test_a_pipeline_column_picks_one_of_several_and_probability_overrides() -> None:
    rows = [
        {
            "Name": "Cart A",
            "Pipeline": "Web shop",
            "Stage": "cart",
            "Email": "ada@example.com",
            "Probability": "35 %",
        },
        {
            "Name": "Deal B",
            "Pipeline": "b2b",
            "Stage": "",
            "Email": "ada@example.com",
            "Probability": "0.25",
        },
        {
            "Name": "Deal C",
            "Pipeline": "",
            "Stage": "",
            "Email": "ada@example.com",
            "Probability": "",
        },
    ]
    with InMemoryStore() as store:
        _people(store)
        table = Table.from_dicts(rows)
        report = import_table(
            store, table, source="mixed.csv", entity="opportunities", pipelines=[SALES, SHOP]
        )
        assert report.imported == 2
        assert [(r.row, r.field) for r in report.rejects] == [(4, "pipeline")]
        by_name = {d.name: d for d in store.opportunities.iter_all()}
        assert (by_name["Cart A"].pipeline_id, by_name["Cart A"].probability) == (
            "shop",
            Decimal("0.35"),
        )
        assert by_name["Deal B"].stage_id == "qualify"  # the first open stage
        assert by_name["Deal B"].probability == Decimal("0.25")


def test_an_opportunities_import_needs_a_pipeline_and_the_columns() -> None:
    with InMemoryStore() as store:
        table = Table.from_dicts([{"Deal Name": "A", "Email": "ada@example.com"}])
        with pytest.raises(ValidationError, match="pipeline"):
            import_table(store, table, source="x", entity="opportunities")
        nameless = Table.from_dicts([{"Title?": "A", "Email": "ada@example.com"}])
        with pytest.raises(ValidationError) as caught:
            import_table(store, nameless, source="x", entity="opportunities", pipelines=[SALES])
        assert caught.value.problems[0][0] == "columns"
        mapped = import_columns(
            nameless, entity="opportunities", mapped=[("name", "Title?")]
        ).describe()
        assert mapped == ["Title? -> name", "Email -> customer"]
        with pytest.raises(ColumnError):
            import_columns(nameless, entity="opportunities", mapped=[("given_name", "Title?")])


# --------------------------------------------------------------------------- tasks


def test_tasks_import_with_their_status_due_time_and_what_they_are_about() -> None:
    rows = [
        {
            "Subject": "Call Ada",
            "Status": "Not Started",
            "Priority": "High",
            "Due Date": "2026-02-01",
            "Assigned To": "anna",
            "Related To": "ada@example.com",
            "Type": "Call",
        },
        {
            "Subject": "Send quote",
            "Status": "Completed",
            "Priority": "Normal",
            "Due Date": "2026-01-20T10:00:00+01:00",
            "Assigned To": "bo",
            "Related To": "",
            "Type": "Email",
        },
        {
            "Subject": "Tidy up",
            "Status": "Someday",
            "Priority": "",
            "Due Date": "",
            "Assigned To": "",
            "Related To": "",
            "Type": "",
        },
        {
            "Subject": "Chase",
            "Status": "",
            "Priority": "",
            "Due Date": "",
            "Assigned To": "",
            "Related To": "nobody@example.com",
            "Type": "",
        },
    ]
    with InMemoryStore() as store:
        people = _people(store)
        table = Table.from_dicts(rows)
        naive = import_table(store, table, source="tasks.csv", entity="tasks", dry_run=True)
        assert [(r.row, r.field) for r in naive.rejects] == [
            (2, "due"),
            (4, "status"),
            (5, "about"),
        ]
        report = import_table(
            store, table, source="tasks.csv", entity="tasks", timezone="Europe/Stockholm"
        )
        assert report.imported == 2
        tasks = {t.title: t for t in store.tasks.iter_all()}
        call = tasks["Call Ada"]
        assert (call.kind, call.status, call.priority) == (
            TaskKind.CALL,
            TaskStatus.OPEN,
            Priority.HIGH,
        )
        assert call.about_id == people["c1"]
        # A date alone is due at the end of that day, where it was written.
        assert call.due_at == datetime(2026, 2, 1, 23, 59, 59, tzinfo=ZoneInfo("Europe/Stockholm"))
        quote = tasks["Send quote"]
        assert quote.status is TaskStatus.DONE
        assert quote.completed_at == quote.due_at == datetime(2026, 1, 20, 9, tzinfo=UTC)
        again = import_table(
            store, table, source="tasks.csv", entity="tasks", timezone="Europe/Stockholm"
        )
        assert (again.imported, again.already_imported) == (0, 2)
        assert store.tasks.count() == 2


def test_a_task_about_a_deal_names_it_by_id() -> None:
    with InMemoryStore() as store:
        _people(store)
        _deals(store, [DEALS[0]])
        (deal,) = store.opportunities.iter_all()
        table = Table.from_dicts(
            [
                {"Title": "Follow up", "About": deal.id},
                {"Title": "Lost", "About": "opp_" + "0" * 26},
            ]
        )
        report = import_table(store, table, source="t.csv", entity="tasks")
        assert report.imported == 1
        assert [(r.row, r.field) for r in report.rejects] == [(3, "about")]
        (task,) = store.tasks.iter_all()
        assert task.about_id == deal.id


# --------------------------------------------------------------------------- cases

TICKETS = [
    {
        "Ticket ID": "t1",
        "Ticket name": "Order not arrived",
        "Ticket description": "Where is it?",
        "Ticket status": "Waiting on contact",
        "Priority": "HIGH",
        "Source": "FORM",
        "Create date": "2026-01-05 09:00",
        "Email": "ada@example.com",
        "Close date": "",
    },
    {
        "Ticket ID": "t2",
        "Ticket name": "Refund",
        "Ticket description": "",
        "Ticket status": "Closed",
        "Priority": "MEDIUM",
        "Source": "EMAIL",
        "Create date": "2026-01-06 10:00",
        "Email": "bo@example.se",
        "Close date": "2026-01-07 12:00",
    },
    {
        "Ticket ID": "t3",
        "Ticket name": "Broken",
        "Ticket description": "",
        "Ticket status": "Closed",
        "Priority": "",
        "Source": "CHAT",
        "Create date": "2026-01-08 10:00",
        "Email": "bo@example.se",
        "Close date": "2026-01-01 12:00",
    },
]


def test_cases_walk_their_state_machine_to_the_row_status_at_the_row_times() -> None:
    with InMemoryStore() as store:
        people = _people(store)
        table = Table.from_dicts(TICKETS)
        report = import_table(
            store,
            table,
            source="tickets.csv",
            entity="cases",
            id_column="Ticket ID",
            timezone="UTC",
        )
        assert report.imported == 2
        assert [(r.row, r.field) for r in report.rejects] == [(4, "closed")]
        cases = {c.custom_fields["source:tickets.csv"]: c for c in store.cases.iter_all()}
        waiting = cases["t1"]
        assert waiting.customer_id == people["c1"]
        assert waiting.status is CaseStatus.WAITING_ON_CUSTOMER
        assert [e.status for e in waiting.history] == [
            CaseStatus.NEW,
            CaseStatus.OPEN,
            CaseStatus.WAITING_ON_CUSTOMER,
        ]
        assert (waiting.channel, waiting.priority) == (Channel.WEB_FORM, Priority.HIGH)
        assert waiting.reported_at == datetime(2026, 1, 5, 9, tzinfo=UTC)
        assert waiting.description == "Where is it?"
        closed = cases["t2"]
        assert (closed.status, closed.channel, closed.priority) == (
            CaseStatus.CLOSED,
            Channel.EMAIL,
            Priority.NORMAL,
        )
        assert closed.closed_at == datetime(2026, 1, 7, 12, tzinfo=UTC)
        again = import_table(
            store,
            table,
            source="tickets.csv",
            entity="cases",
            id_column="Ticket ID",
            timezone="UTC",
        )
        assert (again.imported, again.already_imported) == (0, 2)


@settings(max_examples=25)
@given(
    entity=st.sampled_from(["opportunities", "tasks", "cases"]),
    rows=st.integers(1, 8),
    done=st.integers(0, 8),
    batch=st.integers(1, 4),
    customers=st.lists(st.sampled_from(["c1", "c2", "ada@example.com"]), min_size=8, max_size=8),
)
def test_a_run_cut_short_then_run_again_stores_every_row_once(
    entity: str, rows: int, done: int, batch: int, customers: list[str]
) -> None:
    column = {"opportunities": "Deal Name", "tasks": "Subject", "cases": "Ticket name"}[entity]
    table = Table(
        ("id", column, "Customer" if entity != "tasks" else "Related To"),
        [[f"r{i}", f"item {i}", customers[i]] for i in range(rows)],
    )
    cut = Table(table.header, table.rows[: min(done, rows)])
    options: dict[str, Any] = {
        "source": "items.csv",
        "entity": entity,
        "id_column": "id",
        "participant_source": "contacts.csv",
        "pipelines": [SALES],
        "batch_size": batch,
    }
    with InMemoryStore() as store:
        _people(store)
        first = import_table(store, cut, **options)
        second = import_table(store, table, **options)
        repository = getattr(store, entity)
        kept = sorted(item.custom_fields["source:items.csv"] for item in repository.iter_all())
    assert kept == sorted(f"r{i}" for i in range(rows))
    assert first.imported + second.imported == rows
    assert second.already_imported == len(cut.rows)


def test_a_task_about_a_lead_names_it_by_email_or_by_the_lead_import_row_id() -> None:
    with InMemoryStore() as store:
        leads = Table.from_dicts([{"id": "l1", "Name": "Lena Berg", "Email": "lena@example.com"}])
        assert import_table(
            store, leads, source="leads.csv", entity="leads", id_column="id"
        ).imported
        (lena,) = store.leads.iter_all()
        table = Table.from_dicts(
            [{"Title": "Qualify", "About": "lena@example.com"}, {"Title": "Call", "About": "l1"}]
        )
        report = import_table(
            store, table, source="t.csv", entity="tasks", participant_source="leads.csv"
        )
        assert report.imported == 2
        assert {t.about_id for t in store.tasks.iter_all()} == {lena.id}
        without = import_table(store, table, source="t2.csv", entity="tasks")
        assert [(r.row, r.field) for r in without.rejects] == [(3, "about")]
        assert "--participant-source" in without.rejects[0].reason


def test_an_interaction_import_puts_rows_in_their_case_thread() -> None:
    with InMemoryStore() as store:
        people = _people(store)
        tickets = Table.from_dicts(TICKETS[:1])
        import_table(store, tickets, source="tickets.csv", entity="cases", timezone="UTC")
        (case,) = store.cases.iter_all()
        mails = Table.from_dicts(
            [
                {
                    "Channel": "email",
                    "Direction": "in",
                    "Timestamp": "2026-01-05T09:00:00Z",
                    "Email": "ada@example.com",
                    "Case ID": case.id,
                },
                {
                    "Channel": "email",
                    "Direction": "out",
                    "Timestamp": "2026-01-05T10:00:00Z",
                    "Email": "ada@example.com",
                    "Case ID": "",
                },
                {
                    "Channel": "email",
                    "Direction": "out",
                    "Timestamp": "2026-01-05T11:00:00Z",
                    "Email": "ada@example.com",
                    "Case ID": "cas_" + "0" * 26,
                },
                {
                    "Channel": "email",
                    "Direction": "out",
                    "Timestamp": "2026-01-05T12:00:00Z",
                    "Email": "ada@example.com",
                    "Case ID": "t1",
                },
            ]
        )
        report = import_table(store, mails, source="mails.csv", entity="interactions")
        assert report.imported == 2
        assert [(r.row, r.field) for r in report.rejects] == [(4, "case"), (5, "case")]
        (thread,) = store.interactions.list_for(case.id, limit=None)
        assert thread.case_id == case.id
        assert len(store.interactions.list_for(people["c1"], limit=None)) == 2
