"""Build customers from raw dicts, against the raw parsing calls they wrap.

The baseline is what any app must pay anyway: ``email_validator.validate_email``
and ``phonenumbers.parse`` on the same inputs, in the same run. crmcore's
overhead (entities, ids, validation of every field) is the ratio; target <= 1.5.

Run: ``.venv/bin/python benchmarks/bench_models.py [--count 20000]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import email_validator
import phonenumbers

from crmcore import Customer

# Mixed regions, each typed the way people type numbers there (national form).
_REGIONS = {
    "SE": ("08-{a:03d} {b:03d} {c:02d}", "070-{a:03d} {b:02d} {c:02d}"),
    "DE": ("030 {a:04d}{b:03d}", "0151 {a:04d}{b:03d}"),
    "ID": ("021 {a:04d} {b:04d}", "0812-{a:04d}-{b:04d}"),
    "US": ("(212) {a:03d}-{b:04d}", "415.{a:03d}.{b:04d}"),
    "GB": ("020 {a:04d} {b:04d}", "07700 {a:03d}{b:03d}"),
}
_GIVEN = ["Ada", "Åsa", "Jürgen", "Siti", "Budi", "John", "Mary", "Lars", "Dewi", "Chloé"]
_FAMILY = ["Lovelace", "Müller", "Andersson", "Wijaya", "Smith", "Nguyen", "O'Brien"]
_DOMAINS = ["example.com", "mail.example.de", "contoh.co.id", "exempel.se", "example.org"]


def make_rows(count: int, seed: int = 7, *, distinct_domains: bool = False) -> list[dict[str, str]]:
    """Raw customer dicts as an import or a web form would hand them over.

    Real lists repeat a few domains (gmail.com, the company's own) over and
    over; ``distinct_domains`` gives every row a domain of its own instead, the
    worst case for crmcore's once-per-domain validation.
    """
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        region = rng.choice(list(_REGIONS))
        pattern = rng.choice(_REGIONS[region])
        phone = pattern.format(
            a=rng.randrange(200, 999), b=rng.randrange(100, 999), c=rng.randrange(10, 99)
        )
        given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
        domain = f"host{i}.{rng.choice(_DOMAINS)}" if distinct_domains else rng.choice(_DOMAINS)
        email = f" {given.lower()}.{i}@{domain} "
        rows.append({"name": f"{given} {family}", "email": email, "phone": phone, "region": region})
    return rows


def crmcore_build(rows: list[dict[str, str]]) -> None:
    """What the library does: full, validated, immutable customers."""
    for row in rows:
        Customer.create(
            name=row["name"], emails=[row["email"]], phones=[row["phone"]], region=row["region"]
        )


def raw_parse(rows: list[dict[str, str]]) -> None:
    """The baseline: the two dependencies' parsing calls alone."""
    for row in rows:
        email_validator.validate_email(row["email"].strip(), check_deliverability=False)
        phonenumbers.parse(row["phone"], row["region"])


def cpu_time(fn: Callable[[list[dict[str, str]]], None], rows: list[dict[str, str]]) -> float:
    """CPU seconds of one run.

    The work is single-threaded, so CPU time is far less disturbed than wall
    time by other load on a shared machine.
    """
    start = time.process_time()
    fn(rows)
    return time.process_time() - start


def main() -> None:
    """Print both timings and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--distinct-domains", action="store_true", help="every address on a domain of its own"
    )
    args = parser.parse_args()
    rows = make_rows(args.count, distinct_domains=args.distinct_domains)
    crmcore_build(rows[:500])  # warm caches and imports for both sides
    raw_parse(rows[:500])
    raws, ours = [], []
    for _ in range(args.repeat):
        raws.append(cpu_time(raw_parse, rows))
        ours.append(cpu_time(crmcore_build, rows))
    ratios = [o / r for o, r in zip(ours, raws, strict=True)]
    print(f"customers built: {args.count}")
    print(f"raw email_validator + phonenumbers: {statistics.median(raws):.2f} s CPU")
    print(f"crmcore Customer.create:           {statistics.median(ours):.2f} s CPU")
    print(f"ratio (median of {args.repeat} interleaved runs): {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
