"""``crmcore.io.import_file`` / ``import_table``: idempotent, every row accounted for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import CustomerKind, ValidationError
from crmcore.io import ImportReport, OnDuplicate, Table, import_file, import_table
from crmcore.storage import InMemoryStore, Store
from crmcore.testing import strategies as cst
from tests.services.locking import LockingStore

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


POSSIBLE_PAIR = [
    {"Name": "Anna Lind", "Email": "anna@example.se", "Company": ""},
    {"Name": "Anna Lind", "Email": "anna.lind@other.se", "Company": ""},
]


@pytest.mark.parametrize("policy", [OnDuplicate.ALERT, OnDuplicate.SKIP, OnDuplicate.MERGE])
def test_a_possible_match_is_stored_and_flagged_under_every_checking_policy(
    policy: OnDuplicate,
) -> None:
    with InMemoryStore() as store:
        report = import_table(
            store, Table.from_dicts(POSSIBLE_PAIR), source="t", on_duplicate=policy, workers=1
        )
        assert (report.imported, report.merged, report.skipped) == (2, 0, 0)
        assert report.flagged == 1
        (flag,) = report.flags
        assert flag.row == 3
        assert flag.decision == "possible"
        assert flag.merge_id is None
        first = store.customers.find_by_identifier("source:t", "row:2")[0]
        assert flag.matches == (first.id,)
        assert store.customers.get(flag.record_id).merged_into is None
        assert report.to_dict()["flags"][0]["decision"] == "possible"


def test_a_possible_match_with_a_stored_record_is_flagged_when_names_are_indexed() -> None:
    from crmcore.dedup import blocking_keys

    with InMemoryStore(key_function=blocking_keys) as store:
        import_table(store, Table.from_dicts(POSSIBLE_PAIR[:1]), source="a", workers=1)
        report = import_table(
            store, Table.from_dicts(POSSIBLE_PAIR[1:]), source="b", on_duplicate="skip", workers=1
        )
        assert (report.imported, report.skipped, report.flagged) == (1, 0, 1)
        assert report.flags[0].decision == "possible"


def test_create_flags_nothing() -> None:
    with InMemoryStore() as store:
        report = import_table(
            store, Table.from_dicts(POSSIBLE_PAIR), source="t", on_duplicate="create", workers=1
        )
        assert (report.imported, report.flagged, report.flags) == (2, 0, ())


def test_under_skip_nothing_of_a_skipped_row_is_written() -> None:
    rows = [
        {"Name": "Anna Lind", "Email": "anna@example.se", "Company": ""},
        {"Name": "Anna Lind", "Email": "anna@example.se", "Company": "Acme AB"},
    ]
    with InMemoryStore() as store:
        report = import_table(
            store, Table.from_dicts(rows), source="t", on_duplicate="skip", workers=1
        )
        assert (report.imported, report.skipped, report.organizations_created) == (1, 1, 0)
        assert [c.kind for c in store.customers.iter_all()] == [CustomerKind.PERSON]


@settings(max_examples=20, deadline=None)
@given(
    table=st.lists(rows(), min_size=1, max_size=10),
    batch=st.integers(min_value=1, max_value=4),
    policy=st.sampled_from(list(OnDuplicate)),
)
def test_each_employer_is_one_organisation_across_chunks_and_runs(
    table: list[dict[str, str]], batch: int, policy: OnDuplicate
) -> None:
    from crmcore.dedup import organization_key

    with InMemoryStore() as store:
        for source in ("a", "b"):
            import_table(
                store,
                Table.from_dicts(table),
                source=source,
                batch_size=batch,
                on_duplicate=policy,
                workers=1,
            )
        people = [c for c in store.customers.iter_all() if c.kind is CustomerKind.PERSON]
        orgs = [c for c in store.customers.iter_all() if c.kind is CustomerKind.ORGANIZATION]
        employers = {p.organization_id for p in people if p.organization_id is not None}
        # Org rows of their own (a row naming only a company) may be flagged duplicates;
        # employers created for people are one per normalised name.
        created = [o for o in orgs if o.id in employers]
        keys = [organization_key(o.display_name) for o in created]
        assert len(keys) == len(set(keys))
        for person in people:
            if person.organization_id is not None:
                assert store.customers.get(person.organization_id).kind is CustomerKind.ORGANIZATION


def test_a_leads_rerun_finds_stored_leads_through_the_key_index_not_a_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [{"Name": f"Lead {i}", "Email": f"l{i}@example.org", "Company": ""} for i in range(30)]
    with InMemoryStore() as store:
        import_table(store, Table.from_dicts(rows), source="l", entity="leads", workers=1)

        def no_scan(*args: object, **kwargs: object) -> None:
            raise AssertionError("the re-run scanned the leads")

        monkeypatch.setattr(type(store.leads), "iter_all", no_scan)
        again = import_table(store, Table.from_dicts(rows), source="l", entity="leads", workers=1)
        assert (again.imported, again.already_imported) == (0, 30)


def test_a_chunk_reads_at_most_max_block_size_records_of_an_over_large_key() -> None:
    from crmcore.dedup import blocking_keys, default_rules

    block = default_rules().max_block_size
    crowd = [{"Name": "John Smith", "Email": f"j{i}@example.org"} for i in range(block * 3)]
    with InMemoryStore(key_function=blocking_keys) as store:
        import_table(store, Table.from_dicts(crowd), source="a", on_duplicate="create", workers=1)
        calls: list[int] = []
        repo = store.customers
        original = repo.find_by_keys

        def counted(keys: Any, *, limit: int | None = None) -> Any:
            found = original(keys, limit=limit)
            calls.append(len(found))
            assert limit is not None
            return found

        repo.find_by_keys = counted  # type: ignore[method-assign]
        one = [{"Name": "John Smith", "Email": "new@example.org"}]
        report = import_table(store, Table.from_dicts(one), source="b", workers=1)
        assert report.imported == 1
        assert calls
        assert max(calls) <= block


def test_an_import_sees_the_organisations_another_import_created_between_its_chunks() -> None:
    from crmcore.dedup import organization_key

    people = [
        {"Name": f"Person {i}", "Email": f"p{i}@example.org", "Company": f"Firm {i // 2}"}
        for i in range(12)
    ]
    other = [
        {"Name": f"Other {i}", "Email": f"o{i}@example.org", "Company": f"Firm {i}"}
        for i in range(6)
    ]
    with InMemoryStore() as store:

        def between_chunks(done: int, total: int) -> None:
            if done == 4:  # the other importer runs while this one is between chunks
                import_table(store, Table.from_dicts(other), source="other", workers=1)

        import_table(
            store,
            Table.from_dicts(people),
            source="people",
            batch_size=4,
            progress=between_chunks,
            workers=1,
        )
        orgs = [c for c in store.customers.iter_all() if c.kind is CustomerKind.ORGANIZATION]
        keys = sorted(organization_key(o.display_name) for o in orgs)
        assert keys == sorted({organization_key(f"Firm {n}") for n in range(6)})


@pytest.mark.parametrize("policy", list(OnDuplicate))
def test_a_chunk_locks_source_ids_match_keys_and_employers_in_one_call(
    policy: OnDuplicate,
) -> None:
    from crmcore.dedup import organization_key
    from crmcore.storage.keys import identifier_key

    rows = [
        {"id": "r1", "Name": "Anna Lind", "Email": "anna@example.se", "Company": "Acme AB"},
        {"id": "r2", "Name": "Bo Berg", "Email": "bo@example.se", "Company": ""},
    ]
    store = LockingStore()
    import_table(
        store,
        Table.from_dicts(rows),
        source="t",
        id_column="id",
        on_duplicate=policy,
        batch_size=2,
        workers=1,
    )
    ((depth, keys),) = store.locked
    assert depth == 1
    assert keys == sorted(set(keys))
    assert {identifier_key("source:t", "r1"), identifier_key("source:t", "r2")} <= set(keys)
    assert identifier_key("source:organization", organization_key("Acme AB")) in keys
    assert "email:anna@example.se" in keys or policy is OnDuplicate.CREATE


def _counting_identifier_lookups(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    repo = type(store.customers)
    original = repo.find_by_identifier

    def counted(self: Any, scheme: str, value: str) -> Any:
        calls.append(1)
        return original(self, scheme, value)

    monkeypatch.setattr(repo, "find_by_identifier", counted)
    return calls


PEOPLE = [{"Name": f"Person {i}", "Email": f"p{i}@example.org"} for i in range(40)]


@pytest.mark.parametrize("keyed", ["default", "blocking"])
def test_source_ids_are_looked_up_once_a_chunk_on_stores_that_index_them(
    keyed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmcore.dedup import blocking_keys

    store = InMemoryStore() if keyed == "default" else InMemoryStore(key_function=blocking_keys)
    calls = _counting_identifier_lookups(store, monkeypatch)
    first = import_table(store, Table.from_dicts(PEOPLE), source="p", batch_size=5, workers=1)
    assert first.imported == 40
    # The first chunk asks row by row; its written records show the keys are indexed.
    assert len(calls) == 5
    calls.clear()
    again = import_table(store, Table.from_dicts(PEOPLE), source="p", batch_size=5, workers=1)
    assert (again.imported, again.already_imported) == (0, 40)
    assert len(calls) == 5


def test_a_store_whose_key_function_ignores_source_ids_still_skips_every_stored_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = InMemoryStore(key_function=lambda record: ())
    calls = _counting_identifier_lookups(store, monkeypatch)
    import_table(store, Table.from_dicts(PEOPLE), source="p", batch_size=5, workers=1)
    again = import_table(store, Table.from_dicts(PEOPLE), source="p", batch_size=5, workers=1)
    assert (again.imported, again.already_imported) == (0, 40)
    assert len(calls) == 80  # row by row, both runs
