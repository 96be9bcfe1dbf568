"""Speed and quality of the matching engine on synthetic CRM-like match records.

Generates ``N`` already-parsed :class:`~crmcore.dedup.MatchRecord` s (about one
in three a corrupted duplicate: typos, nicknames, swapped names, dropped
diacritics, another email, a missing phone; plus colleagues sharing a
switchboard number and relatives sharing a family name and city), runs
:func:`~crmcore.dedup.find_duplicates` and prints seconds, pairwise
precision/recall/F1 and the ratio against a raw baseline measured in the same
run (grouping the records by exact email key, the dict pass any engine needs).

    python benchmarks/bench_dedup_engine.py [N ...]      # default: 50000 150000

This measures the engine alone; ``bench_dedup.py`` measures ``crmcore dedupe``
end to end, CSV parsing included.
"""

from __future__ import annotations

import itertools
import os
import random
import resource
import sys
import time
from collections.abc import Sequence

from crmcore import EmailAddress, PersonName, PhoneNumber, PostalAddress
from crmcore.dedup import MatchRecord, find_duplicates

_GIVEN = [
    "anna",
    "maria",
    "johan",
    "erik",
    "lars",
    "karin",
    "åsa",
    "björn",
    "sofia",
    "jürgen",
    "müller",
    "lena",
    "lukas",
    "felix",
    "emma",
    "noah",
    "liam",
    "olivia",
    "william",
    "robert",
    "elizabeth",
    "james",
    "michael",
    "sarah",
    "thomas",
    "jennifer",
    "budi",
    "siti",
    "agus",
    "dewi",
    "putri",
    "rizky",
    "wahyu",
    "andi",
    "sri",
    "ahmad",
    "nur",
    "indah",
    "joko",
    "yusuf",
    "ayu",
    "pierre",
    "marie",
    "jean",
    "camille",
    "louis",
    "chloé",
    "hugo",
    "léa",
    "jan",
    "pieter",
    "sanne",
    "daan",
    "eva",
    "bram",
    "katherine",
    "christopher",
    "alexander",
    "margaret",
    "stephen",
    "nicholas",
    "patricia",
    "richard",
]
_NICK = {
    "william": "bill",
    "robert": "bob",
    "elizabeth": "liz",
    "james": "jim",
    "michael": "mike",
    "katherine": "kate",
    "christopher": "chris",
    "alexander": "alex",
    "margaret": "maggie",
    "stephen": "steve",
    "nicholas": "nick",
    "patricia": "pat",
    "richard": "rick",
    "thomas": "tom",
}
_SYLLABLES = [
    "ka",
    "ri",
    "na",
    "so",
    "to",
    "mi",
    "be",
    "ran",
    "der",
    "berg",
    "son",
    "man",
    "lin",
    "ström",
    "gren",
    "dah",
    "wi",
    "jaya",
    "sa",
    "pu",
    "tra",
    "ko",
]
_CITIES = [
    "Stockholm",
    "Göteborg",
    "Malmö",
    "Berlin",
    "München",
    "Hamburg",
    "Jakarta",
    "Surabaya",
    "Bandung",
    "Paris",
    "Lyon",
    "Amsterdam",
    "Utrecht",
    "London",
    "Leeds",
]
_REGIONS = ("SE", "DE", "ID", "FR", "NL", "GB")
_FREE = ("gmail.com", "yahoo.com", "outlook.com", "gmx.de", "yahoo.co.id")


def _given_names(rng: random.Random) -> list[str]:
    # The listed names (with nicknames and diacritics) plus invented ones, for a
    # spread of given names closer to a real customer table's.
    invented = {
        "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(600)
    }
    return sorted(set(_GIVEN) | invented)


def _surnames(rng: random.Random, count: int) -> list[str]:
    out: set[str] = set()
    while len(out) < count:
        parts = rng.randint(2, 4)
        out.add("".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize())
    return sorted(out)


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1 :]
    if kind < 0.7:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice("aeiounrst") + word[i + 1 :]


def _fold(word: str) -> str:
    return word.translate(str.maketrans("åäöüéèçÅÄÖÜÉ", "aaoueecAAOUE"))


def generate(n: int, seed: int = 7) -> tuple[list[MatchRecord], dict[str, int]]:
    """``n`` records and the true entity of each record id."""
    rng = random.Random(seed)
    surnames = _surnames(rng, 30_000)
    given_names = _given_names(rng)
    records: list[MatchRecord] = []
    truth: dict[str, int] = {}
    entities: list[dict[str, object]] = []
    companies = [
        f"{rng.choice(surnames)} {rng.choice(['AB', 'GmbH', 'PT', 'Ltd', 'BV'])}"
        for _ in range(3000)
    ]
    switchboards = [f"+4687{rng.randrange(10**6, 10**7)}" for _ in range(3000)]
    while len(records) < n:
        entity = len(entities)
        given = rng.choice(given_names).capitalize()
        family = rng.choice(surnames)
        region = rng.choice(_REGIONS)
        if entities and rng.random() < 0.05:  # relative: same family name and city
            base = rng.choice(entities)
            family, city = str(base["family"]), str(base["city"])
        else:
            city = rng.choice(_CITIES)
        company_index = rng.randrange(len(companies)) if rng.random() < 0.4 else None
        phone = f"+{rng.choice(['46', '49', '62', '33', '31', '44'])}{rng.randrange(10**8, 10**9)}"
        if company_index is not None and rng.random() < 0.3:
            phone = switchboards[company_index]  # colleagues share the switchboard
        local = f"{_fold(given).lower()}.{_fold(family).lower()}{rng.randrange(100)}"
        email = f"{local}@{rng.choice(_FREE)}"
        entities.append({"family": family, "city": city})
        copies = 1 + (rng.random() < 0.5) + (rng.random() < 0.15)
        for copy in range(copies):
            if len(records) >= n:
                break
            g, f, e, p = given, family, email, phone
            if copy:
                r = rng.random()
                if r < 0.2:
                    g = _typo(rng, g)
                elif r < 0.3 and g.lower() in _NICK:
                    g = _NICK[g.lower()].capitalize()
                elif r < 0.4:
                    g, f = f, g
                elif r < 0.5:
                    f = _typo(rng, f)
                elif r < 0.6:
                    g, f = _fold(g), _fold(f)
                if rng.random() < 0.3:
                    e = f"{_typo(rng, local)}@{rng.choice(_FREE)}"
                if rng.random() < 0.2:
                    e = ""
                if rng.random() < 0.3:
                    p = ""
            rid = f"r{len(records)}"
            records.append(
                MatchRecord(
                    id=rid,
                    name=PersonName(given=g, family=f),
                    organization=companies[company_index] if company_index is not None else None,
                    emails=(EmailAddress.trusted(e, e.lower()),) if e else (),
                    phones=(PhoneNumber.trusted(p),) if p else (),
                    addresses=(PostalAddress(locality=city, country=region),),
                )
            )
            truth[rid] = entity
    return records, truth


def _pairs_of(groups: Sequence[Sequence[str]]) -> set[tuple[str, str]]:
    return {(min(a, b), max(a, b)) for g in groups for a, b in itertools.combinations(g, 2)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(n: int) -> float:
    """Print one line of figures for ``n`` records; return the engine's seconds."""
    records, truth = generate(n)
    t0 = time.perf_counter()
    by_email: dict[str, list[str]] = {}
    for r in records:
        for e in r.emails:
            by_email.setdefault(e.match_key, []).append(r.id)
    baseline = time.perf_counter() - t0
    t1 = time.perf_counter()
    c1 = time.process_time() + _children_cpu()
    result = find_duplicates(records)
    seconds = time.perf_counter() - t1
    cpu = time.process_time() + _children_cpu() - c1
    predicted = _pairs_of([c.member_ids for c in result.clusters])
    entities: dict[int, list[str]] = {}
    for rid, entity in truth.items():
        entities.setdefault(entity, []).append(rid)
    true_pairs = _pairs_of(list(entities.values()))
    tp = len(predicted & true_pairs)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    print(
        f"n={n} engine={seconds:.2f}s (cpu {cpu:.2f}s, load {os.getloadavg()[0]:.1f}) "
        f"baseline_email_grouping={baseline:.3f}s "
        f"ratio={seconds / baseline:.0f}x precision={precision:.4f} recall={recall:.4f} "
        f"f1={f1:.4f} candidate_pairs={result.stats['candidate_pairs']} "
        f"oversized_blocks={result.stats['oversized_blocks']}"
    )
    return seconds


def main(argv: Sequence[str]) -> int:
    """Run for each size given (default 50,000 and 150,000) and print the scaling ratio."""
    sizes = [int(a) for a in argv] or [50_000, 150_000]
    times = [run(n) for n in sizes]
    if len(times) == 2:
        print(f"scaling: time({sizes[1]}) / time({sizes[0]}) = {times[1] / times[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
