"""The suppression list (keyed digests), the writes and imports it guards, and dedup's
restricted records, on memory and SQLite (a real file)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore import (
    Customer,
    EmailAddress,
    Lead,
    PersonName,
    PhoneNumber,
    Restriction,
    Suppressed,
    ValidationError,
)
from crmcore.dedup import DuplicatePolicy, check_duplicates, find_duplicates
from crmcore.io import import_file
from crmcore.privacy import (
    SuppressionPolicy,
    is_suppressed,
    suppress,
    suppressed_fields,
    suppression_digest,
)
from crmcore.testing.strategies import (
    email_addresses,
    person_names,
    phone_numbers,
    restrictions,
)
from crmcore.writes import add_customer, add_lead
from tests.privacy._subject_kit import STORES, Fresh, variant

EXAMPLES = settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(params=sorted(STORES))
def fresh(request: pytest.FixtureRequest) -> Fresh:
    """A factory of empty stores of one kind."""
    return STORES[request.param]


# --------------------------------------------------------------------------- digests


@EXAMPLES
@given(email=email_addresses(), phone=phone_numbers())
def test_digests_are_keyed_per_store_and_never_a_plain_hash(
    fresh: Fresh, email: EmailAddress, phone: PhoneNumber
) -> None:
    with fresh() as one, fresh() as two:
        mine = suppression_digest(one, email=email, phone=phone)
        theirs = suppression_digest(two, email=email, phone=phone)
        assert len(mine) == 2
        assert all(len(d) == 64 and set(d) <= set("0123456789abcdef") for d in mine)
        # Another store, another secret: the same address gives another digest.
        assert mine[0] != theirs[0]
        assert mine[1] != theirs[1]
        # The same store answers the same digest every time.
        assert suppression_digest(one, email=email, phone=phone) == mine
        plain = {
            hashlib.sha256(text.encode()).hexdigest()
            for text in (
                email.normalized,
                email.match_key,
                f"email:{email.match_key}",
                phone.e164,
                f"phone:{phone.e164}",
            )
        }
        assert not plain & set(mine)


def test_a_digest_survives_reopening_the_sqlite_file(tmp_path: Path) -> None:
    from crmcore import SQLiteStore

    with SQLiteStore(tmp_path / "crm.db") as store:
        before = suppression_digest(store, email="ada@x.example")
        suppress(store, emails=["ada@x.example"])
    with SQLiteStore(tmp_path / "crm.db") as store:
        assert suppression_digest(store, email="ada@x.example") == before
        assert is_suppressed(store, email="ADA@x.example")


@EXAMPLES
@given(data=st.data(), local=st.text("abcdefgh", min_size=2, max_size=8))
def test_every_form_of_a_suppressed_address_is_suppressed(
    fresh: Fresh, data: st.DataObject, local: str
) -> None:
    domain = data.draw(st.sampled_from(["example.org", "gmail.com"]))
    with fresh() as store:
        assert suppress(store, emails=[variant(data.draw, local, domain)]) == 1
        # Suppressing the same mailbox again adds nothing.
        assert suppress(store, emails=[variant(data.draw, local, domain)]) == 0
        assert is_suppressed(store, email=variant(data.draw, local, domain))
        assert not is_suppressed(store, email=f"{local}x@{domain}")
        assert not is_suppressed(store, email=f"{local}@other.example")


def test_phones_are_suppressed_in_e164(fresh: Fresh) -> None:
    with fresh() as store:
        assert suppress(store, phones=["070-123 45 67"], region="SE") == 1
        assert is_suppressed(store, phone="+46 70 123 45 67")
        assert is_suppressed(store, phone="+46701234567 ext. 12")
        assert not is_suppressed(store, phone="+46701234568")
        # Either contact point is enough.
        assert is_suppressed(store, email="new@x.example", phone="+46701234567")


def test_suppression_refuses_bad_input_by_name_without_echoing_it(fresh: Fresh) -> None:
    with fresh() as store:
        with pytest.raises(ValidationError) as bad:
            suppress(store, emails=["fine@x.example", "secret-not-an-address"])
        assert bad.value.paths == ("emails[1]",)
        assert "secret" not in str(bad.value)
        # Nothing was added: the whole call is checked first.
        assert not is_suppressed(store, email="fine@x.example")
        with pytest.raises(ValidationError) as single:
            suppress(store, emails="ada@x.example")
        assert single.value.paths == ("emails",)
        with pytest.raises(ValidationError) as nothing:
            is_suppressed(store)
        assert nothing.value.paths == ("email",)
        assert suppression_digest(store) == []
    with pytest.raises(ValidationError) as no_list:
        suppress(object(), emails=["a@x.example"])
    assert no_list.value.paths == ("store",)


# --------------------------------------------------------------------------- writes


def test_a_checked_write_blocks_or_flags_a_suppressed_address(fresh: Fresh) -> None:
    with fresh() as store:
        suppress(store, emails=["ada@x.example"], phones=["+46701234567"])
        ada = Customer.create(name="Ada Lovelace", emails=["a@y.example", "Ada+shop@X.example"])
        with pytest.raises(Suppressed) as blocked:
            add_customer(store, ada)
        assert blocked.value.fields == ("emails[1]",)
        assert "ada" not in str(blocked.value).lower()
        with pytest.raises(Suppressed):
            add_customer(store, ada, policy=DuplicatePolicy.ALERT)
        assert store.customers.count() == 0
        written = add_customer(
            store, ada, policy=DuplicatePolicy.ALERT, suppression=SuppressionPolicy.ALERT
        )
        assert written.suppressed == ("emails[1]",)
        assert store.customers.get(ada.id) == written.record
        lead = Lead.create(name="Ada", phones=["+46 70 123 45 67"])
        with pytest.raises(Suppressed) as lead_blocked:
            add_lead(store, lead)
        assert lead_blocked.value.fields == ("phones[0]",)
        # None does not look: the app decided the person is back of their own will.
        assert add_lead(store, lead, suppression=None).id == lead.id
        with pytest.raises(ValidationError) as alert_alone:
            add_customer(store, ada, suppression=SuppressionPolicy.ALERT)
        assert alert_alone.value.paths == ("suppression",)
        with pytest.raises(ValidationError) as misspelt:
            add_customer(store, ada, suppression="block")  # type: ignore[call-overload]
        assert misspelt.value.paths == ("suppression",)


def test_an_address_that_is_not_suppressed_is_written(fresh: Fresh) -> None:
    with fresh() as store:
        suppress(store, emails=["ada@x.example"])
        bob = add_customer(store, Customer.create(name="Bob", emails=["bob@x.example"]))
        assert store.customers.get(bob.id) == bob
        checked = add_customer(
            store,
            Customer.create(name="Cy", emails=["cy@x.example"]),
            policy=DuplicatePolicy.ALERT,
        )
        assert checked.suppressed == ()


def test_check_duplicates_flags_a_suppressed_contact_point(fresh: Fresh) -> None:
    with fresh() as store:
        store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@y.example"]))
        suppress(store, emails=["ada@x.example"])
        candidate = Customer.create(name="Ada Lovelace", emails=["ada@y.example", "ada@x.example"])
        found = check_duplicates(candidate, store)
        assert found.suppressed == ("emails[1]",)
        assert len(found) == 1
        clean = check_duplicates(Customer.create(name="Bob", emails=["b@x.example"]), store)
        assert clean == []
        assert clean.suppressed == ()
        assert suppressed_fields(store, candidate) == ("emails[1]",)


# --------------------------------------------------------------------------- import


def _csv(path: Path) -> Path:
    path.write_text(
        "name,email,phone\nAda Lovelace,ADA+news@x.example,\nBob Stone,bob@x.example,\n"
        "Cy Young,,+46701234567\n",
        encoding="utf-8",
    )
    return path


def test_an_import_rejects_or_flags_suppressed_rows(fresh: Fresh, tmp_path: Path) -> None:
    source = _csv(tmp_path / "people.csv")
    with fresh() as store:
        suppress(store, emails=["ada@x.example"], phones=["+46701234567"])
        report = import_file(store, source)
        assert report.imported == 1
        assert report.rejected == 2
        assert [(r.row, r.field) for r in report.rejects] == [(2, "emails[0]"), (4, "phones[0]")]
        assert all("suppression" in r.reason for r in report.rejects)
        assert "ada" not in " ".join(r.reason for r in report.rejects).lower()
    with fresh() as store:
        suppress(store, emails=["ada@x.example"])
        report = import_file(store, source, entity="leads", suppression=SuppressionPolicy.ALERT)
        assert report.imported == 3
        flagged = [f for f in report.flags if f.decision == "suppressed"]
        assert [f.row for f in flagged] == [2]
        assert store.leads.get(flagged[0].record_id).emails[0].address.match_key.startswith("ada")
    with fresh() as store:
        suppress(store, emails=["ada@x.example"])
        assert import_file(store, source, suppression=None).imported == 3
        with pytest.raises(ValidationError) as misspelt:
            import_file(store, source, suppression="alert")  # type: ignore[arg-type]
        assert misspelt.value.paths == ("suppression",)


# --------------------------------------------------------------------------- restriction


@EXAMPLES
@given(
    name=person_names(),
    email=email_addresses(),
    restriction=restrictions(),
    copies=st.integers(1, 3),
)
def test_a_restricted_record_never_appears_in_dedup_results(
    fresh: Fresh, name: PersonName, email: EmailAddress, restriction: Restriction, copies: int
) -> None:
    # Twins of one person (same name, same address): unrestricted, they all match.
    twins = [Customer.create(name=name, emails=[email]) for _ in range(copies)]
    plain = Customer.create(name=name, emails=[email])
    restricted = attrs.evolve(plain, restriction=restriction)
    with fresh() as store:
        for twin in twins:
            store.customers.add(twin)
        # The control: the same record unrestricted is found.
        store.customers.add(plain)
        assert plain.id in {m.record_id for m in check_duplicates(twins[0], store)}
        store.customers.delete(plain.id)
        store.customers.add(restricted)
        result = find_duplicates(store)
        members = {m for c in result.clusters for m in c.member_ids}
        pairs = {x for p in result.possible_matches for x in (p.a, p.b)}
        assert restricted.id not in members | pairs
        listed = find_duplicates([restricted, *twins])
        assert restricted.id not in {m for c in listed.clusters for m in c.member_ids}
        for twin in twins:
            assert restricted.id not in {m.record_id for m in check_duplicates(twin, store)}
        # A restricted candidate is checked against nothing.
        assert check_duplicates(attrs.evolve(twins[0], restriction=restriction), store) == []


def test_a_restricted_record_is_left_out_of_an_import_match(fresh: Fresh, tmp_path: Path) -> None:
    source = tmp_path / "people.csv"
    source.write_text("name,email\nAda Lovelace,ada@x.example\n", encoding="utf-8")
    with fresh() as store:
        kept = Customer.create(name="Ada Lovelace", emails=["ada@x.example"]).restricted("dispute")
        store.customers.add(kept)
        report = import_file(store, source, on_duplicate="skip")
        assert report.imported == 1
        assert report.flags == ()
