"""Personal-data probes: provoke every error path with drawn people, look for them in the output.

Customers, leads and interactions are drawn with hypothesis; each probe feeds
their names, emails and phone digits to an error path (bad updates, stale
versions, duplicate ids, bad filters, corrupted documents, rejected CLI files)
and collects every ``repr()``, ``str(error)``, log record (``logging`` at DEBUG)
and CLI stderr line it produces. No drawn text may appear in them.

A drawn text counts as leaked only if it does not also appear when the same
probe runs on a placeholder record: a name such as "Text" or "Name" shows up in
any message about a text field, and says nothing about the person.
"""

from __future__ import annotations

import contextlib
import io
import logging
import pickle
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import (
    Customer,
    Interaction,
    Lead,
    PersonName,
    from_dict,
    from_json,
    to_dict,
    to_json,
)
from crmcore.cli import main
from crmcore.storage import InMemoryStore, where
from crmcore.testing._stand_ins import store_referenced
from crmcore.testing.strategies import customers, interactions, leads

PROBES = {"inputs": 0, "probes": 0, "outputs": 0, "leaks": 0}
"""Counts over the module's run (printed by the last test, for docs/reliability.md)."""

_Probe = Callable[[Any], Iterator[str]]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.args!r} {record.exc_text or ''}")


@contextlib.contextmanager
def _logs() -> Iterator[_Records]:
    handler = _Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _error_text(exc: BaseException) -> Iterator[str]:
    yield str(exc)
    yield repr(exc)
    yield from (f"{path} {message}" for path, message in getattr(exc, "problems", ()))
    yield from map(repr, getattr(exc, "matches", ()))
    yield str(pickle.loads(pickle.dumps(exc)))


def _raised(action: Callable[[], object]) -> Iterator[str]:
    try:
        result = action()
    except Exception as exc:  # every error path: what it says is what is checked
        yield from _error_text(exc)
    else:
        yield repr(result)


def _secrets(record: Customer | Lead | Interaction) -> set[str]:
    found: set[str] = set()
    name = getattr(record, "name", None)
    if isinstance(name, PersonName):
        found |= {name.full, name.given or "", name.family or "", name.middle or ""}
    elif isinstance(name, str):
        found.add(name)
    for contact in getattr(record, "emails", ()):
        found |= {contact.address.normalized, contact.address.local_part}
    for contact in getattr(record, "phones", ()):
        found |= {contact.number.e164.lstrip("+"), contact.number.national_number}
    for event in getattr(record, "consent_events", ()):
        found |= {event.purpose, event.source or "", event.contact_point or ""}
        if event.evidence is not None:
            evidence = event.evidence
            found |= {evidence.ip_address or "", evidence.reference or "", evidence.form_id or ""}
    restriction = getattr(record, "restriction", None)
    if restriction is not None:
        found.add(restriction.reason)
    for text in ("company", "subject", "body", "notes"):
        value = getattr(record, text, None)
        if isinstance(value, str):
            found.add(value)
    # Very short fragments ("Al", "070") are in any text; they identify no one.
    return {s for s in found if len(s.strip()) >= 5}


def _first_email(record: Customer | Lead) -> str:
    return record.emails[0].address.normalized if record.emails else "nobody@example.com"


def _first_digits(record: Customer | Lead) -> str:
    return record.phones[0].number.national_number if record.phones else "5550100"


def _name_text(record: Customer | Lead) -> str:
    name = record.name
    return name.full if isinstance(name, PersonName) else (name or "Placeholder")


def _party_probes(record: Customer | Lead) -> Iterator[Iterator[str]]:
    cls = type(record)
    email, digits, name = _first_email(record), _first_digits(record), _name_text(record)
    repository = "customers" if isinstance(record, Customer) else "leads"
    yield iter([repr(record), str(record)])
    names = [record.name] if isinstance(record.name, PersonName) else []
    ledger = (*record.consent_events, *record.consents, record.restriction)
    evidence = [e.evidence for e in record.consent_events if e.evidence is not None]
    parts = (*record.emails, *record.phones, *names, *ledger, *evidence)
    yield (repr(part) for part in parts)

    store = InMemoryStore()
    records = getattr(store, repository)
    store_referenced(store, [record])  # its organisation, the customer it became
    stored = records.add(record)
    yield _raised(lambda: records.add(record))  # duplicate id
    newer = records.update(attrs.evolve(stored, tags=frozenset({"probe"})))
    yield _raised(lambda: records.update(stored))  # stale version
    yield _raised(lambda: records.delete(newer.id, expected_version=newer.version + 7))
    yield _raised(lambda: records.list(where(name).eq(email)))  # a name as a field
    yield _raised(lambda: records.list(where("id").eq(email), cursor=email))
    yield _raised(lambda: records.list(where("tags").contains(name), order_by=email))
    yield _raised(lambda: records.find_by_email(email + "@@" + name))
    yield _raised(lambda: records.find_by_phone(digits + "x" * 70))
    yield _raised(lambda: records.find_by_identifier(name, email * 10))
    yield _raised(lambda: records.get(email))
    wrong: Any = email + "@"  # one text where a collection belongs: refused, not iterated
    yield _raised(lambda: attrs.evolve(record, emails=wrong, phones=wrong))
    plain: Any = {email: float("nan")}
    yield _raised(lambda: attrs.evolve(record, custom_fields=plain))
    yield _raised(lambda: cls.create(name=name + "\x00", emails=[email + "@"], phones=[digits]))
    if isinstance(record, Customer):
        yield _raised(lambda: record.with_custom_field(name, float("inf")))
        yield _raised(lambda: record.with_identifier(email, name * 50))

    data: dict[str, Any] = to_dict(record)
    data[email] = True
    data[name] = 1
    if data.get("emails"):
        data["emails"][0]["address"] = email + "@"
        data["emails"][0][digits] = 1
    if data.get("phones"):
        data["phones"][0]["number"]["e164"] = "+" + digits + "x"
        data["phones"][0]["number"][name] = 1
    if isinstance(data.get("name"), dict):
        data["name"]["given"] = name + "\x00"
        data["name"][email] = 1
    if "custom_fields" in data:
        data["custom_fields"] = {name: float("nan"), email: [1, {digits: float("inf")}]}
    if "identifiers" in data:
        data["identifiers"] = {email: 5, name: name * 50}
    yield _raised(lambda: from_dict(cls, data))
    yield _raised(lambda: from_json(cls, to_json(record)[:-1] + "," + f'"{email}":1}}'))


def _interaction_probes(ixn: Interaction) -> Iterator[Iterator[str]]:
    text = ixn.subject or ixn.body or "placeholder subject"
    yield iter([repr(ixn), str(ixn)])
    store = InMemoryStore()
    yield _raised(lambda: store.interactions.add(ixn))
    yield _raised(lambda: store.interactions.add(ixn))  # duplicate id
    yield _raised(lambda: store.interactions.update(attrs.evolve(ixn, version=ixn.version + 5)))
    yield _raised(lambda: store.interactions.find_by_external_id(text))
    yield _raised(lambda: attrs.evolve(ixn, subject=text + "\udc80"))
    yield _raised(lambda: attrs.evolve(ixn, body=text * 100_000))
    data: dict[str, Any] = to_dict(ixn)
    data[text] = 1
    data["subject"] = 42
    yield _raised(lambda: from_dict(Interaction, data))


def _cli_probes(record: Customer | Lead) -> Iterator[Iterator[str]]:
    email, digits, name = _first_email(record), _first_digits(record), _name_text(record)
    clean = [c.replace('"', "").replace(",", " ").replace("\n", " ") for c in (name, email)]
    files = {
        # No header line: the first record is read as the header, its name repeated.
        "headerless": f"{clean[0]},{clean[1]},{digits},{clean[0]}\nx,y,z,w\n",
        # Unreadable cells are listed by row and column.
        "cells": f"name,email,phone\n{clean[0]},{clean[1]}@@,{digits}x\n",
        # Two rows with the same id: named by row number.
        "ids": f"name,email\n{clean[0]},{clean[1]}\n{clean[0]},{clean[1]}\n",
        # Not UTF-8, and a NUL byte.
        "latin1": f"name\n{clean[0]}\xe9\n",
        "nul": f"name\n{clean[0]}\x00\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for kind, body in files.items():
            path = Path(tmp) / f"{kind}.csv"
            path.write_bytes(body.encode("latin-1" if kind == "latin1" else "utf-8", "replace"))
            args = ["dedupe", str(path), "-o", str(Path(tmp) / "out.csv"), "-q", "--region", "SE"]
            if kind == "ids":
                args += ["--id-column", "name"]
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                main(args)
            yield iter([err.getvalue()])


def _outputs(probes: Callable[[Any], Iterator[Iterator[str]]], record: Any) -> list[str]:
    out: list[str] = []
    with _logs() as logs:
        for probe in probes(record):
            PROBES["probes"] += 1
            out.extend(probe)
    out.extend(logs.lines)
    PROBES["outputs"] += len(out)
    return out


_PLACEHOLDER_CUSTOMER = Customer.create(
    name=PersonName(given="Placeholder", family="Person"),
    emails=["placeholder@example.com"],
    phones=["+46 8 555 010 00"],
    custom_fields={"k": 1},
    identifiers={"s": "v"},
)
_PLACEHOLDER_LEAD = Lead.create(
    name=PersonName(given="Placeholder", family="Person"),
    emails=["placeholder@example.com"],
    phones=["+46 8 555 010 00"],
)


@pytest.fixture(scope="module")
def baselines() -> dict[str, str]:
    ixn = Interaction.log(
        channel="email",
        direction="inbound",
        occurred_at=_PLACEHOLDER_CUSTOMER.created_at,
        customer_id=_PLACEHOLDER_CUSTOMER.id,
        subject="placeholder subject",
    )
    return {
        "customer": " ".join(_outputs(_party_probes, _PLACEHOLDER_CUSTOMER)),
        "lead": " ".join(_outputs(_party_probes, _PLACEHOLDER_LEAD)),
        "interaction": " ".join(_outputs(_interaction_probes, ixn)),
        "cli": " ".join(_outputs(_cli_probes, _PLACEHOLDER_CUSTOMER)),
    }


# Record ids and timestamps are not personal data, and are made of digits that
# a drawn phone number or subject ("000000") can match; nor are the enum values
# reprs show (a closed vocabulary: a drawn purpose "marketing" is in the stage
# "marketing_qualified", a drawn local part "shipp" in the label "shipping").
_NOT_DATA = re.compile(
    r"[a-z]{3}_[0-9A-Z]{26}|\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:\d\d)?"
    r"|\b(?:kind|stage|status|channel|direction|relation|label)='[a-z_]+'"
)


def _assert_no_leak(record: Any, outputs: list[str], baseline: str) -> None:
    PROBES["inputs"] += 1
    rendered = _NOT_DATA.sub(" ", "\n".join(outputs))
    leaked = {s for s in _secrets(record) if s in rendered and s not in baseline}
    PROBES["leaks"] += len(leaked)
    assert not leaked, [line for line in outputs if any(s in line for s in leaked)][:3]


@given(customers(restricted=True))
def test_customer_error_paths_repeat_no_personal_data(
    baselines: dict[str, str], customer: Customer
) -> None:
    _assert_no_leak(customer, _outputs(_party_probes, customer), baselines["customer"])


@given(leads(restricted=True))
def test_lead_error_paths_repeat_no_personal_data(baselines: dict[str, str], lead: Lead) -> None:
    _assert_no_leak(lead, _outputs(_party_probes, lead), baselines["lead"])


@given(interactions())
def test_interaction_error_paths_repeat_no_content(
    baselines: dict[str, str], ixn: Interaction
) -> None:
    _assert_no_leak(ixn, _outputs(_interaction_probes, ixn), baselines["interaction"])


@settings(max_examples=25, deadline=None)
@given(st.one_of(customers(), leads()))
def test_cli_rejects_repeat_no_personal_data(
    baselines: dict[str, str], record: Customer | Lead
) -> None:
    _assert_no_leak(record, _outputs(_cli_probes, record), baselines["cli"])


@pytest.fixture(autouse=True, scope="module")
def _report_the_probe_count() -> Iterator[None]:
    """Print how much the probes tried (the figures of docs/reliability.md); not a test."""
    yield
    if PROBES["inputs"]:
        sys.stderr.write(f"\npersonal-data probes: {PROBES}\n")
