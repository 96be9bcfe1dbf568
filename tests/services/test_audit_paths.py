"""Every service that writes leaves exactly one audit entry, with its action and operation,
on every store (memory and SQLite here; PostgreSQL in tests/storage/sql/test_privacy.py)."""

from __future__ import annotations

import io
import itertools
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import ConsentStatus, LeadStatus, convert_lead, merge, unmerge
from crmcore.agenda import complete_task
from crmcore.audit import AuditAction, AuditEntry, acting_as
from crmcore.dedup import DuplicatePolicy
from crmcore.io import export_store, import_file, restore
from crmcore.storage import InMemoryStore, PrivateStore, SQLiteStore
from crmcore.support import log_case_interaction
from crmcore.testing import _builders as build
from crmcore.testing import _work_builders as work
from crmcore.writes import (
    add_case,
    add_customer,
    add_lead,
    add_opportunity,
    add_task,
    change_case_status,
    change_lead_status,
    log_interaction,
    move_opportunity,
    update_customer,
    update_task,
)

_serial = itertools.count(100_000)


def _n() -> int:
    return next(_serial)


def _last(store: PrivateStore, record_id: str) -> AuditEntry:
    entries: list[AuditEntry] = []
    cursor = None
    while True:
        page = store.audit.list(record_id=record_id, cursor=cursor, limit=500)
        entries.extend(page.items)
        if page.next_cursor is None:
            return entries[-1]
        cursor = page.next_cursor


# name -> (setup before counting, the call returning the id its entry must name,
#          the action, the operation)
Setup = Callable[[Any], Any]
Call = Callable[[Any, Any], str]


def _customer(store: Any) -> Any:
    return store.customers.add(build.customer(_n()))


def _lead(store: Any) -> Any:
    return store.leads.add(build.lead(_n(), status=LeadStatus.QUALIFIED))


def _two(store: Any) -> Any:
    return _customer(store), _customer(store)


def _merged(store: Any) -> Any:
    a, b = _two(store)
    return merge(store, [a.id, b.id], survivor=a.id)


def _task(store: Any) -> Any:
    return store.tasks.add(work.task(4, about_id=_customer(store).id))


def _deal(store: Any) -> Any:
    return store.opportunities.add(work.opportunity(2, customer_id=_customer(store).id))


def _case(store: Any) -> Any:
    return store.cases.add(work.case(1, customer_id=_customer(store).id))


def _other_stage(deal: Any) -> str:
    return next(stage for stage in work.OPEN_STAGES if stage != deal.stage_id)


def _nothing(store: Any) -> Any:
    return None


def _import(store: Any, _: Any) -> str:
    n = _n()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"people{n}.csv"  # a new source: row 1 is new each time
        letters = "".join(chr(ord("a") + int(d)) for d in str(n))  # names hold no digits
        path.write_text(f"name,email\nPer Son{letters},per.{n}@example.org\n", encoding="utf-8")
        import_file(store, path, on_duplicate="create")
    (found,) = store.customers.find_by_email(f"per.{n}@example.org")
    return str(found.id)


SERVICES: dict[str, tuple[Setup, Call, AuditAction, str]] = {
    "add_customer": (
        _nothing,
        lambda s, _: add_customer(s, build.customer(_n())).id,
        AuditAction.ADD,
        "add_customer",
    ),
    "add_customer checked": (
        _nothing,
        lambda s, _: add_customer(s, build.customer(_n()), policy=DuplicatePolicy.BLOCK).record.id,
        AuditAction.ADD,
        "add_customer",
    ),
    "update_customer": (
        _customer,
        lambda s, c: update_customer(s, attrs.evolve(c, owner="usr_audit")).id,
        AuditAction.UPDATE,
        "update_customer",
    ),
    "update_customer consent": (
        _customer,
        lambda s, c: (
            update_customer(s, c.with_consent("email", "newsletter", ConsentStatus.GRANTED)).id
        ),
        AuditAction.CONSENT,
        "update_customer",
    ),
    "add_lead": (
        _nothing,
        lambda s, _: add_lead(s, build.lead(_n())).id,
        AuditAction.ADD,
        "add_lead",
    ),
    "change_lead_status": (
        lambda s: s.leads.add(build.lead(_n(), status=LeadStatus.NEW)),
        lambda s, lead: change_lead_status(s, lead.id, LeadStatus.CONTACTED).id,
        AuditAction.UPDATE,
        "change_lead_status",
    ),
    "log_interaction": (
        _customer,
        lambda s, c: log_interaction(s, build.interaction(c.id, 1)).id,
        AuditAction.ADD,
        "log_interaction",
    ),
    "merge": (
        _two,
        lambda s, pair: merge(s, [pair[0].id, pair[1].id], survivor=pair[0].id).merge_id,
        AuditAction.MERGE,
        "merge",
    ),
    "unmerge": (
        _merged,
        lambda s, result: (unmerge(s, result.merge_id), result.merge_id)[1],
        AuditAction.UNMERGE,
        "unmerge",
    ),
    "convert_lead": (
        _lead,
        lambda s, lead: (convert_lead(s, lead.id, find_existing=False), lead.id)[1],
        AuditAction.CONVERT,
        "convert_lead",
    ),
    "import": (_nothing, _import, AuditAction.IMPORT, "import"),
    "add_opportunity": (
        _customer,
        lambda s, c: add_opportunity(s, work.opportunity(2, customer_id=c.id)).id,
        AuditAction.ADD,
        "add_opportunity",
    ),
    "move_opportunity": (
        _deal,
        lambda s, d: move_opportunity(s, d.id, work.pipeline_of(d), _other_stage(d)).id,
        AuditAction.UPDATE,
        "move_opportunity",
    ),
    "add_task": (
        _customer,
        lambda s, c: add_task(s, work.task(4, about_id=c.id)).id,
        AuditAction.ADD,
        "add_task",
    ),
    "update_task": (
        _task,
        lambda s, t: update_task(s, attrs.evolve(t, title="Changed")).id,
        AuditAction.UPDATE,
        "update_task",
    ),
    "complete_task": (
        _task,
        lambda s, t: complete_task(s, t.id, interaction=build.interaction(t.about_id, 2)).id,
        AuditAction.UPDATE,
        "complete_task",
    ),
    "add_case": (
        _customer,
        lambda s, c: add_case(s, work.case(1, customer_id=c.id)).id,
        AuditAction.ADD,
        "add_case",
    ),
    "change_case_status": (
        lambda s: s.cases.add(work.case(0, customer_id=_customer(s).id)),
        lambda s, c: change_case_status(s, c.id, "open").id,
        AuditAction.UPDATE,
        "change_case_status",
    ),
    "log_case_interaction": (
        _case,
        lambda s, c: (
            log_case_interaction(s, c.id, build.interaction(c.customer_id, 3)).interaction.id
        ),
        AuditAction.UPDATE,
        "log_case_interaction",
    ),
}


class ServiceAuditChecks:
    """The checks, for any store fixture (subclassed per store)."""

    def test_every_service_leaves_exactly_one_entry(self, store: PrivateStore) -> None:
        @settings(max_examples=10, deadline=None)
        @given(st.lists(st.sampled_from(sorted(SERVICES)), min_size=1, max_size=4))
        def check(chosen: list[str]) -> None:
            for name in chosen:
                setup, call, action, operation = SERVICES[name]
                context = setup(store)
                before = store.audit.count()
                with acting_as("usr_service"):
                    record_id = call(store, context)
                assert store.audit.count() == before + 1, name
                entry = _last(store, record_id)
                assert (entry.action, entry.operation, entry.actor) == (
                    action,
                    operation,
                    "usr_service",
                ), name

        check()

    def test_a_restore_is_one_load_entry(self, store: PrivateStore) -> None:
        source = InMemoryStore()
        people = source.customers.add_many([build.customer(_n()) for _ in range(3)])
        out = io.StringIO()
        export_store(source, out)
        restore(store, io.StringIO(out.getvalue()))
        assert store.audit.count() == 1
        (entry,) = store.audit.list().items
        assert entry.action is AuditAction.LOAD
        assert entry.operation == "restore"
        assert {p.id for p in people} <= set(entry.record_ids)


class TestMemoryServices(ServiceAuditChecks):
    @pytest.fixture
    def store(self) -> Iterator[InMemoryStore]:
        with InMemoryStore() as store:
            yield store


class TestSQLiteServices(ServiceAuditChecks):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        with SQLiteStore(tmp_path / "crm.db") as store:
            yield store
