"""``crmcore privacy find|export|erase|restrict`` through the real command, on real SQLite files."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pty
import re
import stat
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import (
    Channel,
    ConsentStatus,
    ContactEmail,
    Customer,
    CustomFields,
    EmailAddress,
    ExternalIds,
    Interaction,
    Lead,
    LeadStatus,
    Participant,
    ParticipantRole,
    PersonName,
)
from crmcore.audit import AuditAction
from crmcore.cli import main
from crmcore.cli._privacy import actor_name
from crmcore.conversion import convert_lead
from crmcore.ids import new_customer_id
from crmcore.merge import merge
from crmcore.privacy import import_subject, is_suppressed
from crmcore.storage import InMemoryStore, SQLiteStore
from crmcore.testing.strategies import customers
from tests.cli.store_cli import crmcore

ADA_EMAIL = "ada.lovelace@example.org"
ADA_PHONE = "+46701234578"
BOB_EMAIL = "bob.babbage@example.org"
WHEN = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


def _person(given: str, family: str, email: str, phone: str | None = None) -> Customer:
    return Customer.create(
        name=PersonName(given=given, family=family),
        emails=[email],
        phones=[phone] if phone else [],
    )


def subject_db(path: Path) -> dict[str, str]:
    """Ada (with a merged duplicate, a converted lead, an interaction of her own and one
    shared with Bob), and Bob, who must come out of every command untouched."""
    with SQLiteStore(path) as store:
        ada = store.customers.add(
            _person("Ada", "Lovelace", ADA_EMAIL, ADA_PHONE).with_consent(
                Channel.EMAIL, "newsletter", ConsentStatus.GRANTED, source="web form"
            )
        )
        twin = store.customers.add(_person("Ada", "Lovelace", "ada@analytical.example"))
        bob = store.customers.add(_person("Bob", "Babbage", BOB_EMAIL, "+46709876543"))
        prospect = store.leads.add(
            Lead.create(
                name=PersonName(given="Ada", family="Lovelace"),
                emails=["ADA.Lovelace+Fair@Example.ORG"],
            )
            .transition_to(LeadStatus.CONTACTED)
            .transition_to(LeadStatus.QUALIFIED)
        )
        own = store.interactions.add(
            Interaction.log(
                channel=Channel.EMAIL,
                direction="inbound",
                occurred_at=WHEN,
                customer_id=ada.id,
                subject="Lovelace asks about her order",
            )
        )
        shared = store.interactions.add(
            Interaction.log(
                channel=Channel.MEETING,
                direction="outbound",
                occurred_at=WHEN,
                participants=[Participant(ada.id), Participant(bob.id, ParticipantRole.CC)],
                subject="Meeting with Ada and Bob",
            )
        )
        merged = merge(store, [ada.id, twin.id], survivor=ada.id)
        convert_lead(store, prospect.id, customer_id=ada.id)
    return {
        "ada": ada.id,
        "twin": twin.id,
        "bob": bob.id,
        "lead": prospect.id,
        "own": own.id,
        "shared": shared.id,
        "merge": merged.merge_id,
    }


def _tokens() -> list[str]:
    return ["Lovelace", "ada.lovelace", "analytical", "701234578"]


def _no_personal_data(*texts: str) -> None:
    for text in texts:
        for token in _tokens():
            assert token.casefold() not in text.casefold(), token


# --------------------------------------------------------------------------- find


def test_find_by_email_in_other_capitals_lists_ids_and_states_only(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    done = crmcore("privacy", "find", "--db", db, "--email", "ADA.Lovelace@EXAMPLE.org")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for key in ("ada", "twin", "lead", "own", "shared", "merge"):
        assert ids[key] in out, key
    assert ids["bob"] not in out
    assert f"merged into {ids['ada']}" in out
    assert f"converted into {ids['ada']}" in out
    assert out.splitlines()[0].endswith("records concern this person")
    _no_personal_data(out, done.stderr)
    assert "Babbage" not in out


def test_find_as_json_and_by_phone_in_a_region(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    done = crmcore(
        "privacy", "find", "--db", db, "--phone", "070-123 45 78", "--region", "se",
        "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert ids["ada"] in found["customers"]
    assert found["total"] == sum(len(v) for k, v in found.items() if k != "total")
    assert ids["bob"] not in found["customers"]
    _no_personal_data(done.stdout)


def test_find_by_name_and_nothing_found(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    named = crmcore("privacy", "find", "--db", db, "--name", "ada lovelace", "--format", "json")
    assert named.returncode == 0, named.stderr
    assert ids["ada"] in json.loads(named.stdout)["customers"]
    nobody = crmcore("privacy", "find", "--db", db, "--email", "nobody@example.net")
    assert (nobody.returncode, nobody.stdout) == (
        0,
        "no record in the store concerns this person\n",
    )


def test_find_refuses_bad_queries_without_echoing_them(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    subject_db(db)
    no_region = crmcore("privacy", "find", "--db", db, "--phone", "0701234578")
    assert no_region.returncode == 2
    assert no_region.stderr.startswith("crmcore: error: --phone: ")
    assert "0701234578" not in no_region.stderr
    not_email = crmcore("privacy", "find", "--db", db, "--email", "Lovelace at home")
    assert not_email.returncode == 2
    assert not_email.stderr.startswith("crmcore: error: --email: ")
    assert "Lovelace" not in not_email.stderr
    both = crmcore("privacy", "find", "--db", db, "--email", ADA_EMAIL, "--name", "Ada")
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr
    neither = crmcore("privacy", "find", "--db", db)
    assert neither.returncode == 2
    region_alone = crmcore("privacy", "find", "--db", db, "--email", ADA_EMAIL, "--region", "SE")
    assert region_alone.returncode == 2
    assert region_alone.stderr == "crmcore: error: --region: only with --phone\n"
    missing = crmcore("privacy", "find", "--db", tmp_path / "nope.db", "--email", ADA_EMAIL)
    assert missing.returncode == 1
    assert "no such database file" in missing.stderr
    assert not (tmp_path / "nope.db").exists()


def test_privacy_alone_prints_its_commands() -> None:
    done = crmcore("privacy")
    assert done.returncode == 2
    for command in ("find", "export", "erase", "restrict"):
        assert command in done.stderr


# --------------------------------------------------------------------------- export


def test_export_writes_an_owner_only_document_that_imports_again(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    out = tmp_path / "ada.json"
    done = crmcore("privacy", "export", "--db", db, "--customer", ids["ada"], "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(f"exported {ids['ada']}: ")
    assert done.stderr.rstrip().endswith(f"to {out}")
    assert "1 merge record" in done.stderr
    _no_personal_data(done.stderr)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    document = json.loads(out.read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == ("crmcore-subject", 1)
    assert document["subject_id"] == ids["ada"]
    assert {c["id"] for c in document["customers"]} >= {ids["ada"], ids["twin"]}
    assert ids["bob"] not in {c["id"] for c in document["customers"]}
    assert document["consent_history"]
    assert not list(tmp_path.glob(".ada.json.*"))  # no temporary file left behind
    with InMemoryStore() as empty, SQLiteStore(db) as original:
        imported = import_subject(empty, document)
        assert ids["ada"] in imported.ids
        assert empty.customers.get(ids["ada"]) == original.customers.get(ids["ada"])


def test_export_to_standard_output_quietly(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    done = crmcore("privacy", "export", "--db", db, "--customer", ids["bob"], "-q")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    document = json.loads(done.stdout)
    assert document["subject_id"] == ids["bob"]
    assert ADA_EMAIL not in done.stdout  # the shared meeting names Ada by id only


def test_export_refusals(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    unknown = new_customer_id()
    done = crmcore("privacy", "export", "--db", db, "--customer", unknown)
    assert (done.returncode, done.stderr) == (
        1,
        f"crmcore: error: {unknown}: no such record in the store\n",
    )
    malformed = crmcore("privacy", "export", "--db", db, "--customer", ADA_EMAIL)
    assert malformed.returncode == 2
    assert "not a customer or lead id" in malformed.stderr
    assert ADA_EMAIL not in malformed.stderr
    lead = crmcore("privacy", "export", "--db", db, "--customer", ids["lead"], "-q")
    assert lead.returncode == 0, lead.stderr
    assert json.loads(lead.stdout)["subject_id"] in (ids["lead"], ids["ada"])
    onto_db = crmcore("privacy", "export", "--db", db, "--customer", ids["ada"], "-o", db)
    assert onto_db.returncode == 2
    assert onto_db.stderr == "crmcore: error: --output must not be the database file\n"
    nowhere = crmcore(
        "privacy", "export", "--db", db, "--customer", ids["ada"], "-o", tmp_path / "no" / "a.json"
    )
    assert nowhere.returncode == 1
    assert "no such directory" in nowhere.stderr


# --------------------------------------------------------------------------- erase


def _raw_bytes(db: Path) -> bytes:
    return b"".join(
        p.read_bytes() for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()
    )


def test_erase_needs_yes_off_a_terminal_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    before = db.read_bytes()
    done = crmcore("privacy", "erase", "--db", db, "--customer", ids["ada"])
    assert done.returncode == 2
    assert "add --yes" in done.stderr
    assert "nothing was erased" in done.stderr
    assert db.read_bytes() == before


def test_erase_anonymizes_everywhere_and_suppresses(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    with SQLiteStore(db) as store:
        bob_before = store.customers.get(ids["bob"])
    done = crmcore("privacy", "erase", "--db", db, "--customer", ids["ada"], "--yes")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"erased {ids['ada']} (anonymize): ")
    assert "customers" in lines[0]
    assert lines[1].startswith("suppressed ")
    assert "a***@e***.org" in lines[1]
    _no_personal_data(done.stdout, done.stderr)
    raw = _raw_bytes(db)
    for token in ("Lovelace", ADA_EMAIL, "ada@analytical.example", "701234578"):
        assert token.encode() not in raw, token
    with SQLiteStore(db) as store:
        assert store.customers.get(ids["ada"]).id == ids["ada"]  # a tombstone
        assert store.customers.get(ids["bob"]) == bob_before
        meeting = store.interactions.get(ids["shared"])
        assert [p.record_id for p in meeting.participants] == [ids["bob"]]
        assert is_suppressed(store, email=ADA_EMAIL)
        assert is_suppressed(store, phone=ADA_PHONE)
        assert not is_suppressed(store, email=BOB_EMAIL)
    again = crmcore("privacy", "find", "--db", db, "--email", ADA_EMAIL, "--format", "json")
    assert json.loads(again.stdout)["customers"] == []


def test_erase_in_delete_mode_as_json_with_an_actor(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    done = crmcore(
        "--actor", "dpo@shop.example", "privacy", "erase", "--db", db,
        "--customer", ids["ada"], "--mode", "delete", "--yes", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    assert (receipt["subject"], receipt["mode"]) == (ids["ada"], "delete")
    assert receipt["records"]["customers"] >= 2
    assert receipt["suppressed"] >= 2
    assert all("***" in m for m in receipt["masked"])
    _no_personal_data(done.stdout)
    with SQLiteStore(db) as store:
        assert store.customers.count() == 1  # Bob
        (entry,) = store.audit.list(action=AuditAction.ERASE).items
        assert entry.actor == "dpo@shop.example"
        assert store.interactions.get(ids["shared"]).participants[0].record_id == ids["bob"]


def test_erase_refuses_unknown_and_malformed_ids(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    subject_db(db)
    unknown = new_customer_id()
    done = crmcore("privacy", "erase", "--db", db, "--customer", unknown, "--yes")
    assert (done.returncode, done.stderr) == (
        1,
        f"crmcore: error: {unknown}: no such record in the store\n",
    )
    bad = crmcore("privacy", "erase", "--db", db, "--customer", "Ada Lovelace", "--yes")
    assert bad.returncode == 2
    assert "Lovelace" not in bad.stderr
    bad_mode = crmcore("privacy", "erase", "--db", db, "--customer", unknown, "--mode", "shred")
    assert bad_mode.returncode == 2


def _on_a_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as standard input, typing ``answer``."""
    leader, follower = pty.openpty()
    try:
        env = {**os.environ, "COLUMNS": "120", "PYTHONIOENCODING": "utf-8"}
        child = subprocess.Popen(
            [sys.executable, "-m", "crmcore", *args],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.write(leader, answer)
        _, err = child.communicate(timeout=120)
        return child.returncode, err.decode("utf-8")
    finally:
        os.close(leader)
        os.close(follower)


def test_erase_on_a_terminal_asks_first(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    args = ["privacy", "erase", "--db", str(db), "--customer", ids["lead"]]
    code, err = _on_a_terminal(args, b"no\n")
    assert code == 1
    assert "Type yes to erase" in err
    assert err.rstrip().endswith("crmcore: error: not confirmed; nothing was erased")
    with SQLiteStore(db) as store:
        assert store.customers.get(ids["ada"]).name == PersonName(given="Ada", family="Lovelace")
    code, err = _on_a_terminal(args, b"yes\n")
    assert code == 0, err
    with SQLiteStore(db) as store:
        # The lead was converted into Ada: erasing it erases her.
        assert store.customers.get(ids["ada"]).name != PersonName(given="Ada", family="Lovelace")


# --------------------------------------------------------------------------- restrict


def test_restrict_and_lift_without_printing_the_reason(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    reason = "Lovelace contests the accuracy of her address"
    done = crmcore(
        "privacy", "restrict", "--db", db, "--customer", ids["ada"], "--reason", reason,
        "--actor", "dpo@shop.example",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"restricted {ids['ada']} (since ")
    assert "Lovelace" not in done.stdout + done.stderr
    with SQLiteStore(db) as store:
        record = store.customers.get(ids["ada"])
        assert record.is_restricted
        (entry,) = store.audit.list(action=AuditAction.RESTRICT).items
        assert entry.actor == "dpo@shop.example"
    as_json = crmcore(
        "privacy", "restrict", "--db", db, "--customer", ids["lead"], "--reason", "objection",
        "--format", "json",
    )  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert (data["id"], data["restricted"]) == (ids["lead"], True)
    lifted = crmcore("privacy", "restrict", "--db", db, "--customer", ids["ada"], "--lift")
    assert (lifted.returncode, lifted.stdout) == (0, f"lifted the restriction of {ids['ada']}\n")
    again = crmcore("privacy", "restrict", "--db", db, "--customer", ids["ada"], "--lift")
    assert again.stdout == f"{ids['ada']} was not restricted; nothing changed\n"
    with SQLiteStore(db) as store:
        assert not store.customers.get(ids["ada"]).is_restricted
        assert store.audit.list(action=AuditAction.LIFT_RESTRICTION).items[0].targets


def test_restrict_refusals(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    neither = crmcore("privacy", "restrict", "--db", db, "--customer", ids["ada"])
    assert neither.returncode == 2
    both = crmcore(
        "privacy", "restrict", "--db", db, "--customer", ids["ada"], "--reason", "x", "--lift"
    )
    assert both.returncode == 2
    blank = crmcore("privacy", "restrict", "--db", db, "--customer", ids["ada"], "--reason", " ")
    assert blank.returncode == 2
    assert blank.stderr.startswith("crmcore: error: --reason: ")
    too_long = "Lovelace " * 100
    long = crmcore(
        "privacy", "restrict", "--db", db, "--customer", ids["ada"], "--reason", too_long
    )
    assert long.returncode == 2
    assert "Lovelace" not in long.stderr
    unknown = new_customer_id()
    gone = crmcore("privacy", "restrict", "--db", db, "--customer", unknown, "--lift")
    assert gone.returncode == 1
    with SQLiteStore(db) as store:
        assert not store.customers.get(ids["ada"]).is_restricted


def test_a_bad_actor_is_a_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = subject_db(db)
    forged = crmcore(
        "--actor", "dpo\nERASE by someone else", "privacy", "restrict", "--db", db,
        "--customer", ids["ada"], "--reason", "objection",
    )  # fmt: skip
    assert forged.returncode == 2
    assert "--actor" in forged.stderr
    with SQLiteStore(db) as store:
        assert not store.customers.get(ids["ada"]).is_restricted


# --------------------------------------------------------------------------- properties


@given(st.text(max_size=300))
def test_actor_names_are_printable_and_bounded(text: str) -> None:
    stripped = text.strip()
    acceptable = 1 <= len(stripped) <= 200 and stripped.isprintable()
    if not acceptable:
        with pytest.raises(argparse.ArgumentTypeError):
            actor_name(text)
        return
    name = actor_name(text)
    assert name == stripped
    assert "\n" not in name


_AUDIT_ID = re.compile(r"aud_[0-9A-Z]{26}")


def _scrubbed(person: Customer) -> Customer:
    """The same record (id, email searched for, states) with every other personal value
    replaced: what `find` prints must not change."""
    name = (
        PersonName(given="Placeholder", family="Person")
        if isinstance(person.name, PersonName)
        else "Placeholder Ltd"
    )
    return attrs.evolve(
        person,
        name=name,
        emails=person.emails[:1],
        phones=(),
        addresses=(),
        notes=None,
        birth_date=None,
        custom_fields=CustomFields(),
        identifiers=ExternalIds(),
    )


def _find_output(person: Customer, form: str) -> str:
    with tempfile.TemporaryDirectory() as where:
        db = Path(where) / "crm.db"
        with SQLiteStore(db) as store:
            store.customers.add(person)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main(
                [
                    "privacy", "find", "--db", str(db), "--email",
                    str(person.emails[0].address), "--format", form,
                ]
            )  # fmt: skip
    assert code == 0
    return printed.getvalue()


@settings(max_examples=10)
@given(customers(), st.sampled_from(["table", "json"]))
def test_find_prints_no_personal_data_of_what_it_finds(person: Customer, form: str) -> None:
    person = attrs.evolve(person, merged_into=None, organization_id=None)
    if not person.emails:
        person = attrs.evolve(
            person, emails=(ContactEmail(EmailAddress.parse("someone@example.com")),)
        )
    out = _find_output(person, form)
    assert person.id in out
    assert str(person.emails[0].address) not in out
    # Each run writes its own audit entry (a fresh id, today's date); all else is equal.
    assert _AUDIT_ID.sub("aud_", _find_output(_scrubbed(person), form)) == _AUDIT_ID.sub(
        "aud_", out
    )


def test_the_actor_option_names_the_operator_of_any_command_that_writes(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    rows = tmp_path / "contacts.csv"
    rows.write_text("name,email\nAda Lovelace,ada@example.org\n", encoding="utf-8")
    done = crmcore("--actor", "importer@shop.example", "import", rows, "--db", db, "-q")
    assert done.returncode == 0, done.stderr
    with SQLiteStore(db) as store:
        entries = store.audit.list().items
        assert entries
        assert {e.actor for e in entries} == {"importer@shop.example"}
    # Without --actor the trail says nobody was named, rather than guessing.
    again = tmp_path / "more.csv"
    again.write_text("name,email\nBob Babbage,bob@example.org\n", encoding="utf-8")
    assert crmcore("import", again, "--db", db, "-q").returncode == 0
    with SQLiteStore(db) as store:
        assert {e.actor for e in store.audit.list().items} == {"importer@shop.example", None}
