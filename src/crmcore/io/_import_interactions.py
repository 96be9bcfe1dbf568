"""Import of interactions: channel, direction, timestamp, participants, external id."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crmcore.errors import ValidationError
from crmcore.ids import CaseId, is_case_id
from crmcore.interactions import Interaction, Participant
from crmcore.io._columns import ColumnPlan, column_index, plan_columns
from crmcore.io._import_common import (
    ImportReport,
    Tally,
    build_each,
    header_key,
    in_chunks,
    make_report,
    parse_rows,
    pending,
    split_mapped,
)
from crmcore.io._tables import Table
from crmcore.storage.keys import identifier_key, source_scheme

if TYPE_CHECKING:
    from crmcore.storage import Store

__all__ = [
    "INTERACTION_FIELDS",
    "import_interactions",
    "interaction_columns",
    "parse_timestamp",
    "zone",
]

INTERACTION_FIELDS: dict[str, str] = {
    "channel": "how it happened: email, phone_call (call), sms, chat, meeting, web_visit, "
    "web_form (form), social, letter, other",
    "direction": "inbound (in), outbound (out) or internal",
    "timestamp": "when: ISO 8601 (2024-05-01T14:30:00+02:00); without an offset it needs "
    "--timezone",
    "subject": "subject line or title",
    "body": "the text, summary or notes",
    "external_id": "the provider's id (an email's Message-ID): importing it again stores nothing",
    "case": "the support case whose thread it belongs to: a case id (cas_...)",
}
"""The fields of an interactions import besides the participants' ``email``, ``phone`` and
``identifier`` (a customer identifier whose scheme is the column's name, or a source id
of ``participant_source``)."""

_AUTO: dict[str, str] = {
    **dict.fromkeys(["channel", "type", "medium"], "channel"),
    **dict.fromkeys(["direction"], "direction"),
    **dict.fromkeys(["timestamp", "occurredat", "date", "datetime", "time", "when"], "timestamp"),
    **dict.fromkeys(["subject", "title"], "subject"),
    **dict.fromkeys(["body", "summary", "notes", "text", "message"], "body"),
    **dict.fromkeys(["externalid", "messageid"], "external_id"),
    **dict.fromkeys(["case", "caseid", "supportcase"], "case"),
}
_CHANNEL_ALIASES = {
    "call": "phone_call",
    "phone": "phone_call",
    "e_mail": "email",
    "form": "web_form",
    "visit": "web_visit",
}
_DIRECTION_ALIASES = {"in": "inbound", "out": "outbound"}
_PARTICIPANT_FIELDS = ("email", "phone", "identifier", "country")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Stockholm``).

    Raises:
        ValidationError: naming ``timezone`` when no such zone is known.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "timezone", "is not a known time zone (e.g. Europe/Stockholm)"
        ) from None


def parse_timestamp(text: str, timezone: ZoneInfo | None) -> datetime:
    """An aware datetime from ISO 8601 text; a naive one is read in ``timezone``, never guessed.

    Raises:
        ValidationError: naming ``timestamp``: not ISO 8601, or without an offset
            when ``timezone`` is ``None``.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError("timestamp", "is not an ISO 8601 date and time") from None
    if value.tzinfo is None:
        if timezone is None:
            raise ValidationError(
                "timestamp", "has no UTC offset; give --timezone (the zone it was written in)"
            )
        value = value.replace(tzinfo=timezone)
    return value


def _enum_text(text: str, aliases: dict[str, str]) -> str:
    key = re.sub(r"[\s-]+", "_", text.strip().casefold())
    return aliases.get(key, key)


def interaction_columns(
    header: Sequence[str], mapped: Iterable[tuple[str, str]], id_column: str | None
) -> tuple[ColumnPlan, dict[str, int], int | None, list[str]]:
    """Which columns an interactions import reads: the participants' plan, the column of
    each interaction field, the id column, and the columns nothing reads.

    Raises:
        ColumnError: a mapping or ``id_column`` names a column that is not in ``header``.
    """
    rest, own = split_mapped(header, mapped, INTERACTION_FIELDS)
    full = plan_columns(header, rest)
    plan = ColumnPlan({f: c for f, c in full.fields.items() if f in _PARTICIPANT_FIELDS})
    claimed = set(plan.used_columns())
    for index, name in enumerate(header):
        field = _AUTO.get(header_key(name))
        if field is not None and field not in own and index not in claimed:
            own.setdefault(field, []).append(index)
    # A field's first column is the one read; a later one auto-recognised is left.
    cols = {field: indexes[0] for field, indexes in own.items()}
    id_col = None if id_column is None else column_index(header, id_column)
    read = claimed | set(cols.values()) | ({id_col} if id_col is not None else set())
    unread = [h for i, h in enumerate(header) if i not in read and h.strip()]
    return plan, cols, id_col, unread


def _case(store: Store, text: str) -> CaseId | None:
    """The stored case ``text`` names (an interaction's thread), or ``None`` for an empty cell.

    Raises:
        ValidationError: naming ``case``.
    """
    from crmcore.errors import NotFound

    if not text:
        return None
    if not is_case_id(text):
        raise ValidationError("case", "is not a case id (cas_ and 26 base32 digits)")
    cases = getattr(store, "cases", None)
    if cases is None:
        raise ValidationError("case", "names a case, and the store keeps none")
    try:
        return CaseId(cases.get(text).id)
    except NotFound:
        raise ValidationError("case", "names no stored case") from None


def import_interactions(
    store: Store,
    table: Table,
    *,
    scheme: str,
    region: str | None,
    mapped: Iterable[tuple[str, str]],
    id_column: str | None,
    timezone: str | None,
    participant_source: str | None,
    dry_run: bool,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
) -> ImportReport:
    """Import interaction rows (see :func:`crmcore.io.import_file`)."""
    tz = zone(timezone) if timezone is not None else None
    # The ids a customer import kept (its --id-column) identify participants too.
    source = None if participant_source is None else source_scheme(participant_source)
    plan, cols, id_col, unread = interaction_columns(table.header, mapped, id_column)

    tally = Tally()
    parsed = parse_rows(table, plan, id_col, id_column or "row", region=region, workers=None)
    row_ids, fields, contacts = parsed.source_ids, parsed.fields, parsed.contacts
    # Where a row's id and one of its cells are both wrong, the id is reported.
    rejected = {**parsed.cell_rejects, **parsed.id_rejects}

    def cell(row: Sequence[str], field: str) -> str:
        i = cols.get(field)
        return row[i].strip() if i is not None else ""

    def build(index: int, sid: str) -> Interaction:
        row = table.rows[index]
        occurred = cell(row, "timestamp")
        if not occurred:
            raise ValidationError("timestamp", "is empty")
        when = parse_timestamp(occurred, tz)
        emails, phones = contacts[index]
        people: dict[str, None] = {}
        for repo in (store.customers, store.leads):
            found: list[Any] = []
            for email in emails:
                found += repo.find_by_email(email)
            for phone in phones:
                found += repo.find_by_phone(phone)
            people.update((r.id, None) for r in found if r.merged_into is None)
        for id_scheme, value in fields[index].identifiers.items():
            schemes = [id_scheme] if source is None else [id_scheme, source]
            for scheme_ in schemes:
                people.update(
                    (r.id, None)
                    for r in store.customers.find_by_identifier(scheme_, value)
                    if r.merged_into is None
                )
            if source is not None:
                # A lead import keeps its source ids as keys (crmcore.storage.keys.source_keys).
                people.update(
                    (r.id, None)
                    for r in store.leads.find_by_keys([identifier_key(source, value)])
                    if r.merged_into is None and r.custom_fields.get(source) == value
                )
        if not people:
            raise ValidationError(
                "participants", "no stored customer or lead has the row's email, phone or id"
            )
        return Interaction.log(
            case_id=_case(store, cell(row, "case")),
            channel=_enum_text(cell(row, "channel"), _CHANNEL_ALIASES),
            direction=_enum_text(cell(row, "direction"), _DIRECTION_ALIASES),
            occurred_at=when,
            participants=[Participant(record_id) for record_id in people],  # type: ignore[arg-type]
            subject=cell(row, "subject") or None,
            body=cell(row, "body") or None,
            external_id=cell(row, "external_id") or f"{scheme}:{sid}",
        )

    def chunk(indexes: range) -> None:
        todo = pending(indexes, row_ids, rejected, tally)
        built = [record for _, _, record in build_each(todo, build, tally)]
        if built:
            stored = store.interactions.add_many(built)
            for new, kept in zip(built, stored, strict=True):
                if kept.id == new.id:
                    tally.imported += 1
                else:  # ingested before: add is idempotent by external id
                    tally.skipped += 1
                    tally.already += 1

    in_chunks(store, len(table.rows), batch_size, chunk, progress, dry_run=dry_run)
    return make_report("interactions", len(table.rows), tally, scheme, dry_run, unread)
