"""find_duplicates, check_duplicates and the duplicate policy."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import Customer, DuplicateRecord, Lead, ValidationError
from crmcore.dedup import (
    Decision,
    DuplicatePolicy,
    Evidence,
    MatchRecord,
    blocking_keys,
    candidate_pairs,
    check_duplicates,
    default_rules,
    find_duplicates,
    guard_duplicates,
    lookup_keys,
)
from crmcore.storage import InMemoryStore, SQLiteStore
from tests.dedup._helpers import person


def clusters_of(records: Iterable[MatchRecord], **kwargs: Any) -> set[frozenset[str]]:
    return {frozenset(c.member_ids) for c in find_duplicates(records, **kwargs).clusters}


def test_finds_typical_crm_duplicates() -> None:
    records = [
        person("1", "Robert", "Smith", emails=["rob.smith@example.org"], phones=["070-123 45 67"]),
        person("2", "Bob", "Smith", phones=["+46 70 123 45 67"]),
        person("3", "Åsa", "Lindqvist", emails=["asa.l@example.org"], city="Umeå"),
        person("4", "LINDQVIST", "Asa", emails=[" ASA.L@example.org "]),
        person("5", "Karl", "Berg", emails=["karl@example.org"]),
        person("6", "Eva", "Berg", emails=["eva@example.org"]),
    ]
    result = find_duplicates(records)
    assert {frozenset(c.member_ids) for c in result.clusters} == {
        frozenset({"1", "2"}),
        frozenset({"3", "4"}),
    }
    assert result.cluster_of("5") is None
    cluster = result.cluster_of("1")
    assert cluster is not None
    assert cluster.confidence >= default_rules().match
    assert cluster.pairs
    assert all(p.evidence for p in cluster.pairs)
    assert {e.rule for e in cluster.pairs[0].evidence} >= {"name", "phone"}
    assert result.stats["records"] == 6
    assert result.stats["candidate_pairs"] >= 2
    assert result.stats["blocks"] >= 2


def test_switchboard_shared_by_many_does_not_merge_them() -> None:
    colleagues = [
        person(str(i), given, "Berg", phones=["08-555 000 00"], company="Acme AB")
        for i, given in enumerate(["Anna", "Karl", "Eva", "Olof", "Maja", "Nils", "Ida"] * 4)
    ]
    # Same names, same switchboard: the four Annas are (as far as anyone can tell)
    # one person, but no Anna joins a Karl.
    result = find_duplicates(colleagues)
    for cluster in result.clusters:
        names = {colleagues[int(i)].name.given for i in cluster.member_ids}  # type: ignore[union-attr]
        assert len(names) == 1


def test_oversized_blocks_are_sub_blocked_and_reported() -> None:
    givens = ["Anna", "Karl", "Eva", "Olof", "Maja", "Nils", "Ida", "Sven"]
    families = ["Berg", "Lund", "Holm", "Strand", "Ek", "Nyström", "Wik", "Dahl"]
    records = [
        person(f"{g}-{f}", g, f, phones=["08-555 000 00"])
        for g, f in itertools.product(givens, families)
    ]
    result = find_duplicates(records)
    assert result.stats["oversized_blocks"] == 1
    assert result.stats["candidate_pairs"] < 64 * 63 // 2
    assert result.clusters == ()


def test_chaining_guard_keeps_clearly_different_records_apart() -> None:
    # a~b and b~c (each shares a mailbox with b), but a and c clearly differ.
    a = person("a", "Anna", "Berg", emails=["one@example.org"], born=date(1970, 1, 1))
    b = person("b", None, None, emails=["one@example.org", "two@example.org"])
    c = person("c", "Karl", "Lund", emails=["two@example.org"], born=date(1990, 6, 6))
    result = find_duplicates([a, b, c])
    for cluster in result.clusters:
        assert not {"a", "c"} <= set(cluster.member_ids)
    assert result.stats["refused_links"] == 1
    assert result.possible_matches
    assert all(p.decision is Decision.POSSIBLE for p in result.possible_matches)


def test_progress_is_reported_per_stage() -> None:
    seen: list[str] = []
    find_duplicates(
        [person("1", "A", "B"), person("2", "A", "B")],
        progress=lambda stage, done, total: seen.append(stage),
    )
    for stage in ("load", "prepare", "block", "score", "cluster"):
        assert stage in seen


def test_records_handed_over_are_let_go_once_prepared() -> None:
    # With field rules only, the engine keeps each record's features, not the
    # record: a caller that hands over an iterator holds a million records once.
    refs: list[weakref.ref[MatchRecord]] = []

    def handed_over() -> Iterator[MatchRecord]:
        for k in range(30):
            record = person(str(k), "Anna", f"Berg{k % 10}", emails=[f"anna{k % 10}@example.org"])
            refs.append(weakref.ref(record))
            yield record

    alive: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "block":
            alive.append(sum(ref() is not None for ref in refs))

    result = find_duplicates(handed_over(), progress=progress)
    assert alive == [0]
    assert len(result.clusters) == 10
    assert {len(c.member_ids) for c in result.clusters} == {3}


def test_a_rule_that_compares_whole_records_still_gets_them() -> None:
    class SameBirthDate:
        name = "born"

        def blocking_keys(self, record: MatchRecord) -> list[str]:
            return [f"born:{record.birth_date}"] if record.birth_date else []

        def compare(self, a: MatchRecord, b: MatchRecord) -> Evidence | None:
            if a.birth_date is None or b.birth_date is None:
                return None
            same = a.birth_date == b.birth_date
            return Evidence(self.name, "birth_date", "exact", float(same), 14.0 if same else -4.0)

    born = date(1980, 5, 17)
    records = iter([person("a", "Anna", "Berg", born=born), person("b", "Karl", "Lund", born=born)])
    rules = attrs.evolve(default_rules(), rules=(SameBirthDate(),))
    result = find_duplicates(records, rules)
    assert [set(c.member_ids) for c in result.clusters] == [{"a", "b"}]


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        find_duplicates([person("1", "A", "B"), person("1", "C", "D")])
    assert info.value.problems[0][0] == "records"
    twice = person("1", "Ann", "Lee", emails=["ann@example.com"])
    with pytest.raises(ValidationError) as info:
        candidate_pairs([twice, twice])
    assert info.value.paths == ("records",)


def test_leads_match_customers_and_people_never_match_organisations() -> None:
    customer = Customer.create(name="Anna Lindqvist", emails=["anna.lindqvist@example.org"])
    lead = Lead.create(name="Anna Lindqvist", emails=["ANNA.LINDQVIST@example.org"])
    company = Customer.create(
        name="Anna Lindqvist", kind="organization", emails=["anna.lindqvist@example.org"]
    )
    result = find_duplicates([customer, lead, company])
    assert {frozenset(c.member_ids) for c in result.clusters} == {frozenset({customer.id, lead.id})}


def test_a_store_is_read_through_iter_all() -> None:
    with InMemoryStore() as store:
        first = store.customers.add(Customer.create(name="Bob Smith", emails=["bob@example.org"]))
        second = store.leads.add(Lead.create(name="Robert Smith", emails=["bob@example.org"]))
        store.customers.add(Customer.create(name="Eva Berg", emails=["eva@example.org"]))
        result = find_duplicates(store)
    assert {frozenset(c.member_ids) for c in result.clusters} == {frozenset({first.id, second.id})}


def test_worker_processes_give_the_same_result() -> None:
    records = [
        person(f"{k}-{i}", given, family, emails=[f"{given}.{family}{k}@example.org".lower()])
        for k in range(40)
        for i, (given, family) in enumerate([("Anna", "Berg"), ("Ana", "Berg"), ("Karl", "Lund")])
    ]
    one = find_duplicates(records, workers=1)
    for workers in (2, 3):
        more = find_duplicates(records, workers=workers)
        assert more.clusters == one.clusters
        assert more.possible_matches == one.possible_matches
        # Each process generates the pairs it owns: together, every pair once.
        assert {k: v for k, v in more.stats.items() if k != "seconds"} == {
            k: v for k, v in one.stats.items() if k != "seconds"
        }
    assert one.stats["candidate_pairs"] == len(candidate_pairs(records))


def test_candidate_pairs_cover_the_blocked_duplicates() -> None:
    records = [
        person("1", "Anna", "Berg", emails=["a@example.org"]),
        person("2", "Anna", "Berg"),
        person("3", "Karl", "Lund", emails=["a@example.org"]),
    ]
    assert candidate_pairs(records) == {("1", "2"), ("1", "3")}


names = st.sampled_from(["Anna", "Ana", "Karl", "Carl", "Eva", "Bob", "Robert"])
families = st.sampled_from(["Berg", "Berq", "Lund", "Smith"])
contacts = st.sampled_from(["a@example.org", "b@example.org", "c@example.org", None])
phones = st.sampled_from(["070-100 00 01", "070-100 00 02", None])


@st.composite
def record_lists(draw: st.DrawFn) -> list[MatchRecord]:
    size = draw(st.integers(2, 14))
    out = []
    for i in range(size):
        email, phone = draw(contacts), draw(phones)
        out.append(
            person(
                str(i),
                draw(names),
                draw(families),
                emails=[email] if email else [],
                phones=[phone] if phone else [],
            )
        )
    return out


@settings(max_examples=60)
@given(record_lists())
def test_every_record_is_in_at_most_one_cluster(records: list[MatchRecord]) -> None:
    result = find_duplicates(records)
    members = [m for c in result.clusters for m in c.member_ids]
    assert len(members) == len(set(members))
    assert all(len(c.member_ids) >= 2 for c in result.clusters)
    assert len({c.id for c in result.clusters}) == len(result.clusters)
    for pair in result.possible_matches:
        assert result.cluster_of(pair.a) is None or result.cluster_of(pair.a) != result.cluster_of(
            pair.b
        )


@settings(max_examples=60)
@given(record_lists())
def test_no_cluster_holds_records_that_clearly_differ(records: list[MatchRecord]) -> None:
    rules = default_rules()
    by_id = {r.id: r for r in records}
    for cluster in find_duplicates(records).clusters:
        for a, b in itertools.combinations(cluster.member_ids, 2):
            score, _, _ = rules.compare(by_id[a], by_id[b])
            assert score >= rules.cannot_link


@settings(max_examples=30)
@given(record_lists())
def test_input_order_does_not_change_the_clustering_much(records: list[MatchRecord]) -> None:
    # The greedy, strongest-first union is order-independent except for ties.
    forward = clusters_of(records)
    backward = clusters_of(list(reversed(records)))
    assert sum(len(c) for c in forward) == sum(len(c) for c in backward)


# --------------------------------------------------------------------------- on-create checks


class FakeRepo:
    """The lookups check_duplicates uses, over a list."""

    def __init__(self, records: list[Any]) -> None:
        self.records = records
        self.calls = 0

    def find_by_keys(self, keys: Iterable[str], *, limit: int | None = None) -> list[Any]:
        self.calls += 1
        wanted = set(keys)
        hits = [r for r in self.records if wanted & set(blocking_keys(r))]
        return hits[:limit]

    def find_by_email(self, email: Any) -> list[Any]:
        return [r for r in self.records if any(e.address == email for e in r.emails)]

    def find_by_phone(self, phone: Any) -> list[Any]:
        return [r for r in self.records if any(p.number == phone for p in r.phones)]

    def find_by_identifier(self, scheme: str, value: str) -> list[Any]:
        return [r for r in self.records if getattr(r, "identifiers", {}).get(scheme) == value]


@attrs.define
class FakeStore:
    customers: FakeRepo
    leads: FakeRepo


def test_check_duplicates_against_a_fake_store() -> None:
    stored = Customer.create(name="Robert Smith", phones=["070-123 45 67"], region="SE")
    other = Customer.create(name="Eva Berg", phones=["070-765 43 21"], region="SE")
    store = FakeStore(FakeRepo([stored, other]), FakeRepo([]))
    candidate = Lead.create(name="Bob Smith", phones=["+46701234567"])
    matches = check_duplicates(candidate, store)
    assert [m.record_id for m in matches] == [stored.id]
    assert matches[0].decision is Decision.MATCH
    searched = store.leads.calls
    assert searched >= 1  # leads are searched for a lead
    # An update of the stored record does not match itself.
    assert check_duplicates(stored, store) == []
    assert store.leads.calls == searched  # customers are checked against customers only


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        with InMemoryStore(key_function=blocking_keys) as memory:
            yield memory
    else:
        with SQLiteStore(tmp_path / "crm.db", key_function=blocking_keys) as sqlite:
            yield sqlite


def test_check_duplicates_against_real_stores(store: Any) -> None:
    anna = store.customers.add(
        Customer.create(name="Anna Lindqvist", emails=["anna.l@example.org"], region="SE")
    )
    store.customers.add(Customer.create(name="Karl Lund", emails=["karl@example.org"]))
    # Found through the name key alone: no shared contact point.
    by_name = check_duplicates(Customer.create(name="Lindqvist, Åsa"), store)
    assert by_name == []
    same = check_duplicates(Customer.create(name="Anna Lindqvist"), store)
    assert [m.record_id for m in same] == [anna.id]
    lead = Lead.create(name="A. Lindqvist", emails=["Anna.L@example.org"])
    matches = check_duplicates(lead, store)
    assert [m.record_id for m in matches] == [anna.id]
    assert matches[0].decision is Decision.MATCH
    assert all(e.rule and e.method for e in matches[0].evidence)


def test_duplicate_policy(store: Any) -> None:
    stored = store.customers.add(Customer.create(name="Bob Smith", emails=["bob@example.org"]))
    candidate = Customer.create(name="Robert Smith", emails=["BOB@example.org"])
    assert guard_duplicates(candidate, store, policy=DuplicatePolicy.ALLOW) == []
    alert = guard_duplicates(candidate, store, policy=DuplicatePolicy.ALERT)
    assert [m.record_id for m in alert] == [stored.id]
    with pytest.raises(DuplicateRecord) as info:
        guard_duplicates(candidate, store, policy=DuplicatePolicy.BLOCK)
    assert [m.record_id for m in info.value.matches] == [stored.id]
    assert "bob" not in str(info.value).casefold()
    assert guard_duplicates(candidate, store, policy=DuplicatePolicy.BLOCK, bypass=True) == []
    fresh = Customer.create(name="Eva Berg", emails=["eva@example.org"])
    assert guard_duplicates(fresh, store, policy=DuplicatePolicy.BLOCK) == []


def test_lookup_keys_leave_out_phonetic_keys() -> None:
    customer = Customer.create(name="Anna Berg", emails=["anna@example.org"])
    keys = blocking_keys(customer)
    assert any(k.startswith("name~") for k in keys)
    assert not any(k.startswith("name~") for k in lookup_keys(customer))
    assert "email:anna@example.org" in lookup_keys(customer)


def test_a_common_name_alone_is_not_a_match() -> None:
    with InMemoryStore(key_function=blocking_keys) as store:
        for i in range(15):
            store.customers.add(Customer.create(name="Anna Berg", emails=[f"anna{i}@example.org"]))
        rare = store.customers.add(
            Customer.create(name="Sigrid Oxenstierna", emails=["so@example.org"])
        )
        common = check_duplicates(
            Customer.create(name="Anna Berg", emails=["new@example.org"]), store
        )
        assert all(m.decision is not Decision.MATCH for m in common)
        assert len(common) <= 10  # name lookups are capped
        unique = check_duplicates(
            Customer.create(name="Sigrid Oxenstierna", emails=["sigrid@example.net"]), store
        )
        assert [m.record_id for m in unique] == [rare.id]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: find_duplicates(5), "records"),
        (lambda: find_duplicates(None), "records"),
        (lambda: find_duplicates("Anna Berg"), "records"),
        (lambda: find_duplicates(["x"]), "records[0]"),
        (lambda: find_duplicates([person("a", "Anna", "Berg"), None]), "records[1]"),
        (lambda: find_duplicates([], rules=5), "rules"),  # type: ignore[arg-type]
        (lambda: find_duplicates([], progress=5), "progress"),  # type: ignore[arg-type]
        (lambda: find_duplicates([], workers=0), "workers"),
        (lambda: candidate_pairs(["x"]), "records[0]"),
        (lambda: blocking_keys(None), "record"),  # type: ignore[arg-type]
        (lambda: lookup_keys("x"), "record"),  # type: ignore[arg-type]
        (lambda: check_duplicates(None, InMemoryStore()), "candidate"),  # type: ignore[arg-type]
        (lambda: check_duplicates(Customer.create(name="Anna Berg"), None), "store"),
        (lambda: check_duplicates(Customer.create(name="Anna Berg"), 5), "store"),
        (
            lambda: check_duplicates(Customer.create(name="Anna Berg"), InMemoryStore(), rules=5),  # type: ignore[arg-type]
            "rules",
        ),
    ],
)
def test_odd_arguments_raise_a_validation_error_naming_them(call: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.paths == (field,)


@pytest.mark.parametrize("policy", ["nope", "block", 5, None])
def test_a_policy_that_is_not_a_duplicate_policy_is_refused(policy: Any) -> None:
    with InMemoryStore() as store, pytest.raises(ValidationError) as caught:
        guard_duplicates(Customer.create(name="Anna Berg"), store, policy=policy)
    assert caught.value.paths == ("policy",)
