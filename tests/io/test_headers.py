"""Headers in the languages and export formats people bring: each real header row is planned."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.io import FIELDS, HEADER_ALIASES, header_key, plan_columns


def planned(header: str) -> dict[str, list[str]]:
    columns = [c.strip() for c in header.split(",")]
    plan = plan_columns(columns)
    return {field: [columns[i] for i in cols] for field, cols in sorted(plan.fields.items())}


# ------------------------------------------------------------------ languages

LANGUAGES = {
    "english": (
        "First Name,Last Name,Middle Name,E-mail,Phone,Mobile,Company,Street,Postcode,City,Country",
        {
            "given_name": ["First Name"],
            "family_name": ["Last Name"],
            "middle_name": ["Middle Name"],
            "email": ["E-mail"],
            "phone": ["Phone", "Mobile"],
            "company": ["Company"],
            "address": ["Street"],
            "postcode": ["Postcode"],
            "city": ["City"],
            "country": ["Country"],
        },
    ),
    "swedish": (
        "Förnamn,Efternamn,E-post,Telefon,Mobiltelefon,Företag,Gatuadress,Postnummer,Postort,Land",
        {
            "given_name": ["Förnamn"],
            "family_name": ["Efternamn"],
            "email": ["E-post"],
            "phone": ["Telefon", "Mobiltelefon"],
            "company": ["Företag"],
            "address": ["Gatuadress"],
            "postcode": ["Postnummer"],
            "city": ["Postort"],
            "country": ["Land"],
        },
    ),
    "swedish without diacritics": (
        "Fornamn,Efternamn,Epost,Mobil,Foretag,Adress,Postnr,Ort",
        {
            "given_name": ["Fornamn"],
            "family_name": ["Efternamn"],
            "email": ["Epost"],
            "phone": ["Mobil"],
            "company": ["Foretag"],
            "address": ["Adress"],
            "postcode": ["Postnr"],
            "city": ["Ort"],
        },
    ),
    "german": (
        "Vorname,Nachname,E-Mail-Adresse,Telefon,Handy,Firma,Straße,Hausnummer,PLZ,Ort,Land",
        {
            "given_name": ["Vorname"],
            "family_name": ["Nachname"],
            "email": ["E-Mail-Adresse"],
            "phone": ["Telefon", "Handy"],
            "company": ["Firma"],
            "address": ["Straße"],
            "street_number": ["Hausnummer"],
            "postcode": ["PLZ"],
            "city": ["Ort"],
            "country": ["Land"],
        },
    ),
    "german spelled otherwise": (
        "Familienname,Strasse,Postleitzahl,Stadt,Mobiltelefon,Unternehmen,Geburtsdatum",
        {
            "family_name": ["Familienname"],
            "address": ["Strasse"],
            "postcode": ["Postleitzahl"],
            "city": ["Stadt"],
            "phone": ["Mobiltelefon"],
            "company": ["Unternehmen"],
            "birth_date": ["Geburtsdatum"],
        },
    ),
    "indonesian": (
        "Nama Depan,Nama Belakang,Email,No HP,No. Telp,Perusahaan,Alamat,Kode Pos,Kota,Negara",
        {
            "given_name": ["Nama Depan"],
            "family_name": ["Nama Belakang"],
            "email": ["Email"],
            "phone": ["No HP", "No. Telp"],
            "company": ["Perusahaan"],
            "address": ["Alamat"],
            "postcode": ["Kode Pos"],
            "city": ["Kota"],
            "country": ["Negara"],
        },
    ),
    "indonesian, one name column": (
        "Nama,Surel,Nomor WhatsApp,Nama Perusahaan,Kota/Kabupaten,Provinsi,Tanggal Lahir",
        {
            "name": ["Nama"],
            "email": ["Surel"],
            "phone": ["Nomor WhatsApp"],
            "company": ["Nama Perusahaan"],
            "city": ["Kota/Kabupaten"],
            "state": ["Provinsi"],
            "birth_date": ["Tanggal Lahir"],
        },
    ),
}


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_each_language(language: str) -> None:
    header, expected = LANGUAGES[language]
    assert planned(header) == dict(sorted(expected.items()))


# -------------------------------------------------------------- export formats

# Header rows as the systems write them (abridged to the columns that matter and a
# few that must stay unread).
HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Phone Number,Mobile Phone Number,Company Name,"
    "Street Address,City,State/Region,Postal Code,Country/Region,Contact owner,"
    "Lifecycle Stage,Create Date"
)
SALESFORCE_CONTACTS = (
    "Contact ID,Salutation,First Name,Last Name,Title,Account Name,Mailing Street,Mailing City,"
    "Mailing State/Province,Mailing Zip/Postal Code,Mailing Country,Phone,Mobile,Fax,Email,"
    "Contact Owner,Lead Source,Birthdate"
)
SALESFORCE_LEADS = (
    "Lead ID,First Name,Last Name,Title,Company / Account,Street,City,State/Province,"
    "Zip/Postal Code,Country,Phone,Mobile,Email,Lead Source,Lead Status,Rating,Lead Owner"
)
SALESFORCE_API = (
    "Id,FirstName,LastName,Email,Phone,MobilePhone,MailingStreet,MailingCity,"
    "MailingPostalCode,MailingCountry,AccountId"
)
ODOO = "Name,Company Name,Street,Street2,Zip,City,State,Country,Phone,Mobile,Email,Tax ID,Tags"
GOOGLE = (
    "First Name,Middle Name,Last Name,Phonetic First Name,Nickname,File As,E-mail 1 - Label,"
    "E-mail 1 - Value,E-mail 2 - Label,E-mail 2 - Value,Phone 1 - Label,Phone 1 - Value,"
    "Phone 2 - Label,Phone 2 - Value,Address 1 - Label,Address 1 - Formatted,"
    "Address 1 - Street,Address 1 - City,Address 1 - PO Box,Address 1 - Region,"
    "Address 1 - Postal Code,Address 1 - Country,Address 1 - Extended Address,"
    "Address 2 - Street,Address 2 - City,Organization Name,Organization Title,Birthday,Labels"
)
GOOGLE_OLD = (
    "Name,Given Name,Additional Name,Family Name,Yomi Name,Nickname,Birthday,Notes,"
    "E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,Phone 1 - Type,"
    "Phone 1 - Value,Organization 1 - Type,Organization 1 - Name,Organization 1 - Title"
)
OUTLOOK = (
    "Title,First Name,Middle Name,Last Name,Suffix,Company,Department,Job Title,"
    "Business Street,Business Street 2,Business City,Business State,Business Postal Code,"
    "Business Country/Region,Home Street,Home City,Home Postal Code,Home Country/Region,"
    "Assistant's Phone,Business Fax,Business Phone,Business Phone 2,Home Phone,Mobile Phone,"
    "Other Phone,Primary Phone,Birthday,E-mail Address,E-mail Type,E-mail Display Name,"
    "E-mail 2 Address,E-mail 3 Address,Notes"
)
OUTLOOK_GERMAN = (
    "Anrede,Vorname,Weitere Vornamen,Nachname,Firma,Abteilung,Position,Straße geschäftlich,"
    "Ort geschäftlich,Postleitzahl geschäftlich,Land/Region geschäftlich,Straße privat,"
    "Ort privat,Telefon geschäftlich,Telefon privat,Mobiltelefon,E-Mail-Adresse,E-Mail-Typ,"
    "E-Mail: Angezeigter Name,E-Mail 2: Adresse,Geburtstag"
)

EXPORTS = {
    "hubspot": (
        HUBSPOT,
        {
            "given_name": ["First Name"],
            "family_name": ["Last Name"],
            "email": ["Email"],
            "phone": ["Phone Number", "Mobile Phone Number"],
            "company": ["Company Name"],
            "address": ["Street Address"],
            "city": ["City"],
            "state": ["State/Region"],
            "postcode": ["Postal Code"],
            "country": ["Country/Region"],
        },
    ),
    "salesforce contacts": (
        SALESFORCE_CONTACTS,
        {
            "given_name": ["First Name"],
            "family_name": ["Last Name"],
            "company": ["Account Name"],
            "address": ["Mailing Street"],
            "city": ["Mailing City"],
            "state": ["Mailing State/Province"],
            "postcode": ["Mailing Zip/Postal Code"],
            "country": ["Mailing Country"],
            "phone": ["Phone", "Mobile"],
            "email": ["Email"],
            "birth_date": ["Birthdate"],
        },
    ),
    "salesforce leads": (
        SALESFORCE_LEADS,
        {
            "given_name": ["First Name"],
            "family_name": ["Last Name"],
            "company": ["Company / Account"],
            "address": ["Street"],
            "city": ["City"],
            "state": ["State/Province"],
            "postcode": ["Zip/Postal Code"],
            "country": ["Country"],
            "phone": ["Phone", "Mobile"],
            "email": ["Email"],
        },
    ),
    "salesforce api names": (
        SALESFORCE_API,
        {
            "given_name": ["FirstName"],
            "family_name": ["LastName"],
            "email": ["Email"],
            "phone": ["Phone", "MobilePhone"],
            "address": ["MailingStreet"],
            "city": ["MailingCity"],
            "postcode": ["MailingPostalCode"],
            "country": ["MailingCountry"],
        },
    ),
    "odoo": (
        ODOO,
        {
            "name": ["Name"],
            "company": ["Company Name"],
            "address": ["Street", "Street2"],
            "postcode": ["Zip"],
            "city": ["City"],
            "state": ["State"],
            "country": ["Country"],
            "phone": ["Phone", "Mobile"],
            "email": ["Email"],
        },
    ),
    "google": (
        GOOGLE,
        {
            "given_name": ["First Name"],
            "middle_name": ["Middle Name"],
            "family_name": ["Last Name"],
            "email": ["E-mail 1 - Value", "E-mail 2 - Value"],
            "phone": ["Phone 1 - Value", "Phone 2 - Value"],
            # One address: the first group's, never Address 2's city with Address 1's street.
            "address": ["Address 1 - Street", "Address 1 - Extended Address"],
            "city": ["Address 1 - City"],
            "state": ["Address 1 - Region"],
            "postcode": ["Address 1 - Postal Code"],
            "country": ["Address 1 - Country"],
            "company": ["Organization Name"],
            "birth_date": ["Birthday"],
        },
    ),
    "google, older format": (
        GOOGLE_OLD,
        {
            "name": ["Name"],
            "given_name": ["Given Name"],
            "middle_name": ["Additional Name"],
            "family_name": ["Family Name"],
            "birth_date": ["Birthday"],
            "email": ["E-mail 1 - Value", "E-mail 2 - Value"],
            "phone": ["Phone 1 - Value"],
            "company": ["Organization 1 - Name"],
        },
    ),
    "outlook": (
        OUTLOOK,
        {
            "given_name": ["First Name"],
            "middle_name": ["Middle Name"],
            "family_name": ["Last Name"],
            "company": ["Company"],
            "address": ["Business Street", "Business Street 2"],
            "city": ["Business City"],
            "state": ["Business State"],
            "postcode": ["Business Postal Code"],
            "country": ["Business Country/Region"],
            "phone": [
                "Business Phone",
                "Business Phone 2",
                "Home Phone",
                "Mobile Phone",
                "Other Phone",
                "Primary Phone",
            ],
            "birth_date": ["Birthday"],
            "email": ["E-mail Address", "E-mail 2 Address", "E-mail 3 Address"],
        },
    ),
    "outlook, german": (
        OUTLOOK_GERMAN,
        {
            "given_name": ["Vorname"],
            "middle_name": ["Weitere Vornamen"],
            "family_name": ["Nachname"],
            "company": ["Firma"],
            "address": ["Straße geschäftlich"],
            "city": ["Ort geschäftlich"],
            "postcode": ["Postleitzahl geschäftlich"],
            "country": ["Land/Region geschäftlich"],
            "phone": ["Telefon geschäftlich", "Telefon privat", "Mobiltelefon"],
            "email": ["E-Mail-Adresse", "E-Mail 2: Adresse"],
            "birth_date": ["Geburtstag"],
        },
    ),
}


@pytest.mark.parametrize("export", sorted(EXPORTS))
def test_each_export_format(export: str) -> None:
    header, expected = EXPORTS[export]
    assert planned(header) == dict(sorted(expected.items()))


def test_the_plan_names_what_is_read_and_what_is_carried() -> None:
    plan = plan_columns(("Förnamn", "Efternamn", "E-post", "Kundnr", "Anteckningar"))
    assert plan.describe() == [
        "Förnamn -> given_name",
        "Efternamn -> family_name",
        "E-post -> email",
        "carried untouched: Kundnr, Anteckningar",
    ]
    assert plan.read_columns()[0] == ("Förnamn", "given_name")
    assert plan.untouched_columns() == ["Kundnr", "Anteckningar"]


def test_every_alias_feeds_a_known_field() -> None:
    assert set(HEADER_ALIASES.values()) <= set(FIELDS)
    assert all(key == header_key(key) for key in HEADER_ALIASES)


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


_spellings = st.sampled_from(
    [
        "Förnamn",
        "Efternamn",
        "E-post",
        "Företagsnamn",
        "Straße",
        "Nachname",
        "E-Mail-Adresse",
        "Nama Depan",
        "No. HP",
        "First Name",
        "Phone Number",
        "Postal Code",
    ]
)


@given(
    name=_spellings,
    case=st.sampled_from([str.upper, str.lower, str.title, str]),
    joiner=st.sampled_from([" ", "_", "-", "", "  ", " - "]),
    marks=st.booleans(),
    pad=st.sampled_from(["", " ", "\t"]),
)
def test_case_spacing_punctuation_and_diacritics_do_not_matter(
    name: str, case: object, joiner: str, marks: bool, pad: str
) -> None:
    expected = plan_columns((name,)).fields
    assert expected  # every spelling above is recognised as written
    variant = joiner.join(name.replace("-", " ").split())
    variant = case(variant) if callable(case) else variant
    if marks:
        variant = _strip_marks(variant)
    assert plan_columns((pad + variant + pad,)).fields == expected
