"""The demo's data: a small web shop's messy contact list and its stream of interactions.

The shop sells to Sweden and Indonesia (and some Germans and Britons). Its
Swedish office exports the contact list from Excel: semicolon-separated,
Swedish headers (``Förnamn;Efternamn;E-post;Telefon;...``), UTF-8 with a BOM.
The same person is in it more than once, the way people end up in a CRM
three times (typed by sales, imported from the web shop, created by a
support form): typos, case, dropped diacritics, nicknames (Lasse for Lars),
given and family name swapped, phones in national, international and
digits-only forms, work addresses instead of personal ones. Hard negatives
are different people who look alike: relatives sharing a household phone, a
family name and an address, and colleagues behind one switchboard.

Everything is a function of ``count`` and ``seed`` (one ``random.Random``,
small embedded name lists, no clock, no Faker), so ``make demo`` tells the
same story on every machine. ``benchmarks/datagen.py`` shares the corruption
helpers (:func:`typo`, :func:`corrupt_name`, :func:`format_phone`...).
"""

from __future__ import annotations

import csv
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Final

import attrs
import phonenumbers

__all__ = [
    "CONTACT_COLUMNS",
    "CONTACT_FIELDS",
    "INTERACTION_COLUMNS",
    "LEGAL_FORMS",
    "NICKNAMES",
    "ascii_fold",
    "company_variant",
    "contact_rows",
    "corrupt_name",
    "format_phone",
    "interaction_rows",
    "landline",
    "messy_company_and_city",
    "messy_email",
    "mobile",
    "slug",
    "surviving_contacts",
    "typo",
    "write_semicolon_csv",
]

# ------------------------------------------------------------------ corruption helpers

NICKNAMES: Final[dict[str, tuple[str, ...]]] = {
    "Robert": ("Bob", "Rob", "Bobby"),
    "William": ("Bill", "Will"),
    "Elizabeth": ("Liz", "Beth"),
    "Margaret": ("Maggie", "Peggy"),
    "James": ("Jim", "Jimmy"),
    "John": ("Jack", "Johnny"),
    "Richard": ("Rick", "Dick"),
    "Michael": ("Mike",),
    "Thomas": ("Tom",),
    "Jennifer": ("Jenny", "Jen"),
    "Katherine": ("Kate", "Kathy"),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Joseph": ("Joe",),
    "Charles": ("Charlie",),
    "Edward": ("Ed", "Ted"),
    "Susan": ("Sue",),
    "Patricia": ("Pat", "Patty"),
    "Rebecca": ("Becky",),
    "Samuel": ("Sam",),
    "Benjamin": ("Ben",),
    "Alexander": ("Alex",),
    "Andrew": ("Andy",),
    "Steven": ("Steve",),
    "Nicholas": ("Nick",),
    "Jonathan": ("Jon",),
    "Johannes": ("Hannes",),
    "Katharina": ("Kathi",),
    "Stefanie": ("Steffi",),
    "Friedrich": ("Fritz",),
    "Wolfgang": ("Wolf",),
    "Lars": ("Lasse",),
    "Nils": ("Nisse",),
    "Hans": ("Hasse",),
    "Karl": ("Kalle",),
    "Per": ("Pelle",),
    "Magnus": ("Mange",),
    "Kristina": ("Stina", "Kicki"),
    "Elisabeth": ("Lisa",),
    "Muhammad": ("Muh.", "Moh."),
}
"""Given names and the short forms people use for them."""

LEGAL_FORMS: Final[tuple[tuple[str, ...], ...]] = (
    ("Inc", "Inc.", "Incorporated"),
    ("LLC", "L.L.C."),
    ("Ltd", "Ltd.", "Limited"),
    ("PLC", "plc"),
    ("GmbH", "G.m.b.H."),
    ("AG",),
    ("KG",),
    ("AB", "Aktiebolag"),
    ("HB", "Handelsbolag"),
    ("PT", "P.T."),
    ("Tbk", "Tbk."),
    ("CV", "C.V."),
)
"""Legal form spellings that name the same thing: one is swapped for another, or dropped."""

LEGAL_FORM_OF: Final = {form.casefold(): group for group in LEGAL_FORMS for form in group}


def ascii_fold(text: str) -> str:
    """``text`` without diacritics (``Åsa Sjöberg`` -> ``Asa Sjoberg``), as old systems type it."""
    text = text.replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("Ø", "O")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits only: the part of a name in an email address."""
    return re.sub(r"[^a-z0-9]+", "", ascii_fold(text).lower())


def mobile(rng: random.Random, region: str) -> str:
    """A mobile number in national digits for ``region`` (SE, DE, GB, US or ID)."""
    digits = "".join(str(rng.randrange(10)) for _ in range(8))
    if region == "SE":
        return f"07{rng.choice('0236')}{digits[:7]}"
    if region == "DE":
        return f"015{rng.choice('1279')}{digits[:7]}"
    if region == "GB":
        return f"07{rng.choice('4579')}{digits[:8]}"
    if region == "US":
        return f"{rng.randrange(2, 10)}{digits[:2]}{rng.randrange(2, 10)}{digits[2:8]}"
    return f"08{rng.choice('1235789')}{rng.randrange(1, 10)}{digits}"  # ID


def landline(rng: random.Random, region: str) -> str:
    """A fixed-line number (a home, a switchboard) in national digits for ``region``."""
    digits = "".join(str(rng.randrange(1, 10)) for _ in range(8))
    prefix = {"SE": "08", "DE": "030", "GB": "020", "ID": "021"}.get(region)
    if prefix is None:
        return f"{rng.choice(('212', '415', '312', '617'))}{rng.randrange(2, 10)}{digits[:6]}"
    return prefix + digits


def format_phone(rng: random.Random, national: str, region: str, international: bool) -> str:
    """``national`` digits as someone typed them: national, international, 00 or digits only."""
    number = phonenumbers.parse(national, region)
    if international:
        style = rng.random()
        if style < 0.5:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if style < 0.75:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if region in {"SE", "DE", "GB"}:  # their international prefix is 00
            text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            return "00" + text[1:]
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if rng.random() < 0.6:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return national  # digits only


def typo(rng: random.Random, text: str) -> str:
    """``text`` with one typing mistake: a transposition, deletion, substitution or doubling."""
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.3:  # transposition
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind < 0.55:  # deletion
        return text[:i] + text[i + 1 :]
    if kind < 0.8:  # substitution by a keyboard neighbour-ish letter
        return text[:i] + rng.choice("aeiourstnl") + text[i + 1 :]
    return text[:i] + text[i] + text[i:]  # doubled letter


def company_variant(rng: random.Random, company: str) -> str:
    """The company's name with its legal form respelled or dropped, sometimes in capitals."""
    words = company.split()
    out = []
    for word in words:
        group = LEGAL_FORM_OF.get(word.strip(",").casefold())
        if group is None:
            out.append(word)
            continue
        choice = rng.random()
        if choice < 0.4:
            continue  # dropped
        out.append(rng.choice(group))
    text = " ".join(out) or company
    if rng.random() < 0.2:
        text = text.upper()
    return text


def corrupt_name(rng: random.Random, given: str, family: str) -> tuple[str, str]:
    """A name as another system holds it: a typo, no diacritics, a nickname, swapped, cased."""
    roll = rng.random()
    if roll < 0.12:
        given = typo(rng, given)
    elif roll < 0.2:
        family = typo(rng, family)
    elif roll < 0.3 and ascii_fold(given + family) != given + family:
        given, family = ascii_fold(given), ascii_fold(family)
    elif roll < 0.38 and given in NICKNAMES:
        given = rng.choice(NICKNAMES[given])
    elif roll < 0.44:
        given, family = family, given
    elif roll < 0.5:
        given = given[0] + "."
    elif roll < 0.55:
        given, family = given.upper(), family.upper()
    elif roll < 0.58:
        given, family = given.lower(), family.lower()
    return given, family


def surviving_contacts(
    rng: random.Random,
    person: tuple[str, str],
    work: tuple[str, str],
    *,
    restore: float = 1.0,
) -> tuple[str, str]:
    """The ``(email, phone)`` a later copy of a record keeps: missing, or the work ones.

    ``person`` and ``work`` are ``(email, phone)`` pairs. When neither is
    left, the personal email comes back with probability ``restore``: forms
    and imports ask for a contact point.
    """
    email, phone = person
    email_kind = rng.random()
    if email_kind < 0.15:
        email = ""
    elif email_kind < 0.3 and work[0]:
        email = work[0]
    phone_kind = rng.random()
    if phone_kind < 0.2:
        phone = ""
    elif phone_kind < 0.3 and work[1]:
        phone = work[1]
    if not email and not phone and rng.random() < restore:
        email = person[0]
    return email, phone


def messy_email(rng: random.Random, email: str) -> str:
    """``email`` as another system holds it: in capitals, capitalised, with spaces around."""
    if email:
        if rng.random() < 0.2:
            email = email.upper() if rng.random() < 0.5 else email.capitalize()
        if rng.random() < 0.15:
            email = f" {email} "
    return email


def messy_company_and_city(rng: random.Random, company: str, city: str) -> tuple[str, str]:
    """The company respelled or dropped, the city missing or mistyped."""
    if company and rng.random() < 0.5:
        company = company_variant(rng, company) if rng.random() < 0.8 else ""
    if rng.random() < 0.15:
        city = ""
    elif rng.random() < 0.05:
        city = typo(rng, city)
    return company, city


# ------------------------------------------------------------------ the shop's people


@attrs.frozen
class _Country:
    region: str
    share: float
    names: tuple[str, ...]  # what the Land column holds: the code, or the English name
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[str, ...]
    cities: tuple[str, ...]
    streets: tuple[str, ...]
    companies: tuple[str, ...]
    mail: tuple[str, ...]
    tld: str
    offset: int  # hours from UTC (standard time): the interactions' local clocks


def _list(names: str) -> tuple[str, ...]:
    return tuple(names.split(", "))


_COUNTRIES: Final = (
    _Country(
        "SE",
        0.45,
        _list("SE, SE, Sweden"),
        _list(
            "Anna, Eva, Maria, Karin, Kristina, Lena, Sara, Emma, "
            "Ingrid, Åsa, Elisabeth, Linnéa, Maja, Astrid, Sofia, Johanna"
        ),
        _list(
            "Lars, Anders, Johan, Per, Karl, Erik, Nils, Magnus, "
            "Mikael, Hans, Olof, Björn, Gustav, Oskar, Henrik, Jonas"
        ),
        _list(
            "Andersson, Johansson, Karlsson, Nilsson, Eriksson, Larsson, Olsson, "
            "Persson, Svensson, Gustafsson, Lindqvist, Lindström, Bergström, "
            "Sjöberg, Åkesson, Öberg, Holm, Nyström, Lundgren, Ekström"
        ),
        _list(
            "Stockholm, Göteborg, Malmö, Uppsala, Västerås, Örebro, Linköping, "
            "Helsingborg, Jönköping, Norrköping, Lund, Umeå, Gävle, Borås"
        ),
        _list(
            "Storgatan, Drottninggatan, Kungsgatan, Skolgatan, Kyrkogatan, "
            "Järnvägsgatan, Parkvägen, Björkvägen, Ringvägen, Södra vägen"
        ),
        _list(
            "Nordisk Design AB, Sjöberg & Söner AB, Lindqvist Bygg AB, "
            "Göteborgs Kaffe AB, Fjällsport HB, Skärgårdens Båtar AB, Uppsala Data AB"
        ),
        _list("gmail.com, telia.com, hotmail.se, outlook.com"),
        "se",
        1,
    ),
    _Country(
        "ID",
        0.35,
        _list("ID, ID, Indonesia"),
        _list(
            "Siti, Dewi, Sri, Putri, Ayu, Indah, Rina, "
            "Wulan, Fitri, Nur, Ratna, Intan, Lestari, Kartika"
        ),
        _list(
            "Budi, Agus, Joko, Eko, Andi, Dedi, Rudi, "
            "Bambang, Hendra, Muhammad, Ahmad, Rizky, Slamet, Wahyu"
        ),
        _list(
            "Santoso, Wijaya, Saputra, Hidayat, Rahayu, Susanto, Pratama, "
            "Kusuma, Setiawan, Nugroho, Gunawan, Halim, Siregar, Hasibuan, Lubis"
        ),
        _list(
            "Jakarta, Surabaya, Bandung, Medan, Semarang, "
            "Yogyakarta, Makassar, Denpasar, Malang, Bogor, Palembang"
        ),
        _list(
            "Jalan Sudirman, Jalan Thamrin, Jalan Gatot Subroto, Jalan Diponegoro, "
            "Jalan Merdeka, Jalan Pahlawan, Jalan Asia Afrika, Jalan Malioboro"
        ),
        _list(
            "PT Maju Jaya, PT Sinar Abadi Tbk, CV Berkah Sejahtera, "
            "PT Nusantara Digital, PT Kopi Priangan, CV Batik Lestari"
        ),
        _list("gmail.com, yahoo.co.id, yahoo.com"),
        "co.id",
        7,
    ),
    _Country(
        "DE",
        0.12,
        _list("DE, Germany"),
        _list(
            "Anna, Katharina, Stefanie, Julia, Sabine, Petra, "
            "Monika, Claudia, Andrea, Ursula, Jana, Lena"
        ),
        _list(
            "Thomas, Michael, Andreas, Stefan, Johannes, Friedrich, "
            "Wolfgang, Klaus, Jürgen, Markus, Tobias, Lukas"
        ),
        _list(
            "Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, "
            "Becker, Schulz, Hoffmann, Koch, Schäfer, Groß, Weiß"
        ),
        _list(
            "Berlin, Hamburg, München, Köln, Frankfurt am Main, "
            "Stuttgart, Düsseldorf, Leipzig, Dresden, Nürnberg"
        ),
        _list(
            "Hauptstraße, Bahnhofstraße, Gartenstraße, Schulstraße, "
            "Dorfstraße, Bergstraße, Lindenstraße, Goethestraße"
        ),
        _list("Müller Logistik GmbH, Weber & Koch KG, Bäckerei Schneider GmbH, Nordlicht AG"),
        _list("gmx.de, web.de, t-online.de, gmail.com"),
        "de",
        1,
    ),
    _Country(
        "GB",
        0.08,
        _list("GB, United Kingdom"),
        _list(
            "Elizabeth, Margaret, Sarah, Emma, Charlotte, "
            "Olivia, Rebecca, Katherine, Susan, Jennifer"
        ),
        _list(
            "James, William, Robert, Thomas, Richard, Edward, Daniel, Christopher, Andrew, Samuel"
        ),
        _list(
            "Smith, Jones, Taylor, Brown, Williams, Wilson, "
            "Johnson, Davies, Evans, Thomas, Roberts, Walker"
        ),
        _list(
            "London, Manchester, Birmingham, Leeds, Glasgow, Bristol, Edinburgh, Liverpool, Cardiff"
        ),
        _list(
            "High Street, Station Road, Church Lane, "
            "Victoria Road, Green Lane, Park Road, Mill Lane"
        ),
        _list("Thames Trading Ltd, Highland Outfitters PLC, Brown & Sons Ltd"),
        _list("gmail.com, btinternet.com, hotmail.co.uk"),
        "co.uk",
        0,
    ),
)
_BY_REGION: Final = {country.region: country for country in _COUNTRIES}

CONTACT_COLUMNS: Final = (
    "Kundnr",
    "Förnamn",
    "Efternamn",
    "E-post",
    "Telefon",
    "Företag",
    "Adress",
    "Postnummer",
    "Ort",
    "Land",
)
"""The Swedish office's export: customer number, given and family name, e-mail, phone,
company, street address, postcode, city and country."""

CONTACT_FIELDS: Final = (
    ("identifier", "Kundnr"),
    ("given_name", "Förnamn"),
    ("family_name", "Efternamn"),
    ("email", "E-post"),
    ("phone", "Telefon"),
    ("company", "Företag"),
    ("address", "Adress"),
    ("postcode", "Postnummer"),
    ("city", "Ort"),
    ("country", "Land"),
)
"""``(field, column)`` pairs for :func:`crmcore.io.row_to_customer`: what each column feeds."""

TRUTH_COLUMN: Final = "entity"
"""The column :func:`contact_rows` adds with ``truth=True``: who the row really is."""


@attrs.define
class _Person:
    id: str
    country: _Country
    given: str
    family: str
    email: str
    phone: str  # national digits
    street: str
    postcode: str
    city: str
    company: str = ""
    work_email: str = ""
    work_phone: str = ""


def _valid(rng: random.Random, region: str, draw: Callable[[random.Random, str], str]) -> str:
    # The shop's numbers are real-looking: a draw phonenumbers calls invalid
    # (some London prefixes) is drawn again.
    for _ in range(50):
        number = draw(rng, region)
        if phonenumbers.is_valid_number(phonenumbers.parse(number, region)):
            return number
    raise AssertionError("no valid number drawn")  # pragma: no cover


def _mobile(rng: random.Random, region: str) -> str:
    if region == "DE":  # 015x and eight digits (mobile() draws one digit short)
        return f"015{rng.choice('1279')}" + "".join(str(rng.randrange(10)) for _ in range(8))
    return mobile(rng, region)


def _postcode(rng: random.Random, region: str) -> str:
    if region == "SE":
        return f"{rng.randrange(100, 990)} {rng.randrange(10, 99)}"
    if region == "GB":
        letters = "ABCDEFGHJKLMNPRSTUWXYZ"
        return f"{rng.choice(letters)}{rng.choice(letters)}{rng.randrange(1, 20)} {rng.randrange(1, 10)}{rng.choice(letters)}{rng.choice(letters)}"  # noqa: E501
    return f"{rng.randrange(10_000, 99_999)}"


def _street(rng: random.Random, country: _Country) -> str:
    street, number = rng.choice(country.streets), rng.randrange(1, 120)
    if country.region in {"GB", "ID"}:
        return f"{street} {number}" if country.region == "ID" else f"{number} {street}"
    return f"{street} {number}"


class _People:
    """Draws the shop's people, with unique personal addresses and shared switchboards."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self.switchboards: dict[str, str] = {}

    def unique(self, local: str, domain: str) -> str:
        address, n = f"{local}@{domain}", 1
        while address in self.used:
            n += 1
            address = f"{local}{n}@{domain}"
        self.used.add(address)
        return address

    def personal_email(self, given: str, family: str, country: _Country) -> str:
        rng = self.rng
        g, f = slug(given) or "x", slug(family)
        if f:
            local = rng.choice((f"{g}.{f}", f"{g}{f}", f"{g[0]}.{f}", f"{g}_{f}", f"{g}{f[0]}"))
        else:  # one name only
            local = f"{g}{rng.randrange(1, 9999)}"
        if rng.random() < 0.3:
            local += str(rng.randrange(1, 99))
        return self.unique(local, rng.choice(country.mail))

    def person(self, number: int, country: _Country) -> _Person:
        rng = self.rng
        given = rng.choice(country.female if rng.random() < 0.5 else country.male)
        # Many Indonesians have one name only.
        family = "" if country.region == "ID" and rng.random() < 0.1 else rng.choice(country.family)
        person = _Person(
            id=f"p{number:05d}",
            country=country,
            given=given,
            family=family,
            email=self.personal_email(given, family, country),
            phone=_valid(rng, country.region, _mobile),
            street=_street(rng, country),
            postcode=_postcode(rng, country.region),
            city=rng.choice(country.cities),
        )
        if rng.random() < 0.4:
            company = rng.choice(country.companies)
            core = [w for w in company.split() if w.strip(",").casefold() not in LEGAL_FORM_OF]
            domain = (slug(" ".join(core[:2])) or "foretag") + "." + country.tld
            person.company = company
            person.work_email = self.unique(f"{slug(given)}.{slug(family) or 'kontakt'}", domain)
            person.work_phone = self.switchboards.setdefault(company, landline(rng, country.region))
        return person

    def relative(self, number: int, of: _Person) -> _Person:
        """Someone of the same household: family name, address and home phone, not the person."""
        rng, country = self.rng, of.country
        others = [n for n in country.female + country.male if n != of.given]
        given = rng.choice(others)
        home = _valid(rng, country.region, landline)
        of.phone = home
        return _Person(
            id=f"p{number:05d}",
            country=country,
            given=given,
            family=of.family,
            email=self.personal_email(given, of.family, country),
            phone=home,
            street=of.street,
            postcode=of.postcode,
            city=of.city,
        )

    def colleague(self, number: int, of: _Person) -> _Person:
        """Someone at the same company, reached through the same switchboard."""
        colleague = self.person(number, of.country)
        colleague.company = of.company
        colleague.work_phone = of.work_phone
        colleague.phone = of.work_phone
        domain = of.work_email.rpartition("@")[2]
        colleague.work_email = self.unique(
            f"{slug(colleague.given)}.{slug(colleague.family) or 'kontakt'}", domain
        )
        return colleague


def _people(count: int, rng: random.Random) -> list[_Person]:
    draw = _People(rng)
    regions = list(_COUNTRIES)
    weights = [country.share for country in _COUNTRIES]
    people: list[_Person] = []
    while len(people) < count:
        person = draw.person(len(people), rng.choices(regions, weights)[0])
        people.append(person)
        roll = rng.random()
        if roll < 0.06:
            people.append(draw.relative(len(people), person))
        elif roll < 0.09 and person.company:
            people.append(draw.colleague(len(people), person))
    return people[:count]


def _row(rng: random.Random, person: _Person, original: bool) -> dict[str, str]:
    country = person.country
    given, family = person.given, person.family
    email, phone_national = person.email, person.phone
    company, street, postcode, city = person.company, person.street, person.postcode, person.city
    land = rng.choice(country.names)
    international = rng.random() < 0.3
    if not original:
        # Which contact points survive decides whether a duplicate can be found at all.
        email, phone_national = surviving_contacts(
            rng, (person.email, person.phone), (person.work_email, person.work_phone)
        )
        given, family = corrupt_name(rng, given, family) if family else (given, family)
        email = messy_email(rng, email)
        company, city = messy_company_and_city(rng, company, city)
        if rng.random() < 0.3:
            street, postcode = "", ""
        if rng.random() < 0.1:
            land = ""
            international = True  # without a country, only an international number reads
    phone = (
        format_phone(rng, phone_national, country.region, international) if phone_national else ""
    )
    return {
        "Förnamn": given,
        "Efternamn": family,
        "E-post": email,
        "Telefon": phone,
        "Företag": company,
        "Adress": street,
        "Postnummer": postcode,
        "Ort": city,
        "Land": land,
        TRUTH_COLUMN: person.id,
    }


def contact_rows(count: int, seed: int = 0, *, truth: bool = False) -> list[dict[str, str]]:
    """``count`` messy contact rows with :data:`CONTACT_COLUMNS`, shuffled, the same for a seed.

    About a third of the people have one to three more rows (corrupted
    copies); every row has an email or a phone. ``truth=True`` adds the
    :data:`TRUTH_COLUMN` naming the person each row is, for tests and scores.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    rng = random.Random(seed)
    per_person: list[int] = []
    total = 0
    while total < count:
        n = 1 + (rng.choice((1, 1, 1, 1, 2, 2, 3)) if rng.random() < 0.33 else 0)
        n = min(n, count - total)
        per_person.append(n)
        total += n
    people = _people(len(per_person), rng)
    rows = [
        _row(rng, person, original=(k == 0))
        for person, n in zip(people, per_person, strict=True)
        for k in range(n)
    ]
    rng.shuffle(rows)
    numbered = [{"Kundnr": f"SE-{10_001 + i}", **row} for i, row in enumerate(rows)]
    if not truth:
        for row in numbered:
            del row[TRUTH_COLUMN]
    return numbered


def write_semicolon_csv(
    path: Path, rows: Sequence[dict[str, str]], columns: Iterable[str] | None = None
) -> None:
    """Write ``rows`` as Excel does in Swedish: semicolons, CRLF, UTF-8 with a BOM.

    Args:
        path: the file to write (replaced if it exists).
        rows: the rows, each a dict of column -> cell.
        columns: the header, in order (default: the first row's keys).
    """
    header = list(columns) if columns is not None else list(rows[0]) if rows else []
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


# ------------------------------------------------------------------ what happened with them

INTERACTION_COLUMNS: Final = (
    "external_id",
    "channel",
    "direction",
    "occurred_at",
    "email",
    "phone",
    "customer_number",
    "subject",
)
"""One interaction per row: the provider's id, the channel, who started it, when (ISO 8601
with the local offset), the participant by email, phone or customer number, a subject."""

_SUBJECTS: Final = {
    "SE": ("Fråga om leverans", "Retur av order", "Faktura saknas", "Tack för snabb leverans"),
    "ID": ("Pertanyaan pesanan", "Pengembalian barang", "Status pengiriman", "Terima kasih"),
    "DE": ("Frage zur Lieferung", "Rücksendung", "Rechnung fehlt"),
    "GB": ("Delivery question", "Return request", "Missing invoice"),
}
_CHANNELS: Final = (
    ("email", 0.4, ("inbound", "outbound")),
    ("chat", 0.25, ("inbound",)),
    ("web_form", 0.2, ("inbound",)),
    ("phone_call", 0.15, ("inbound", "outbound")),
)
_START: Final = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def interaction_rows(
    contacts: Sequence[dict[str, str]], count: int, seed: int = 0
) -> list[dict[str, str]]:
    """``count`` interactions (emails, chats, web forms, calls) with people of ``contacts``.

    Each names its participant the way its channel knows them: an email by
    the address (as the sender typed it), a call by the number (in E.164, as
    the phone system shows it), a web form by either, a chat sometimes by the
    shop's customer number (``Kundnr``). Timestamps carry the customer's local offset (Stockholm
    +01:00, Jakarta +07:00, ...) and are in order of ``external_id``.

    Args:
        contacts: rows from :func:`contact_rows` (they must have an email or a phone).
        count: how many interactions.
        seed: the same seed gives the same rows.
    """
    if not contacts and count:
        raise ValueError("interactions need contacts to be with")
    rng = random.Random(seed)
    names = [channel for channel, _, _ in _CHANNELS]
    weights = [share for _, share, _ in _CHANNELS]
    directions = {channel: options for channel, _, options in _CHANNELS}
    moments = sorted(rng.randrange(0, 90 * 24 * 3600) for _ in range(count))
    rows: list[dict[str, str]] = []
    for n, seconds in enumerate(moments):
        contact = rng.choice(contacts)
        region = _region_of(contact)
        country = _BY_REGION[region]
        channel = rng.choices(names, weights)[0]
        email, phone, number = contact.get("E-post", "").strip(), contact.get("Telefon", ""), ""
        if channel == "phone_call" and phone:
            email = ""
        elif channel == "chat" and rng.random() < 0.5:
            email, phone, number = "", "", contact["Kundnr"]
        elif email:
            phone = ""
            if rng.random() < 0.2:
                email = email.lower()
        if phone:
            phone = _reformatted(phone, region)
        local = timezone(timedelta(hours=country.offset))
        at = (_START + timedelta(seconds=seconds)).astimezone(local)
        rows.append(
            {
                "external_id": f"{channel}-{seed}-{n:06d}",
                "channel": channel,
                "direction": rng.choice(directions[channel]),
                "occurred_at": at.isoformat(),
                "email": email,
                "phone": phone,
                "customer_number": number,
                "subject": rng.choice(_SUBJECTS[region]),
            }
        )
    return rows


def _region_of(contact: dict[str, str]) -> str:
    land = contact.get("Land", "")
    for country in _COUNTRIES:
        if land in country.names:
            return country.region
    phone = contact.get("Telefon", "").replace(" ", "")
    prefixes = {"+46": "SE", "0046": "SE", "+62": "ID", "+49": "DE", "0049": "DE", "+44": "GB"}
    return next((r for p, r in prefixes.items() if phone.startswith(p)), "GB" if phone else "SE")


def _reformatted(phone: str, region: str) -> str:
    # Calls come from the phone system and forms check their numbers: E.164.
    text = "+" + phone[2:] if phone.startswith("00") else phone
    number = phonenumbers.parse(text, region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
