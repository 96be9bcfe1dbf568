"""``crmcore stats``: what a store holds, as tables in a terminal, plain text or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from crmcore.cli._common import add_command, add_format_option
from crmcore.cli._db import add_existing_db_option

if TYPE_CHECKING:
    from crmcore.io import StoreStats

__all__ = ["register"]

_HELP = "count a store's records by entity, stage, status and channel, and its duplicates"

_DESCRIPTION = """\
Count what a store holds: customers by kind and lifecycle stage, leads by status,
interactions by channel, merge records, opportunities, tasks (and the open ones overdue)
and support cases by status, and the duplicates awaiting review among the live records
(what 'crmcore dedupe --db' would find)."""

_EPILOG = """\
examples:
  crmcore stats --db crm.db
  crmcore stats --db crm.db --format json | jq .duplicates

Tables when standard output is a terminal, plain lines when it is piped."""


def register(commands: Any) -> None:
    """Add ``crmcore stats`` to the sub-commands."""
    parser = add_command(commands, "stats", help=_HELP, description=_DESCRIPTION, epilog=_EPILOG)
    add_existing_db_option(parser)
    add_format_option(parser, "text (default) or json")
    parser.add_argument(
        "--no-duplicates",
        action="store_true",
        help="skip duplicate detection (the slow part on a large store)",
    )
    parser.set_defaults(handler=run_stats)


def _sections(stats: StoreStats) -> list[tuple[str, list[tuple[str, int]]]]:
    """Each entity's total and breakdown, zero rows left out."""

    def nonzero(counts: Any) -> list[tuple[str, int]]:
        return [(key, n) for key, n in counts.items() if n]

    sections = [
        (
            "customers",
            [
                ("total", stats.customers),
                ("merged away", stats.customers_merged),
                *nonzero(stats.customers_by_kind),
                *(("stage " + k, n) for k, n in nonzero(stats.customers_by_stage)),
            ],
        ),
        (
            "leads",
            [
                ("total", stats.leads),
                ("merged away", stats.leads_merged),
                *(("status " + k, n) for k, n in nonzero(stats.leads_by_status)),
            ],
        ),
        ("interactions", [("total", stats.interactions), *nonzero(stats.interactions_by_channel)]),
        ("merges", [("total", stats.merges), ("undone", stats.merges_undone)]),
        (
            "opportunities",
            [
                ("total", stats.opportunities),
                *(("status " + k, n) for k, n in nonzero(stats.opportunities_by_status)),
            ],
        ),
        (
            "tasks",
            [
                ("total", stats.tasks),
                *(("status " + k, n) for k, n in nonzero(stats.tasks_by_status)),
                ("overdue", stats.tasks_overdue),
            ],
        ),
        (
            "cases",
            [
                ("total", stats.cases),
                *(("status " + k, n) for k, n in nonzero(stats.cases_by_status)),
            ],
        ),
    ]
    if stats.duplicates is not None:
        d = stats.duplicates
        sections.append(
            (
                "duplicates",
                [
                    ("live records compared", d.records),
                    ("clusters", d.clusters),
                    ("records in clusters", d.records_in_clusters),
                    ("pairs to review", d.possible_pairs),
                ],
            )
        )
    return sections


def _plain(stats: StoreStats, out: TextIO) -> None:
    for title, rows in _sections(stats):
        print(title, file=out)
        for label, count in rows:
            print(f"  {label:<28} {count:>10}", file=out)


def _tables(stats: StoreStats, console: Any) -> None:
    from rich.table import Table

    table = Table(title="crmcore store", title_justify="left")
    table.add_column("entity", style="bold")
    table.add_column("what")
    table.add_column("count", justify="right", style="bold cyan")
    for title, rows in _sections(stats):
        for i, (label, count) in enumerate(rows):
            table.add_row(title if i == 0 else "", label, f"{count:,}")
        table.add_section()
    console.print(table)


def run_stats(args: argparse.Namespace, err: TextIO) -> int:
    """Run ``crmcore stats``."""
    from crmcore.cli._db import existing_store
    from crmcore.io import store_stats

    with existing_store(args.db) as store:
        stats = store_stats(store, duplicates=not args.no_duplicates)
    if args.format == "json":
        json.dump(stats.to_dict(), sys.stdout, indent=2)
        print()
        return 0
    try:
        from rich.console import Console
    except ImportError:  # installed without the cli extra: plain lines, same counts
        _plain(stats, sys.stdout)
        return 0
    console = Console()
    if console.is_terminal:
        _tables(stats, console)
    else:
        _plain(stats, sys.stdout)
    return 0
