"""The header names recognised without a mapping: English, Swedish, German, Indonesian, exports.

A header is compared after :func:`header_key`: case-folded, diacritics dropped
(``Förnamn`` and ``Fornamn`` agree), and everything but letters and digits
removed (``First Name``, ``first_name`` and ``FIRSTNAME`` agree). Exports that
repeat a field with a qualifier (Outlook's ``Business Phone``/``Home Phone 2``,
Google's ``E-mail 2 - Value``, German Outlook's ``Telefon geschäftlich``) are
read by dropping the qualifier words and numbers; a qualifier is also the
*group* of an address column, so that one address is never assembled from a
business street and a home city.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ADDRESS_FIELDS", "HEADER_ALIASES", "header_field", "header_key"]

ADDRESS_FIELDS = frozenset({"street_number", "address", "city", "postcode", "state", "country"})
"""The fields that make one postal address; they are read from one group of columns."""


def _aliases(field: str, *names: str) -> dict[str, str]:
    return {header_key(name): field for name in names}


def header_key(header: str) -> str:
    """``header`` as it is compared: case-folded, without diacritics, letters and digits only."""
    return "".join(_words(header))


_FOLD = str.maketrans({"ø": "o", "æ": "ae", "đ": "d", "ł": "l", "\u0131": "i"})


def _words(header: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", header.casefold()).translate(_FOLD)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    # '-', '_', '.', "'" and ':' join ("e-mail", "tel.", "E-Mail 2: Adresse"); the rest separate.
    plain = re.sub("[-_.'\u2019:]+", "", plain)
    return re.findall(r"[^\W_]+", plain)


HEADER_ALIASES: dict[str, str] = {
    # English, and the export formats (HubSpot, Salesforce, Odoo, Google, Outlook).
    **_aliases(
        "given_name",
        "given name",
        "first name",
        "firstname",
        "forename",
        # Swedish, German, Indonesian
        "förnamn",
        "tilltalsnamn",
        "vorname",
        "nama depan",
        "nama awal",
        "nama panggilan",
    ),
    **_aliases(
        "family_name",
        "family name",
        "last name",
        "surname",
        "efternamn",
        "nachname",
        "familienname",
        "zuname",
        "nama belakang",
        "nama keluarga",
    ),
    **_aliases(
        "middle_name",
        "middle name",
        "middle names",
        "additional name",  # Google Contacts
        "mellannamn",
        "zweiter vorname",
        "weitere vornamen",  # German Outlook
        "nama tengah",
    ),
    **_aliases(
        "name",
        "name",
        "full name",
        "contact name",
        "namn",
        "fullständigt namn",
        "kontaktperson",
        "vollständiger name",
        "nama",
        "nama lengkap",
        "nama kontak",
        "nama pelanggan",
    ),
    **_aliases(
        "email",
        "email",
        "email address",
        "e-mail address",
        "mail",
        "e-post",
        "epost",
        "e-postadress",
        "mejl",
        "mejladress",
        "e-mail-adresse",
        "emailadresse",
        "mailadresse",
        "surel",
        "surat elektronik",
        "alamat email",
        "alamat e-mail",
        "alamat surel",
    ),
    **_aliases(
        "phone",
        "phone",
        "phone number",
        "telephone",
        "telephone number",
        "tel",
        "mobile",
        "mobile phone",
        "mobile phone number",  # HubSpot
        "mobile number",
        "cell",
        "cell phone",
        "cellphone",
        "car phone",
        "company main phone",  # Outlook
        "telefon",
        "telefonnummer",
        "mobil",
        "mobiltelefon",
        "mobilnummer",
        "mobiltelefonnummer",
        "hemtelefon",
        "arbetstelefon",
        "telefon arbete",
        "handy",
        "handynummer",
        "telefonnr",
        "festnetz",
        "telepon",
        "telp",
        "tlp",
        "no telp",
        "no telepon",
        "no tlp",
        "nomor telepon",
        "nomor telp",
        "hp",
        "no hp",
        "nomor hp",
        "handphone",
        "no handphone",
        "ponsel",
        "nomor ponsel",
        "whatsapp",
        "wa",
        "no wa",
        "nomor wa",
        "nomor whatsapp",
    ),
    **_aliases(
        "company",
        "company",
        "company name",
        "organization",
        "organisation",
        "organization name",  # Google Contacts
        "organization 1 name",  # Google Contacts (older)
        "employer",
        "account name",  # Salesforce contacts
        "company account",  # Salesforce leads: "Company / Account"
        "associated company",  # HubSpot
        "företag",
        "företagsnamn",
        "bolag",
        "organisation name",
        "firma",
        "firmenname",
        "unternehmen",
        "perusahaan",
        "nama perusahaan",
        "instansi",
        "organisasi",
    ),
    **_aliases(
        "street_number",
        "street number",
        "house number",
        "husnummer",
        "gatunummer",
        "hausnummer",
        "hausnr",
        "nomor rumah",
    ),
    **_aliases(
        "address",
        "address",
        "street",
        "street address",  # HubSpot
        "street 2",
        "street2",  # Odoo
        "address 1",
        "address 2",
        "address line 1",
        "address line 2",
        "extended address",  # Google Contacts
        "gatuadress",
        "adress",
        "gata",
        "utdelningsadress",
        "straße",
        "adresse",
        "anschrift",
        "straße und hausnummer",
        "alamat",
        "jalan",
        "alamat lengkap",
    ),
    **_aliases(
        "city",
        "city",
        "town",
        "postort",
        "ort",
        "stad",
        "stadt",
        "wohnort",
        "kota",
        "kabupaten",
        "kota kabupaten",  # "Kota/Kabupaten"
        "kota/kab",
    ),
    **_aliases(
        "postcode",
        "postcode",
        "postal code",
        "zip",
        "zip code",
        "zip postal code",  # Salesforce: "Zip/Postal Code"
        "post code",
        "postnummer",
        "postnr",
        "plz",
        "postleitzahl",
        "kode pos",
        "kodepos",
    ),
    **_aliases(
        "state",
        "state",
        "province",
        "county",
        "state region",  # HubSpot: "State/Region"
        "state province",  # Salesforce: "State/Province"
        "län",
        "landskap",
        "bundesland",
        "provinsi",
    ),
    **_aliases(
        "country",
        "country",
        "country code",
        "country region",  # HubSpot and Outlook: "Country/Region"
        "land",
        "land region",  # German Outlook: "Land/Region"
        "landskod",
        "negara",
    ),
    **_aliases(
        "birth_date",
        "date of birth",
        "birth date",
        "birthdate",
        "birthday",
        "dob",
        "födelsedatum",
        "födelsedag",
        "geburtsdatum",
        "geburtstag",
        "tanggal lahir",
        "tgl lahir",
    ),
}
"""Every recognised header (as :func:`header_key` gives it) and the field it feeds."""

# Words that say which of several contact points or addresses a column holds; they
# are dropped to find the field, and name the group of an address column.
_QUALIFIERS = frozenset(
    {
        "home",
        "business",
        "work",
        "office",
        "other",
        "private",
        "personal",
        "primary",
        "main",
        "mailing",
        "billing",
        "shipping",
        "delivery",
        "value",  # Google Contacts: "Phone 1 - Value"
        "privat",
        "geschaftlich",
        "dienstlich",
        "buro",
        "arbeit",
        "hem",
        "arbete",
        "jobb",
        "kontor",
        "rumah",
        "kantor",
        "pribadi",
        "kerja",
        "utama",
    }
)


_PREFIXES = ("mailing", "billing", "shipping", "home", "business", "work", "other")

_GOOGLE_ADDRESS = {
    "street": "address",
    "extendedaddress": "address",
    "city": "city",
    "region": "state",
    "postalcode": "postcode",
    "country": "country",
}


def header_field(header: str) -> tuple[str, str] | None:
    """The field ``header`` feeds and its group (``""`` for none), or ``None``.

    >>> header_field("Förnamn")
    ('given_name', '')
    >>> header_field("Home Street 2")
    ('address', 'home')
    >>> header_field("Address 1 - City")
    ('city', 'address 1')
    >>> header_field("E-mail 1 - Type") is None
    True
    """
    words = _words(header)
    field = HEADER_ALIASES.get("".join(words))
    if field is not None:
        return field, ""
    if len(words) > 2 and words[0] == "address" and words[1].isdigit():
        # Google Contacts: "Address 1 - Street", "Address 1 - Postal Code"
        part = _GOOGLE_ADDRESS.get("".join(words[2:]))
        return None if part is None else (part, f"address {words[1]}")
    kept = [w for w in words if w not in _QUALIFIERS and not w.isdigit()]
    if len(kept) == 1 and len(words) == 1:
        # API names run the qualifier into the field: MailingStreet, HomePhone.
        for prefix in _PREFIXES:
            if kept[0].startswith(prefix):
                field = HEADER_ALIASES.get(kept[0][len(prefix) :])
                if field is not None:
                    return field, prefix
        return None
    if not kept or len(kept) == len(words):
        return None
    field = HEADER_ALIASES.get("".join(kept))
    if field is None:
        return None
    group = " ".join(w for w in words if w in _QUALIFIERS and w != "value")
    return field, group


# --------------------------------------------------------------------------- work items

_WORK_COMMON: dict[str, str] = {
    **_aliases("assignee", "assignee", "assigned to", "assigned", "tilldelad", "zugewiesen an"),
    **_aliases("priority", "priority", "prioritet", "priorität", "prioritas"),
    **_aliases("status", "status", "state", "zustand"),
    **_aliases(
        "description",
        "description",
        "details",
        "beskrivning",
        "beschreibung",
        "deskripsi",
        "keterangan",
    ),
}

WORK_HEADER_ALIASES: dict[str, dict[str, str]] = {
    # HubSpot deal exports and Salesforce opportunity reports, then Swedish, German, Indonesian.
    "opportunities": {
        **_aliases(
            "name",
            "deal name",
            "opportunity name",
            "deal",
            "opportunity",
            "name",
            "affär",
            "affärsnamn",
            "affärsmöjlighet",
            "verkaufschance",
            "name der verkaufschance",
            "opportunity-name",
            "deal-name",
            "nama peluang",
            "nama kesepakatan",
            "peluang",
        ),
        **_aliases(
            "customer",
            "customer",
            "customer id",
            "account id",
            "contact id",
            "associated company ids",
            "associated company id",
            "associated contact ids",
            "email",
            "contact email",
            "e-mail",
            "kund",
            "kund-id",
            "kundnr",
            "kunde",
            "kunden-id",
            "kundennummer",
            "pelanggan",
            "id pelanggan",
        ),
        **_aliases("pipeline", "pipeline", "sales pipeline", "säljtratt", "vertriebspipeline"),
        **_aliases(
            "stage",
            "stage",
            "deal stage",
            "stage name",
            "opportunity stage",
            "fas",
            "steg",
            "säljsteg",
            "phase",
            "verkaufsphase",
            "tahap",
            "tahapan",
        ),
        **_aliases(
            "amount",
            "amount",
            "deal amount",
            "value",
            "deal value",
            "belopp",
            "värde",
            "affärsvärde",
            "betrag",
            "wert",
            "jumlah",
            "nilai",
            "nilai kesepakatan",
        ),
        **_aliases(
            "currency",
            "currency",
            "currency code",
            "deal currency code",
            "opportunity currency",
            "valuta",
            "währung",
            "mata uang",
        ),
        **_aliases(
            "close_date",
            "close date",
            "expected close date",
            "closing date",
            "stängningsdatum",
            "avslutsdatum",
            "abschlussdatum",
            "tanggal penutupan",
        ),
        **_aliases(
            "probability",
            "probability",
            "probability (%)",
            "deal probability",
            "sannolikhet",
            "wahrscheinlichkeit",
            "probabilitas",
        ),
        **_aliases(
            "owner",
            "deal owner",
            "opportunity owner",
            "owner",
            "ägare",
            "säljare",
            "besitzer",
            "inhaber",
            "verantwortlich",
            "pemilik",
        ),
        **_aliases("source", "source", "lead source", "källa", "quelle", "sumber"),
        **_aliases(
            "campaign", "campaign", "primary campaign source", "kampanj", "kampagne", "kampanye"
        ),
        **_aliases(
            "lost_reason",
            "lost reason",
            "closed lost reason",
            "loss reason",
            "förlustorsak",
            "verlustgrund",
            "alasan kalah",
        ),
    },
    # Salesforce tasks and HubSpot task exports.
    "tasks": {
        **_WORK_COMMON,
        **_aliases(
            "title",
            "title",
            "subject",
            "task subject",
            "task title",
            "ämne",
            "rubrik",
            "betreff",
            "titel",
            "judul",
            "subjek",
        ),
        **_aliases("kind", "type", "task type", "kind", "typ", "art", "jenis", "tipe"),
        **_aliases(
            "due",
            "due",
            "due date",
            "due at",
            "due date time",
            "activity date",
            "förfallodatum",
            "deadline",
            "fällig am",
            "fälligkeitsdatum",
            "fälligkeit",
            "tenggat",
            "jatuh tempo",
            "tenggat waktu",
        ),
        **_aliases(
            "assignee",
            "assigned to",
            "assignee",
            "owner",
            "task owner",
            "ansvarig",
            "zugewiesen an",
            "verantwortlich",
            "penanggung jawab",
        ),
        **_aliases(
            "about",
            "about",
            "related to",
            "regarding",
            "customer",
            "email",
            "contact email",
            "e-mail",
            "associated contact ids",
            "associated company ids",
            "gäller",
            "kund",
            "betrifft",
            "kunde",
            "terkait",
            "pelanggan",
        ),
        **_aliases(
            "completed",
            "completed",
            "completed at",
            "completed date",
            "completion date",
            "klar",
            "utförd",
            "erledigt am",
            "selesai",
        ),
        **_aliases(
            "description", "notes", "comments", "body", "anteckningar", "notizen", "catatan"
        ),
    },
    # HubSpot ticket exports and Salesforce case reports.
    "cases": {
        **_WORK_COMMON,
        **_aliases(
            "subject",
            "subject",
            "ticket name",
            "case subject",
            "title",
            "ämne",
            "rubrik",
            "ärende",
            "betreff",
            "titel",
            "judul",
            "subjek",
        ),
        **_aliases("description", "ticket description", "case description", "description", "notes"),
        **_aliases(
            "customer",
            "customer",
            "customer id",
            "account id",
            "contact id",
            "email",
            "contact email",
            "web email",
            "e-mail",
            "associated contact ids",
            "associated company ids",
            "kund",
            "kunde",
            "pelanggan",
        ),
        **_aliases(
            "channel",
            "channel",
            "origin",
            "case origin",
            "source",
            "kanal",
            "källa",
            "quelle",
            "saluran",
            "sumber",
        ),
        **_aliases("priority", "ticket priority", "case priority"),
        **_aliases("status", "ticket status", "case status", "pipeline stage"),
        **_aliases("assignee", "ticket owner", "case owner", "owner", "assigned to"),
        **_aliases(
            "reported",
            "reported",
            "reported at",
            "create date",
            "created",
            "created date",
            "date time opened",
            "opened",
            "opened date",
            "skapad",
            "erstellt am",
            "erstelldatum",
            "dibuat",
            "tanggal dibuat",
        ),
        **_aliases(
            "first_response",
            "first response",
            "first response at",
            "first agent reply date",
            "första svar",
            "erste antwort",
            "respons pertama",
        ),
        **_aliases(
            "resolved",
            "resolved",
            "resolved at",
            "resolution date",
            "löst",
            "gelöst am",
            "diselesaikan",
        ),
        **_aliases(
            "closed",
            "closed",
            "closed at",
            "close date",
            "closed date",
            "date time closed",
            "stängd",
            "geschlossen am",
            "ditutup",
        ),
    },
}
"""For each work-item import (``opportunities``, ``tasks``, ``cases``): every header
recognised (as :func:`header_key` gives it) and the field it feeds."""
