"""One entity with many records is found whole; a value many entities share stays weak."""

from __future__ import annotations

from crmcore.dedup import candidate_pairs, find_duplicates
from tests.dedup._helpers import person


def test_a_person_with_hundreds_of_records_is_one_cluster() -> None:
    # Term frequency used to count the person's own records: their name and email
    # looked as common as a switchboard number, and the cluster fell apart.
    records = [
        person(
            f"r{i}",
            "Anna" if i % 3 else "ANNA",
            "Lindqvist",
            emails=["anna.lindqvist@example.org"] if i % 4 else [],
            phones=["070-111 22 33"] if i % 4 != 1 else [],
        )
        for i in range(300)
    ]
    result = find_duplicates(records, workers=1)
    assert len(result.clusters) == 1
    assert len(result.clusters[0].member_ids) == 300


def test_many_people_on_one_switchboard_are_not_merged_by_it() -> None:
    given = ["Anna", "Karl", "Eva", "Nils", "Sara", "Olof", "Maja", "Lars", "Ida", "Erik"]
    family = ["Berg", "Lund", "Holm", "Ek", "Sjö", "Ström"]
    records = [
        person(f"r{i}", g, f, phones=["08-123 456 78"], company="Acme AB")
        for i, (g, f) in enumerate((g, f) for g in given for f in family)
    ]
    result = find_duplicates(records, workers=1)
    assert result.clusters == ()


def test_a_person_with_many_records_and_no_contact_points_is_one_cluster() -> None:
    # A list of inventors or members: names and cities, no email or phone. Term
    # frequency used to count every record under the name as another person,
    # so the person's own records weakened their name until none matched.
    records = [
        person(f"r{i}", "Ingrid", "Sandvik", city="Umeå", company="Norrsken AB" if i % 2 else None)
        for i in range(40)
    ]
    result = find_duplicates(records, workers=1)
    assert len(result.clusters) == 1
    assert len(result.clusters[0].member_ids) == 40


def test_a_few_emails_among_a_persons_records_do_not_make_the_name_common() -> None:
    # A register where a few entries have an email: the others are still told
    # apart by their addresses, not counted as one new person each.
    records = [
        person(
            f"r{i}", "Ingrid", "Sandvik", city="Umeå", emails=["ingrid@example.se"] if i < 2 else ()
        )
        for i in range(40)
    ]
    result = find_duplicates(records, workers=1)
    assert [len(c.member_ids) for c in result.clusters] == [40]


def test_one_common_name_in_many_cities_without_contact_points_stays_apart() -> None:
    cities = ["Umeå", "Luleå", "Malmö", "Lund", "Kiruna", "Visby", "Borås", "Gävle", "Falun"]
    cities += ["Mora", "Ystad", "Kalmar", "Växjö", "Skövde", "Motala", "Nora", "Sala", "Piteå"]
    records = [person(f"r{i}", "Anna", "Andersson", city=c) for i, c in enumerate(cities)]
    result = find_duplicates(records, workers=1)
    assert result.clusters == ()


def test_in_a_block_too_big_to_compare_whole_one_name_meets_its_own_city_first() -> None:
    # One name in three cities, in the order a list mixes them: the window
    # of nearest neighbours should hold the same name in the same city.
    cities = ["Umeå", "Luleå", "Kiruna"]
    records = [person(f"r{i}", "Ingrid", "Sandvik", city=cities[i % 3]) for i in range(36)]
    city_of = {r.id: r.addresses[0].locality for r in records}
    pairs = candidate_pairs(records)
    same = sum(city_of[a] == city_of[b] for a, b in pairs)
    assert same / len(pairs) > 0.6  # about a third when the window meets any city
    result = find_duplicates(records, workers=1)
    assert sorted(len(c.member_ids) for c in result.clusters) == [12, 12, 12]
