"""What only a server database shows: the app's transactions, processes, locks, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, MetaData, Table, Text, create_engine, func, select, text

from crmcore.dedup import check_duplicates, find_duplicates
from crmcore.errors import (
    DuplicateRecord,
    IntegrityError,
    OperationalError,
    StorageError,
    ValidationError,
)
from crmcore.ids import new_customer_id, new_interaction_id
from crmcore.storage import SQLiteStore, SupportsKeyLocks, open_store
from crmcore.storage.sql import SCHEMA_VERSION, SQLStore, metadata
from crmcore.storage.sql._connection import (
    escape_document,
    lock_ids,
    translate,
    unescape_document,
)
from crmcore.testing._builders import customer, interaction
from crmcore.values import CustomFields
from tests.storage.sql import cluster
from tests.storage.sql.cluster import Cluster
from tests.storage.sql.conftest import empty, sqlite_engine

# --------------------------------------------------------------------------- the app's transactions

_app = MetaData()
_orders = Table("app_orders", _app, Column("id", Text, primary_key=True))


@pytest.fixture
def app_engine(pg_engine: Engine) -> Engine:
    _app.create_all(pg_engine)
    with pg_engine.begin() as conn:
        conn.execute(_orders.delete())
    empty(pg_engine)
    return pg_engine


def _orders_and_customers(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        orders = conn.execute(select(func.count()).select_from(_orders)).scalar_one()
    with SQLStore(engine) as store:
        return int(orders), store.customers.count()


def test_crmcore_writes_roll_back_with_the_apps_transaction(app_engine: Engine) -> None:
    with app_engine.connect() as conn:
        conn.begin()
        store = SQLStore(conn)
        conn.execute(_orders.insert().values(id="order-1"))
        stored = store.customers.add(customer(1))
        store.interactions.add(interaction(stored.id, 1))
        with store.transaction():
            store.customers.update(stored)
        assert store.customers.get(stored.id).version == 2  # visible inside the transaction
        conn.rollback()  # the app's order failed: nothing of either may stay
    assert _orders_and_customers(app_engine) == (0, 0)


def test_crmcore_writes_commit_with_the_apps_transaction(app_engine: Engine) -> None:
    with app_engine.connect() as conn, conn.begin():
        store = SQLStore(conn)
        conn.execute(_orders.insert().values(id="order-1"))
        store.customers.add(customer(1))
        with app_engine.connect() as other:  # another connection sees nothing before the commit
            assert other.execute(text("SELECT count(*) FROM crm_customers")).scalar_one() == 0
    assert _orders_and_customers(app_engine) == (1, 1)


def test_a_failed_crmcore_write_leaves_the_apps_transaction_usable(app_engine: Engine) -> None:
    with app_engine.connect() as conn, conn.begin():
        store = SQLStore(conn)
        conn.execute(_orders.insert().values(id="order-1"))
        stored = store.customers.add(customer(1))
        with pytest.raises(DuplicateRecord):
            store.customers.add(stored)  # a failed statement would abort the whole transaction
        conn.execute(_orders.insert().values(id="order-2"))
        with pytest.raises(DuplicateRecord), store.transaction():  # noqa: PT012
            store.customers.add(customer(2))
            store.customers.add(stored)
    assert _orders_and_customers(app_engine) == (2, 1)


def test_the_tables_are_in_the_published_metadata() -> None:
    names = set(metadata.tables)
    assert {"crm_customers", "crm_customer_keys", "crm_interactions", "crm_merges"} <= names
    doc = metadata.tables["crm_customers"].c.doc.type.compile(
        dialect=create_engine("postgresql+psycopg://").dialect
    )
    assert doc == "JSONB"


def test_schema_and_prefix_keep_two_installations_apart(pg_engine: Engine) -> None:
    with pg_engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS crm_two CASCADE"))
        conn.execute(text("CREATE SCHEMA crm_two"))
    other = SQLStore(pg_engine, schema="crm_two", table_prefix="x_")
    other.create_all()
    empty(pg_engine)
    other.customers.add(customer(1))
    assert SQLStore(pg_engine).customers.count() == 0
    assert other.customers.count() == 1
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM crm_two.x_customers")).scalar_one() == 1


def test_tables_of_another_schema_version_are_refused(pg_engine: Engine) -> None:
    with pg_engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS crm_old CASCADE"))
        conn.execute(text("CREATE SCHEMA crm_old"))
    store = SQLStore(pg_engine, schema="crm_old")
    with pytest.raises(StorageError, match="missing"):
        store.customers.count()
    store.create_all()
    assert store.schema_version() == SCHEMA_VERSION
    with pg_engine.begin() as conn:
        conn.execute(text("UPDATE crm_old.crm_meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(StorageError, match="schema version 99"):
        SQLStore(pg_engine, schema="crm_old")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"schema": "Robert'); DROP TABLE x"}, "schema"),
        ({"table_prefix": "crm-"}, "table_prefix"),
        ({"table_prefix": 3}, "table_prefix"),
    ],
)
def test_bad_arguments_are_validation_errors(
    pg_engine: Engine, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        SQLStore(pg_engine, **kwargs)
    assert caught.value.problems[0][0] == field
    with pytest.raises(ValidationError) as caught:
        SQLStore("postgresql://")  # type: ignore[arg-type]
    assert caught.value.problems[0][0] == "engine_or_connection"


# --------------------------------------------------------------------------- URLs and the CLI


def test_open_store_takes_sqlalchemy_urls(pg_cluster: Cluster, tmp_path: Path) -> None:
    with open_store(pg_cluster.url()) as store:
        assert isinstance(store, SQLStore)
        stored = store.customers.add(customer(7))
    with open_store(pg_cluster.url()) as store:
        assert store.customers.get(stored.id) == stored
        store.customers.delete(stored.id)
    with open_store(f"sqlite+pysqlite:///{tmp_path / 'crm.db'}") as store:
        assert isinstance(store, SQLStore)
        store.customers.add(customer(1))
        assert store.customers.count() == 1


def test_bad_sql_urls_are_validation_errors_naming_url_without_repeating_it() -> None:
    with pytest.raises(ValidationError) as caught:
        open_store("nosuch+driver://user:secret@host/db")
    assert caught.value.problems[0][0] == "url"
    assert "secret" not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        open_store("sqlite+pysqlite:///x.db", pool="nope")
    assert caught.value.problems[0][0] == "options"


def test_an_unreachable_server_is_an_operational_error() -> None:
    with pytest.raises(OperationalError) as caught:
        open_store("postgresql+psycopg://postgres:secret@127.0.0.1:1/crm")
    assert "secret" not in str(caught.value)


def test_the_command_line_works_unchanged_on_postgresql(
    pg_cluster: Cluster, pg_engine: Engine, tmp_path: Path
) -> None:
    # The main job's commands, through the real program, with --db a PostgreSQL URL.
    empty(pg_engine)
    url = pg_cluster.url()

    def crmcore(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "crmcore", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done

    (tmp_path / "contacts.csv").write_text(
        "id;Förnamn;Efternamn;E-post;Telefon\n"
        "1;Åsa;Lind;asa.lind@example.se;+46 70 123 45 67\n"
        "2;Asa;Lind;ASA.LIND@example.se;070-123 45 67\n"
        "3;Siti;Rahayu;siti@example.co.id;+62 812 3456 7890\n",
        encoding="utf-8",
    )
    args = (
        "import",
        "contacts.csv",
        "--db",
        url,
        "--region",
        "SE",
        "--id-column",
        "id",
        "--format",
        "json",
    )
    first = crmcore(*args)
    assert json.loads(first.stdout)["imported"] == 3
    again = crmcore(*args)
    assert json.loads(again.stdout)["already_imported"] == 3
    merged = crmcore("dedupe", "--db", url, "--merge-above", "0.9", "--format", "json")
    assert len(json.loads(merged.stdout)["merged"]) == 1
    stats = json.loads(crmcore("stats", "--db", url, "--format", "json").stdout)
    assert stats["customers"]["total"] == 3
    assert stats["customers"]["merged"] == 1
    crmcore("export", "--db", url, "--output", "crm.jsonl")
    with SQLStore(pg_engine) as store:
        merge_id = next(
            m.id for c in store.customers.iter_all() for m in store.merges.list_for(c.id)
        )
    crmcore("unmerge", "--db", url, merge_id)
    with SQLStore(pg_engine) as store:
        assert all(c.merged_into is None for c in store.customers.iter_all())
    # The export restores into a SQLite file: one store's data moves to another.
    crmcore("import", "crm.jsonl", "--db", "copy.db")
    with SQLiteStore(tmp_path / "copy.db") as copy:
        assert copy.customers.count() == 3


# --------------------------------------------------------------------------- errors


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("driver text")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("40001", OperationalError),
        ("40P01", OperationalError),
        ("08006", OperationalError),
        ("55P03", OperationalError),
        ("57014", OperationalError),
        ("23505", IntegrityError),
        ("22P02", StorageError),
    ],
)
def test_driver_errors_are_translated_by_sqlstate(sqlstate: str, expected: type) -> None:
    from sqlalchemy import exc as sa_exc

    error = translate(sa_exc.DBAPIError("SELECT 1", None, _Orig(sqlstate)))
    assert type(error) is expected or (expected is StorageError and isinstance(error, expected))
    assert sqlstate in str(error)
    assert "driver text" not in str(error)


def test_a_lock_timeout_is_an_operational_error(pg_cluster: Cluster, pg_engine: Engine) -> None:
    impatient = create_engine(
        pg_cluster.url(), connect_args={"options": "-c lock_timeout=100"}, poolclass=None
    )
    store = SQLStore(impatient)
    with pg_engine.connect() as holder, holder.begin():
        holder.execute(text("LOCK TABLE crm_customers IN ACCESS EXCLUSIVE MODE"))
        with pytest.raises(OperationalError):
            store.customers.count()
    impatient.dispose()


def test_lock_keys_needs_a_transaction_and_text(pg_store: SQLStore) -> None:
    assert isinstance(pg_store, SupportsKeyLocks)
    with pytest.raises(StorageError, match="transaction"):
        pg_store.lock_keys(["email:a@example.org"])
    with pg_store.transaction(), pytest.raises(ValidationError):
        pg_store.lock_keys([b"bytes"])  # type: ignore[list-item]


def test_lock_ids_are_sorted_distinct_and_namespaced() -> None:
    ids = lock_ids("public.crm_", ["b", "a", "b"])
    assert ids == sorted(ids)
    assert len(ids) == 2
    assert all(-(2**63) <= i < 2**63 for i in ids)
    assert set(lock_ids("other.crm_", ["a", "b"])).isdisjoint(ids)


# --------------------------------------------------------------------------- documents


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('a\x00\ue0000\ue0011\\"e+'), max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet=st.sampled_from("k\x00\ue000"), max_size=4), inner)
    ),
    max_leaves=12,
)


@given(_json_values)
def test_documents_escape_reversibly(value: object) -> None:
    doc = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    escaped = escape_document(doc)
    assert "\\u0000" not in escaped.replace("\\\\", "")
    assert json.loads(unescape_document(escaped)) == value


def test_nul_characters_and_huge_floats_survive_jsonb(pg_store: SQLStore) -> None:
    fields = CustomFields({"text": "a\x00b\ue000c\ue0000", "big": 1e300, "tiny": 5e-324})
    stored = pg_store.customers.add(customer(1, notes="x\x00y", custom_fields=fields))
    read = pg_store.customers.get(stored.id)
    assert read == stored
    assert read.custom_fields == fields
    assert read.notes == "x\x00y"
    assert type(read.custom_fields["big"]) is float


# --------------------------------------------------------------------------- matching


def test_check_duplicates_and_find_duplicates_run_on_postgres(pg_store: SQLStore) -> None:
    first = pg_store.customers.add(customer(1))
    twin = pg_store.customers.add(attrs.evolve(customer(1), id=new_customer_id()))
    pg_store.customers.add(customer(2))
    found = check_duplicates(attrs.evolve(customer(1), id=new_customer_id()), pg_store)
    assert {first.id, twin.id} <= {m.record_id for m in found}
    result = find_duplicates(pg_store, workers=1)
    assert any({first.id, twin.id} <= set(c.member_ids) for c in result.clusters)


# --------------------------------------------------------------------------- processes

_UPDATER = """
import sys, threading
from crmcore.errors import VersionConflict
from crmcore.storage import open_store

url, record_id, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = open_store(url)
conflicts = [0]

def work():
    for _ in range(rounds):
        while True:
            current = store.customers.get(record_id)
            try:
                store.customers.update(
                    current.with_custom_field("n", current.custom_fields["n"] + 1)
                )
                break
            except VersionConflict:
                conflicts[0] += 1

threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
store.close()
print(conflicts[0])
"""


@pytest.mark.slow
def test_four_processes_of_four_threads_lose_no_update(
    pg_cluster: Cluster, pg_store: SQLStore
) -> None:
    rounds = 15
    record = pg_store.customers.add(customer(1, custom_fields=CustomFields({"n": 0})))
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _UPDATER, pg_cluster.url(), record.id, str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [child.communicate(timeout=300) for child in children]
    assert all(child.returncode == 0 for child in children), [err for _, err in outputs]
    final = pg_store.customers.get(record.id)
    assert final.custom_fields["n"] == 4 * 4 * rounds
    assert final.version == 1 + 4 * 4 * rounds
    assert sum(int(out) for out, _ in outputs) > 0  # they did race


# Each child waits for "go" on stdin, then does the checked write's steps
# (crmcore.writes.add_customer with policy=BLOCK): a transaction, the library's
# locking step, the block policy's check, a pause (so that without the lock
# every child would pass the check), the add.
_CREATOR = """
import sys, time
import attrs
from crmcore.dedup import DuplicatePolicy, guard_duplicates
from crmcore.errors import DuplicateDetected
from crmcore.ids import new_customer_id
from crmcore.storage import open_store
from crmcore.testing._builders import customer
from crmcore.writes import check_and_lock

store = open_store(sys.argv[1])
person = attrs.evolve(customer(5), id=new_customer_id())
print("ready", flush=True)
sys.stdin.readline()
try:
    with store.transaction():
        check_and_lock(store, [person])
        guard_duplicates(person, store, policy=DuplicatePolicy.BLOCK)
        time.sleep(0.3)
        store.customers.add(person)
    print("stored")
except DuplicateDetected:
    print("blocked")
store.close()
"""


def _race(url: str, processes: int = 4) -> list[str]:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CREATOR, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    for child in children:  # all at once: each is already connected and waiting
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outcomes = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outcomes.append(out.strip())
    return sorted(outcomes)


@pytest.mark.slow
def test_processes_creating_the_same_person_at_once_store_one_on_postgres(
    pg_cluster: Cluster, pg_store: SQLStore
) -> None:
    assert _race(pg_cluster.url()) == ["blocked", "blocked", "blocked", "stored"]
    assert len(pg_store.customers.find_by_email(customer(5).emails[0].address)) == 1


@pytest.mark.slow
def test_processes_creating_the_same_person_at_once_store_one_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'crm.db'}"
    open_store(url).close()
    assert _race(url) == ["blocked", "blocked", "blocked", "stored"]
    with SQLStore(sqlite_engine(tmp_path / "crm.db")) as store:
        assert store.customers.count() == 1


# --------------------------------------------------------------------------- the server fixture


def test_a_missing_server_skips_on_a_laptop_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL"):
        cluster.unavailable("nothing here")
    for value in ("true", "1", "TRUE"):
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.fail.Exception, match="needed in CI"):
            cluster.unavailable("nothing here")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        cluster.unavailable("nothing here")


def test_the_binaries_are_found_from_the_environment_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for tool in ("initdb", "pg_ctl", "postgres"):
        (tmp_path / tool).write_text("")
    monkeypatch.setenv("CRMCORE_PG_BINDIR", str(tmp_path))
    assert cluster.find_bindir() == tmp_path
    monkeypatch.setenv("CRMCORE_PG_BINDIR", str(tmp_path / "missing"))
    assert cluster.find_bindir() != tmp_path / "missing"


def test_the_server_runs_on_loopback_as_an_unprivileged_user(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        assert conn.execute(text("SHOW listen_addresses")).scalar_one() == "127.0.0.1"
        data = Path(conn.execute(text("SHOW data_directory")).scalar_one())
    # PostgreSQL refuses to run as root; as root the fixture runs it as nobody.
    assert data.stat().st_uid != 0 or os.geteuid() != 0


def test_another_key_function_rebuilds_the_key_index(pg_store: SQLStore, pg_engine: Engine) -> None:
    stored = pg_store.customers.add(customer(1))
    assert pg_store.customers.find_by_keys(["owner:x"]) == []

    def by_owner(record: Any) -> list[str]:
        return ["owner:x"]

    rekeyed = SQLStore(pg_engine, key_function=by_owner)
    assert rekeyed.customers.find_by_keys(["owner:x"]) == [stored]
    assert rekeyed.customers.find_by_email(stored.emails[0].address) == [stored]
    SQLStore(pg_engine)  # back to the default keys for the other tests


def test_workers_ingesting_one_external_id_at_once_store_it_once(pg_store: SQLStore) -> None:
    record = pg_store.customers.add(customer(1))
    results: list[str] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(4)
    template = interaction(record.id, 1)

    def ingest() -> None:
        try:
            with pg_store.transaction():
                gate.wait()
                stored = pg_store.interactions.add(
                    attrs.evolve(template, id=new_interaction_id(), external_id="m-1")
                )
                time.sleep(0.1)  # the others' inserts reach the server before this commits
                results.append(stored.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingest) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    assert pg_store.interactions.find_by_external_id("m-1") is not None
    assert len(pg_store.interactions.list_for(record.id).items) == 1
