"""``crmcore unmerge`` through the real command, on real SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from crmcore import ContactLabel
from crmcore.ids import new_merge_id
from crmcore.merge import merge
from crmcore.serialization import to_dict
from crmcore.storage import SQLiteStore
from crmcore.testing._builders import customer
from tests.cli.store_cli import busy_db, crmcore


def _customers(db: Path) -> list[dict[str, object]]:
    with SQLiteStore(db) as store:
        return [to_dict(c) for c in store.customers.iter_all()]


def test_unmerge_restores_the_records_and_refuses_a_second_time(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = busy_db(db)
    with SQLiteStore(db) as store:
        record = store.merges.get(ids["merge"])
        before = {r.id: r for r in record.before.customers}
    done = crmcore("unmerge", "--db", db, ids["merge"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"undid {ids['merge']}: 3 records restored"
    with SQLiteStore(db) as store:
        for record_id, original in before.items():
            now = store.customers.get(record_id)
            assert now.merged_into is None
            assert now.emails == original.emails
            assert now.name == original.name
        assert not store.merges.get(ids["merge"]).is_active
    again = crmcore("unmerge", "--db", db, ids["merge"])
    assert again.returncode == 1
    assert again.stderr == f"crmcore: error: {ids['merge']}: the merge was already undone\n"


def test_a_merge_with_a_later_merge_on_top_needs_force(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = busy_db(db)
    with SQLiteStore(db) as store:
        third = store.customers.add(customer(1, id=customer(7).id))
        later = merge(store, [ids["survivor"], third.id])
    state = _customers(db)
    refused = crmcore("unmerge", "--db", db, ids["merge"])
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"crmcore: error: {ids['merge']}: cannot be undone without --force "
        f"(later merges still in effect: {later.merge_id})"
    )
    assert _customers(db) == state  # nothing written
    forced = crmcore("unmerge", "--db", db, ids["merge"], "--force", "--format", "json")
    assert forced.returncode == 0, forced.stderr
    data = json.loads(forced.stdout)
    assert data["merge_id"] == ids["merge"]
    assert data["forced"] is True
    assert ids["survivor"] in data["restored"]


def test_unknown_and_malformed_ids_are_refused_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    busy_db(db)
    unknown = new_merge_id()
    done = crmcore("unmerge", "--db", db, unknown)
    assert (done.returncode, done.stderr) == (
        1,
        f"crmcore: error: {unknown}: no merge with this id in the store\n",
    )
    bad = crmcore("unmerge", "--db", db, "ada@example.com")
    assert bad.returncode == 2
    assert "not a merge id" in bad.stderr
    assert "ada@example.com" not in bad.stderr
    missing = crmcore("unmerge", "--db", tmp_path / "none.db", unknown)
    assert missing.returncode == 1
    assert "no such database file" in missing.stderr
    assert not (tmp_path / "none.db").exists()


def test_a_value_changed_since_the_merge_is_named_by_field_never_by_value(
    tmp_path: Path,
) -> None:
    db = tmp_path / "crm.db"
    ids = busy_db(db)
    with SQLiteStore(db) as store:
        survivor = store.customers.get(ids["survivor"])
        relabelled = tuple(attrs.evolve(e, label=ContactLabel.HOME) for e in survivor.emails)
        store.customers.update(attrs.evolve(survivor, emails=relabelled))
        addresses = [str(e.address) for e in survivor.emails]
    refused = crmcore("unmerge", "--db", db, ids["merge"])
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"crmcore: error: {ids['merge']}: cannot be undone without --force "
        "(changed since in emails)"
    )
    assert not any(address in refused.stderr for address in addresses)
    assert crmcore("unmerge", "--db", db, ids["merge"], "--force").returncode == 0
