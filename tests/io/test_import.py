"""``crmcore.io.import_file`` / ``import_table``: idempotent, every row accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import ValidationError
from crmcore.io import ImportReport, OnDuplicate, Table, import_file, import_table
from crmcore.storage import InMemoryStore, Store
from crmcore.testing import strategies as cst

GIVEN = ("Anna", "Åsa", "Bob", "Siti", "")
FAMILY = ("Lind", "Smith", "Rahayu", "")
COMPANIES = ("Acme AB", "Acme", "PT Maju", "")


@st.composite
def rows(draw: st.DrawFn) -> dict[str, str]:
    email = draw(st.one_of(st.just(""), st.just("not-an-email"), cst.email_addresses()))
    return {
        "First Name": draw(st.sampled_from(GIVEN)),
        "Last Name": draw(st.sampled_from(FAMILY)),
        "Email": email if isinstance(email, str) else email.normalized,
        "Company": draw(st.sampled_from(COMPANIES)),
        "Tags": draw(st.sampled_from(("", "vip", "vip;b2b"))),
        "Notes": draw(st.sampled_from(("", "n1"))),
    }


def snapshot(store: Store) -> list[tuple[str, int, str | None]]:
    return sorted((c.id, c.version, c.merged_into) for c in store.customers.iter_all()) + sorted(
        (lead.id, lead.version, lead.merged_into) for lead in store.leads.iter_all()
    )


def accounted(report: ImportReport) -> bool:
    done = report.imported + report.merged + report.skipped + report.rejected
    return done == report.rows


@settings(max_examples=30, deadline=None)
@given(
    table=st.lists(rows(), min_size=1, max_size=12),
    policy=st.sampled_from(list(OnDuplicate)),
    entity=st.sampled_from(["customers", "leads"]),
    batch=st.integers(min_value=1, max_value=5),
)
def test_importing_twice_is_the_same_store(
    table: list[dict[str, str]], policy: OnDuplicate, entity: str, batch: int
) -> None:
    with InMemoryStore() as store:
        data = Table.from_dicts(table)
        first = import_table(
            store,
            data,
            source="t.csv",
            entity=entity,
            on_duplicate=policy,
            batch_size=batch,
            workers=1,
        )
        before = snapshot(store)
        second = import_table(
            store,
            data,
            source="t.csv",
            entity=entity,
            on_duplicate=policy,
            batch_size=batch,
            workers=1,
        )
        assert snapshot(store) == before
        assert second.imported == second.merged == 0
        assert accounted(first)
        assert accounted(second)
        assert second.rejected == first.rejected


@settings(max_examples=20, deadline=None)
@given(table=st.lists(rows(), min_size=1, max_size=8), policy=st.sampled_from(list(OnDuplicate)))
def test_a_dry_run_counts_as_a_real_run_and_stores_nothing(
    table: list[dict[str, str]], policy: OnDuplicate
) -> None:
    data = Table.from_dicts(table)
    with InMemoryStore() as dry_store, InMemoryStore() as real_store:
        dry = import_table(
            dry_store, data, source="t", on_duplicate=policy, dry_run=True, workers=1
        )
        real = import_table(real_store, data, source="t", on_duplicate=policy, workers=1)
        assert snapshot(dry_store) == []
        assert (dry.imported, dry.merged, dry.skipped, dry.rejected) == (
            real.imported,
            real.merged,
            real.skipped,
            real.rejected,
        )


def test_a_rejected_row_names_field_and_reason_never_the_value() -> None:
    data = Table.from_dicts(
        [{"Name": "Anna Lind", "Email": "secret@@x"}, {"Name": "Bo Ek", "Email": "bo@example.se"}]
    )
    with InMemoryStore() as store:
        report = import_table(store, data, source="t", workers=1)
        assert report.imported == 1
        assert [(r.row, r.field) for r in report.rejects] == [(2, "email")]
        assert "secret" not in repr(report.to_dict())
        assert store.customers.count() == 1


def test_a_row_naming_nobody_is_rejected() -> None:
    data = Table.from_dicts([{"Email": "a@example.se", "Notes": "x"}])
    with InMemoryStore() as store:
        report = import_table(store, data, source="t", workers=1)
        assert [(r.row, r.field) for r in report.rejects] == [(2, "name")]
        assert store.customers.count() == 0


def test_repeated_or_empty_ids_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("id,Name\n1,Anna Lind\n1,Bo Ek\n,Cy Ek\n2,Di Ek\n", encoding="utf-8")
    with InMemoryStore() as store:
        report = import_file(store, path, id_column="id", workers=1)
        assert report.imported == 2
        assert [(r.row, r.field) for r in report.rejects] == [(3, "id"), (4, "id")]
        assert "row 2" in report.rejects[0].reason


def test_bad_arguments_name_the_argument() -> None:
    data = Table.from_dicts([{"Name": "Anna Lind"}])
    with InMemoryStore() as store:
        for kwargs, field in (
            ({"on_duplicate": "maybe"}, "on_duplicate"),
            ({"entity": "orders"}, "entity"),
            ({"batch_size": 0}, "batch_size"),
            ({"entity": "interactions", "timezone": "Mars/X"}, "timezone"),
        ):
            with pytest.raises(ValidationError) as bad:
                import_table(store, data, source="t", **kwargs)
            assert [path for path, _ in bad.value.problems] == [field]
        assert store.customers.count() == 0
