"""Hand-written hostile payloads that once escaped as foreign exceptions.

Each payload is one an attack found (issue 9): a crafted cursor that makes
``json.loads`` recurse, aware datetimes whose UTC value is past either end of
``datetime``'s range, unhashable mapping keys, integers too large for SQLite
or for ``repr``, a corrupt schema version. Hypothesis raises the recursion
limit while it runs, so the recursion payload is only caught by a direct test.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from crmcore import (
    Channel,
    Consent,
    ConsentStatus,
    Customer,
    DataError,
    Direction,
    Interaction,
    Lead,
    MergeRecord,
    NotFound,
    ValidationError,
    from_dict,
    merge,
    timeline,
    to_dict,
    to_json,
)
from crmcore.storage import InMemoryStore, SQLiteStore
from crmcore.storage.front import check_expected_version, decode_cursor, encode_cursor, micros

WEST = timezone(timedelta(hours=-5))
EAST = timezone(timedelta(hours=5))
# Both are valid datetimes whose UTC value is not: 9999-12-31 23:00 at -05:00
# is 10000-01-01 04:00 UTC, 0001-01-01 01:00 at +05:00 is year 0.
TOO_LATE = datetime(9999, 12, 31, 23, tzinfo=WEST)
TOO_EARLY = datetime(1, 1, 1, 1, tzinfo=EAST)
EDGES = pytest.mark.parametrize("moment", [TOO_LATE, TOO_EARLY], ids=["late", "early"])
HUGE_VERSION = 10**5000

STORES = pytest.mark.parametrize(
    "make_store", [InMemoryStore, lambda: SQLiteStore(":memory:")], ids=["memory", "sqlite"]
)


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


RECURSIVE_CURSOR = _b64("[" * 1_400)


def _refused(call: Callable[[], object], *paths: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call()
    assert set(paths) <= set(info.value.paths), info.value.paths
    return info.value


def _customer() -> Customer:
    return Customer.create(name="Ada Lovelace", emails=["ada@example.com"])


# ----------------------------------------------------------------- cursors


def test_the_recursive_cursor_is_under_the_length_cap() -> None:
    assert len(RECURSIVE_CURSOR) < 2_000


@STORES
def test_a_cursor_that_makes_json_recurse_is_refused(make_store: Callable[[], Any]) -> None:
    with make_store() as store:
        customer = store.customers.add(_customer())
        _refused(lambda: store.customers.list(cursor=RECURSIVE_CURSOR), "cursor")
        _refused(lambda: store.leads.list(cursor=RECURSIVE_CURSOR), "cursor")
        _refused(
            lambda: store.interactions.list_for(customer.id, cursor=RECURSIVE_CURSOR), "cursor"
        )
        _refused(lambda: timeline(store, customer.id, cursor=RECURSIVE_CURSOR), "cursor")


@pytest.mark.parametrize(
    "raw",
    [
        '["customer:id:asc","a","b"] ',
        ' ["customer:id:asc","a","b"]',
        '["customer:id:asc", "a","b"]',
        '["customer:id:asc",["a"],"b"]',
        '["customer:id:asc",{"a":1},"b"]',
        '["customer:id:asc","a","b","c"]',
        '["customer:id:asc",1.5,"b"]',
        '["customer:id:asc",true,"b"]',
        '["customer:id:asc",null,"b"]',
        '["customer:id:asc","a"]',
        '"customer:id:asc"',
        "[" * 500 + "]" * 500,
    ],
)
def test_a_cursor_not_in_the_shape_we_write_is_refused(raw: str) -> None:
    _refused(lambda: decode_cursor(_b64(raw), "customer:id:asc", str), "cursor")


@pytest.mark.parametrize(
    "value",
    [2**63, -(2**63) - 1, 10**30, 10**1400],
    ids=["2**63", "-2**63-1", "10**30", "10**1400"],
)
@STORES
def test_a_cursor_integer_too_large_for_sqlite_is_refused_by_both_stores(
    make_store: Callable[[], Any], value: int
) -> None:
    raw = json.dumps(["customer:created_at:asc", value, "cus_x"], separators=(",", ":"))
    cursor = _b64(raw)
    assert len(cursor) <= 2_000
    with make_store() as store:
        store.customers.add(_customer())
        _refused(lambda: store.customers.list(order_by="created_at", cursor=cursor), "cursor")


def test_the_cursors_we_write_still_decode() -> None:
    cases: list[tuple[str, str | int, str]] = [
        ("customer:id:asc", 'cus_\u00e9"\\x', "cus_1"),
        ("lead:created_at:desc", micros(datetime.max.replace(tzinfo=UTC)), "lead_1"),
        ("timeline", micros(datetime.min.replace(tzinfo=UTC)), "ixn_1"),
        ("timeline", 0, "ixn_\ud7ff"),
    ]
    for tag, value, record_id in cases:
        kind = str if isinstance(value, str) else int
        assert decode_cursor(encode_cursor(tag, value, record_id), tag, kind) == (value, record_id)


@STORES
def test_a_timeline_cursor_past_the_range_of_datetimes_is_refused(
    make_store: Callable[[], Any],
) -> None:
    with make_store() as store:
        customer = store.customers.add(_customer())
        late, early = (
            base64.urlsafe_b64encode(f"{stamp}|ixn_x".encode()).decode()
            for stamp in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00")
        )
        _refused(lambda: timeline(store, customer.id, cursor=late), "cursor")
        _refused(lambda: timeline(store, customer.id, cursor=early), "cursor")


@STORES
def test_a_timeline_cursor_at_the_last_microsecond_reads_on(make_store: Callable[[], Any]) -> None:
    with make_store() as store:
        customer = store.customers.add(_customer())
        last = datetime.max.replace(tzinfo=UTC)
        for _ in range(2):
            store.interactions.add(
                Interaction.log(
                    customer_id=customer.id,
                    channel=Channel.EMAIL,
                    direction=Direction.INBOUND,
                    occurred_at=last,
                )
            )
        first = timeline(store, customer.id, limit=1)
        assert first.next_cursor is not None
        rest = timeline(store, customer.id, limit=1, cursor=first.next_cursor)
        assert len(rest) == 1
        assert rest.entries[0].key != first.entries[0].key


# --------------------------------------------------------------- datetimes


@EDGES
def test_models_refuse_a_datetime_whose_utc_value_is_out_of_range(moment: datetime) -> None:
    customer = _customer()
    _refused(
        lambda: Interaction.log(
            customer_id=customer.id,
            channel=Channel.EMAIL,
            direction=Direction.INBOUND,
            occurred_at=moment,
        ),
        "occurred_at",
    )
    _refused(
        lambda: Consent(
            channel=Channel.EMAIL,
            purpose="newsletter",
            status=ConsentStatus.GRANTED,
            recorded_at=moment,
        ),
        "recorded_at",
    )
    _refused(lambda: customer.with_consent("email", "newsletter", "granted", at=moment), "at")
    _refused(lambda: attrs.evolve(customer, created_at=moment), "created_at")
    _refused(lambda: attrs.evolve(customer, updated_at=moment), "updated_at")
    _refused(
        lambda: Customer(customer.id, customer.kind, customer.name, created_at=moment), "created_at"
    )
    lead = Lead.create(name="Ada Lovelace", emails=["ada@example.com"])
    _refused(lambda: attrs.evolve(lead, updated_at=moment), "updated_at")


@EDGES
@STORES
def test_reads_refuse_a_bound_whose_utc_value_is_out_of_range(
    make_store: Callable[[], Any], moment: datetime
) -> None:
    with make_store() as store:
        customer = store.customers.add(_customer())
        _refused(lambda: timeline(store, customer.id, since=moment), "since")
        _refused(lambda: timeline(store, customer.id, until=moment), "until")
        _refused(lambda: store.interactions.list_for(customer.id, since=moment), "since")
        _refused(lambda: store.interactions.list_for(customer.id, until=moment), "until")
        _refused(lambda: store.customers.list(("created_at", ">=", moment)), "filters[0]")


@EDGES
def test_micros_refuses_a_datetime_whose_utc_value_is_out_of_range(moment: datetime) -> None:
    _refused(lambda: micros(moment, "at"), "at")


def test_micros_at_the_ends_of_the_range_is_unchanged() -> None:
    assert micros(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert micros(datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=EAST)) == -5 * 3600 * 10**6 + 1
    assert micros(datetime.max.replace(tzinfo=UTC)) > 0


# -------------------------------------------------------- mapping arguments


def test_with_custom_field_refuses_a_key_that_is_not_text() -> None:
    customer = _customer()
    _refused(lambda: customer.with_custom_field(["k"], 1), "key")  # type: ignore[arg-type]
    _refused(lambda: customer.with_custom_field(None, 1), "key")  # type: ignore[arg-type]


def test_with_identifier_refuses_a_scheme_that_is_not_text() -> None:
    customer = _customer()
    _refused(lambda: customer.with_identifier({}, "x"), "scheme")  # type: ignore[arg-type]
    _refused(lambda: customer.with_identifier(b"vat", "x"), "scheme")  # type: ignore[arg-type]


# ---------------------------------------------------------------- versions


def test_versions_are_64_bit_integers() -> None:
    customer = _customer()
    _refused(lambda: attrs.evolve(customer, version=HUGE_VERSION), "version")
    _refused(lambda: attrs.evolve(customer, version=2**63), "version")
    assert attrs.evolve(customer, version=2**63 - 1).version == 2**63 - 1
    lead = Lead.create(name="Ada Lovelace", emails=["ada@example.com"])
    _refused(lambda: attrs.evolve(lead, version=HUGE_VERSION), "version")
    interaction = Interaction.log(
        customer_id=customer.id,
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    _refused(lambda: attrs.evolve(interaction, version=HUGE_VERSION), "version")
    data = to_dict(customer)
    data["version"] = HUGE_VERSION
    _refused(lambda: from_dict(Customer, data), "version")


def _merge_record(**changes: Any) -> MergeRecord:
    with InMemoryStore() as store:
        one = store.customers.add(_customer())
        two = store.customers.add(_customer())
        record = merge(store, [one.id, two.id], survivor=one.id).record
    return attrs.evolve(record, **changes)


def test_a_merge_record_refuses_a_huge_version() -> None:
    _refused(lambda: _merge_record(version=HUGE_VERSION), "version")
    _refused(lambda: _merge_record(version=2**63), "version")


@EDGES
def test_a_merge_record_refuses_an_out_of_range_moment(moment: datetime) -> None:
    _refused(lambda: _merge_record(merged_at=moment), "merged_at")
    _refused(lambda: _merge_record(unmerged_at=moment), "unmerged_at")


@pytest.mark.parametrize("value", [2**63, HUGE_VERSION], ids=["2**63", "10**5000"])
def test_expected_version_is_a_64_bit_integer(value: int) -> None:
    _refused(lambda: check_expected_version(value), "expected_version")


@STORES
def test_stores_refuse_a_huge_expected_version(make_store: Callable[[], Any]) -> None:
    with make_store() as store:
        customer = store.customers.add(_customer())
        _refused(
            lambda: store.customers.delete(customer.id, expected_version=HUGE_VERSION),
            "expected_version",
        )
        assert store.customers.get(customer.id) == customer


def test_repr_and_json_of_the_largest_version_work() -> None:
    customer = attrs.evolve(_customer(), version=2**63 - 1)
    assert "version" not in repr(customer) or str(2**63 - 1) in repr(customer)
    assert str(2**63 - 1) in to_json(customer)


# ------------------------------------------------------------ SQLite meta


@pytest.mark.parametrize("value", ["abc", "", "1.5", "-1", "9" * 5000])
def test_an_unreadable_schema_version_is_a_data_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "crm.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE crmcore_meta SET value = ? WHERE key = 'schema_version'", (value,))
    conn.close()
    with pytest.raises(DataError, match="schema version"):
        SQLiteStore(path)


# --------------------------------------------------- text that is not Unicode


@STORES
def test_both_stores_refuse_a_lone_surrogate_by_name(make_store: Callable[[], Any]) -> None:
    with make_store() as store:
        _refused(lambda: store.merges.list_for("cus_\ud800"), "record_id")
        _refused(lambda: store.interactions.find_by_external_id("\ud800"), "external_id")


@STORES
def test_both_stores_answer_the_same_to_lone_surrogates_in_collections(
    make_store: Callable[[], Any],
) -> None:
    with make_store() as store:
        customer = store.customers.add(_customer())
        assert store.customers.get_many([customer.id, "cus_\ud800"]) == {customer.id: customer}
        assert store.interactions.get_many(["ixn_\ud800"]) == {}
        _refused(lambda: store.customers.find_by_keys(["\ud800"]), "keys")


@STORES
def test_both_stores_answer_the_same_to_lone_surrogates_in_reads(
    make_store: Callable[[], Any],
) -> None:
    with make_store() as store:
        for read in (store.customers.get, store.leads.get, store.interactions.get):
            with pytest.raises(NotFound):
                read("\ud800")
        with pytest.raises(NotFound):
            store.merges.get("mrg_\ud800")
        with pytest.raises(NotFound):
            store.customers.delete("cus_\ud800")
        _refused(lambda: store.customers.find_by_identifier("vat\ud800", "1"), "scheme")
        _refused(lambda: store.customers.find_by_identifier("vat", "\ud800"), "value")


# ---------------------------------------------------- objects without a truth


class _NoTruth:
    """Like a numpy array: asking whether it is empty raises."""

    def __bool__(self) -> bool:
        raise ValueError("the truth value is ambiguous")

    def __len__(self) -> int:
        raise ValueError("the truth value is ambiguous")


@pytest.mark.parametrize("value", [_NoTruth(), NotImplemented], ids=["no-truth", "NotImplemented"])
@pytest.mark.parametrize(
    "field", ["emails", "phones", "tags", "custom_fields", "addresses", "identifiers"]
)
def test_create_never_asks_a_collection_argument_for_its_truth(field: str, value: Any) -> None:
    _refused(lambda: Customer.create(name="Ada Lovelace", **{field: value}), field)
    if field not in ("addresses", "identifiers"):
        _refused(lambda: Lead.create(name="Ada Lovelace", **{field: value}), field)


# ------------------------------------------------------------ documents


@pytest.mark.parametrize("version", [Decimal("sNaN"), Decimal("NaN"), True, "1", None], ids=repr)
def test_from_dict_refuses_a_schema_version_that_cannot_be_compared(version: object) -> None:
    data = to_dict(_customer())
    data["schema_version"] = version
    _refused(lambda: from_dict(Customer, data), "schema_version")


def test_from_dict_still_reads_schema_version_one() -> None:
    customer = _customer()
    data = to_dict(customer)
    assert from_dict(Customer, data) == customer
    data["schema_version"] = 1.0
    assert from_dict(Customer, data) == customer
