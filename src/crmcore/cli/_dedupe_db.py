"""``crmcore dedupe --db``: the duplicates among a store's records, reviewed and merged."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from crmcore.cli._errors import EXIT_USAGE, CliError

if TYPE_CHECKING:
    from crmcore.customers import Customer
    from crmcore.dedup.results import Cluster, DedupResult, ScoredPair
    from crmcore.leads import Lead

__all__ = ["REVIEW_COLUMNS", "run_dedupe_db"]

REVIEW_COLUMNS = (
    "id",
    "type",
    "name",
    "organization",
    "emails",
    "phones",
    "city",
    "country",
    "birth_date",
)
"""What the review report shows of each stored record."""

# Options that say how to read an INPUT file: they mean nothing for a store.
_FILE_OPTIONS = (
    ("output", "--output"),
    ("maps", "--map"),
    ("id_column", "--id-column"),
    ("region", "--region"),
    ("region_column", "--region-column"),
)


def run_dedupe_db(args: argparse.Namespace, err: TextIO) -> int | None:
    """Run ``crmcore dedupe --db``; ``None`` when the command line is an INPUT file's run.

    Checks what the two forms do not share first: ``--db`` with an INPUT is
    refused, and so are the store's options (``--merge-above``,
    ``--dry-run``) without ``--db`` and the file's options with it.
    """
    if args.db is None:
        if args.input is None:
            raise CliError("give an INPUT.csv file, or --db for a store's records", EXIT_USAGE)
        if args.output is None:
            raise CliError("--output is required with an INPUT file", EXIT_USAGE)
        for name, option in (
            ("merge_above", "--merge-above"),
            ("dry_run", "--dry-run"),
            ("format", "--format"),
        ):
            if getattr(args, name):
                raise CliError(f"{option} works on a store: give --db", EXIT_USAGE)
        return None
    if args.input is not None:
        raise CliError(
            "give either an INPUT file or --db, not both (import the file first: "
            "crmcore import INPUT --db ...)",
            EXIT_USAGE,
        )
    for name, option in _FILE_OPTIONS:
        if getattr(args, name, None):
            raise CliError(f"{option} reads an INPUT file; it does not apply to --db", EXIT_USAGE)
    if args.dry_run and args.merge_above is None:
        raise CliError("--dry-run shows what --merge-above P would merge: give it", EXIT_USAGE)
    return _run(args, err)


def _cells(record: Customer | Lead) -> list[str]:
    from crmcore.customers import Customer

    if isinstance(record, Customer):
        kind, organization = record.kind.value, record.organization_id or ""
        address = record.addresses[0] if record.addresses else None
        birth = "" if record.birth_date is None else record.birth_date.isoformat()
    else:
        kind, organization, address, birth = "lead", record.company or "", None, ""
    name = record.name if isinstance(record.name, str) else getattr(record.name, "full", "")
    return [
        record.id,
        kind,
        name or "",
        organization,
        "; ".join(str(e.address) for e in record.emails),
        "; ".join(p.number.e164 for p in record.phones),
        (address.locality or "") if address else "",
        (address.country or "") if address else "",
        birth,
    ]


def _by_position(result: DedupResult, position: dict[str, int]) -> DedupResult:
    """The result with record ids replaced by their positions: what the report indexes."""

    def pair(p: ScoredPair) -> ScoredPair:
        return attrs.evolve(p, a=str(position[p.a]), b=str(position[p.b]))

    def cluster(c: Cluster) -> Cluster:
        return attrs.evolve(
            c,
            member_ids=tuple(str(position[m]) for m in c.member_ids),
            pairs=tuple(pair(p) for p in c.pairs),
        )

    return attrs.evolve(
        result,
        clusters=tuple(cluster(c) for c in result.clusters),
        possible_matches=tuple(pair(p) for p in result.possible_matches),
    )


def _write_review(
    path: Path,
    db: str,
    records: Sequence[Customer | Lead],
    result: DedupResult,
    limit: int,
) -> None:
    from crmcore.cli._report import write_report

    position: dict[str, int] = {r.id: i for i, r in enumerate(records)}
    try:
        write_report(
            path,
            source_name=Path(db).name if "://" not in db else "the store",
            result=_by_position(result, position),
            header=REVIEW_COLUMNS,
            shown_columns=range(1, len(REVIEW_COLUMNS)),
            rows=_Rows(records),
            label=lambda rid: records[int(rid)].id,
            cluster_label=lambda c: min(records[int(m)].id for m in c.member_ids),
            limit=limit,
        )
    except OSError as exc:
        raise CliError(f"{path}: cannot be written ({exc.strerror or 'I/O error'})") from None


class _Rows(Sequence[list[str]]):
    """The review cells of each record, built only for the records the report shows."""

    def __init__(self, records: Sequence[Customer | Lead]) -> None:
        self._records = records

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [_cells(r) for r in self._records[index]]
        return _cells(self._records[index])


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


def _run(args: argparse.Namespace, err: TextIO) -> int:
    from crmcore.cli._db import existing_store
    from crmcore.cli._dedupe import _engine_progress
    from crmcore.cli._engine import rules_for
    from crmcore.cli._progress import Progress
    from crmcore.dedup import find_duplicates
    from crmcore.io import live_records
    from crmcore.merge import merge_duplicates

    started = time.perf_counter()
    if args.report is not None and not args.report.parent.is_dir():
        raise CliError(f"{args.report}: cannot be written (no such directory)")
    with existing_store(args.db) as store:
        if args.merge_above is not None and not hasattr(store, "merges"):
            raise CliError("--db: this store keeps no merge records, so nothing can be merged")
        progress = Progress(enabled=not args.quiet)
        try:
            progress.stage("Reading the store", None)
            records = live_records(store)
            result = find_duplicates(
                records,
                rules_for(args.threshold, args.rules),
                progress=_engine_progress(progress),
                workers=args.workers,
            )
        finally:
            progress.stop()
        if args.report is not None:
            _write_review(args.report, args.db, records, result, args.report_limit)
        summary: dict[str, Any] = {
            "records": len(records),
            "clusters": len(result.clusters),
            "records_in_clusters": sum(len(c.member_ids) for c in result.clusters),
            "possible_pairs": len(result.possible_matches),
            "report": None if args.report is None else str(args.report),
        }
        bulk = None
        if args.merge_above is not None:
            chosen = tuple(c for c in result.clusters if c.confidence > args.merge_above)
            if args.dry_run:
                summary["would_merge"] = [
                    {"confidence": c.confidence, "record_ids": sorted(c.member_ids)} for c in chosen
                ]
            else:
                bulk = merge_duplicates(
                    store,  # type: ignore[arg-type]
                    attrs.evolve(result, clusters=chosen),
                    min_confidence=args.merge_above,
                )
                summary["merged"] = [
                    {
                        "merge_id": m.merge_id,
                        "survivor_id": m.survivor.id,
                        "merged_ids": list(m.record.merged_ids),
                    }
                    for m in bulk.merged
                ]
                summary["already_merged"] = len(bulk.skipped)
                summary["failed"] = [{"cluster": c, "reason": r} for c, r in bulk.failed]
    if args.format == "json":
        json.dump(summary, sys.stdout)
        print()
    else:
        _print_text(args, summary, err, time.perf_counter() - started)
    return 1 if bulk is not None and bulk.failed else 0


def _print_text(
    args: argparse.Namespace, summary: dict[str, Any], err: TextIO, took: float
) -> None:
    print(
        f"{_plural(summary['records'], 'live record')}: "
        f"{_plural(summary['clusters'], 'cluster')} of duplicates "
        f"({_plural(summary['records_in_clusters'], 'record')}), "
        f"{_plural(summary['possible_pairs'], 'pair')} to review"
        + (f"; wrote {args.report}" if args.report is not None else ""),
        file=err,
    )
    if "would_merge" in summary:
        chosen = summary["would_merge"]
        print(
            f"would merge {_plural(len(chosen), 'cluster')} above {args.merge_above} "
            "(dry run: the store is unchanged)",
            file=err,
        )
        for cluster in chosen:
            print(f"{cluster['confidence']:.3f} {' '.join(cluster['record_ids'])}")
    if "merged" in summary:
        for merged in summary["merged"]:
            print(
                f"{merged['merge_id']} {merged['survivor_id']} <- {' '.join(merged['merged_ids'])}"
            )
        skipped = summary["already_merged"]
        print(
            f"merged {_plural(len(summary['merged']), 'cluster')} above {args.merge_above}"
            + (f", {skipped} already merged" if skipped else "")
            + f" in {took:.1f} s; undo one with crmcore unmerge --db "
            f"{args.db if '://' not in args.db else '...'} MERGE_ID",
            file=err,
        )
        failed = summary["failed"]
        if failed:
            reasons = sorted({f["reason"] for f in failed})
            print(
                f"warning: {_plural(len(failed), 'cluster')} could not be merged "
                f"({', '.join(reasons)}) and {'was' if len(failed) == 1 else 'were'} "
                "left as they were; run the command again",
                file=err,
            )
