"""Fuzzing: hostile values of any type into every entry point raise only crmcore errors.

``tests/test_fuzz.py`` throws hostile *text* at the parsers; this module
throws anything at all (huge and 64-bit-edge integers, aware datetimes at
either end of the range in far-off zones, NaN and infinities, bytes, lone
surrogates, deep and wide nestings, long strings, ``None``, enum members,
crafted cursors) at every parse, create, ``from_dict``/``from_json``, ``with_*``
and query entry point, on both stores. The only exceptions allowed out are
``ValidationError`` naming a field (never a path-less one) and, for reads,
``NotFound``: a ``TypeError``, ``OverflowError``, ``RecursionError``, bare
``ValueError`` or driver error fails the test.

Arguments that take a datetime, a version or a mapping key draw half their
values from the edges (moments at either end of the range in far-off zones,
integers at and past 64 bits, unhashable keys), so the ``ci`` profile finds
what a uniform mix would rarely reach; every record a constructor accepts
must also survive ``repr`` and ``to_json``. Run against the code before
issue 9's fixes, it fails 10 of its 51 tests (``OverflowError``, ``TypeError``,
a path-less ``ValidationError`` from SQLite).

Every call is counted in :data:`CALLS`; the total is printed at the end of
the module (run with ``-s`` to see it).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import (
    Channel,
    Consent,
    ConsentStatus,
    ContactEmail,
    ContactPhone,
    Customer,
    CustomFields,
    Direction,
    EmailAddress,
    ExternalIds,
    Interaction,
    InvalidTransition,
    Lead,
    LeadSource,
    Money,
    NotFound,
    Participant,
    PersonName,
    PhoneNumber,
    PostalAddress,
    ValidationError,
    from_dict,
    from_json,
    timeline,
    to_dict,
    to_json,
)
from crmcore.ids import new_merge_id
from crmcore.merge_record import MergeRecord, Snapshot
from crmcore.storage import InMemoryStore, MergingStore, Op, SQLiteStore
from crmcore.storage.front import CUSTOMER_FIELDS, LEAD_FIELDS, encode_cursor

# Twice the profile's examples: each one is cheap (the whole module takes about
# 10 s under the ``ci`` profile), and breadth is the point of this module.
MORE = settings(max_examples=2 * settings().max_examples)

CALLS: Counter[str] = Counter()
"""How many hostile calls each entry point received in this run."""

_ZONES = [
    UTC,
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5)),
    timezone(timedelta(hours=23, minutes=59)),
    timezone(-timedelta(hours=23, minutes=59)),
]
_EDGE_MOMENTS = (
    [datetime.max.replace(tzinfo=z) for z in _ZONES]
    + [datetime.min.replace(tzinfo=z) for z in _ZONES]
    + [datetime.max, datetime.min]
)
_EDGE_INTS = [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30, -(10**30), 10**4000]


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def _pick(values: list[Any]) -> st.SearchStrategy[Any]:
    """``sampled_from`` whose repr does not spell out the (huge) values."""
    return st.integers(0, len(values) - 1).map(lambda i: values[i])


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    _pick(_EDGE_INTS),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308]),
    st.decimals(),
    st.sampled_from([Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"), Decimal("1e999999")]),
    st.text(max_size=30),
    _pick(["\ud800", "\udfff\ud800", "\x00", "x" * 100_000, "é" * 3_000, "[" * 1_400]),
    st.binary(max_size=30),
    st.datetimes(timezones=st.sampled_from(_ZONES)),
    st.datetimes(),
    st.sampled_from(_EDGE_MOMENTS),
    st.dates(),
    st.timedeltas(),
    st.sampled_from([timedelta.max, timedelta.min]),
    st.sampled_from([*Channel, *Direction, *ConsentStatus, *LeadSource]),
    st.sampled_from(["cus_" + "0" * 26, "lead_" + "0" * 26, "ixn_" + "0" * 26, "email", "SE"]),
    st.sampled_from([object(), type, len, ..., NotImplemented, 1j, frozenset({1}), range(3)]),
    _pick([_nested(20), _nested(400), list(range(5_000)), {str(i): i for i in range(500)}]),
)
# Hashable keys only: a dict with a list key cannot even be built.
_KEYS = st.one_of(
    st.text(max_size=10),
    st.integers(),
    st.floats(),
    st.none(),
    st.booleans(),
    st.binary(max_size=5),
)
HOSTILE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(_KEYS, inner, max_size=4),
        st.frozensets(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    ),
    max_leaves=8,
)
"""Anything at all: the values a hostile caller (or a hostile file) could pass."""


def _unflattened(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # ``one_of`` flattens nested ``one_of``s into one uniform choice; a map
    # keeps this branch whole, so it gets half the draws.
    return strategy.map(lambda value: value)


MOMENTS = st.one_of(_unflattened(_pick(_EDGE_MOMENTS)), HOSTILE)
"""For a datetime argument: half the time a moment at an edge of the range."""
VERSIONS = st.one_of(_unflattened(_pick(_EDGE_INTS)), HOSTILE)
"""For a version argument: half the time an integer at or past 64 bits."""
KEYS = st.one_of(_unflattened(st.lists(st.text(max_size=3), max_size=2)), HOSTILE)
"""For a mapping key: half the time something unhashable."""

_TARGETED = {
    "occurred_at": MOMENTS,
    "recorded_at": MOMENTS,
    "created_at": MOMENTS,
    "updated_at": MOMENTS,
    "version": VERSIONS,
}


def _values_for(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Up to three of ``names`` with hostile values, targeted by the field's type."""
    return st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({n: _TARGETED.get(n, HOSTILE) for n in chosen})
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json_text(value: object) -> str:
    try:
        return json.dumps(value, default=repr)
    except (ValueError, TypeError, RecursionError):
        return repr(type(value))


TAGS = st.sampled_from(
    ["customer:id:asc", "customer:created_at:desc", "lead:updated_at:asc", "timeline", "x"]
)
CURSORS = st.one_of(
    HOSTILE,
    # a cursor of the right outer shape holding hostile parts
    st.builds(lambda t, v, i: _b64(_json_text([t, v, i]).encode()), TAGS, HOSTILE, HOSTILE),
    st.builds(lambda v: encode_cursor("customer:created_at:asc", v, "cus_x"), st.integers()),
    st.builds(lambda n: _b64(b"[" * n), st.integers(1, 1_500)),
    st.builds(lambda b: _b64(b), st.binary(max_size=60)),
    st.builds(
        lambda d, sep: base64.urlsafe_b64encode(f"{d.isoformat()}{sep}ixn_x".encode()).decode(),
        st.one_of(st.datetimes(timezones=st.sampled_from(_ZONES)), st.sampled_from(_EDGE_MOMENTS)),
        st.sampled_from(["|", "||", ""]),
    ),
)
FIELD_NAMES = st.one_of(st.sampled_from(sorted({*CUSTOMER_FIELDS, *LEAD_FIELDS})), HOSTILE)
OPS = st.one_of(st.sampled_from(list(Op)), st.sampled_from([o.value for o in Op]), HOSTILE)
FILTERS = st.lists(st.one_of(st.tuples(FIELD_NAMES, OPS, HOSTILE), HOSTILE), max_size=3)


def _ok(exc: ValidationError, document: bool) -> None:
    assert exc.problems
    for path, message in exc.problems:
        # Only a whole document (from_dict/from_json) may be faulted as a whole.
        assert isinstance(path, str)
        assert path or document, exc.problems
        assert isinstance(message, str)
        assert message


def _call(
    name: str, call: Callable[[], object], *, reads: bool = False, document: bool = False
) -> None:
    """Run ``call``; only ValidationError (and NotFound for ``reads``) may escape."""
    CALLS[name] += 1
    try:
        call()
    except ValidationError as exc:
        _ok(exc, document)
    except NotFound:
        if not reads:
            raise


def _shown(record: Any) -> None:
    """What an accepted record must survive: ``repr`` and JSON (10**5000 broke both)."""
    repr(record)
    to_json(record)


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print(f"\nforeign-exception fuzz: {sum(CALLS.values())} calls to {len(CALLS)} entry points")


def _customer() -> Customer:
    return Customer.create(
        name="Ada Lovelace", emails=["ada@example.com"], phones=["+46812345678"], tags=["vip"]
    )


CUSTOMER = _customer()
LEAD = Lead.create(name="Grace Hopper", emails=["grace@example.com"], company="Navy")
INTERACTION = Interaction.log(
    customer_id=CUSTOMER.id,
    channel=Channel.EMAIL,
    direction=Direction.INBOUND,
    occurred_at=datetime(2024, 5, 1, 12, tzinfo=UTC),
    subject="Hello",
)
CONSENT = Consent(
    channel=Channel.EMAIL,
    purpose="newsletter",
    status=ConsentStatus.GRANTED,
    recorded_at=datetime(2024, 5, 1, tzinfo=UTC),
)


# ------------------------------------------------------------------ values


VALUE_PARSERS: dict[str, Callable[[Any, Any], object]] = {
    "EmailAddress.parse": lambda a, b: EmailAddress.parse(a),
    "PhoneNumber.parse": lambda a, b: PhoneNumber.parse(a, b),
    "PersonName.parse": lambda a, b: PersonName.parse(a),
    "PersonName": lambda a, b: PersonName(given=a, family=b),
    "PostalAddress": lambda a, b: PostalAddress(lines=a, locality=b, country=b),
    "Money.of": lambda a, b: Money.of(a, b),
    "CustomFields.parse": lambda a, b: CustomFields.parse(a),
    "CustomFields.parse(key)": lambda a, b: CustomFields.parse({"k": a, "j": b}),
    "ExternalIds.parse": lambda a, b: ExternalIds.parse(a),
    "ContactEmail": lambda a, b: ContactEmail(a, b),
    "ContactPhone": lambda a, b: ContactPhone(a, b),
    "Participant": lambda a, b: Participant(a, b),
}


@pytest.mark.parametrize("name", sorted(VALUE_PARSERS))
@MORE
@given(a=HOSTILE, b=HOSTILE)
def test_value_constructors_raise_only_validation_errors(name: str, a: Any, b: Any) -> None:
    _call(name, lambda: VALUE_PARSERS[name](a, b))


# ---------------------------------------------------------------- entities

_CREATE_ARGS: dict[str, tuple[Callable[..., object], dict[str, Any]]] = {
    "Customer.create": (Customer.create, {"name": "Ada Lovelace"}),
    "Lead.create": (Lead.create, {"name": "Ada Lovelace"}),
    "Interaction.log": (
        Interaction.log,
        {
            "channel": "email",
            "direction": "inbound",
            "occurred_at": datetime(2024, 1, 1, tzinfo=UTC),
            "customer_id": CUSTOMER.id,
        },
    ),
    "Consent": (
        Consent,
        {
            "channel": Channel.EMAIL,
            "purpose": "newsletter",
            "status": ConsentStatus.GRANTED,
            "recorded_at": datetime(2024, 1, 1, tzinfo=UTC),
        },
    ),
}
_PARAMETERS = {
    "Customer.create": [
        "name", "kind", "emails", "phones", "region", "addresses", "organization_id", "stage",
        "tags", "custom_fields", "owner", "identifiers", "birth_date", "notes",
    ],
    "Lead.create": [
        "name", "company", "emails", "phones", "region", "source", "score",
        "estimated_value", "owner", "tags", "custom_fields",
    ],
    "Interaction.log": [
        "channel", "direction", "occurred_at", "customer_id", "lead_id", "participants",
        "subject", "body", "duration", "outcome", "thread_id", "external_id",
    ],
    "Consent": ["channel", "purpose", "status", "recorded_at", "source", "legal_basis"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_CREATE_ARGS))
@MORE
@given(data=st.data())
def test_constructors_raise_only_validation_errors(name: str, data: st.DataObject) -> None:
    build, valid = _CREATE_ARGS[name]
    hostile = data.draw(_values_for(_PARAMETERS[name]))
    _call(name, lambda: _shown(build(**{**valid, **hostile})))


_EVOLVED: dict[str, Any] = {
    "Customer": CUSTOMER,
    "Lead": LEAD,
    "Interaction": INTERACTION,
    "Consent": CONSENT,
    "MergeRecord": MergeRecord(
        id=new_merge_id(),
        survivor_id=CUSTOMER.id,
        merged_ids=(_customer().id,),
        before=Snapshot(customers=(CUSTOMER,)),
        after=Snapshot(customers=(CUSTOMER,)),
        merged_at=CUSTOMER.created_at,
    ),
}


@pytest.mark.parametrize("name", sorted(_EVOLVED))
@MORE
@given(data=st.data())
def test_attrs_evolve_raises_only_validation_errors(name: str, data: st.DataObject) -> None:
    record: Any = _EVOLVED[name]
    fields = [f.name for f in attrs.fields(type(record)) if f.init]
    changes = data.draw(_values_for(fields))
    _call(f"attrs.evolve({name})", lambda: _shown(attrs.evolve(record, **changes)))


_METHODS: dict[str, Callable[[Any, Any], object]] = {
    "Customer.with_email": lambda a, b: CUSTOMER.with_email(a, label=b),
    "Customer.with_phone": lambda a, b: CUSTOMER.with_phone(a, region=b),
    "Customer.with_address": lambda a, b: CUSTOMER.with_address(a),
    "Customer.with_consent": lambda a, b: CUSTOMER.with_consent(a, b, "granted"),
    "Customer.with_consent(at)": lambda a, b: CUSTOMER.with_consent("email", "x", "granted", at=a),
    "Customer.with_consent(b)": lambda a, b: CUSTOMER.with_consent("email", "news", b, at=a),
    "Customer.with_custom_field": lambda a, b: CUSTOMER.with_custom_field(a, b),
    "Customer.with_identifier": lambda a, b: CUSTOMER.with_identifier(a, b),
    "Customer.without_email": lambda a, b: CUSTOMER.without_email(a),
    "Customer.without_phone": lambda a, b: CUSTOMER.without_phone(a),
    "Customer.add_tag": lambda a, b: CUSTOMER.add_tag(a),
    "Customer.remove_tag": lambda a, b: CUSTOMER.remove_tag(a),
    "Customer.assigned_to": lambda a, b: CUSTOMER.assigned_to(a),
    "Customer.in_organization": lambda a, b: CUSTOMER.in_organization(a),
    "Customer.advance_stage": lambda a, b: CUSTOMER.advance_stage(a, reason=b),
    "Lead.with_email": lambda a, b: LEAD.with_email(a),
    "Lead.with_phone": lambda a, b: LEAD.with_phone(a, region=b),
    "Lead.add_tag": lambda a, b: LEAD.add_tag(a),
    "Lead.assigned_to": lambda a, b: LEAD.assigned_to(a),
}


_FIRST_ARGUMENT = {
    "Customer.with_custom_field": KEYS,
    "Customer.with_identifier": KEYS,
    "Customer.with_consent(at)": MOMENTS,
    "Customer.with_consent(b)": MOMENTS,
}


@pytest.mark.parametrize("name", sorted(_METHODS))
@MORE
@given(data=st.data(), b=HOSTILE)
def test_with_methods_raise_only_validation_errors(name: str, data: st.DataObject, b: Any) -> None:
    a = data.draw(_FIRST_ARGUMENT.get(name, HOSTILE))
    # advance_stage may refuse a move back as InvalidTransition: a documented error.
    with contextlib.suppress(InvalidTransition):
        _call(name, lambda: _METHODS[name](a, b))


# ----------------------------------------------------------- serialization

_MODELS: dict[str, Any] = {
    "Customer": CUSTOMER,
    "Lead": LEAD,
    "Interaction": INTERACTION,
    "Consent": CONSENT,
}


@pytest.mark.parametrize("name", sorted(_MODELS))
@MORE
@given(data=st.data())
def test_from_dict_and_from_json_raise_only_validation_errors(
    name: str, data: st.DataObject
) -> None:
    record = _MODELS[name]
    cls = type(record)
    payload = to_dict(record)
    keys = st.one_of(st.sampled_from(sorted(payload)), st.text(max_size=10))
    changes = data.draw(st.dictionaries(keys, HOSTILE, max_size=3))
    mutated = {**payload, **changes}
    whole = data.draw(HOSTILE)
    _call(f"from_dict({name})", lambda: from_dict(cls, mutated), document=True)
    _call(f"from_dict({name}, anything)", lambda: from_dict(cls, whole), document=True)
    text = _json_text(mutated)
    _call(f"from_json({name})", lambda: from_json(cls, text), document=True)
    _call(
        f"from_json({name}, bytes)",
        lambda: from_json(cls, text.encode("utf-8", "replace")),
        document=True,
    )
    _call(f"from_json({name}, anything)", lambda: from_json(cls, whole), document=True)


# ------------------------------------------------------------------ stores


def _stocked(store: MergingStore) -> MergingStore:
    customer = store.customers.add(CUSTOMER)
    store.leads.add(LEAD)
    store.interactions.add(INTERACTION)
    other = store.customers.add(
        Customer.create(name="Ada King", emails=["ada.king@example.com"], identifiers={"v": "1"})
    )
    assert customer.id != other.id
    return store


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[MergingStore]:
    made: MergingStore = InMemoryStore() if request.param == "memory" else SQLiteStore(":memory:")
    with made:
        yield _stocked(made)


@MORE
@given(
    filters=FILTERS,
    order_by=st.one_of(st.sampled_from(["id", "created_at", "updated_at"]), HOSTILE),
    descending=st.one_of(st.booleans(), HOSTILE),
    limit=st.one_of(st.integers(1, 5), HOSTILE),
    cursor=st.one_of(st.none(), CURSORS),
)
def test_list_and_count_raise_only_validation_errors(
    store: MergingStore, filters: list[Any], order_by: Any, descending: Any, limit: Any, cursor: Any
) -> None:
    for noun in ("customers", "leads"):
        _list_and_count(noun, getattr(store, noun), filters, order_by, descending, limit, cursor)


def _list_and_count(
    noun: str,
    repository: Any,
    filters: list[Any],
    order_by: Any,
    descending: Any,
    limit: Any,
    cursor: Any,
) -> None:
    _call(
        f"{noun}.list",
        lambda: repository.list(
            *filters, order_by=order_by, descending=descending, limit=limit, cursor=cursor
        ),
    )
    _call(f"{noun}.list(cursor)", lambda: repository.list(cursor=cursor))
    _call(f"{noun}.count", lambda: repository.count(*filters))


@MORE
@given(
    record_id=st.one_of(st.just(CUSTOMER.id), st.just(LEAD.id), HOSTILE),
    since=st.one_of(st.none(), MOMENTS),
    until=st.one_of(st.none(), MOMENTS),
    channel=st.one_of(st.none(), st.sampled_from(list(Channel)), HOSTILE),
    limit=st.one_of(st.none(), st.integers(1, 5), HOSTILE),
    cursor=st.one_of(st.none(), CURSORS),
)
def test_list_for_raises_only_validation_errors(
    store: MergingStore,
    record_id: Any,
    since: Any,
    until: Any,
    channel: Any,
    limit: Any,
    cursor: Any,
) -> None:
    _call(
        "interactions.list_for",
        lambda: store.interactions.list_for(
            record_id, since=since, until=until, channel=channel, limit=limit, cursor=cursor
        ),
    )
    _call("merges.list_for", lambda: store.merges.list_for(record_id), reads=True)


@MORE
@given(a=HOSTILE, b=HOSTILE)
def test_finds_and_gets_raise_only_validation_errors(store: MergingStore, a: Any, b: Any) -> None:
    for noun in ("customers", "leads"):
        _record_reads(noun, getattr(store, noun), a, b)
    _call("interactions.get", lambda: store.interactions.get(a), reads=True)
    _call("interactions.get_many", lambda: store.interactions.get_many(a))
    _call("interactions.find_by_external_id", lambda: store.interactions.find_by_external_id(a))
    _call("merges.get", lambda: store.merges.get(a), reads=True)
    _call("customers.delete", lambda: store.customers.delete(a, expected_version=b), reads=True)


def _record_reads(noun: str, repository: Any, a: Any, b: Any) -> None:
    _call(f"{noun}.find_by_email", lambda: repository.find_by_email(a))
    _call(f"{noun}.find_by_phone", lambda: repository.find_by_phone(a, region=b))
    _call(f"{noun}.find_by_identifier", lambda: repository.find_by_identifier(a, b))
    _call(f"{noun}.find_by_keys", lambda: repository.find_by_keys(a, limit=b))
    _call(f"{noun}.get", lambda: repository.get(a), reads=True)
    _call(f"{noun}.resolve", lambda: repository.resolve(a), reads=True)
    _call(f"{noun}.get_many", lambda: repository.get_many(a))
    _call(f"{noun}.iter_all", lambda: list(repository.iter_all(batch_size=a)))


@MORE
@given(
    customer_id=st.one_of(st.just(CUSTOMER.id), HOSTILE),
    since=st.one_of(st.none(), MOMENTS),
    until=st.one_of(st.none(), MOMENTS),
    channels=st.one_of(st.none(), st.lists(st.sampled_from(list(Channel))), HOSTILE),
    members=st.one_of(st.booleans(), HOSTILE),
    limit=st.one_of(st.none(), st.integers(1, 5), HOSTILE),
    cursor=st.one_of(st.none(), CURSORS),
)
def test_timeline_raises_only_validation_errors(
    store: MergingStore,
    customer_id: Any,
    since: Any,
    until: Any,
    channels: Any,
    members: Any,
    limit: Any,
    cursor: Any,
) -> None:
    _call(
        "timeline",
        lambda: timeline(
            store,
            customer_id,
            since=since,
            until=until,
            channels=channels,
            include_organization_members=members,
            limit=limit,
            cursor=cursor,
        ),
        reads=True,
    )
