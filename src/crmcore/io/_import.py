"""Import: the rows of a file into a store, every row imported or reported.

:func:`import_file` reads a file with :func:`~crmcore.io.read_rows`,
:func:`import_table` does the work on a :class:`~crmcore.io.Table`. Rows are
written in chunks; each chunk is one transaction, in which the chunk's
candidates are locked (on stores that need it), checked against the store
with bulk key lookups and against each other with the dedup engine, and
written. A chunk commits whole or not at all, so a run killed halfway leaves
whole chunks behind, and the row ids kept on every record (the source ids)
let the next run skip what is already stored.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from crmcore.customers import Customer, CustomerKind
from crmcore.errors import ValidationError
from crmcore.ids import CustomerId, is_lead_id
from crmcore.io._columns import ColumnPlan, column_index, plan_columns
from crmcore.io._errors import InputError
from crmcore.io._import_common import (
    TAG_HEADERS,
    Flag,
    ImportReport,
    Reject,
    Tally,
    build_each,
    custom_key,
    header_key,
    in_chunks,
    make_report,
    parse_rows,
    pending,
    row_custom,
    row_tags,
    split_mapped,
    write_rejects,
)
from crmcore.io._import_interactions import import_interactions
from crmcore.io._import_work import import_work
from crmcore.io._records import RowFields
from crmcore.io._tables import InputLimits, Table, read_rows
from crmcore.leads import Lead
from crmcore.privacy._suppression import SuppressionPolicy, any_suppressed, suppressed_fields
from crmcore.storage._common import MAX_LIMIT
from crmcore.storage.keys import (
    NAME_PREFIXES,
    ORGANIZATION_PREFIX,
    SOURCE_PREFIX,
    identifier_key,
    phone_key,
    source_scheme,
)

if TYPE_CHECKING:
    from crmcore.dedup import RuleSet
    from crmcore.pipelines import Pipeline
    from crmcore.storage import Store
    from crmcore.values import EmailAddress, PhoneNumber

__all__ = [
    "IMPORT_FIELDS",
    "Flag",
    "ImportReport",
    "OnDuplicate",
    "Reject",
    "import_file",
    "import_table",
]

IMPORT_FIELDS: dict[str, str] = {
    "tags": "tags of customers and leads; a cell may hold several separated by ; or ,",
}
"""Fields :func:`import_file` reads besides :data:`~crmcore.io.FIELDS` (``--map`` accepts them)."""

# Fields a lead has no place for: their columns are kept as custom fields.
_NOT_LEAD_FIELDS = frozenset(
    {"street_number", "address", "city", "postcode", "state", "country", "birth_date", "identifier"}
)
_DEFAULT_BATCH = 1_000
ENTITIES = ("customers", "leads", "interactions", "opportunities", "tasks", "cases")
"""What each row of an import can be (``import_file(entity=...)``, ``crmcore import --as``)."""
_WORK = ("opportunities", "tasks", "cases")
# The source id under which an import keeps an organisation's normalised name
# (crmcore.dedup.organization_key): every store indexes identifiers, so the next
# row, chunk or run naming the same employer finds it with one lookup.
_ORGANIZATION_SCHEME = "source:organization"


class OnDuplicate(enum.Enum):
    """What the importer does with a row that matches a stored record or an earlier row."""

    ALERT = "alert"
    """Store the row and flag it (the report lists the flagged rows and their matches)."""
    SKIP = "skip"
    """Do not store a row that matches."""
    MERGE = "merge"
    """Store the row and merge it into its match with :func:`crmcore.merge` (reversible)."""
    CREATE = "create"
    """Store every row without checking."""


@attrs.frozen
class _Columns:
    """Which columns the import reads, besides the plan: ids, tags and custom fields."""

    plan: ColumnPlan
    id_col: int | None
    tags: tuple[int, ...]
    custom: tuple[tuple[int, str], ...]


def _columns(
    table: Table,
    entity: str,
    mapped: Iterable[tuple[str, str]],
    id_column: str | None,
) -> _Columns:
    header = table.header
    rest, mine = split_mapped(header, mapped, IMPORT_FIELDS)
    plan = plan_columns(header, rest)
    tags = tuple(mine.get("tags", ()))
    if not tags and "tags" not in mine:
        claimed = set(plan.used_columns())
        tags = tuple(
            i for i, h in enumerate(header) if header_key(h) in TAG_HEADERS and i not in claimed
        )
    id_col = None if id_column is None else column_index(header, id_column)
    if entity == "leads":
        # A lead has no address, birth date or identifiers: those columns are kept
        # as they are, in custom fields; the country still sets the phone region.
        plan = ColumnPlan(
            {f: c for f, c in plan.fields.items() if f not in _NOT_LEAD_FIELDS or f == "country"}
        )
        kept = set(plan.get("country"))
    else:
        kept = set()
    used = (set(plan.used_columns()) - kept) | set(tags)
    if id_col is not None:
        used.add(id_col)
    taken: set[str] = set()
    custom = tuple(
        (i, custom_key(h, taken)) for i, h in enumerate(header) if i not in used and h.strip()
    )
    return _Columns(plan, id_col, tags, custom)


@attrs.define
class _Orgs:
    """The employers of a chunk's rows: stored ones found by key, and new ones not yet written."""

    found: dict[str, str] = attrs.Factory(dict)
    new: dict[str, Customer] = attrs.Factory(dict)
    key_of: dict[str, str] = attrs.Factory(dict)
    rows: dict[str, str] = attrs.Factory(dict)
    names: dict[str, str] = attrs.Factory(dict)


@attrs.define
class _Run:
    store: Store
    table: Table
    entity: str
    columns: _Columns
    policy: OnDuplicate
    rules: RuleSet | None
    scheme: str
    fields: list[RowFields]
    contacts: list[tuple[tuple[EmailAddress, ...], tuple[PhoneNumber, ...]]]
    source_ids: list[str | None]
    rejected: dict[int, Reject]
    tally: Tally
    suppression: SuppressionPolicy | None = SuppressionPolicy.BLOCK
    seen: dict[str, Any] = attrs.Factory(dict)
    keyed: bool | None = None

    def chunk(self, indexes: range) -> None:
        """Import the rows ``indexes`` (inside the chunk's transaction)."""
        self.seen = {}
        todo = pending(indexes, self.source_ids, self.rejected, self.tally)
        # A stored source id stays stored (a merged row's tombstone keeps its own), so
        # this check before any lock skips only rows the check after the locks would.
        todo = self._not_yet(todo)
        orgs = _Orgs()
        if self.entity == "customers":
            self._employers(todo, orgs)
            self._find_organizations(orgs, set(orgs.names))
        built = build_each(todo, lambda index, sid: self._build(index, sid, orgs), self.tally)
        built = self._unsuppressed(built)
        if not built:
            return
        if self._lock(built, orgs):
            # Another importer may have stored some of these rows while we waited.
            kept = {sid for _, _, sid in self._not_yet([(0, n, sid) for n, sid, _ in built])}
            built = [b for b in built if b[1] in kept]
            # And created an employer we did not find before the locks.
            self._find_organizations(orgs, {k for k in orgs.new if k not in orgs.found})
        records = [(number, self._employer(record, orgs)) for number, _, record in built]
        if self.policy is OnDuplicate.CREATE:
            to_write = [r for _, r in records]
            merges: list[tuple[int, str, str]] = []
            self.tally.imported += len(to_write)
        else:
            to_write, merges = self._checked(records, orgs)
        used = {r.organization_id for r in to_write if isinstance(r, Customer)}
        new_orgs = [org for org in orgs.new.values() if org.id in used]
        if new_orgs:
            self.store.customers.add_many(new_orgs)
            self.tally.organizations += len(new_orgs)
        self._write(to_write)
        if self.keyed is None and to_write and isinstance(to_write[0], Customer):
            self._probe(to_write[0])
        if merges:
            self._merge(merges)

    def _unsuppressed(
        self, built: list[tuple[int, str, Customer | Lead]]
    ) -> list[tuple[int, str, Customer | Lead]]:
        """The rows to go on with: under BLOCK, a row with a suppressed contact point is
        rejected; under ALERT it goes on, flagged ``suppressed``.

        Read inside the chunk's transaction, like the duplicate check.
        """
        if self.suppression is None or not any_suppressed(self.store):
            return built
        kept = []
        for number, sid, record in built:
            fields = suppressed_fields(self.store, record)
            if not fields:
                kept.append((number, sid, record))
            elif self.suppression is SuppressionPolicy.BLOCK:
                self.tally.rejects.append(Reject(number, "; ".join(fields), _SUPPRESSED))
            else:
                kept.append((number, sid, record))
                self.tally.flags.append(Flag(number, record.id, (), None, "suppressed"))
        return kept

    def _not_yet(self, rows: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """The rows whose source id is not stored yet: one indexed lookup a row, or a chunk.

        The stored records of the other rows are kept (``self.seen``): the rows
        still to import are matched against them as the first run matched them
        against each other, so a re-run decides as the first run did.
        """
        if not rows:
            return rows
        found: list[Any] = []
        if self.entity == "leads" or self.keyed:
            # Leads carry no identifiers: their source ids are keys of the store's key
            # function (crmcore.storage.keys.source_keys), all looked up at once; so are
            # customers' on stores whose index holds them (see _probe).
            leads = self.entity == "leads"
            repo = self.store.leads if leads else self.store.customers
            sids = {sid for _, _, sid in rows}
            wanted = [identifier_key(self.scheme, sid) for sid in sids]
            stored: set[object] = set()
            for record in _by_source_keys(repo, wanted):
                held = (record.custom_fields if leads else record.identifiers).get(self.scheme)
                if held in sids:
                    found.append(record)
                    stored.add(held)
            kept = [row for row in rows if row[2] not in stored]
        else:
            find = self.store.customers.find_by_identifier
            kept = []
            for row in rows:
                hits = find(self.scheme, row[2])
                if hits:
                    found += hits
                else:
                    kept.append(row)
            if found:
                self._probe(found[0])
        for record in found:
            live = record if record.merged_into is None else self._resolve(record.id)
            self.seen[live.id] = live
        self.tally.skipped += len(rows) - len(kept)
        self.tally.already += len(rows) - len(kept)
        return kept

    def _probe(self, customer: Customer) -> None:
        """Whether the store's key index holds source ids, as default_keys and blocking_keys do.

        ``find_by_identifier`` is one query a row; once a stored customer is found
        by its source id's key too, the rest of the run asks ``find_by_keys``
        once a chunk. A key function is pure, so one record answers for all;
        until one has answered, the run asks row by row, which every store indexes.
        """
        sid = customer.identifiers.get(self.scheme)
        if self.keyed is not None or sid is None:
            return
        key = identifier_key(self.scheme, sid)
        found = self.store.customers.find_by_keys([key], limit=16)
        self.keyed = any(c.id == customer.id for c in found)

    def _resolve(self, record_id: str) -> Any:
        if is_lead_id(record_id):
            return self.store.leads.resolve(record_id)
        return self.store.customers.resolve(record_id)

    def _lock(self, built: Sequence[tuple[int, str, Customer | Lead]], orgs: _Orgs) -> bool:
        """Lock the rows' source ids and match keys and the employers' keys, all in one call."""
        from crmcore.dedup import selective_keys
        from crmcore.storage.protocols import SupportsKeyLocks

        if not isinstance(self.store, SupportsKeyLocks):
            return False
        keys = {identifier_key(self.scheme, sid) for _, sid, _ in built}
        if self.policy is not OnDuplicate.CREATE:
            for _, _, record in built:
                keys.update(selective_keys(record, self.rules))
        for org in orgs.new.values():
            keys.add(identifier_key(_ORGANIZATION_SCHEME, orgs.key_of[org.id]))
            keys.update(selective_keys(org, self.rules))
        # One sorted call: two importers taking overlapping keys in pieces could deadlock.
        self.store.lock_keys(sorted(keys))
        return True

    def _employers(self, todo: Sequence[tuple[int, int, str]], orgs: _Orgs) -> None:
        """The companies the rows name, by normalised name (the first spelling of each)."""
        from crmcore.dedup import organization_key

        for index, _, _ in todo:
            name = self.fields[index].organization
            if name is not None:
                key = organization_key(name)
                if key:
                    orgs.names.setdefault(key, name)

    def _find_organizations(self, orgs: _Orgs, wanted: set[str]) -> None:
        """The stored live organisations whose normalised name is one of ``wanted``."""
        from crmcore.dedup import MatchRecord, RecordType, organization_key, selective_keys

        if not wanted:
            return
        candidates: dict[str, Customer] = {}
        # Organisations an import created carry their key as a source id, which every
        # store indexes; a store keyed by blocking_keys finds any organisation by name.
        if self.keyed:
            keys = [identifier_key(_ORGANIZATION_SCHEME, key) for key in sorted(wanted)]
            for org in _by_source_keys(self.store.customers, keys):
                candidates[org.id] = org
        else:
            for key in sorted(wanted):
                for org in self.store.customers.find_by_identifier(_ORGANIZATION_SCHEME, key):
                    candidates[org.id] = org
        name_keys = {
            k
            for key in wanted
            for k in selective_keys(
                MatchRecord(key, RecordType.ORGANIZATION, organization=orgs.names[key]),
                self.rules,
            )
            if k.startswith(ORGANIZATION_PREFIX)
        }
        for org in self._bounded(self.store.customers, name_keys):
            candidates[org.id] = org
        for org in sorted(candidates.values(), key=lambda c: c.id):
            if org.merged_into is None and org.kind is CustomerKind.ORGANIZATION:
                key = organization_key(org.display_name)
                if key in wanted:
                    orgs.found.setdefault(key, org.id)

    def _employer(self, record: Customer | Lead, orgs: _Orgs) -> Customer | Lead:
        """``record`` linked to the stored organisation of its employer's name, if any."""
        if not isinstance(record, Customer) or record.organization_id is None:
            return record
        key = orgs.key_of.get(record.organization_id)
        found = None if key is None else orgs.found.get(key)
        if found is None:
            return record
        return attrs.evolve(record, organization_id=CustomerId(found))

    def _build(self, index: int, sid: str, orgs: _Orgs) -> Customer | Lead:
        row = self.table.rows[index]
        fields = self.fields[index]
        emails, phones = self.contacts[index]
        tags = row_tags(row, self.columns.tags)
        custom = row_custom(row, self.columns.custom)
        if self.entity == "leads":
            custom[self.scheme] = sid
            return Lead.create(
                name=fields.name,
                company=fields.organization,
                emails=emails,
                phones=phones,
                tags=tags,
                custom_fields=custom,
            )
        identifiers = {**fields.identifiers, self.scheme: sid}
        common: dict[str, Any] = {
            "emails": emails,
            "phones": phones,
            "addresses": fields.addresses,
            "tags": tags,
            "custom_fields": custom or None,
        }
        if fields.name is not None:
            org_id = None
            if fields.organization is not None:
                org_id = self._organization(fields.organization, orgs)
            return Customer.create(
                name=fields.name,
                kind=CustomerKind.PERSON,
                birth_date=fields.birth_date,
                organization_id=org_id,  # type: ignore[arg-type]
                identifiers=identifiers,
                **common,
            )
        if fields.organization is None:
            raise ValidationError("name", "the row names neither a person nor a company")
        from crmcore.dedup import organization_key

        key = organization_key(fields.organization)
        if key:
            identifiers[_ORGANIZATION_SCHEME] = key
        org = Customer.create(
            name=fields.organization,
            kind=CustomerKind.ORGANIZATION,
            identifiers=identifiers,
            **common,
        )
        if key and key not in orgs.new:
            # The people after it in the chunk work here (see _checked when it is not stored).
            orgs.rows.setdefault(key, org.id)
        return org

    def _organization(self, name: str, orgs: _Orgs) -> str | None:
        from crmcore.dedup import organization_key

        key = organization_key(name)
        if not key:
            return None
        found = orgs.found.get(key) or orgs.rows.get(key)
        if found is not None:
            return found
        org = orgs.new.get(key)
        if org is None:
            org = Customer.create(
                name=orgs.names.get(key, name),
                kind=CustomerKind.ORGANIZATION,
                identifiers={_ORGANIZATION_SCHEME: key},
            )
            orgs.new[key] = org
            orgs.key_of[org.id] = key
        return org.id

    def _write(self, records: Sequence[Customer | Lead]) -> None:
        if self.entity == "leads":
            self.store.leads.add_many([r for r in records if isinstance(r, Lead)])
        else:
            self.store.customers.add_many([r for r in records if isinstance(r, Customer)])

    def _checked(
        self, records: list[tuple[int, Customer | Lead]], orgs: _Orgs
    ) -> tuple[list[Customer | Lead], list[tuple[int, str, str]]]:
        from crmcore.dedup import Decision, find_duplicates, organization_key
        from crmcore.dedup.records import MatchRecord

        # The keys were locked by _lock, with the source ids and the employers' keys.
        candidates = [r for _, r in records]
        stored = self._stored_candidates(candidates)
        stored_ids = {s.id for s in stored}
        result = find_duplicates(
            [*(MatchRecord.from_record(r) for r in candidates), *stored], self.rules, workers=1
        )
        possible: dict[str, list[str]] = {}
        for pair in result.possible_matches:
            if pair.decision is Decision.POSSIBLE:
                possible.setdefault(pair.a, []).append(pair.b)
                possible.setdefault(pair.b, []).append(pair.a)
        # A row is matched against the stored records and the rows before it; a
        # row folded into another stands for that one from then on.
        survivor: dict[str, str] = {}
        to_write: list[Customer | Lead] = []
        merges: list[tuple[int, str, str]] = []
        # Org rows of this chunk that were not stored: who their employees link to instead.
        moved: dict[str, str] = {}
        # New employers that a stored row of this chunk links to, by key.
        linked: dict[str, str] = {}
        for number, record in records:
            cluster = result.cluster_of(record.id)
            matches: list[str] = []
            if cluster is not None:
                members = sorted(m for m in cluster.member_ids if m != record.id)
                matches = [m for m in members if m in stored_ids]
                matches += [
                    survivor[m] for m in members if m in survivor and survivor[m] not in matches
                ]
            if isinstance(record, Customer) and record.kind is CustomerKind.ORGANIZATION:
                key = organization_key(record.display_name)
                known = orgs.found.get(key) or linked.get(key)
                if known is not None and known not in matches:
                    matches.append(known)
            maybe = sorted(
                {survivor.get(m, m) for m in possible.get(record.id, ()) if m in stored_ids}
                | {survivor[m] for m in possible.get(record.id, ()) if m in survivor}
            )
            if isinstance(record, Customer) and record.organization_id in moved:
                record = attrs.evolve(
                    record, organization_id=CustomerId(moved[record.organization_id])
                )
            if (
                isinstance(record, Customer)
                and record.organization_id in orgs.key_of
                and (self.policy is not OnDuplicate.SKIP or not matches)
            ):
                linked.setdefault(orgs.key_of[record.organization_id], record.organization_id)
            if not matches:
                survivor[record.id] = record.id
                to_write.append(record)
                self.tally.imported += 1
                if maybe:
                    # A possible match is for a person to review: never merged or skipped.
                    self.tally.flags.append(Flag(number, record.id, tuple(maybe), None, "possible"))
            elif self.policy is OnDuplicate.SKIP:
                self.tally.skipped += 1
                self.tally.flags.append(Flag(number, "", tuple(matches)))
                moved[record.id] = matches[0]
            elif self.policy is OnDuplicate.MERGE:
                survivor[record.id] = matches[0]
                to_write.append(record)
                merges.append((number, record.id, matches[0]))
            else:
                survivor[record.id] = record.id
                to_write.append(record)
                self.tally.imported += 1
                self.tally.flags.append(Flag(number, record.id, tuple(matches)))
        return to_write, merges

    def _merge(self, merges: Sequence[tuple[int, str, str]]) -> None:
        from crmcore.merge import merge

        for number, record_id, target in merges:
            # A survivor merged away earlier in the run stands for its own survivor.
            live = self._live(target)
            if live == record_id:
                self.tally.imported += 1
                continue
            result = merge(self.store, [live, record_id], survivor=live)  # type: ignore[arg-type]
            self.tally.merged += 1
            self.tally.flags.append(Flag(number, live, (live,), result.merge_id))

    def _live(self, record_id: str) -> str:
        return str(self._resolve(record_id).id)

    def _bounded(self, repo: Any, keys: set[str]) -> list[Any]:
        """The records sharing a key with ``keys``, at most ``max_block_size`` for any one key.

        As in the dedup engine's blocking, a key many stored records share (a
        switchboard number, a common name) is an over-large block: it may bring
        no more than ``max_block_size`` records (the first by id), so one common
        key cannot turn a chunk's check into a scan. One query answers when no
        key is over-large; only then is each key asked on its own.
        """
        if not keys:
            return []
        block = (self.rules or _default_rules()).max_block_size
        wanted = sorted(keys)
        cap = min(MAX_LIMIT, len(wanted) * block)
        found = repo.find_by_keys(wanted, limit=cap)
        if len(found) < cap:
            return list(found)
        out: dict[str, Any] = {}
        for key in wanted:
            for record in repo.find_by_keys([key], limit=block):
                out[record.id] = record
        return list(out.values())

    def _stored_candidates(self, candidates: Sequence[Customer | Lead]) -> list[Any]:
        """The live stored records sharing a selective key with any candidate, bounded."""
        from crmcore.dedup import selective_keys
        from crmcore.dedup.records import MatchRecord

        keys: set[str] = set()
        names: set[str] = set()
        for record in candidates:
            for key in selective_keys(record, self.rules):
                (names if key.startswith(NAME_PREFIXES) else keys).add(key)
            keys.update(phone_key(p.number.e164) for p in record.phones)
            if isinstance(record, Customer):
                keys.update(
                    identifier_key(s, v)
                    for s, v in record.identifiers.items()
                    if not s.startswith(SOURCE_PREFIX)
                )
        repos: list[Any] = [self.store.customers]
        if self.entity == "leads":
            repos.append(self.store.leads)
        # A restricted record (GDPR Art. 18) is kept, not processed: never matched.
        found: dict[str, Any] = {k: r for k, r in self.seen.items() if not r.is_restricted}
        for repo in repos:
            for wanted in (keys, names):
                for stored in self._bounded(repo, wanted):
                    if stored.merged_into is None and not stored.is_restricted:
                        found[stored.id] = stored
        return [MatchRecord.from_record(r) for r in found.values()]


_SUPPRESSED = "is on the suppression list (the contact point of an erased person)"


def _by_source_keys(repo: Any, wanted: list[str]) -> list[Any]:
    """The records with the source-id keys ``wanted``: one query, bounded.

    A source id is one row's, so a key is on its record and, after merges, on a
    few survivors: four a key is a limit only a store gone wrong reaches, and
    then it is asked without one rather than miss a stored row (and double it).
    """
    cap = min(MAX_LIMIT, 4 * len(wanted))
    found = list(repo.find_by_keys(wanted, limit=cap))
    return found if len(found) < cap else list(repo.find_by_keys(wanted))


def _default_rules() -> RuleSet:
    from crmcore.dedup import default_rules

    return default_rules()


def import_table(
    store: Store,
    table: Table,
    *,
    source: str,
    entity: str = "customers",
    region: str | None = None,
    mapped: Iterable[tuple[str, str]] = (),
    id_column: str | None = None,
    on_duplicate: OnDuplicate | str = OnDuplicate.ALERT,
    timezone: str | None = None,
    participant_source: str | None = None,
    pipelines: Sequence[Pipeline] = (),
    currency: str | None = None,
    dry_run: bool = False,
    batch_size: int = _DEFAULT_BATCH,
    rules: RuleSet | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    suppression: SuppressionPolicy | None = SuppressionPolicy.BLOCK,
) -> ImportReport:
    """Import the rows of ``table`` into ``store``; see :func:`import_file` for the arguments.

    ``source`` names where the rows come from: the row ids are kept under the
    identifier scheme ``source:<source>``.
    """
    policy = _policy(on_duplicate)
    if suppression is not None and not isinstance(suppression, SuppressionPolicy):
        # A misspelt policy must not quietly let an erased address back in.
        raise ValidationError("suppression", "must be a SuppressionPolicy (BLOCK or ALERT) or None")
    if entity not in ENTITIES:
        raise ValidationError("entity", f"must be one of {', '.join(ENTITIES)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValidationError("batch_size", "must be a whole number of at least 1")
    scheme = source_scheme(source)
    if entity in _WORK:
        return import_work(
            store,
            table,
            entity=entity,
            scheme=scheme,
            mapped=mapped,
            id_column=id_column,
            timezone=timezone,
            participant_source=participant_source,
            pipelines=pipelines,
            currency=currency,
            dry_run=dry_run,
            batch_size=batch_size,
            progress=progress,
        )
    if entity == "interactions":
        return import_interactions(
            store,
            table,
            scheme=scheme,
            region=region,
            mapped=mapped,
            id_column=id_column,
            timezone=timezone,
            participant_source=participant_source,
            dry_run=dry_run,
            batch_size=batch_size,
            progress=progress,
        )
    columns = _columns(table, entity, mapped, id_column)
    tally = Tally()
    parsed = parse_rows(
        table, columns.plan, columns.id_col, id_column or "row", region=region, workers=workers
    )
    # Where a row's id and one of its cells are both wrong, the cell is reported.
    rejected = {**parsed.id_rejects, **parsed.cell_rejects}
    run = _Run(
        store=store,
        table=table,
        entity=entity,
        columns=columns,
        policy=policy,
        rules=rules,
        scheme=scheme,
        fields=parsed.fields,
        contacts=parsed.contacts,
        source_ids=parsed.source_ids,
        rejected=rejected,
        tally=tally,
        suppression=suppression,
    )
    in_chunks(store, len(table.rows), batch_size, run.chunk, progress, dry_run=dry_run)
    return make_report(entity, len(table.rows), tally, scheme, dry_run)


def _policy(value: OnDuplicate | str) -> OnDuplicate:
    if isinstance(value, OnDuplicate):
        return value
    try:
        return OnDuplicate(value)
    except ValueError:
        raise ValidationError("on_duplicate", "must be alert, skip, merge or create") from None


def import_file(
    store: Store,
    path: Path | str,
    *,
    entity: str = "customers",
    region: str | None = None,
    mapped: Iterable[tuple[str, str]] = (),
    id_column: str | None = None,
    on_duplicate: OnDuplicate | str = OnDuplicate.ALERT,
    timezone: str | None = None,
    participant_source: str | None = None,
    pipelines: Sequence[Pipeline] = (),
    currency: str | None = None,
    source: str | None = None,
    dry_run: bool = False,
    batch_size: int = _DEFAULT_BATCH,
    rules: RuleSet | None = None,
    limits: InputLimits | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    rejects: Path | str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    suppression: SuppressionPolicy | None = SuppressionPolicy.BLOCK,
) -> ImportReport:
    """Import a CSV or JSON Lines file into ``store``: every row imported or reported.

    Each row becomes a customer (``entity="customers"``: a person, or an
    organisation when it names only a company), a lead, an interaction, an
    opportunity, a task or a support case (``opportunities``, ``tasks``,
    ``cases``: their fields are :data:`~crmcore.io.WORK_FIELDS`, their
    headers recognised as HubSpot and Salesforce export deals, tasks and
    tickets; work items keep their source id in the custom field
    ``source:<source>``, and need a store that keeps them).
    Columns are read as :func:`~crmcore.io.plan_columns` recognises them
    (``mapped`` pairs first; ``tags`` too, see :data:`IMPORT_FIELDS`); a
    person's company becomes or links an organisation customer
    (``organization_id``), found by its normalised name; columns no field
    reads are kept as custom fields. A row with a cell that cannot be read is
    rejected whole (:class:`Reject`: row number, field, reason, never the
    value) and the other rows still import.

    Every record keeps its row's source id, the ``id_column`` cell or else
    ``row:<number>``, under the identifier scheme ``source:<source>``
    (``source`` defaults to the file's name; for leads, a custom field of that
    name), so importing the same file again stores nothing new, and a run
    killed halfway and started again finishes the file with nothing doubled:
    rows are written ``batch_size`` at a time, each chunk in one transaction.

    Args:
        store: where the records go.
        path: the file (``.jsonl``/``.ndjson`` is JSON Lines, anything else CSV),
            or ``"-"`` for standard input (give ``source`` then: the default is
            ``stdin``).
        entity: one of :data:`ENTITIES`: ``customers``, ``leads``,
            ``interactions``, ``opportunities``, ``tasks`` or ``cases``.
        region: the default phone region (ISO 3166 alpha-2) of numbers without ``+``.
        mapped: ``(field, column)`` pairs, as ``--map FIELD=COLUMN``.
        id_column: the column of unique row ids (default: row numbers).
        on_duplicate: what to do with a row that matches a stored record or an
            earlier row (:class:`OnDuplicate`); the check of each chunk and its
            write are one transaction, with the keys locked on stores that
            implement :class:`~crmcore.storage.protocols.SupportsKeyLocks`.
        timezone: for interactions and work items, the zone
            (``Europe/Stockholm``) of timestamps written without an offset
            (and of a task's or case's dates written alone); such timestamps
            are refused when it is not given.
        participant_source: for interactions, the ``source`` of a customer
            import whose row ids the ``identifier`` columns hold: participants
            are found by those source ids too. For work items, the import
            whose row ids the ``customer`` (tasks: ``about``) column holds.
        pipelines: for opportunities (required), the pipelines whose stages
            the rows name (:meth:`crmcore.Pipeline.from_dict` reads one from
            JSON); a ``pipeline`` column picks one by id or name.
        currency: for opportunities, the currency of amounts written without one.
        source: the name the source ids are kept under (default: the file's name).
        dry_run: do everything and roll it back: the report says what would happen.
        batch_size: rows per transaction.
        rules: the duplicate rules (default: :func:`~crmcore.dedup.default_rules`).
        limits: the input limits (:class:`~crmcore.io.InputLimits`).
        workers: processes for parsing emails and phones (default: every core).
        progress: called with (rows done, rows in all) after each chunk.
        rejects: where to write the rejected rows (their original cells, then
            ``row``, ``field`` and ``reason``); written only when rows were
            rejected, and never on a dry run; its cells are formula-safe
            (:func:`~crmcore.io.safe_cell`).
        delimiter: the CSV delimiter (default: found from the first lines, see
            :func:`~crmcore.io.read_csv`).
        encoding: the file's text encoding (default: UTF-8, with or without a
            byte order mark, or UTF-16 with one).
        suppression: for customers and leads, what to do with a row whose
            email or phone is on the store's suppression list (an erased
            person's, see :mod:`crmcore.privacy`): ``BLOCK`` (the default)
            rejects the row (the reject names the field, ``emails[0]``);
            ``ALERT`` imports it and flags it (a :class:`Flag` with decision
            ``suppressed``); ``None`` does not look.

    Raises:
        InputError: the file cannot be read (:class:`~crmcore.io.EncodingError`
            when it is not in its encoding), or ``rejects`` cannot be written.
        ColumnError: a mapping names an unknown field or column.
        ValidationError: an argument is not one of the values above.
    """
    file = Path(path)
    table = read_rows(
        "-" if str(path) == "-" else file,
        limits=limits or InputLimits(),
        delimiter=delimiter,
        encoding=encoding,
    )
    if source is None:
        source = "stdin" if str(path) == "-" else file.name
    report = import_table(
        store,
        table,
        source=source,
        entity=entity,
        region=region,
        mapped=mapped,
        id_column=id_column,
        on_duplicate=on_duplicate,
        timezone=timezone,
        participant_source=participant_source,
        pipelines=pipelines,
        currency=currency,
        dry_run=dry_run,
        batch_size=batch_size,
        rules=rules,
        workers=workers,
        progress=progress,
        suppression=suppression,
    )
    if rejects is not None and report.rejects and not dry_run:
        target = Path(rejects)
        try:
            write_rejects(target, table, report.rejects)
        except OSError as exc:
            reason = exc.strerror or "I/O error"
            raise InputError(f"{target}: cannot be written ({reason})") from None
    return report
