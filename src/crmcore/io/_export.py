"""A store out to a file, and back: lossless JSON Lines, and flat CSV for spreadsheets.

A JSON Lines export is self-identifying: its first line is a header
(``{"crmcore_export": 1, ...}``), every record is one line tagged with its
entity (``{"entity": "customer", "record": {...}}``, the record as
:func:`crmcore.serialization.to_dict` writes it), and its last line counts the
records (``{"crmcore_export_end": {...}}``), so that :func:`restore` can tell a
complete export from one cut short.
"""

from __future__ import annotations

import csv
import enum
import json
import operator
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, TextIO

import attrs

from crmcore.audit import AuditAction, audited
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import ValidationError
from crmcore.interactions import Interaction
from crmcore.io._errors import InputError
from crmcore.io._writing import safe_cell
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord
from crmcore.opportunities import Opportunity
from crmcore.privacy._suppression import any_suppressed, refuse_suppressed
from crmcore.serialization import MAX_JSON_LENGTH, SCHEMA_VERSION, from_dict, to_dict
from crmcore.tasks import Task
from crmcore.values import PersonName

if TYPE_CHECKING:
    from crmcore.storage.protocols import Store

__all__ = [
    "ENTITIES",
    "EXPORT_FORMAT",
    "ExportReport",
    "RestoreReport",
    "export_store",
    "is_export",
    "restore",
]

EXPORT_FORMAT: Final = 1
"""The version of the JSON Lines export format this crmcore writes and reads."""

ENTITIES: Final = (
    "customers",
    "leads",
    "interactions",
    "merges",
    "opportunities",
    "tasks",
    "cases",
)
"""The entities an export holds, in the order it writes them."""

WORK_ENTITIES: Final = ("opportunities", "tasks", "cases")
"""The entities only a store with work items keeps (:class:`~crmcore.storage.SupportsWorkItems`).

A store without them exports the other entities, and an export that holds
none of them restores into such a store.
"""

FORMATS: Final = ("jsonl", "csv")

HEADER_KEY: Final = "crmcore_export"
END_KEY: Final = "crmcore_export_end"

# The tag of each line: the entity's singular noun, and the model it holds.
_TAGS: Final[Mapping[str, str]] = {
    "customers": "customer",
    "leads": "lead",
    "interactions": "interaction",
    "merges": "merge",
    "opportunities": "opportunity",
    "tasks": "task",
    "cases": "case",
}
_MODELS: Final[Mapping[str, type[Any]]] = {
    "customer": Customer,
    "lead": Lead,
    "interaction": Interaction,
    "merge": MergeRecord,
    "opportunity": Opportunity,
    "task": Task,
    "case": Case,
}
_PLURAL: Final = {tag: entity for entity, tag in _TAGS.items()}

# A record's document may be as long as serialization reads (merge records carry
# whole snapshots); the envelope adds a little. A longer line is no export of ours.
_MAX_LINE: Final = MAX_JSON_LENGTH + 1_000
_MAX_HEADER: Final = 65_536
_LOAD_BATCH: Final = 1_000

Target = str | os.PathLike[str] | TextIO


@attrs.frozen
class ExportReport:
    """What :func:`export_store` wrote: the format and how many records of each entity."""

    format: str
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        """Every record written."""
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-compatible data (for ``crmcore export --format``'s summary)."""
        return {"format": self.format, "counts": dict(self.counts), "total": self.total}


@attrs.frozen
class RestoreReport:
    """What :func:`restore` loaded: how many records of each entity."""

    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        """Every record loaded."""
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-compatible data."""
        return {"counts": dict(self.counts), "total": self.total}


# --------------------------------------------------------------------------- reading a store


def record_ids(store: Store) -> list[str]:
    """The id of every stored customer and lead (tombstones too), customers first."""
    return [r.id for repository in (store.customers, store.leads) for r in repository.iter_all()]


def iter_interactions(store: Store, ids: Iterable[str] | None = None) -> Iterator[Interaction]:
    """Every interaction on the timeline of a stored customer or lead, once each.

    The storage protocols list interactions per record only, so one that names
    no stored record is not reached. ``ids`` (from :func:`record_ids`) saves
    reading every record again when the caller has them.
    """
    seen: set[str] = set()
    for record_id in record_ids(store) if ids is None else ids:
        for interaction in store.interactions.list_for(record_id, limit=None):
            if interaction.id not in seen:
                seen.add(interaction.id)
                yield interaction


def iter_merges(store: Store, ids: Iterable[str] | None = None) -> Iterator[MergeRecord]:
    """Every merge record a stored customer or lead took part in, once each.

    Nothing for a store that keeps no merge records (no ``merges``).
    """
    merges = getattr(store, "merges", None)
    if merges is None:
        return
    seen: set[str] = set()
    for record_id in record_ids(store) if ids is None else ids:
        for record in merges.list_for(record_id):
            if record.id not in seen:
                seen.add(record.id)
                yield record


def work_repository(store: Store, entity: str) -> Any:
    """The repository of work-item ``entity`` (``opportunities``...), or ``None``.

    ``None`` for a store that keeps no work items: a :class:`Store` need not
    (:class:`~crmcore.storage.SupportsWorkItems` says it does).
    """
    return getattr(store, entity, None) if entity in WORK_ENTITIES else None


def kept_entities(store: Store) -> tuple[str, ...]:
    """The entities of :data:`ENTITIES` that ``store`` keeps, in export order."""
    return tuple(
        e for e in ENTITIES if e not in WORK_ENTITIES or work_repository(store, e) is not None
    )


class _Reader:
    """The records of one export, reading each customer and lead once.

    Interactions and merge records are found from the records' ids; when the
    export writes the customers and leads too, their ids are taken on the way.
    """

    def __init__(self, store: Store, entities: Iterable[str]) -> None:
        self._store = store
        self._collect = {"customers", "leads"} <= set(entities)
        self._ids: list[str] = []

    def _ids_now(self) -> list[str]:
        if not self._collect:
            self._ids = record_ids(self._store)
            self._collect = True
        return self._ids

    def records(self, entity: str) -> Iterator[Any]:
        if entity in ("customers", "leads"):
            repository = self._store.customers if entity == "customers" else self._store.leads
            for record in repository.iter_all():
                if self._collect:
                    self._ids.append(record.id)
                yield record
        elif entity == "interactions":
            yield from iter_interactions(self._store, self._ids_now())
        elif entity == "merges":
            yield from iter_merges(self._store, self._ids_now())
        else:
            # Work items are listed by the store itself: no record's timeline is needed.
            yield from work_repository(self._store, entity).iter_all()


# --------------------------------------------------------------------------- CSV


# A cell a spreadsheet would run as a formula starts with one of these; a phone
# number (+46 70 ...), a list of them, or a plain negative number is data, and
# stays as it is.
def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, PersonName):
        return value.full
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return format(value, "f")  # never "1E+3": a spreadsheet reads plain digits
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _joined(values: Iterable[object]) -> str:
    return "; ".join(_text(v) for v in values)


def _mapping(values: Mapping[str, object]) -> str:
    return "; ".join(f"{key}={_text(value)}" for key, value in sorted(values.items()))


Column = tuple[str, Callable[[Any], object]]


def _attrs(*names: str) -> tuple[Column, ...]:
    # Most columns are the record's attribute of the same name: one way to write
    # them keeps each entity's table a list of what it exports, in order.
    return tuple((name, operator.attrgetter(name)) for name in names)


_BOOKKEEPING: Final[tuple[Column, ...]] = _attrs("version", "created_at", "updated_at")

_PARTY: Final[tuple[Column, ...]] = (
    ("emails", lambda r: _joined(e.address for e in r.emails)),
    ("phones", lambda r: _joined(p.number.e164 for p in r.phones)),
)
_OWNED: Final[tuple[Column, ...]] = (
    *_attrs("owner"),
    ("tags", lambda r: _joined(sorted(r.tags))),
)
_TAIL: Final[tuple[Column, ...]] = (*_attrs("merged_into"), *_BOOKKEEPING)

_CSV_COLUMNS: Final[Mapping[str, tuple[Column, ...]]] = {
    "customers": (
        *_attrs("id", "kind", "name"),
        *_PARTY,
        ("street", lambda c: _joined(c.addresses[0].lines) if c.addresses else ""),
        ("postal_code", lambda c: c.addresses[0].postal_code if c.addresses else ""),
        ("city", lambda c: c.addresses[0].locality if c.addresses else ""),
        ("country", lambda c: c.addresses[0].country if c.addresses else ""),
        *_attrs("organization_id", "stage"),
        *_OWNED,
        ("identifiers", lambda c: _mapping(c.identifiers)),
        *_attrs("birth_date"),
        *_TAIL,
    ),
    "leads": (
        *_attrs("id", "name", "company"),
        *_PARTY,
        *_attrs("source", "status", "score", "estimated_value"),
        *_OWNED,
        *_attrs("converted_customer_id"),
        *_TAIL,
    ),
    "interactions": (
        *_attrs("id", "channel", "direction", "occurred_at"),
        ("participants", lambda i: _joined(i.record_ids)),
        *_attrs("subject"),
        ("duration_seconds", lambda i: None if i.duration is None else i.duration.total_seconds()),
        *_attrs("outcome", "thread_id", "external_id"),
        *_BOOKKEEPING,
    ),
    "merges": (
        *_attrs("id", "survivor_id"),
        ("merged_ids", lambda m: _joined(m.merged_ids)),
        *_attrs("merged_at", "unmerged_at", "version"),
    ),
    "opportunities": (
        *_attrs("id", "name", "customer_id"),
        ("contacts", lambda o: _joined(f"{c.customer_id}:{c.role}" for c in o.contacts)),
        *_attrs("pipeline_id", "stage_id", "status", "probability"),
        ("amount", lambda o: None if o.amount is None else o.amount.amount),
        ("currency", lambda o: None if o.amount is None else o.amount.currency),
        ("weighted_amount", lambda o: None if o.amount is None else o.weighted_amount.amount),
        *_attrs("close_date", "lead_id", "source", "campaign", "lost_reason", "closed_at"),
        *_OWNED,
        *_BOOKKEEPING,
    ),
    "tasks": (
        *_attrs("id", "title", "kind", "status", "priority", "due_at", "assignee", "about_id"),
        *_attrs("completed_at", "interaction_id"),
        ("tags", lambda t: _joined(sorted(t.tags))),
        *_BOOKKEEPING,
    ),
    "cases": (
        *_attrs("id", "subject", "customer_id", "channel", "priority", "status"),
        *_attrs("reported_at", "assignee", "first_response_at", "resolved_at", "closed_at"),
        ("tags", lambda c: _joined(sorted(c.tags))),
        *_BOOKKEEPING,
    ),
}
CSV_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    entity: tuple(name for name, _ in columns) for entity, columns in _CSV_COLUMNS.items()
}
"""The columns of each entity's CSV export."""


def _write_csv(store: Store, entity: str, out: TextIO, safe: bool = True) -> dict[str, int]:
    columns = _CSV_COLUMNS[entity]
    writer = csv.writer(out)
    writer.writerow([name for name, _ in columns])
    count = 0
    for record in _Reader(store, (entity,)).records(entity):
        cells = [_text(value(record)) for _, value in columns]
        writer.writerow([safe_cell(c) for c in cells] if safe else cells)
        count += 1
    return {entity: count}


# --------------------------------------------------------------------------- JSON Lines


def _line(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def _write_jsonl(store: Store, entities: tuple[str, ...], out: TextIO) -> dict[str, int]:
    from crmcore import __version__

    out.write(
        _line(
            {
                HEADER_KEY: EXPORT_FORMAT,
                "schema_version": SCHEMA_VERSION,
                "crmcore": __version__,
                "entities": list(entities),
            }
        )
    )
    counts: dict[str, int] = {}
    reader = _Reader(store, entities)
    for entity in entities:
        tag = _TAGS[entity]
        count = 0
        for record in reader.records(entity):
            out.write(_line({"entity": tag, "record": to_dict(record)}))
            count += 1
        counts[entity] = count
    out.write(_line({END_KEY: counts}))
    return counts


def _check_choices(store: Store, format: object, entity: object) -> tuple[str, tuple[str, ...]]:
    if format not in FORMATS:
        raise ValidationError("format", "must be jsonl or csv")
    if entity != "all" and entity not in ENTITIES:
        raise ValidationError("entity", f"must be all or one of {', '.join(ENTITIES)}")
    if format == "csv" and entity == "all":
        raise ValidationError("entity", "must name one entity for csv (one file per entity)")
    assert isinstance(format, str)
    assert isinstance(entity, str)
    kept = kept_entities(store)
    if entity != "all" and entity not in kept:
        raise ValidationError("entity", f"the store keeps no {entity}")
    return format, kept if entity == "all" else (entity,)


def export_store(
    store: Store,
    target: Target,
    *,
    format: str = "jsonl",
    entity: str = "all",
    safe: bool = True,
) -> ExportReport:
    """Write a store's records to ``target``: a file path or an open text stream.

    ``format="jsonl"`` (the default) is lossless: every customer, lead,
    interaction and merge record, tombstones included, and every opportunity,
    task and support case (on a store that keeps them,
    :class:`~crmcore.storage.SupportsWorkItems`), with ids, versions and
    timestamps, for :func:`restore`. ``format="csv"`` is flat, for
    spreadsheets: one entity per file (``entity`` must name it), the main
    fields as columns (:data:`CSV_COLUMNS`), several values joined with
    ``"; "``, and cells a spreadsheet would run as formulas neutralised
    (:func:`~crmcore.io.safe_cell`) unless ``safe=False`` (for a program, not
    a spreadsheet, to read). JSON Lines is written exactly, whatever ``safe``.

    The export reads one consistent state (it runs inside
    ``store.transaction()``, so writers wait). A path is written to a
    temporary file beside it and renamed into place at the end: it is never
    left half-written. A stream is written as is (open it with ``newline=""``
    for CSV).

    Raises:
        ValidationError: naming ``format``, ``entity`` (also for a work-item
            entity the store does not keep) or ``target``.
        OSError: the file cannot be written.
    """
    chosen, entities = _check_choices(store, format, entity)

    def write(out: TextIO) -> dict[str, int]:
        with store.transaction():
            if chosen == "csv":
                return _write_csv(store, entities[0], out, safe)
            return _write_jsonl(store, entities, out)

    if isinstance(target, str | os.PathLike):
        counts = _write_file(Path(target), write)
    elif hasattr(target, "write"):
        counts = write(target)
    else:
        raise ValidationError("target", "must be a file path or a text stream")
    return ExportReport(chosen, counts)


def _write_file(path: Path, write: Callable[[TextIO], dict[str, int]]) -> dict[str, int]:
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            counts = write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return counts


# --------------------------------------------------------------------------- restoring


def _header(line: str) -> dict[str, Any] | None:
    text = line.removeprefix("\ufeff").strip()
    if not text.startswith("{") or len(text) > _MAX_HEADER:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or type(data.get(HEADER_KEY)) is not int:
        return None
    return data


def is_export(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` is a crmcore export: a file path, or the first line of a file.

    A string starting with ``{`` is read as a first line; anything else as a
    path (a file that cannot be read is no export). A CSV file, or JSON Lines
    of rows, is not an export; use :func:`restore` on one that is.
    """
    if isinstance(source, str) and source.lstrip("\ufeff").startswith("{"):
        return _header(source) is not None
    try:
        with open(source, encoding="utf-8", errors="replace") as handle:
            first = handle.readline(_MAX_HEADER + 1)
    except (OSError, ValueError):
        return False
    return _header(first) is not None


def _lines(source: IO[str], name: str) -> Iterator[tuple[int, str]]:
    number = 0
    while True:
        line = source.readline(_MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > _MAX_LINE:
            raise InputError(f"{name}: line {number} is longer than any record of an export")
        if line.strip():
            yield number, line


def _decode(name: str, number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        raise InputError(f"{name}: line {number} is not JSON") from None


def restore(store: Store, source: str | os.PathLike[str] | TextIO) -> RestoreReport:
    """Load a JSON Lines export (from :func:`export_store`) into an empty store.

    Every record comes back as it was exported: ids, versions, timestamps,
    tombstones and merge records, so ``crmcore.unmerge`` still works on the
    restored store. All or nothing: the records are loaded in one
    transaction, and a problem anywhere in the file (a line that is not a
    record, a record that does not validate, an id given twice, an export cut
    short before its last line) leaves the store as it was.

    Args:
        store: an empty store that supports ``load``
            (:class:`~crmcore.storage.SupportsLoad`; both built-in stores do).
        source: the export: a file path or an open text stream.

    An export written before work items existed, or of a store without them,
    restores into any store; one that holds opportunities, tasks or cases
    needs a store that keeps them.

    Raises:
        ValidationError: naming ``store`` (it holds records, cannot ``load``,
            or keeps no opportunities, tasks or cases and the export holds
            some: the message names the entity) or ``source``.
        InputError: the file is not a crmcore export, or is damaged; the
            message names the line (and the field), never a value.
        Suppressed: a customer or lead of the export holds a contact point of
            someone erased from this store (``line 12: emails[0]``); nothing
            is restored.
    """
    from crmcore.storage.protocols import SupportsLoad

    if not isinstance(store, SupportsLoad):
        raise ValidationError("store", "must support load() (SupportsLoad)")
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                return _restore(store, handle, str(path))
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc.strerror or 'I/O error'})") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: is not UTF-8 text") from None
    if not hasattr(source, "readline"):
        raise ValidationError("source", "must be a file path or a text stream")
    return _restore(store, source, "the export")


def _restore(store: Any, source: IO[str], name: str) -> RestoreReport:
    lines = _lines(source, name)
    first = next(lines, None)
    header = None if first is None else _header(first[1])
    if header is None:
        raise InputError(f"{name}: is not a crmcore export (its first line is no export header)")
    if header[HEADER_KEY] != EXPORT_FORMAT:
        raise InputError(f"{name}: was written in export format {header[HEADER_KEY]}, not 1")
    kept = kept_entities(store)
    counts = dict.fromkeys(kept, 0)
    seen: dict[tuple[str, str], int] = {}
    ended = False
    # One LOAD entry for the whole restore, however many batches it places.
    with audited(store, AuditAction.LOAD, operation="restore"):
        # Checked inside the transaction: no writer can add a record after the check.
        repositories = [store.customers, store.leads]
        repositories += [work_repository(store, e) for e in WORK_ENTITIES if e in kept]
        if any(repository.count() for repository in repositories):
            raise ValidationError("store", "must be empty: an export is restored into a new store")
        # An emptied store may still hold the suppression list of the people
        # erased from it: an old backup must not bring them back.
        suppressing = any_suppressed(store)
        batch: list[Any] = []
        for number, line in lines:
            if ended:
                raise InputError(f"{name}: line {number} follows the export's last line")
            data = _decode(name, number, line)
            if isinstance(data, dict) and END_KEY in data:
                _check_end(name, number, data[END_KEY], counts)
                ended = True
                continue
            record = _record(name, number, data)
            if suppressing and isinstance(record, Customer | Lead):
                refuse_suppressed(store, record, f"line {number}: ")
            entity = _PLURAL[data["entity"]]
            if entity not in counts:
                raise ValidationError(
                    "store", f"keeps no {entity}, and the export holds some (line {number})"
                )
            key = (type(record).__name__, record.id)
            if key in seen:
                raise InputError(f"{name}: line {number} repeats the id of line {seen[key]}")
            seen[key] = number
            counts[entity] += 1
            batch.append(record)
            if len(batch) >= _LOAD_BATCH:
                store.load(batch)
                batch = []
        if not ended:
            raise InputError(f"{name}: ends before its last line (the export is incomplete)")
        store.load(batch)
    return RestoreReport(counts)


def _record(name: str, number: int, data: Any) -> Any:
    if not isinstance(data, dict) or set(data) != {"entity", "record"}:
        raise InputError(f"{name}: line {number} is not an exported record")
    model = _MODELS.get(data["entity"]) if isinstance(data["entity"], str) else None
    if model is None:
        raise InputError(f"{name}: line {number} holds an unknown entity")
    try:
        return from_dict(model, data["record"])
    except ValidationError as exc:
        where = ", ".join(f"{path or 'record'} {message}" for path, message in exc.problems[:3])
        raise InputError(f"{name}: line {number}: {where}") from None


def _check_end(name: str, number: int, expected: object, counts: Mapping[str, int]) -> None:
    if not isinstance(expected, dict):
        raise InputError(f"{name}: line {number} is not an export's last line")
    # An entity the store does not keep was never read: the last line must count none.
    every = {**dict.fromkeys(ENTITIES, 0), **counts}
    for entity, count in every.items():
        if expected.get(entity, 0) != count:
            raise InputError(
                f"{name}: holds {count} {entity} where its last line counts "
                f"{expected.get(entity, 0)}"
            )
