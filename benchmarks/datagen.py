"""Synthetic CRM contact lists with ground truth, for the deduplication benchmark and tests.

Each row is one record of an entity (a person, with an employer or not); an
entity's later records are corrupted copies of its first, the way the same
person ends up in a CRM three times (typed by sales, imported from a web shop,
created by a support form):

- names: typos, dropped diacritics, nicknames (Bob for Robert), given and
  family name swapped, the given name cut to an initial, case changes;
- phones: national, international, 00-prefixed and digits-only forms, a
  different number (work instead of mobile), missing;
- emails: case changes, stray whitespace, a work address instead of the
  personal one, missing;
- companies: legal forms spelled differently or dropped, missing;
- city and country: missing, country as a code or an English name.

Hard negatives are different entities that look alike: colleagues who share
the company switchboard number and a family name, and relatives who share a
family name, a city, a home phone and sometimes a family mailbox.

The corruption helpers are the demo's (``crmcore._demo_data``), shared so that
the benchmark's duplicates and ``make demo``'s are made the same way. Names
and companies come from Faker in the locales id_ID, sv_SE, de_DE, en_US
and en_GB; everything else from one ``random.Random``: the output is a function
of ``count`` and ``seed`` (for one Faker version).

Run: ``.venv/bin/python benchmarks/datagen.py --count 150000 --output contacts.csv``
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
from faker import Faker

from crmcore._demo_data import (
    LEGAL_FORM_OF,
    corrupt_name,
    format_phone,
    landline,
    messy_company_and_city,
    messy_email,
    mobile,
    slug,
    surviving_contacts,
)
from crmcore.values import mailbox_key

__all__ = ["COLUMNS", "generate", "true_pairs", "write_csv"]

COLUMNS = (
    "record_id",
    "entity_id",
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Company",
    "City",
    "Country",
)

# locale -> (region, share of entities, country name, free-mail domains, company TLD)
_LOCALES: dict[str, tuple[str, float, str, tuple[str, ...], str]] = {
    "en_US": ("US", 0.24, "United States", ("gmail.com", "yahoo.com", "outlook.com"), "com"),
    "en_GB": (
        "GB",
        0.16,
        "United Kingdom",
        ("gmail.com", "btinternet.com", "hotmail.co.uk"),
        "co.uk",
    ),
    "de_DE": ("DE", 0.20, "Germany", ("gmx.de", "web.de", "t-online.de", "gmail.com"), "de"),
    "sv_SE": ("SE", 0.20, "Sweden", ("gmail.com", "telia.com", "hotmail.se"), "se"),
    "id_ID": ("ID", 0.20, "Indonesia", ("gmail.com", "yahoo.co.id", "yahoo.com"), "co.id"),
}

_FAMILY_WORD = {"US": "family", "GB": "family", "DE": "familie", "SE": "familjen", "ID": "keluarga"}
_ENGLISH_FORMS = {"US": ("Inc", "LLC", "Corp"), "GB": ("Ltd", "PLC")}


@attrs.define
class _Entity:
    id: str
    locale: str
    region: str
    given: str
    family: str
    email: str
    phone: str  # national digits, e.g. 0701234567
    city: str
    company: str = ""
    work_email: str = ""
    work_phone: str = ""


class _Pools:
    def __init__(self, locale: str, size: int, seed: int) -> None:
        fake = Faker(locale)
        fake.seed_instance(seed)
        self.first_female = [fake.first_name_female() for _ in range(size)]
        self.first_male = [fake.first_name_male() for _ in range(size)]
        self.last = [fake.last_name() for _ in range(size)]
        self.city = [fake.city() for _ in range(max(50, size // 10))]
        self.company = [fake.company() for _ in range(max(50, size // 4))]


def _generate_entities(count: int, rng: random.Random, seed: int) -> list[_Entity]:
    size = max(200, min(5_000, count // 10))
    pools = {loc: _Pools(loc, size, seed + i) for i, loc in enumerate(_LOCALES)}
    locales = list(_LOCALES)
    weights = [_LOCALES[loc][1] for loc in locales]
    used_emails: set[str] = set()
    companies: dict[str, tuple[str, str, str]] = {}  # name -> (domain, switchboard, region)

    def unique(local: str, domain: str) -> str:
        # Unique by mailbox: Gmail delivers anna.berg@ and annaberg@ to one
        # person, so two different people cannot hold them.
        address = f"{local}@{domain}"
        n = 1
        while mailbox_key(address.casefold()) in used_emails:
            n += 1
            address = f"{local}{n}@{domain}"
        used_emails.add(mailbox_key(address.casefold()))
        return address

    def personal_email(given: str, family: str, region: str) -> str:
        g, f = slug(given) or "x", slug(family) or "y"
        local = rng.choice((f"{g}.{f}", f"{g}{f}", f"{g[0]}.{f}", f"{g}_{f}", f"{g}{f[0]}"))
        if rng.random() < 0.3:
            local += str(rng.randrange(1, 99))
        return unique(local, rng.choice(_LOCALES[locale_of[region]][3]))

    locale_of = {v[0]: k for k, v in _LOCALES.items()}

    def company_for(locale: str) -> tuple[str, str, str]:
        region = _LOCALES[locale][0]
        name = rng.choice(pools[locale].company)
        has_form = any(w.strip(",").casefold() in LEGAL_FORM_OF for w in name.split())
        if region in _ENGLISH_FORMS and rng.random() < 0.6 and "," not in name and not has_form:
            name = f"{name} {rng.choice(_ENGLISH_FORMS[region])}"
        if name not in companies:
            core = [w for w in name.split() if w.strip(",").casefold() not in LEGAL_FORM_OF]
            domain = (slug(" ".join(core[:2])) or "company") + "." + _LOCALES[locale][4]
            companies[name] = (domain, landline(rng, region), region)
        return (name, *companies[name][:2])

    entities: list[_Entity] = []
    while len(entities) < count:
        locale = rng.choices(locales, weights)[0]
        region = _LOCALES[locale][0]
        pool = pools[locale]
        given = rng.choice(pool.first_female if rng.random() < 0.5 else pool.first_male)
        family = rng.choice(pool.last)
        entity = _Entity(
            id=f"e{len(entities):07d}",
            locale=locale,
            region=region,
            given=given,
            family=family,
            email=personal_email(given, family, region),
            phone=mobile(rng, region),
            city=rng.choice(pool.city),
        )
        if rng.random() < 0.6:
            company, domain, switchboard = company_for(locale)
            entity.company = company
            entity.work_email = unique(f"{slug(given)}.{slug(family)}", domain)
            entity.work_phone = switchboard
        entities.append(entity)

        roll = rng.random()
        if roll < 0.04 and entity.company:
            # A colleague with the same family name, reached through the same switchboard.
            other = rng.choice(pool.first_female + pool.first_male)
            if other != given:
                domain = companies[entity.company][0]
                entities.append(
                    attrs.evolve(
                        entity,
                        id=f"e{len(entities):07d}",
                        given=other,
                        email=personal_email(other, family, region),
                        phone=entity.work_phone,
                        city=rng.choice(pool.city),
                        work_email=unique(f"{slug(other)}.{slug(family)}", domain),
                    )
                )
        elif roll < 0.08:
            # A relative: same family name, city and home phone; sometimes the family mailbox.
            other = rng.choice(pool.first_female + pool.first_male)
            if other != given:
                home = landline(rng, region)
                entity.phone = home
                shared = rng.random() < 0.2
                family_box = (
                    unique(
                        f"{_FAMILY_WORD[region]}.{slug(family)}", rng.choice(_LOCALES[locale][3])
                    )
                    if shared
                    else ""
                )
                if shared:
                    entity.email = family_box
                entities.append(
                    _Entity(
                        id=f"e{len(entities):07d}",
                        locale=locale,
                        region=region,
                        given=other,
                        family=family,
                        email=family_box or personal_email(other, family, region),
                        phone=home,
                        city=entity.city,
                    )
                )
    return entities[:count]


def _record(rng: random.Random, entity: _Entity, original: bool) -> dict[str, str]:
    region = entity.region
    locale = entity.locale
    given, family = entity.given, entity.family
    email = entity.email
    phone_national = entity.phone
    company = entity.company
    city = entity.city
    country = rng.choice((region, _LOCALES[locale][2]))
    international = rng.random() < 0.3

    if not original:
        # Which contact points survive decides whether a duplicate can be found at all;
        # keep at least one of email and phone, or the name exactly, as real duplicates do.
        # A CRM record with no contact point at all is rare: forms and imports ask for one.
        email, phone_national = surviving_contacts(
            rng, (email, phone_national), (entity.work_email, entity.work_phone), restore=0.7
        )
        strong = bool(email) or bool(phone_national and phone_national != entity.work_phone)
        if strong:
            given, family = corrupt_name(rng, given, family)
        email = messy_email(rng, email)
        company, city = messy_company_and_city(rng, company, city)
        if rng.random() < 0.1:
            country = ""
            international = True
    phone = format_phone(rng, phone_national, region, international) if phone_national else ""
    return {
        "entity_id": entity.id,
        "First Name": given,
        "Last Name": family,
        "Email": email,
        "Phone": phone,
        "Company": company,
        "City": city,
        "Country": country,
    }


def generate(count: int, *, seed: int = 0, duplicate_share: float = 0.4) -> list[dict[str, str]]:
    """``count`` records as CSV rows (see :data:`COLUMNS`), shuffled, with ``entity_id`` truth.

    About ``duplicate_share`` of entities have one to four more records.
    """
    rng = random.Random(seed)
    dup_counts = (1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4)
    per_entity: list[int] = []
    total = 0
    while total < count:
        n = 1 + (rng.choice(dup_counts) if rng.random() < duplicate_share else 0)
        n = min(n, count - total)
        per_entity.append(n)
        total += n
    entities = _generate_entities(len(per_entity), rng, seed)
    rows: list[dict[str, str]] = []
    for entity, n in zip(entities, per_entity, strict=True):
        rows.extend(_record(rng, entity, original=(k == 0)) for k in range(n))
    rng.shuffle(rows)
    return [{"record_id": f"r{i:07d}", **row} for i, row in enumerate(rows)]


def true_pairs(entity_ids: Sequence[str]) -> int:
    """How many pairs of records share an entity (the pairwise ground truth's size)."""
    sizes: dict[str, int] = {}
    for e in entity_ids:
        sizes[e] = sizes.get(e, 0) + 1
    return sum(n * (n - 1) // 2 for n in sizes.values())


def write_csv(path: Path, rows: Sequence[dict[str, str]], columns: Sequence[str] = COLUMNS) -> None:
    """Write ``rows`` as UTF-8 CSV with ``columns`` (default :data:`COLUMNS`) as the header."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def command(
    doc: str | None,
    make: Callable[..., list[dict[str, str]]],
    columns: Sequence[str],
    default_count: int,
) -> None:
    """The command line of a generator: ``--count``, ``--seed`` and ``--output``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--count", type=int, default=default_count)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    write_csv(args.output, make(args.count, seed=args.seed), columns)


def main() -> None:
    """Write a generated contact list to a CSV file."""
    command(__doc__, generate, COLUMNS, 10_000)


if __name__ == "__main__":
    main()
