"""crmcore.io's export and restore: lossless JSON Lines, flat CSV, and every refusal."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    Case,
    Customer,
    Interaction,
    Lead,
    Opportunity,
    Pipeline,
    Task,
    ValidationError,
)
from crmcore.io import CSV_COLUMNS, InputError, export_store, is_export, restore, safe_cell
from crmcore.merge import merge
from crmcore.merge_record import MergeRecord
from crmcore.serialization import to_dict
from crmcore.storage import InMemoryStore, SQLiteStore, Store
from crmcore.testing import strategies
from crmcore.testing._builders import customer, full_customer, interaction, lead
from crmcore.values import Money

# --------------------------------------------------------------------------- drawing a store


@st.composite
def stored_records(draw: st.DrawFn) -> list[Any]:
    """What a store holds: customers and leads (tombstones too), interactions about
    them, merge records with the survivor and tombstones each one left, and the
    opportunities, tasks and cases of those customers."""
    merges = draw(st.lists(strategies.merge_records(), max_size=2, unique_by=lambda m: m.id))
    people = draw(
        st.lists(strategies.customers(merged=True, edge=True), max_size=4, unique_by=lambda c: c.id)
    )
    prospects = draw(
        st.lists(strategies.leads(merged=True, edge=True), max_size=3, unique_by=lambda r: r.id)
    )
    parties: dict[str, Customer | Lead] = {}
    groups: list[Sequence[Customer | Lead]] = [people, prospects]
    for record in merges:
        groups.extend((record.after.customers, record.after.leads))
    for group in groups:
        for party in group:
            parties[party.id] = party
    logged: list[Interaction] = []
    if parties:
        drawn = draw(
            st.lists(
                strategies.interactions(record_ids=cast(Any, sorted(parties)), edge=True),
                max_size=4,
                unique_by=lambda i: i.id,
            )
        )
        # Two interactions never share a provider id in a store.
        external: set[str] = set()
        for item in drawn:
            if item.external_id is None or item.external_id not in external:
                logged.append(item)
                if item.external_id is not None:
                    external.add(item.external_id)
    work: list[Any] = []
    people_ids = sorted(p.id for p in parties.values() if isinstance(p, Customer))
    if people_ids:
        pool = cast(Any, people_ids)
        work += draw(
            st.lists(strategies.opportunities(customer_ids=pool), max_size=2, unique_by=_id)
        )
        work += draw(st.lists(strategies.cases(customer_ids=pool), max_size=2, unique_by=_id))
        about = [*sorted(parties), *(item.id for item in work)]
        work += draw(st.lists(strategies.tasks(about_ids=about), max_size=2, unique_by=_id))
    return [*parties.values(), *logged, *merges, *work]


def _id(record: Any) -> str:
    return str(record.id)


def _snapshot(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Everything a store holds, as payloads, in a stable order."""
    from crmcore.io._export import iter_interactions, iter_merges

    return {
        "customers": [to_dict(r) for r in store.customers.iter_all()],
        "leads": [to_dict(r) for r in store.leads.iter_all()],
        "interactions": sorted(
            (to_dict(i) for i in iter_interactions(store)), key=lambda d: str(d["id"])
        ),
        "merges": sorted((to_dict(m) for m in iter_merges(store)), key=lambda d: str(d["id"])),
        "opportunities": [to_dict(r) for r in store.opportunities.iter_all()],  # type: ignore[attr-defined]
        "tasks": [to_dict(r) for r in store.tasks.iter_all()],  # type: ignore[attr-defined]
        "cases": [to_dict(r) for r in store.cases.iter_all()],  # type: ignore[attr-defined]
    }


def _expected(records: list[Any]) -> dict[str, list[dict[str, Any]]]:
    def of(kind: type[Any]) -> list[dict[str, Any]]:
        return sorted((to_dict(r) for r in records if isinstance(r, kind)), key=lambda d: d["id"])

    return {
        "customers": of(Customer),
        "leads": of(Lead),
        "interactions": of(Interaction),
        "merges": of(MergeRecord),
        "opportunities": of(Opportunity),
        "tasks": of(Task),
        "cases": of(Case),
    }


Factory = Callable[[], Store]
STORES: dict[str, Factory] = {
    "memory": InMemoryStore,
    "sqlite": lambda: SQLiteStore(":memory:"),
}


@pytest.mark.parametrize("source_kind", sorted(STORES))
@pytest.mark.parametrize("target_kind", sorted(STORES))
def test_export_then_restore_gives_an_equal_store(source_kind: str, target_kind: str) -> None:
    @given(stored_records())
    def check(records: list[Any]) -> None:
        with STORES[source_kind]() as source, STORES[target_kind]() as target:
            source.load(records)  # type: ignore[attr-defined]
            assert _snapshot(source) == _expected(records)
            out = io.StringIO()
            report = export_store(source, out)
            assert report.total == len(records)
            restored = restore(target, io.StringIO(out.getvalue()))
            assert restored.counts == report.counts
            assert _snapshot(target) == _snapshot(source)
            # A second export of the restored store is the same file, line for line.
            again = io.StringIO()
            export_store(target, again)
            assert sorted(again.getvalue().splitlines()) == sorted(out.getvalue().splitlines())

    check()


def _busy_store() -> SQLiteStore:
    """A store with a merge (tombstone and merge record), a lead and interactions."""
    store = SQLiteStore(":memory:")
    # Without its organisation: a store refuses an organization_id naming nothing,
    # and the counts below are of three customers.
    a = store.customers.add(attrs.evolve(full_customer(), organization_id=None))
    b = store.customers.add(customer(1))
    c = store.customers.add(customer(2))
    store.leads.add(lead(3))
    store.interactions.add(interaction((b.id, a.id), 1, external_id="<m1@mail.example>"))
    store.interactions.add(interaction((c.id,), 2))
    deal = store.opportunities.add(
        Opportunity.create(name="Website", customer_id=c.id, pipeline=PIPELINE, stage="won")
    )
    store.tasks.add(Task.create(title="Call back", about_id=deal.id))
    store.cases.add(Case.create(subject="Broken =cart", customer_id=a.id))
    merge(store, [b.id, c.id])
    return store


PIPELINE = Pipeline.create(
    "web",
    "Web shop",
    [
        {"id": "cart", "name": "Cart", "probability": "0.2"},
        {"id": "won", "name": "Paid", "probability": "1", "status": "won"},
    ],
)


# What _busy_store holds, in the order an export writes it.
BUSY_COUNTS = {
    "customers": 3,
    "leads": 1,
    "interactions": 2,
    "merges": 1,
    "opportunities": 1,
    "tasks": 1,
    "cases": 1,
}


def test_a_restored_file_store_can_still_undo_its_merges(tmp_path: Path) -> None:
    from crmcore.merge import unmerge

    with _busy_store() as source:
        path = tmp_path / "crm.jsonl"
        report = export_store(source, path)
        assert report.counts == BUSY_COUNTS
        with SQLiteStore(tmp_path / "restored.db") as target:
            restore(target, path)
            assert _snapshot(target) == _snapshot(source)
            merge_id = _snapshot(target)["merges"][0]["id"]
            unmerge(target, merge_id)
            live = [r for r in target.customers.iter_all() if r.merged_into is None]
            assert len(live) == 3


def test_the_export_is_self_identifying(tmp_path: Path) -> None:
    with _busy_store() as store:
        path = tmp_path / "out.jsonl"
        export_store(store, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["crmcore_export"] == 1
    assert header["entities"] == list(BUSY_COUNTS)
    assert json.loads(lines[-1]) == {"crmcore_export_end": BUSY_COUNTS}
    assert {json.loads(line)["entity"] for line in lines[1:-1]} == {
        "customer",
        "lead",
        "interaction",
        "merge",
        "opportunity",
        "task",
        "case",
    }
    assert is_export(path)
    assert is_export(str(path))
    assert is_export(lines[0])
    assert is_export("\ufeff" + lines[0])
    plain = tmp_path / "rows.jsonl"
    plain.write_text('{"name": "Ann", "email": "ann@example.com"}\n', encoding="utf-8")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("name,email\nAnn,ann@example.com\n", encoding="utf-8")
    for other in (plain, contacts, tmp_path / "missing.jsonl", tmp_path):
        assert not is_export(other)
    assert not is_export('{"crmcore_export": "1"}')
    assert not is_export("{not json")


def test_one_entity_can_be_exported_alone(tmp_path: Path) -> None:
    with _busy_store() as store:
        out = io.StringIO()
        report = export_store(store, out, entity="interactions")
    assert report.counts == {"interactions": 2}
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    with InMemoryStore() as target:
        assert restore(target, io.StringIO(out.getvalue())).counts["interactions"] == 2


def test_bad_arguments_are_refused_by_name(tmp_path: Path) -> None:
    with InMemoryStore() as store:
        for fmt, entity, field in (
            ("xml", "all", "format"),
            ("jsonl", "people", "entity"),
            ("csv", "all", "entity"),
        ):
            with pytest.raises(ValidationError) as caught:
                export_store(store, io.StringIO(), format=fmt, entity=entity)
            assert caught.value.problems[0][0] == field
        with pytest.raises(ValidationError, match="target"):
            export_store(store, 42)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="source"):
            restore(store, 42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- restore refusals


def _export_text() -> str:
    with _busy_store() as store:
        out = io.StringIO()
        export_store(store, out)
    return out.getvalue()


def _refused(text: str) -> str:
    """Restore ``text`` into an empty store; return the message; the store stays empty."""
    with SQLiteStore(":memory:") as store:
        with pytest.raises(InputError) as caught:
            restore(store, io.StringIO(text))
        assert store.customers.count() == 0
        assert store.leads.count() == 0
        return str(caught.value)


def test_a_damaged_export_restores_nothing_and_says_where() -> None:
    lines = _export_text().splitlines(keepends=True)
    assert "not a crmcore export" in _refused("name,email\nAnn,ann@example.com\n")
    assert "not a crmcore export" in _refused("")
    assert "incomplete" in _refused("".join(lines[:-1]))
    assert "line 3 is not JSON" in _refused("".join([*lines[:2], "{oops\n", *lines[2:]]))
    assert "repeats the id of line 2" in _refused("".join([*lines[:2], lines[1], *lines[2:]]))
    assert "follows the export's last line" in _refused("".join([*lines, lines[1]]))
    assert "unknown entity" in _refused(
        "".join([lines[0], '{"entity": "planet", "record": {}}\n', *lines[1:]])
    )
    assert "where its last line counts" in _refused(
        "".join([lines[0], *lines[2:]])  # one customer fewer than the last line counts
    )
    assert "export format 2" in _refused(
        lines[0].replace('"crmcore_export":1', '"crmcore_export":2')
    )


def test_an_invalid_record_names_its_line_and_field_never_the_value() -> None:
    lines = _export_text().splitlines(keepends=True)
    data = json.loads(lines[1])
    data["record"]["emails"][0]["address"] = "secret-value@@nowhere"
    message = _refused("".join([lines[0], json.dumps(data) + "\n", *lines[2:]]))
    assert "line 2" in message
    assert "emails[0]" in message
    assert "secret-value" not in message


def test_restore_needs_an_empty_store_that_can_load() -> None:
    text = _export_text()
    with InMemoryStore() as store:
        store.customers.add(customer(9))
        with pytest.raises(ValidationError, match="empty"):
            restore(store, io.StringIO(text))
        assert store.customers.count() == 1

    class NoLoad:
        customers = InMemoryStore().customers
        leads = InMemoryStore().leads

    with pytest.raises(ValidationError, match="SupportsLoad"):
        restore(NoLoad(), io.StringIO(text))  # type: ignore[arg-type]


def test_a_missing_or_binary_file_is_an_input_error(tmp_path: Path) -> None:
    with InMemoryStore() as store:
        with pytest.raises(InputError, match="cannot be read"):
            restore(store, tmp_path / "missing.jsonl")
        binary = tmp_path / "binary.jsonl"
        binary.write_bytes(b"\xff\xfe\x00garbage")
        with pytest.raises(InputError, match="UTF-8"):
            restore(store, binary)


# --------------------------------------------------------------------------- files


def test_a_failed_export_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _busy_store() as store:
        path = tmp_path / "out.jsonl"
        path.write_text("the previous export\n", encoding="utf-8")

        def boom(*args: Any, **kwargs: Any) -> Iterator[Any]:
            yield from ()
            raise RuntimeError("disk gone")

        monkeypatch.setattr(store.leads, "iter_all", boom)
        with pytest.raises(RuntimeError):
            export_store(store, path)
    assert path.read_text(encoding="utf-8") == "the previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


# --------------------------------------------------------------------------- CSV


def _csv(store: Store, entity: str, *, safe: bool = True) -> list[dict[str, str]]:
    out = io.StringIO(newline="")
    report = export_store(store, out, format="csv", entity=entity, safe=safe)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert report.counts == {entity: len(rows)}
    return rows


def test_csv_has_one_row_per_record_and_the_main_fields() -> None:
    with _busy_store() as store:
        people = _csv(store, "customers")
        assert list(people[0]) == list(CSV_COLUMNS["customers"])
        assert len(people) == 3
        full = next(r for r in people if r["city"] == "Stockholm")
        assert full["emails"].split("; ") == [str(e.address) for e in full_customer().emails]
        assert full["phones"].startswith("+46")  # a phone number is data, not a formula
        assert sum(1 for r in people if r["merged_into"]) == 1
        assert len(_csv(store, "leads")) == 1
        timeline = _csv(store, "interactions")
        assert len(timeline) == 2
        assert {r["external_id"] for r in timeline} == {"<m1@mail.example>", ""}
        merges = _csv(store, "merges")
        assert len(merges) == 1
        assert merges[0]["survivor_id"].startswith("cus_")


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    with InMemoryStore() as store:
        store.customers.add(customer(1, owner='=HYPERLINK("http://x")', tags={"@vip"}))
        row = _csv(store, "customers")[0]
    assert row["owner"] == '\'=HYPERLINK("http://x")'
    assert row["tags"] == "'@vip"


def test_csv_keeps_formulas_when_asked() -> None:
    with InMemoryStore() as store:
        store.customers.add(customer(1, owner='=HYPERLINK("http://x")', tags={"@vip"}))
        row = _csv(store, "customers", safe=False)[0]
    assert row["owner"] == '=HYPERLINK("http://x")'
    assert row["tags"] == "@vip"


@given(st.text(max_size=20))
def test_no_cell_starts_a_formula_unless_it_is_a_number(text: str) -> None:
    cell = safe_cell(text)
    assert cell in (text, "'" + text)
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert cell == text
        assert not any(ch.isalpha() or ch in "=@|!\t\r" for ch in cell)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("+46 70 123 45 67", True),
        ("+46701234567; +12125550100", True),
        ("-12.5", True),
        ("plain", True),
        ("=1+2", False),
        ("+cmd|' /C calc'!A0", False),
        ("-2+3+cmd", False),
        ("@SUM(A1)", False),
        ("\t=1", False),
        ("\r=1", False),
    ],
)
def test_cell_examples(text: str, kept: bool) -> None:
    assert (safe_cell(text) == text) is kept


# --------------------------------------------------------------------------- work items


class _NoWorkItems:
    """A store written before work items existed: customers, leads, interactions, merges."""

    def __init__(self) -> None:
        self._inner = InMemoryStore()

    customers = property(lambda self: self._inner.customers)
    leads = property(lambda self: self._inner.leads)
    interactions = property(lambda self: self._inner.interactions)
    merges = property(lambda self: self._inner.merges)

    def transaction(self) -> Any:
        return self._inner.transaction()

    def load(self, records: Any) -> None:
        self._inner.load(records)

    def close(self) -> None:
        self._inner.close()


def test_a_store_without_work_items_exports_and_restores_what_it_keeps() -> None:
    plain = _NoWorkItems()
    plain.customers.add(customer(1))
    out = io.StringIO()
    report = export_store(plain, out)  # type: ignore[arg-type]
    assert report.counts == {"customers": 1, "leads": 0, "interactions": 0, "merges": 0}
    assert json.loads(out.getvalue().splitlines()[0])["entities"] == list(report.counts)
    with InMemoryStore() as target:
        assert restore(target, io.StringIO(out.getvalue())).counts["customers"] == 1
        assert target.opportunities.count() == 0
    with pytest.raises(ValidationError) as caught:
        export_store(plain, io.StringIO(), entity="tasks")  # type: ignore[arg-type]
    assert caught.value.problems == (("entity", "the store keeps no tasks"),)


def test_an_export_with_work_items_is_refused_by_a_store_without_them() -> None:
    text = _export_text()
    plain = _NoWorkItems()
    with pytest.raises(ValidationError) as caught:
        restore(plain, io.StringIO(text))  # type: ignore[arg-type]
    ((field, message),) = caught.value.problems
    assert field == "store"
    assert message.startswith("keeps no opportunities")
    assert plain.customers.count() == 0  # all or nothing
    # Without work items, the same export restores: the last line's counts still agree.
    kept = [
        line
        for line in text.splitlines(keepends=True)
        if json.loads(line).get("entity") not in ("opportunity", "task", "case")
    ]
    end = json.loads(kept[-1])
    for entity in ("opportunities", "tasks", "cases"):
        end["crmcore_export_end"][entity] = 0
    kept[-1] = json.dumps(end) + "\n"
    assert restore(plain, io.StringIO("".join(kept))).counts["customers"] == 3  # type: ignore[arg-type]
    # A last line counting work items the file does not hold is an incomplete export.
    with pytest.raises(InputError, match="where its last line counts"):
        restore(_NoWorkItems(), io.StringIO("".join([*kept[:-1], text.splitlines()[-1]])))  # type: ignore[arg-type]


def test_restore_refuses_a_store_holding_work_items_only() -> None:
    text = _export_text()
    with _busy_store() as busy, InMemoryStore() as store:
        (case,) = busy.cases.iter_all()
        store.load([case])
        with pytest.raises(ValidationError, match="empty"):
            restore(store, io.StringIO(text))
        assert store.opportunities.count() == 0


def test_work_items_in_csv_have_their_columns_and_are_formula_safe() -> None:
    with _busy_store() as store:
        (person,) = [c for c in store.customers.iter_all() if c.merged_into is None][:1]
        store.cases.add(Case.create(subject='=HYPERLINK("http://x")', customer_id=person.id))
        store.opportunities.add(
            Opportunity.create(
                name="Big",
                customer_id=person.id,
                pipeline=PIPELINE,
                amount=Money.of("1E+3", "EUR"),
            )
        )
        deals = _csv(store, "opportunities")
        tasks = _csv(store, "tasks")
        cases = _csv(store, "cases")
    assert list(deals[0]) == list(CSV_COLUMNS["opportunities"])
    big = next(d for d in deals if d["name"] == "Big")
    assert (big["amount"], big["currency"], big["weighted_amount"]) == ("1000", "EUR", "200")
    assert (big["stage_id"], big["status"], big["probability"]) == ("cart", "open", "0.2")
    won = next(d for d in deals if d["name"] == "Website")
    assert (won["status"], won["amount"], won["currency"]) == ("won", "", "")
    assert won["closed_at"]
    assert list(tasks[0]) == list(CSV_COLUMNS["tasks"])
    assert tasks[0]["about_id"] == won["id"]
    assert list(cases[0]) == list(CSV_COLUMNS["cases"])
    assert {c["subject"] for c in cases} == {"Broken =cart", '\'=HYPERLINK("http://x")'}
    assert {c["status"] for c in cases} == {"new"}
