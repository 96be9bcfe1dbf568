"""Harder CRM exports with ground truth: one kind of difficulty per duplicate group.

The project's own generator (``benchmarks/datagen.py``) makes duplicates by
corrupting a person's first record. This one is built separately, from its own
lists, so that matching changes can be judged on data the engine was not tuned
on. Every entity (a person or an organisation) carries a ``kind``: the one
phenomenon its records show, so that quality can be read per kind. The kinds:

- ``plain_SE`` ... ``plain_US``: ordinary people of each country (their own
  names, mobile and fixed phones, streets and postcodes), one to three records
  differing only in phone format, case, and a missing field; also the
  singletons that fill the file;
- people: ``honorific`` (Dr., Prof., Mr/Mrs/Ms, Herr/Frau, Bapak/Bpk./Ibu on
  some records), ``gen_suffix`` (Jr./Sr./III on every record, written
  differently), ``mononym`` (one name, Indonesia), ``married_name`` (same
  given name, another family name, same personal email or mobile),
  ``family_given_cell`` ("Family, Given" in one ``Name`` cell),
  ``script_same`` (the same Cyrillic, Greek, Arabic or CJK name on each
  record), ``script_translit`` (script on one record, Latin transliteration on
  another), ``nickname_sv`` (Mange/Magnus, Kalle/Karl, Hasse/Hans,
  Kicki/Kristina ...), ``nickname_id`` (Soekarno/Sukarno: oe/u, dj/j, tj/c,
  j/y; Muhammad/Moh.), ``nickname_en``, ``email_plus_gmail`` (plus tags,
  Gmail dots, googlemail.com), ``phone_format`` (``tel:+46-8-...``, country
  code without plus, extensions), ``street_abbrev`` (Street/St.,
  gatan/g., vägen/v., Straße/Str./strasse, Jalan/Jl., Gang/Gg., straat/str.)
  and ``postcode_format`` (``123 45``/``12345``, ``1234 AB``/``1234ab``, UK
  case and spacing), where name and address are the only shared evidence;
- organisations (``Company`` column, no person name): ``org_legal_punct``
  ("B. V.", "BV.", "N,V,"), ``org_legal_multi`` ("Sp. z o.o.", "A/S",
  "S.A. de C.V.", "Koninklijke ... N.V."), ``org_containment`` ("Saturnus" /
  "Café Saturnus Restaurang"), ``org_role_mailbox`` (info@, sales@,
  kontakt@ ...), ``org_name_column`` (the organisation's name in the ``Name``
  column);
- entities with hundreds of records: ``big_person`` and ``big_org`` (200 to
  800 rows each);
- traps, different entities that look alike (each is its own entity; some have
  a true duplicate of their own, which keeps the trap's kind):
  ``trap_household`` (a couple sharing a family mailbox, home phone and
  address, sometimes "Mr. John Smith" / "Mrs. Jane Smith"),
  ``trap_parent_junior`` (a parent and a "Jr." at one address and home phone),
  ``trap_colleagues`` (three to eight people on one switchboard and address),
  ``trap_crowd`` (the country's commonest names in one city, each with an
  own email and phone), ``trap_nickname_group`` (Chris and Tina, Joe and
  Hanna ... sharing a home phone: names that only share a nickname group),
  ``trap_middle_name`` (Anna Maria Berg and Anna Lisa Berg in one city),
  ``trap_org_branch`` (one organisation's branches: same name and phone,
  different addresses), ``trap_role_mailbox_people`` (different people who
  signed up with their employer's info@ address), ``trap_person_vs_org``
  (a sole trader and the company named after them, one phone and address),
  ``trap_script_household`` (a couple in one script sharing a mailbox).

Columns: ``record_id``, ``entity_id`` (truth), ``kind`` (truth), ``Name``,
``First Name``, ``Last Name``, ``Email``, ``Phone``, ``Company``, ``Street``,
``Postcode``, ``City``, ``Country``. Only the columns after ``kind`` are for
the matcher. The output is a function of ``count`` and ``seed`` (for one Faker
version).

Run: ``.venv/bin/python benchmarks/datagen_hard.py --count 20000 --output hard.csv``
"""

from __future__ import annotations

import random
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import phonenumbers
from faker import Faker

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks.datagen`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import datagen  # noqa: E402

__all__ = ["COLUMNS", "KINDS", "TRAP_KINDS", "generate", "write_csv"]

COLUMNS = (
    "record_id",
    "entity_id",
    "kind",
    "Name",
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Company",
    "Street",
    "Postcode",
    "City",
    "Country",
)

REGIONS = ("SE", "DE", "NL", "ID", "GB", "US")
_LOCALE = {"SE": "sv_SE", "DE": "de_DE", "NL": "nl_NL", "ID": "id_ID", "GB": "en_GB", "US": "en_US"}
_COUNTRY_NAME = {
    "SE": ("SE", "Sweden", "Sverige"),
    "DE": ("DE", "Germany", "Deutschland"),
    "NL": ("NL", "Netherlands", "Nederland"),
    "ID": ("ID", "Indonesia"),
    "GB": ("GB", "United Kingdom", "UK"),
    "US": ("US", "United States", "USA"),
}
_FREEMAIL = {
    "SE": ("gmail.com", "telia.com", "hotmail.se", "outlook.com"),
    "DE": ("gmx.de", "web.de", "t-online.de", "gmail.com"),
    "NL": ("ziggo.nl", "kpnmail.nl", "gmail.com", "hotmail.nl"),
    "ID": ("gmail.com", "yahoo.co.id", "yahoo.com"),
    "GB": ("gmail.com", "btinternet.com", "hotmail.co.uk"),
    "US": ("gmail.com", "yahoo.com", "outlook.com", "aol.com"),
}
_TLD = {"SE": "se", "DE": "de", "NL": "nl", "ID": "co.id", "GB": "co.uk", "US": "com"}
_FAMILY_WORD = {
    "SE": "familjen",
    "DE": "familie",
    "NL": "familie",
    "ID": "keluarga",
    "GB": "the",
    "US": "the",
}

# Street stems and types: (full type, abbreviations); the type is a suffix where the
# language writes it so (gatan, straße, straat) and a word elsewhere.
_STREET_STEMS = {
    "SE": ("Stor", "Kungs", "Drottning", "Björk", "Ek", "Sjö", "Skol", "Kyrko", "Ring", "Lin"),
    "DE": ("Haupt", "Bahnhof", "Schiller", "Goethe", "Linden", "Berg", "Garten", "Kirch", "Wald"),
    "NL": ("Kerk", "Dorps", "School", "Molen", "Juliana", "Beatrix", "Wilhelmina", "Stations"),
    "ID": ("Merdeka", "Sudirman", "Diponegoro", "Gatot Subroto", "Mawar", "Melati", "Kenanga"),
    "GB": ("High", "Station", "Church", "Victoria", "Park", "Mill", "Queen", "Green"),
    "US": ("Main", "Oak", "Maple", "Washington", "Lake", "Hill", "Cedar", "Elm", "Pine"),
}
_STREET_TYPES: dict[str, tuple[tuple[str, tuple[str, ...], bool], ...]] = {
    # region -> ((type, abbreviations, written as a suffix), ...)
    "SE": (("gatan", ("g.", "g"), True), ("vägen", ("v.", "v", "vagen"), True)),
    "DE": (("straße", ("str.", "strasse", "Str.", "-Str."), True), ("weg", ("weg",), True)),
    "NL": (("straat", ("str.", "str"), True), ("laan", ("ln.",), True)),
    "ID": (("Jalan", ("Jl.", "Jln.", "Jl"), False), ("Gang", ("Gg.", "Gg"), False)),
    "GB": (("Street", ("St.", "St"), False), ("Road", ("Rd.", "Rd"), False)),
    "US": (("Street", ("St.", "St"), False), ("Avenue", ("Ave.", "Ave", "Av."), False)),
}

_COMMON = {
    "SE": (
        ("Anna", "Andersson"),
        ("Erik", "Johansson"),
        ("Maria", "Karlsson"),
        ("Lars", "Nilsson"),
    ),
    "DE": (
        ("Thomas", "Müller"),
        ("Michael", "Schmidt"),
        ("Sabine", "Schneider"),
        ("Andreas", "Fischer"),
    ),
    "NL": (
        ("Jan", "de Jong"),
        ("Sanne", "de Vries"),
        ("Peter", "Jansen"),
        ("Lisa", "van den Berg"),
    ),
    "ID": (("Budi", "Santoso"), ("Siti", "Rahayu"), ("Agus", "Setiawan"), ("Sri", "Wahyuni")),
    "GB": (("John", "Smith"), ("David", "Jones"), ("Sarah", "Williams"), ("James", "Taylor")),
    "US": (("James", "Smith"), ("Michael", "Johnson"), ("Mary", "Williams"), ("Robert", "Brown")),
}
_BIG_CITY = {
    "SE": "Stockholm",
    "DE": "Berlin",
    "NL": "Amsterdam",
    "ID": "Jakarta",
    "GB": "London",
    "US": "New York",
}

_NICK_SV = (
    ("Magnus", "Mange"),
    ("Karl", "Kalle"),
    ("Hans", "Hasse"),
    ("Kristina", "Kicki"),
    ("Lars", "Lasse"),
    ("Katarina", "Kattis"),
    ("Margareta", "Maggan"),
    ("Joakim", "Jocke"),
    ("Per", "Pelle"),
    ("Fredrik", "Freddan"),
    ("Thomas", "Tompa"),
    ("Birgitta", "Bittan"),
)
_NICK_EN = (
    ("Robert", "Bob"),
    ("William", "Bill"),
    ("Elizabeth", "Liz"),
    ("Katherine", "Kate"),
    ("Margaret", "Peggy"),
    ("Richard", "Dick"),
    ("Johannes", "Hannes"),
    ("Wilhelmina", "Mien"),
)
# (old or variant spelling, modern spelling)
_SPELL_ID = (
    ("Soekarno", "Sukarno"),
    ("Soeharto", "Suharto"),
    ("Djoko", "Joko"),
    ("Tjahjono", "Cahyono"),
    ("Tjipto", "Cipto"),
    ("Soesilo", "Susilo"),
    ("Joesoef", "Yusuf"),
    ("Wahjudi", "Wahyudi"),
    ("Djajadi", "Jayadi"),
    ("Soetomo", "Sutomo"),
    ("Moehammad", "Muhammad"),
    ("Muhammad", "Moh."),
    ("Muhammad", "Muh."),
    ("Achmad", "Ahmad"),
)
_MONONYMS = (
    "Mulyadi", "Suharti", "Wagiman", "Sumarni", "Paijo", "Tukiyem", "Sutrisno", "Supardi",
    "Suparmi", "Karyono", "Ngatini", "Slamet", "Jumadi", "Parmin", "Sukirah", "Warsito",
    "Darmini", "Suyatno", "Wartini", "Sugiono",
)  # fmt: skip
# (given, family) in script, and a transliteration
_SCRIPT_NAMES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "cyrillic": (
        ("Иван", "Петров", "Ivan", "Petrov"),
        ("Ольга", "Смирнова", "Olga", "Smirnova"),
        ("Дмитрий", "Кузнецов", "Dmitry", "Kuznetsov"),
        ("Наталья", "Попова", "Natalya", "Popova"),
        ("Сергей", "Волков", "Sergey", "Volkov"),
        ("Елена", "Соколова", "Elena", "Sokolova"),
        ("Алексей", "Морозов", "Alexey", "Morozov"),
        ("Татьяна", "Лебедева", "Tatyana", "Lebedeva"),
    ),
    "greek": (
        ("Γιώργος", "Παπαδόπουλος", "Giorgos", "Papadopoulos"),
        ("Μαρία", "Παπαδοπούλου", "Maria", "Papadopoulou"),
        ("Νίκος", "Γεωργίου", "Nikos", "Georgiou"),
        ("Ελένη", "Οικονόμου", "Eleni", "Oikonomou"),
        ("Κώστας", "Δημητρίου", "Kostas", "Dimitriou"),
    ),
    "arabic": (
        ("محمد", "العلي", "Mohammed", "Al-Ali"),
        ("فاطمة", "حسن", "Fatima", "Hassan"),
        ("أحمد", "خليل", "Ahmed", "Khalil"),
        ("ليلى", "منصور", "Layla", "Mansour"),
        ("عمر", "يوسف", "Omar", "Youssef"),
    ),
    "cjk": (
        ("伟", "王", "Wei", "Wang"),
        ("秀英", "李", "Xiuying", "Li"),
        ("娜", "张", "Na", "Zhang"),
        ("强", "刘", "Qiang", "Liu"),
        ("健太", "佐藤", "Kenta", "Sato"),
        ("美咲", "鈴木", "Misaki", "Suzuki"),
    ),
}
_CJK_FAMILY_FIRST = True

# region -> (either, a man's, a woman's)
_HONORIFICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "SE": (("Dr.", "Dr", "Prof."), (), ()),
    "DE": (("Dr.", "Prof. Dr."), ("Herr", "Herr Dr."), ("Frau", "Frau Dr.")),
    "NL": (("Dr.", "Ir.", "Drs."), ("Dhr.",), ("Mevr.",)),
    "ID": (("Dr.", "Ir."), ("Bapak", "Bpk."), ("Ibu",)),
    "GB": (("Dr", "Prof."), ("Mr",), ("Mrs", "Ms")),
    "US": (("Dr.", "Prof."), ("Mr.",), ("Mrs.", "Ms.")),
}
_SUFFIXES = (
    ("Jr.", ("Jr", "Jr.", ", Jr.", "Junior")),
    ("Sr.", ("Sr", "Sr.", ", Sr.")),
    ("III", ("III", ", III")),
)

# legal-form spellings: (canonical, variants)
_PUNCT_FORMS = (
    ("B.V.", ("B. V.", "BV.", "BV", "b.v.", "B.V")),
    ("N.V.", ("N,V,", "NV", "N. V.", "nv")),
    ("AB", ("A.B.", "Ab", "AB.")),
    ("GmbH", ("G.m.b.H.", "GMBH", "Gmbh.")),
    ("Ltd.", ("Ltd", "LTD.", "Limited", "Ltd,")),
    ("Inc.", ("Inc", "INC.", "Incorporated", ", Inc.")),
    ("PT", ("P.T.", "Pt.", "PT.")),
)
_MULTI_FORMS = (
    ("Sp. z o.o.", ("sp. z o.o.", "Sp.z o.o.", "SP Z OO", "spółka z o.o.")),
    ("A/S", ("AS", "A.S.", "a/s")),
    ("S.A. de C.V.", ("SA de CV", "S.A. DE C.V.", "S. A. de C. V.", "SA")),
    ("GmbH & Co. KG", ("GmbH & Co KG", "GmbH u. Co. KG", "GmbH&Co.KG")),
    ("Tbk", ("(Persero) Tbk", "Tbk.", "")),
    ("Handelsbolag", ("HB", "H.B.")),
)
_ORG_STEMS = (
    "Nordisk Design", "Van Dijk Logistiek", "Brouwerij Jansen", "Kowalski Transport",
    "Grupo Alfa", "Sinar Jaya", "Müller Maschinenbau", "Berg & Lind", "Atlas Bygg",
    "Horizon Foods", "Maju Bersama", "Hansen Shipping", "Delta Consulting", "Kastanje Media",
    "Fjällrum", "Rheinland Solar", "Bumi Agung", "Ocean Analytics", "Lotus Interiors",
    "Bakkerij de Molen", "Sentosa Elektrik", "Trident Security", "Vintergatan Media",
)  # fmt: skip
_TRADES = {
    "SE": ("Bygg", "Måleri", "Transport", "Data", "Konsult", "Fastigheter", "El", "Design"),
    "DE": ("Maschinenbau", "Bau", "Logistik", "Elektro", "Immobilien", "Consulting", "Druck"),
    "NL": ("Logistiek", "Bouw", "Installatie", "Advies", "Media", "Techniek", "Transport"),
    "ID": ("Elektrik", "Konstruksi", "Logistik", "Teknik", "Mandiri", "Sejahtera", "Abadi"),
    "GB": ("Consulting", "Builders", "Logistics", "Media", "Engineering", "Properties"),
    "US": ("Consulting", "Construction", "Logistics", "Media", "Analytics", "Properties"),
}
_VENUES = ("Café", "Restaurang", "Hotel", "Bistro", "Rumah Makan", "Gasthaus", "Restaurant")
_VENUE_TAILS = ("Restaurang", "AB", "GmbH", "B.V.", "& Bar", "Ltd", "& Kitchen", "Indonesia")
_CONTAIN = (
    ("Saturnus", "Café Saturnus Restaurang"),
    ("Bäckeriet", "Bäckeriet i Lund AB"),
    ("De Gouden Leeuw", "Hotel-Restaurant De Gouden Leeuw B.V."),
    ("Sederhana", "Rumah Makan Padang Sederhana"),
    ("Zum Hirschen", "Gasthaus Zum Hirschen GmbH"),
    ("The Red Lion", "The Red Lion Pub & Kitchen Ltd"),
    ("Bluebird", "Bluebird Cafe & Bakery Inc."),
    ("Kopi Kenangan", "PT Kopi Kenangan Indonesia"),
)
_ROLES = ("info", "sales", "kontakt", "office", "hello", "support", "order", "admin")
_ROLE_BY_REGION = {
    "SE": ("info", "kontakt", "order"),
    "DE": ("info", "kontakt", "vertrieb"),
    "NL": ("info", "verkoop", "contact"),
    "ID": ("info", "admin", "cs"),
    "GB": ("info", "sales", "hello"),
    "US": ("info", "sales", "support"),
}
_NICK_TRAPS = (
    # (given a, given b): both short forms of one long name, different people
    ("Chris", "Tina"),  # Christine
    ("Joe", "Hanna"),  # Johanna
    ("Alex", "Sandra"),  # Alexandra
    ("Liz", "Beth"),  # Elizabeth
    ("Fred", "Rika"),  # Frederika
    ("Nina", "Anna"),  # Annina
    ("Kicki", "Stina"),  # Kristina
    ("Hasse", "Hannes"),  # Hans / Johannes
)
_MIDDLE_TRAPS = (
    ("Anna", ("Maria", "Lisa", "Karin", "Sofia"), "Berg"),
    ("Karl", ("Johan", "Erik", "Gustav"), "Lind"),
    ("Hans", ("Peter", "Jürgen", "Werner"), "Becker"),
    ("Maria", ("Elena", "Luisa", "Teresa"), "Schmidt"),
    ("Jan", ("Willem", "Pieter", "Hendrik"), "de Boer"),
    ("Mary", ("Ann", "Jane", "Beth"), "Walker"),
    ("Siti", ("Nur", "Aisyah", "Fatimah"), "Hidayat"),
)


@attrs.define
class _Person:
    region: str
    given: str
    family: str
    email: str
    phone: str  # national digits
    street: tuple[str, str, bool, str]  # (stem, type, suffix-style, number)
    postcode: str
    city: str
    company: str = ""


@attrs.define
class _Entity:
    id: str
    kind: str
    rows: list[dict[str, str]]


def _fold(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).replace("ß", "ss")


def _mailbox(address: str) -> str:
    """The mailbox an address delivers to: no plus tag; Gmail ignores dots and googlemail."""
    local, _, domain = address.strip().casefold().partition("@")
    local = local.split("+", 1)[0]
    if domain in {"gmail.com", "googlemail.com"}:
        return local.replace(".", "") + "@gmail.com"
    return f"{local}@{domain}"


def _slug(text: str) -> str:
    return "".join(c for c in _fold(text).casefold() if c.isascii() and c.isalnum())


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used_emails: set[str] = set()  # mailbox keys: see _mailbox
        self.used_addresses: set[tuple[str, str, str, str, str]] = set()
        self.used_org_names: set[str] = set()
        self.used_phones: set[str] = set()
        self.entities: list[_Entity] = []
        self.fakers: dict[str, Faker] = {}
        self.pool: dict[str, dict[str, list[str]]] = {}
        for i, region in enumerate(REGIONS):
            fake = Faker(_LOCALE[region])
            fake.seed_instance(seed * 101 + i)
            self.pool[region] = {
                "female": [fake.first_name_female() for _ in range(400)],
                "male": [fake.first_name_male() for _ in range(400)],
                "last": [fake.last_name() for _ in range(600)],
                "city": [fake.city() for _ in range(150)],
            }
        self.female = {r: set(self.pool[r]["female"]) for r in REGIONS}

    # --- building blocks -------------------------------------------------------------

    def region(self) -> str:
        return self.rng.choice(REGIONS)

    def title(self, p: _Person, *, gendered: bool = False) -> str:
        either, man, woman = _HONORIFICS[p.region]
        own = woman if p.given in self.female[p.region] else man
        choices = own if gendered else either + own + own
        return self.rng.choice(choices) if choices else ""

    def given(self, region: str) -> str:
        pool = self.pool[region]
        return self.rng.choice(pool["female"] if self.rng.random() < 0.5 else pool["male"])

    def family(self, region: str) -> str:
        return self.rng.choice(self.pool[region]["last"])

    def city(self, region: str) -> str:
        return self.rng.choice(self.pool[region]["city"])

    def unique_email(self, local: str, domain: str) -> str:
        # Unique by mailbox, not by spelling: ann.lee@gmail.com and annlee@gmail.com are one
        # mailbox, and two different people never have it.
        local = local.strip(".") or "x"
        address, n = f"{local}@{domain}", 1
        while _mailbox(address) in self.used_emails:
            n += 1
            address = f"{local}{n}@{domain}"
        self.used_emails.add(_mailbox(address))
        return address

    def personal_email(self, given: str, family: str, region: str, domain: str = "") -> str:
        g, f = _slug(given) or "x", _slug(family)
        rng = self.rng
        if f:
            local = rng.choice((f"{g}.{f}", f"{g}{f}", f"{g[0]}.{f}", f"{g}_{f}", f"{g}{f[:1]}"))
        else:
            local = f"{g}{rng.randrange(1, 999)}"
        if rng.random() < 0.3:
            local += str(rng.randrange(1, 99))
        return self.unique_email(local, domain or rng.choice(_FREEMAIL[region]))

    def _number(self, region: str, fixed: bool) -> str:
        rng = self.rng

        def d(n: int) -> str:
            return "".join(str(rng.randrange(10)) for _ in range(n))

        if region == "SE":
            return f"08{rng.randrange(1, 10)}{d(6)}" if fixed else f"07{rng.choice('0236')}{d(7)}"
        if region == "DE":
            return (
                f"030{rng.randrange(1, 10)}{d(7)}"
                if fixed
                else f"01{rng.choice('567')}{rng.choice('12')}{d(7)}"
            )
        if region == "NL":
            return f"020{rng.randrange(1, 10)}{d(6)}" if fixed else f"06{rng.randrange(1, 6)}{d(7)}"
        if region == "ID":
            return (
                f"021{rng.randrange(2, 9)}{d(7)}"
                if fixed
                else f"08{rng.choice('1235')}{rng.randrange(1, 10)}{d(8)}"
            )
        if region == "GB":
            return f"020{rng.choice('378')}{d(7)}" if fixed else f"07{rng.choice('4579')}{d(8)}"
        area = rng.choice(("212", "415", "312", "617", "206", "303"))
        return f"{area}{rng.randrange(2, 10)}{d(6)}"

    def phone(self, region: str, *, fixed: bool = False) -> str:
        for _ in range(100):
            number = self._number(region, fixed)
            if number in self.used_phones:
                continue
            parsed = phonenumbers.parse(number, region)
            if phonenumbers.is_valid_number(parsed):
                self.used_phones.add(number)
                return number
        raise RuntimeError("no valid phone number drawn")

    def street(self, region: str, city: str) -> tuple[str, str, bool, str]:
        # Unique within the city: people and organisations share an address only on purpose
        # (households, colleagues), never by the chance of a small list of streets.
        for attempt in range(200):
            stem = self.rng.choice(_STREET_STEMS[region])
            kind, _, suffix = self.rng.choice(_STREET_TYPES[region])
            number = str(self.rng.randrange(1, 200 + 10 * attempt))
            if self.rng.random() < 0.15 and region in {"DE", "NL", "SE"}:
                number += self.rng.choice("abAB")
            key = (region, city, stem, kind, number.casefold())
            if key not in self.used_addresses:
                self.used_addresses.add(key)
                return (stem, kind, suffix, number)
        raise RuntimeError("no unused street address drawn")

    def postcode(self, region: str) -> str:
        rng = self.rng
        if region == "SE":
            return f"{rng.randrange(100, 990)} {rng.randrange(10, 100)}"
        if region in {"DE", "ID", "US"}:
            return f"{rng.randrange(10000, 99999):05d}"
        if region == "NL":
            letters = "ABCDEGHJKLMNPRSTVWXZ"
            return f"{rng.randrange(1000, 9999)} {rng.choice(letters)}{rng.choice(letters)}"
        area = rng.choice(("SW", "NW", "E", "N", "SE", "W", "EC", "M", "B", "LS"))
        letters = "ABDEFGHJLNPQRSTUWXYZ"
        inward = f"{rng.randrange(1, 10)}{rng.choice(letters)}{rng.choice(letters)}"
        return f"{area}{rng.randrange(1, 20)} {inward}"

    def person(
        self, region: str | None = None, *, given: str = "", family: str = "", city: str = ""
    ) -> _Person:
        region = region or self.region()
        given = given or self.given(region)
        family = family or self.family(region)
        city = city or self.city(region)
        return _Person(
            region=region,
            given=given,
            family=family,
            email=self.personal_email(given, family, region),
            phone=self.phone(region),
            street=self.street(region, city),
            postcode=self.postcode(region),
            city=city,
        )

    # --- how a record writes a value ------------------------------------------------

    def fmt_phone(self, national: str, region: str, style: str = "") -> str:
        number = phonenumbers.parse(national, region)
        fmt = phonenumbers.PhoneNumberFormat
        style = style or self.rng.choice(("national", "national", "intl", "e164", "digits"))
        if style == "national":
            return phonenumbers.format_number(number, fmt.NATIONAL)
        if style == "intl":
            return phonenumbers.format_number(number, fmt.INTERNATIONAL)
        if style == "e164":
            return phonenumbers.format_number(number, fmt.E164)
        if style == "digits":
            return national
        if style == "tel":
            return phonenumbers.format_number(number, fmt.RFC3966)
        if style == "noplus":
            return phonenumbers.format_number(number, fmt.E164)[1:]
        if style == "00":
            return "00" + phonenumbers.format_number(number, fmt.INTERNATIONAL)[1:]
        if style == "ext":
            base = phonenumbers.format_number(
                number, self.rng.choice((fmt.NATIONAL, fmt.INTERNATIONAL))
            )
            ext = str(self.rng.randrange(10, 999))
            return base + self.rng.choice(
                (f" ext. {ext}", f" x{ext}", f" ext {ext}", f";ext={ext}")
            )
        raise ValueError(style)

    def fmt_street(
        self, street: tuple[str, str, bool, str], region: str, abbreviate: bool = False
    ) -> str:
        stem, kind, suffix, number = street
        written = kind
        if abbreviate:
            for full, abbreviations, _ in _STREET_TYPES[region]:
                if full == kind:
                    written = self.rng.choice(abbreviations)
        if suffix:
            # "Hauptstraße", "Hauptstr.", "Haupt-Str.", "Hauptstrasse", "Storg.", "Kerkstr."
            name = (
                f"{stem}{written}"
                if written[0].islower() or written[0] == "-"
                else f"{stem} {written}"
            )
        elif region == "ID":
            name = f"{written} {stem}"
        else:
            name = f"{stem} {written}"
        if region == "ID":
            return f"{name} No. {number}" if self.rng.random() < 0.5 else f"{name} {number}"
        if region in {"GB", "US"}:
            return f"{number} {name}"
        return f"{name} {number}"

    def fmt_postcode(self, postcode: str, region: str, vary: bool = False) -> str:
        if not vary:
            return postcode
        rng = self.rng
        if region == "SE":
            return (
                postcode.replace(" ", "") if " " in postcode else f"{postcode[:3]} {postcode[3:]}"
            )
        if region == "NL":
            compact = postcode.replace(" ", "")
            return rng.choice((compact, compact.lower(), postcode.lower()))
        if region == "GB":
            compact = postcode.replace(" ", "")
            return rng.choice(
                (compact, compact.lower(), postcode.lower(), postcode.replace(" ", "  "))
            )
        if region == "DE":
            return rng.choice((f"D-{postcode}", f"D {postcode}"))
        if region == "US":
            return f"{postcode}-{rng.randrange(1000, 9999)}"
        return postcode

    def country(self, region: str) -> str:
        return self.rng.choice(_COUNTRY_NAME[region])

    def row(
        self,
        p: _Person,
        *,
        given: str | None = None,
        family: str | None = None,
        name: str = "",
        email: str | None = None,
        phone: str | None = None,
        phone_style: str = "",
        company: str | None = None,
        address: bool = True,
        abbreviate: bool = False,
        vary_postcode: bool = False,
        case_noise: bool = True,
    ) -> dict[str, str]:
        rng = self.rng
        g = p.given if given is None else given
        f = p.family if family is None else family
        if name:
            g = f = ""
        mail = p.email if email is None else email
        if mail and case_noise and rng.random() < 0.15:
            mail = rng.choice((mail.upper(), mail.capitalize(), f" {mail} "))
        number = p.phone if phone is None else phone
        out = {
            "Name": name,
            "First Name": g,
            "Last Name": f,
            "Email": mail,
            "Phone": self.fmt_phone(number, p.region, phone_style) if number else "",
            "Company": p.company if company is None else company,
            "Street": "",
            "Postcode": "",
            "City": p.city,
            "Country": self.country(p.region) if rng.random() < 0.92 else "",
        }
        if (
            out["Country"] == ""
            and out["Phone"]
            and not out["Phone"].startswith(("+", "00", "tel:"))
        ):
            out["Country"] = p.region  # a national number needs its region, as real exports have
        if address:
            out["Street"] = self.fmt_street(p.street, p.region, abbreviate)
            out["Postcode"] = self.fmt_postcode(p.postcode, p.region, vary_postcode)
        if case_noise and rng.random() < 0.08 and (g or f):
            out["First Name"], out["Last Name"] = g.upper(), f.upper()
        return out

    def add(self, kind: str, rows: Sequence[dict[str, str]]) -> None:
        self.entities.append(_Entity(f"e{len(self.entities):07d}", kind, list(rows)))

    def dup_count(self, low: int = 2, high: int = 3) -> int:
        return self.rng.randint(low, high)

    # --- the kinds ------------------------------------------------------------------

    def plain(self, region: str) -> None:
        p = self.person(region)
        n = 1 if self.rng.random() < 0.55 else self.dup_count(2, 3)
        rows = [self.row(p)]
        for _ in range(n - 1):
            drop = self.rng.choice(("email", "phone", "address", "none"))
            rows.append(
                self.row(
                    p,
                    email="" if drop == "email" else None,
                    phone="" if drop == "phone" else None,
                    address=drop != "address",
                )
            )
        self.add(f"plain_{region}", rows)

    def honorific(self) -> None:
        p = self.person()
        rng = self.rng
        rows = []
        own = self.title(p)
        for k in range(self.dup_count()):
            title = own if k == 0 or rng.random() < 0.4 else ""
            if title and rng.random() < 0.5:
                row = self.row(p, name=f"{title} {p.given} {p.family}")
            elif title:
                row = self.row(p, given=f"{title} {p.given}")
            else:
                row = self.row(p)
            if k and rng.random() < 0.5:
                row["Phone"] = ""
            rows.append(row)
        self.add("honorific", rows)

    def gen_suffix(self) -> None:
        p = self.person(self.rng.choice(("US", "GB", "US", "NL")))
        _, spellings = self.rng.choice(_SUFFIXES)
        rows = []
        for k in range(self.dup_count()):
            suffix = self.rng.choice(spellings)
            sep = "" if suffix.startswith(",") else " "
            if self.rng.random() < 0.5:
                row = self.row(p, name=f"{p.given} {p.family}{sep}{suffix}")
            else:
                row = self.row(p, family=f"{p.family}{sep}{suffix}")
            if k and self.rng.random() < 0.4:
                row["Email"] = ""
            rows.append(row)
        self.add("gen_suffix", rows)

    def mononym(self) -> None:
        name = self.rng.choice(_MONONYMS)
        p = self.person("ID", given=name, family="-")
        p.family = ""
        p.email = self.personal_email(name, "", "ID")
        rows = []
        for k in range(self.dup_count()):
            how = self.rng.random()
            if how < 0.4:
                row = self.row(p, name=name)
            elif how < 0.7:
                row = self.row(p, given=name, family="")
            else:
                row = self.row(p, given="", family=name)
            if k and self.rng.random() < 0.5:
                row["Email"] = ""
            rows.append(row)
        self.add("mononym", rows)

    def married_name(self) -> None:
        p = self.person()
        new_family = self.family(p.region)
        while new_family == p.family:
            new_family = self.family(p.region)
        keep = self.rng.choice(("email", "phone"))
        variants = [new_family, f"{p.family}-{new_family}", f"{new_family} {p.family}"]
        if p.region == "NL":
            variants.append(f"{new_family}-{p.family}")
        rows = [self.row(p)]
        for _ in range(self.dup_count(1, 2)):
            rows.append(
                self.row(
                    p,
                    family=self.rng.choice(variants),
                    email=None if keep == "email" else "",
                    phone=None if keep == "phone" else "",
                    address=self.rng.random() < 0.3,
                )
            )
        self.add("married_name", rows)

    def family_given_cell(self) -> None:
        p = self.person()
        rows = [self.row(p, name=f"{p.family}, {p.given}")]
        for _ in range(self.dup_count(1, 2)):
            style = self.rng.random()
            if style < 0.6:
                row = self.row(p)
            elif style < 0.8:
                row = self.row(p, name=f"{p.given} {p.family}")
            else:
                row = self.row(p, name=f"{p.family.upper()}, {p.given}")
            if self.rng.random() < 0.5:
                row[self.rng.choice(("Email", "Phone"))] = ""
            rows.append(row)
        self.add("family_given_cell", rows)

    def _script_person(self) -> tuple[_Person, str, tuple[str, str, str, str]]:
        script = self.rng.choice(tuple(_SCRIPT_NAMES))
        names = self.rng.choice(_SCRIPT_NAMES[script])
        region = self.rng.choice(("DE", "SE", "NL", "GB", "US", "ID"))
        p = self.person(region, given=names[2], family=names[3])
        return p, script, names

    @staticmethod
    def _script_full(script: str, given: str, family: str) -> str:
        return f"{family}{given}" if script == "cjk" else f"{given} {family}"

    def script_same(self) -> None:
        p, script, (g, f, _, _) = self._script_person()
        rows = []
        for k in range(self.dup_count()):
            if self.rng.random() < 0.5:
                row = self.row(p, name=self._script_full(script, g, f))
            else:
                row = self.row(p, given=g, family=f, case_noise=False)
            if k and self.rng.random() < 0.5:
                row[self.rng.choice(("Email", "Phone"))] = ""
            rows.append(row)
        self.add("script_same", rows)

    def script_translit(self) -> None:
        p, script, (g, f, lg, lf) = self._script_person()
        rows = [
            self.row(p, given=g, family=f, case_noise=False)
            if self.rng.random() < 0.5
            else self.row(p, name=self._script_full(script, g, f))
        ]
        for _ in range(self.dup_count(1, 2)):
            row = (
                self.row(p, given=lg, family=lf)
                if self.rng.random() < 0.7
                else self.row(p, name=f"{lg} {lf}")
            )
            if self.rng.random() < 0.4:
                row[self.rng.choice(("Email", "Phone"))] = ""
            rows.append(row)
        self.add("script_translit", rows)

    def _variant_kind(
        self, kind: str, pairs: Sequence[tuple[str, str]], region: str | None, slot: str
    ) -> None:
        full, short = self.rng.choice(pairs)
        p = self.person(region) if region else self.person()
        if slot == "given":
            p.given = full
        else:
            p.family = full
        p.email = self.personal_email(p.given, p.family, p.region)
        rows = [self.row(p)]
        for _ in range(self.dup_count(1, 2)):
            keep = self.rng.choice(("email", "phone", "both"))
            rows.append(
                self.row(
                    p,
                    given=short if slot == "given" else None,
                    family=short if slot == "family" else None,
                    email="" if keep == "phone" else None,
                    phone="" if keep == "email" else None,
                    address=self.rng.random() < 0.5,
                )
            )
        self.add(kind, rows)

    def nickname_sv(self) -> None:
        self._variant_kind("nickname_sv", _NICK_SV, "SE", "given")

    def nickname_en(self) -> None:
        self._variant_kind(
            "nickname_en", _NICK_EN, self.rng.choice(("GB", "US", "DE", "NL")), "given"
        )

    def nickname_id(self) -> None:
        old, new = self.rng.choice(_SPELL_ID)
        slot = (
            "given"
            if old in {"Muhammad", "Moehammad", "Achmad", "Djoko", "Soesilo", "Tjipto"}
            or self.rng.random() < 0.5
            else "family"
        )
        if self.rng.random() < 0.5:
            old, new = new, old
        self._variant_kind("nickname_id", ((old, new),), "ID", slot)

    def email_plus_gmail(self) -> None:
        p = self.person()
        g, f = _slug(p.given) or "x", _slug(p.family) or "y"
        gmail = self.rng.random() < 0.75
        domain = (
            "gmail.com" if gmail else self.rng.choice(("outlook.com", "fastmail.com", "yahoo.com"))
        )
        base = self.unique_email(f"{g}.{f}", domain)
        local = base.split("@")[0]
        p.email = base
        variants = []
        if gmail:
            variants += [
                f"{local.replace('.', '')}@gmail.com",
                f"{local}@googlemail.com",
                f"{local.replace('.', '')}+{self.rng.choice(('crm', 'shop', 'news'))}@gmail.com",
                f"{local[:2]}.{local[2:].replace('.', '')}@gmail.com",
            ]
        variants.append(
            f"{local}+{self.rng.choice(('crm', 'newsletter', 'orders', 'x1'))}@{domain}"
        )
        rows = [self.row(p, phone="" if self.rng.random() < 0.5 else None)]
        for _ in range(self.dup_count(1, 2)):
            rows.append(
                self.row(
                    p, email=self.rng.choice(variants), phone="", address=self.rng.random() < 0.3
                )
            )
        self.add("email_plus_gmail", rows)

    def phone_format(self) -> None:
        p = self.person()
        if self.rng.random() < 0.4:
            p.phone = self.phone(p.region, fixed=True)
        rows = [
            self.row(
                p,
                phone_style=self.rng.choice(("national", "intl")),
                address=self.rng.random() < 0.5,
            )
        ]
        for _ in range(self.dup_count(1, 2)):
            style = self.rng.choice(("tel", "noplus", "ext", "00", "tel", "noplus", "ext"))
            row = self.row(p, email="", phone_style=style, address=False)
            if style == "noplus" and self.rng.random() < 0.5:
                row["Country"] = ""  # a bare number: the country code is all there is
            rows.append(row)
        self.add("phone_format", rows)

    def street_abbrev(self) -> None:
        p = self.person()
        rows = [self.row(p)]
        for _ in range(self.dup_count(1, 2)):
            rows.append(self.row(p, email="", phone="", abbreviate=True))
        self.add("street_abbrev", rows)

    def postcode_format(self) -> None:
        p = self.person(self.rng.choice(("SE", "NL", "GB", "GB", "SE", "DE", "US")))
        rows = [self.row(p)]
        for _ in range(self.dup_count(1, 2)):
            rows.append(self.row(p, email="", phone="", vary_postcode=True))
        self.add("postcode_format", rows)

    # organisations

    def org_stem(self, region: str) -> str:
        """An organisation's name without a legal form, not used by another organisation."""
        for _ in range(100):
            if self.rng.random() < 0.1:
                stem = self.rng.choice(_ORG_STEMS)
            else:
                stem = f"{self.family(region)} {self.rng.choice(_TRADES[region])}"
            if stem.casefold() not in self.used_org_names:
                self.used_org_names.add(stem.casefold())
                return stem
        # The pool above (family name and trade) holds a few thousand names per country,
        # too few for half a million rows. Larger files name firms as real ones do once
        # the plain names are taken: two partners, or the place. Drawn only when the
        # pool is spent, so the rows of smaller files stay as they were.
        for _ in range(1000):
            trade = self.rng.choice(_TRADES[region])
            if self.rng.random() < 0.5:
                first, second = self.family(region), self.family(region)
                if first == second:
                    continue
                stem = f"{first} & {second} {trade}"
            else:
                stem = f"{self.family(region)} {trade} {self.city(region)}"
            if stem.casefold() not in self.used_org_names:
                self.used_org_names.add(stem.casefold())
                return stem
        raise RuntimeError("no unused organisation name drawn")

    def org(self, region: str | None = None, name: str = "") -> _Person:
        region = region or self.region()
        name = name or self.org_stem(region)
        city = self.city(region)
        p = _Person(
            region=region,
            given="",
            family="",
            email="",
            phone=self.phone(region, fixed=True),
            street=self.street(region, city),
            postcode=self.postcode(region),
            city=city,
            company=name,
        )
        role = self.rng.choice(_ROLE_BY_REGION[region])
        stem, n = _slug(name)[:14] or "org", 1
        while _mailbox(f"{role}@{stem}.{_TLD[region]}") in self.used_emails:
            n += 1
            stem = f"{_slug(name)[:14]}{n}"
        p.email = self.unique_email(role, f"{stem}.{_TLD[region]}")
        return p

    def _org_rows(
        self, kind: str, names: Sequence[str], p: _Person, name_column: bool = False
    ) -> None:
        rows = []
        for k, name in enumerate(names):
            row = self.row(
                p,
                given="",
                family="",
                company="" if name_column else name,
                name=name if name_column else "",
                email=None if k == 0 or self.rng.random() < 0.4 else "",
                case_noise=False,
            )
            rows.append(row)
        self.add(kind, rows)

    def org_legal_punct(self) -> None:
        canonical, variants = self.rng.choice(_PUNCT_FORMS)
        region = {
            "B.V.": "NL",
            "N.V.": "NL",
            "AB": "SE",
            "GmbH": "DE",
            "Ltd.": "GB",
            "Inc.": "US",
            "PT": "ID",
        }[canonical]
        stem = self.org_stem(region)
        prefix = canonical == "PT"
        names = [f"PT {stem}" if prefix else f"{stem} {canonical}"]
        for _ in range(self.dup_count(1, 2)):
            v = self.rng.choice(variants)
            names.append(
                f"{v} {stem}" if prefix else (f"{stem}{v}" if v.startswith(",") else f"{stem} {v}")
            )
        self._org_rows("org_legal_punct", names, self.org(region, names[0]))

    def org_legal_multi(self) -> None:
        canonical, variants = self.rng.choice(_MULTI_FORMS)
        region = {
            "Sp. z o.o.": "DE",
            "A/S": "SE",
            "S.A. de C.V.": "US",
            "GmbH & Co. KG": "DE",
            "Tbk": "ID",
            "Handelsbolag": "SE",
        }[canonical]
        stem = self.org_stem(region)
        names = [f"{stem} {canonical}"]
        if self.rng.random() < 0.25 and region in {"SE", "DE"}:
            names = [f"Koninklijke {stem} N.V."]
            variants = (f"{stem} N.V.", f"Kon. {stem} NV", f"{stem}")
            names += [self.rng.choice(variants) for _ in range(self.dup_count(1, 2))]
            self._org_rows("org_legal_multi", names, self.org("NL", names[0]))
            return
        for _ in range(self.dup_count(1, 2)):
            names.append(f"{stem} {self.rng.choice(variants)}".strip())
        self._org_rows("org_legal_multi", names, self.org(region, names[0]))

    def org_containment(self) -> None:
        region = self.rng.choice(REGIONS)
        short, long = self.rng.choice(_CONTAIN)
        if short.casefold() in self.used_org_names or self.rng.random() < 0.7:
            short = self.family(region)
            while short.casefold() in self.used_org_names:
                short = (
                    self.family(region) + " " + self.rng.choice(("Hus", "Haus", "Huis", "House"))
                )
            venue, tail = self.rng.choice(_VENUES), self.rng.choice(_VENUE_TAILS)
            long = f"{venue} {short} {tail}"
        self.used_org_names.add(short.casefold())
        names = [long] + [
            self.rng.choice((short, long.upper(), short)) for _ in range(self.dup_count(1, 2))
        ]
        self._org_rows("org_containment", names, self.org(region, long))

    def org_role_mailbox(self) -> None:
        p = self.org()
        stem = p.company
        rows = []
        for k in range(self.dup_count()):
            row = self.row(
                p,
                given="",
                family="",
                company=stem if k == 0 or self.rng.random() < 0.5 else stem.upper(),
                case_noise=False,
            )
            if k:
                drop = self.rng.choice(("Phone", "Street", "none"))
                if drop == "Street":
                    row["Street"] = row["Postcode"] = ""
                elif drop == "Phone":
                    row["Phone"] = ""
            rows.append(row)
        self.add("org_role_mailbox", rows)

    def org_name_column(self) -> None:
        canonical, variants = self.rng.choice(_PUNCT_FORMS)
        region = self.region()
        stem = self.org_stem(region)
        names = [
            f"{stem} {canonical}",
            *(
                f"{stem} {self.rng.choice(variants)}".replace(" ,", ",")
                for _ in range(self.dup_count(1, 2))
            ),
        ]
        self._org_rows("org_name_column", names, self.org(region, names[0]), name_column=True)

    def big(self, kind: str, size: int) -> None:
        rng = self.rng
        rows = []
        if kind == "big_org":
            p = self.org()
            stem = p.company
            phones = [p.phone, self.phone(p.region, fixed=True)]
            domain = p.email.split("@")[1]
            mails = [p.email, f"{rng.choice(_ROLES)}@{domain}"]
            self.used_emails.add(_mailbox(mails[1]))
            for _ in range(size):
                name = rng.choice(
                    (
                        stem,
                        stem,
                        stem.upper(),
                        f"{stem} {rng.choice(('AB', 'Ltd', 'B.V.', 'GmbH'))}",
                    )
                )
                row = self.row(
                    p,
                    given="",
                    family="",
                    company=name,
                    email=rng.choice([*mails, ""]),
                    phone=rng.choice(phones),
                    address=rng.random() < 0.7,
                    case_noise=False,
                )
                rows.append(row)
        else:
            p = self.person()
            mails = [p.email, self.personal_email(p.given, p.family, p.region)]
            phones = [p.phone, self.phone(p.region)]
            for _ in range(size):
                roll = rng.random()
                given = (
                    p.given if roll < 0.7 else (p.given.upper() if roll < 0.8 else p.given[0] + ".")
                )
                mail = rng.choice([*mails, ""])
                row = self.row(
                    p,
                    given=given,
                    email=mail,
                    phone=rng.choice(phones) if not mail or rng.random() < 0.6 else "",
                    address=rng.random() < 0.5,
                )
                rows.append(row)
        self.add(kind, rows)

    # traps

    def trap_household(self) -> None:
        region = self.region()
        family = self.family(region)
        # A man and a woman, mostly (a same-sex couple one time in ten), never one given name.
        a = self.person(region, family=family, given=self.rng.choice(self.pool[region]["male"]))
        pool_b = self.pool[region]["male" if self.rng.random() < 0.1 else "female"]
        b = self.person(region, family=family, given=self.rng.choice(pool_b))
        while b.given == a.given:
            b.given = self.rng.choice(pool_b)
        b.email = self.personal_email(b.given, family, region)
        home = self.phone(region, fixed=True)
        box = self.unique_email(
            f"{_FAMILY_WORD[region]}.{_slug(family)}", self.rng.choice(_FREEMAIL[region])
        )
        for p in (b,):
            p.street, p.postcode, p.city = a.street, a.postcode, a.city
        for p in (a, b):
            p.phone = home
            p.email = box
            rows = []
            for _ in range(1 if self.rng.random() < 0.6 else 2):
                title = self.title(p, gendered=True)
                if title and self.rng.random() < 0.3:
                    rows.append(self.row(p, name=f"{title} {p.given} {p.family}"))
                else:
                    rows.append(self.row(p))
            self.add("trap_household", rows)

    def trap_script_household(self) -> None:
        script = self.rng.choice(("cyrillic", "greek", "arabic"))
        a_names, b_names = self.rng.sample(_SCRIPT_NAMES[script], 2)
        region = self.rng.choice(("DE", "SE", "GB", "NL"))
        a = self.person(region, given=a_names[2], family=a_names[3])
        b = self.person(region, given=b_names[2], family=a_names[3])
        home = self.phone(region, fixed=True)
        box = self.unique_email(
            f"{_FAMILY_WORD[region]}.{_slug(a_names[3])}", self.rng.choice(_FREEMAIL[region])
        )
        b.street, b.postcode, b.city = a.street, a.postcode, a.city
        for p, names in ((a, a_names), (b, b_names)):
            p.email, p.phone = box, home
            self.add(
                "trap_script_household",
                [self.row(p, given=names[0], family=a_names[1], case_noise=False)],
            )

    def trap_parent_junior(self) -> None:
        region = self.rng.choice(("US", "GB", "US"))
        parent = self.person(region)
        junior = self.person(region, given=parent.given, family=parent.family)
        junior.street, junior.postcode, junior.city = parent.street, parent.postcode, parent.city
        home = self.phone(region, fixed=True)
        parent.phone = home
        junior.phone = home if self.rng.random() < 0.7 else junior.phone
        self.add("trap_parent_junior", [self.row(parent) for _ in range(self.rng.randint(1, 2))])
        suffix = self.rng.choice(("Jr.", "Jr", "Junior", "II"))
        rows = []
        for _ in range(self.rng.randint(1, 2)):
            rows.append(
                self.row(junior, family=f"{junior.family} {suffix}")
                if self.rng.random() < 0.5
                else self.row(junior, name=f"{junior.given} {junior.family} {suffix}")
            )
        self.add("trap_parent_junior", rows)

    def trap_colleagues(self) -> None:
        org = self.org()
        domain = org.email.split("@")[1]
        shared_family = self.family(org.region) if self.rng.random() < 0.3 else ""
        for _ in range(self.rng.randint(3, 8)):
            p = self.person(org.region, family=shared_family)
            p.company, p.phone = org.company, org.phone
            p.street, p.postcode, p.city = org.street, org.postcode, org.city
            p.email = self.unique_email(f"{_slug(p.given)}.{_slug(p.family)}", domain)
            rows = [self.row(p) for _ in range(1 if self.rng.random() < 0.7 else 2)]
            self.add("trap_colleagues", rows)

    def trap_crowd(self) -> None:
        region = self.region()
        given, family = self.rng.choice(_COMMON[region])
        city = _BIG_CITY[region]
        for _ in range(self.rng.randint(15, 40)):
            p = self.person(region, given=given, family=family, city=city)
            rows = [self.row(p, address=self.rng.random() < 0.6)]
            if self.rng.random() < 0.3:
                rows.append(
                    self.row(p, email=self.rng.choice((None, "")), address=self.rng.random() < 0.6)
                )
            self.add("trap_crowd", rows)

    def trap_nickname_group(self) -> None:
        a_given, b_given = self.rng.choice(_NICK_TRAPS)
        region = self.rng.choice(("SE", "DE", "NL", "GB", "US"))
        family = self.family(region)
        a = self.person(region, given=a_given, family=family)
        b = self.person(region, given=b_given, family=family)
        home = self.phone(region, fixed=True)
        b.street, b.postcode, b.city = a.street, a.postcode, a.city
        for p in (a, b):
            p.phone = home
            rows = [self.row(p, email="" if self.rng.random() < 0.3 else None)]
            if self.rng.random() < 0.3:
                rows.append(self.row(p))
            self.add("trap_nickname_group", rows)

    def trap_middle_name(self) -> None:
        first, middles, family = self.rng.choice(_MIDDLE_TRAPS)
        region = {
            "Berg": "SE",
            "Lind": "SE",
            "Becker": "DE",
            "Schmidt": "DE",
            "de Boer": "NL",
            "Walker": "US",
            "Hidayat": "ID",
        }[family]
        city = self.city(region)
        for middle in self.rng.sample(middles, 2):
            p = self.person(region, given=f"{first} {middle}", family=family, city=city)
            rows = [self.row(p, address=self.rng.random() < 0.5)]
            if self.rng.random() < 0.3:
                rows.append(self.row(p, phone=""))
            self.add("trap_middle_name", rows)

    def trap_org_branch(self) -> None:
        region = self.region()
        stem = self.org_stem(region)
        head = self.org(region, stem)
        for _ in range(self.rng.randint(2, 4)):
            branch = self.org(region, stem)
            branch.phone = head.phone  # the central number
            # each branch's own mailbox on the organisation's domain (info@ is the head office's)
            domain = head.email.split("@")[1]
            branch.email = self.unique_email(_slug(branch.city)[:12] or "branch", domain)
            rows = [
                self.row(
                    branch,
                    given="",
                    family="",
                    email=None if self.rng.random() < 0.5 else "",
                    case_noise=False,
                )
                for _ in range(self.rng.randint(1, 2))
            ]
            self.add("trap_org_branch", rows)

    def trap_role_mailbox_people(self) -> None:
        org = self.org()
        for _ in range(self.rng.randint(2, 4)):
            p = self.person(org.region)
            p.company, p.email = org.company, org.email
            self.add(
                "trap_role_mailbox_people",
                [self.row(p, phone="" if self.rng.random() < 0.5 else None)],
            )

    def trap_person_vs_org(self) -> None:
        region = self.rng.choice(("SE", "DE", "NL", "GB"))
        p = self.person(region)
        form = {"SE": "AB", "DE": "e.K.", "NL": "B.V.", "GB": "Ltd"}[region]
        org = self.org(region, f"{p.given} {p.family} {form}")
        org.phone, org.street, org.postcode, org.city = p.phone, p.street, p.postcode, p.city
        self.add("trap_person_vs_org", [self.row(p)])
        self._org_rows("trap_person_vs_org", [org.company], org)


# Rows budget per kind, as shares of the file (after the big entities); plain_* share the rest.
_SHARES: dict[str, float] = {
    "honorific": 0.025,
    "gen_suffix": 0.02,
    "mononym": 0.02,
    "married_name": 0.025,
    "family_given_cell": 0.02,
    "script_same": 0.02,
    "script_translit": 0.02,
    "nickname_sv": 0.02,
    "nickname_id": 0.02,
    "nickname_en": 0.015,
    "email_plus_gmail": 0.025,
    "phone_format": 0.025,
    "street_abbrev": 0.025,
    "postcode_format": 0.02,
    "org_legal_punct": 0.02,
    "org_legal_multi": 0.02,
    "org_containment": 0.015,
    "org_role_mailbox": 0.015,
    "org_name_column": 0.015,
    "trap_household": 0.03,
    "trap_script_household": 0.01,
    "trap_parent_junior": 0.015,
    "trap_colleagues": 0.03,
    "trap_crowd": 0.04,
    "trap_nickname_group": 0.015,
    "trap_middle_name": 0.015,
    "trap_org_branch": 0.015,
    "trap_role_mailbox_people": 0.01,
    "trap_person_vs_org": 0.01,
}
KINDS = (
    *(f"plain_{r}" for r in REGIONS),
    *_SHARES,
    "big_person",
    "big_org",
)
TRAP_KINDS = frozenset(k for k in KINDS if k.startswith("trap_"))


def generate(count: int, *, seed: int = 0) -> list[dict[str, str]]:
    """About ``count`` rows (see :data:`COLUMNS`), shuffled, with ``entity_id`` and ``kind``."""
    gen = _Gen(seed)
    rng = gen.rng
    # Entities with hundreds of records: one person and one organisation per 20,000 rows.
    bigs = max(1, round(count / 20_000))
    for _ in range(bigs):
        gen.big("big_person", rng.randint(200, 800))
        gen.big("big_org", rng.randint(200, 800))

    def rows_so_far(kinds: set[str] | None = None) -> int:
        return sum(len(e.rows) for e in gen.entities if kinds is None or e.kind in kinds)

    rest = count - rows_so_far()
    for kind, share in _SHARES.items():
        make: Callable[[], None] = getattr(gen, kind)
        budget = int(rest * share)
        start = len(gen.entities)
        made = 0
        while made < budget:
            before = len(gen.entities)
            make()
            made += sum(len(e.rows) for e in gen.entities[before:])
        del start
    total = rows_so_far()
    while total < count:
        before = len(gen.entities)
        gen.plain(rng.choice(REGIONS))
        total += sum(len(e.rows) for e in gen.entities[before:])
    rows: list[dict[str, str]] = []
    for entity in gen.entities:
        for row in entity.rows:
            rows.append({"entity_id": entity.id, "kind": entity.kind, **row})
    rng.shuffle(rows)
    rows = rows[:count] if len(rows) > count + 50 else rows
    return [{"record_id": f"r{i:07d}", **row} for i, row in enumerate(rows)]


def write_csv(path: Path, rows: Sequence[dict[str, str]]) -> None:
    """Write ``rows`` as UTF-8 CSV with :data:`COLUMNS` as the header."""
    datagen.write_csv(path, rows, COLUMNS)


def main() -> None:
    """Write a generated hard contact list to a CSV file."""
    datagen.command(__doc__, generate, COLUMNS, 20_000)


if __name__ == "__main__":
    main()
