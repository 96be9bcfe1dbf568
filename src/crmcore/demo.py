"""``make demo``: crmcore's main job on the embedded SQLite store (``python -m crmcore.demo``).

The story of a small web shop with Swedish and Indonesian customers (and a
few Germans and Britons) that embeds crmcore, in six steps on a fresh SQLite
file:

1. the Swedish office's Excel export (a few thousand messy rows, semicolons)
   is imported, with the duplicate check on;
2. a stream of interactions (emails, chats, web forms, calls) is logged
   against whichever record each channel knows;
3. the duplicates in the store are shown with their reasons, and the HTML
   review report is written;
4. the clusters above the threshold are merged, and a web-form lead who is
   already a customer is converted into that customer;
5. one customer's timeline is read across the merged records, and one merge
   is undone to show that nothing was lost;
6. the store is exported and its statistics printed.

The data comes from :mod:`crmcore._demo_data` (the same for a seed). The
files go in a temporary folder that is deleted at the end, unless ``--keep``
is given (then ``./crmcore-demo/``). Output is rich tables, in colour where
the terminal supports it and plain text where it does not.
"""

from __future__ import annotations

import argparse
import collections
import csv
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from crmcore import (
    Channel,
    Customer,
    CustomerId,
    Direction,
    Interaction,
    Lead,
    LeadStatus,
    SQLiteStore,
    convert_lead,
    merge_duplicates,
    timeline,
    unmerge,
)
from crmcore._demo_data import (
    CONTACT_COLUMNS,
    contact_rows,
    interaction_rows,
    write_semicolon_csv,
)
from crmcore.dedup import blocking_keys, find_duplicates
from crmcore.io import (
    ImportReport,
    StoreStats,
    export_store,
    import_file,
    plan_columns,
    read_csv,
    store_stats,
)

if TYPE_CHECKING:
    from rich.console import Console

    from crmcore.dedup import Cluster, DedupResult
    from crmcore.merge import BulkMergeResult, MergeResult

MERGE_ABOVE: Final = 0.97
"""Clusters at least this confident are merged; the weaker ones are left for a person."""


# ------------------------------------------------------------------ steps 1 and 2: rows in


def generate_and_import(
    console: Console, store: SQLiteStore, folder: Path, *, rows: int, seed: int
) -> ImportReport:
    """Step 1: write the Swedish office's export and import it, progress bar shown."""
    _heading(console, 1, "Import the Swedish office's Excel export")
    path = folder / "kunder.csv"
    write_semicolon_csv(path, contact_rows(rows, seed), CONTACT_COLUMNS)
    table = read_csv(path)
    console.print(
        f"[dim]{path.name}: {len(table.rows)} rows, delimiter {table.delimiter!r} "
        f"(found by crmcore), {table.encoding}; the columns as crmcore reads them:[/dim]"
    )
    for line in plan_columns(table.header).describe():
        console.print(f"  [dim]{line}[/dim]")
    started = time.perf_counter()
    with _progress_bar(console, "importing contacts") as shown:
        # Kundnr is each row's id: importing the file again stores nothing new.
        report = import_file(store, path, id_column="Kundnr", on_duplicate="alert", progress=shown)
    seconds = time.perf_counter() - started
    console.print(
        f"imported [bold]{report.imported}[/bold] customers "
        f"(and {report.organizations_created} employers as organisations) in {seconds:.1f} s "
        f"({report.rows / max(seconds, 1e-9):,.0f} rows/s), the duplicate check on; "
        f"[yellow]{report.flagged}[/yellow] flagged as duplicates of a stored record; "
        f"{report.rejected} rejected"
    )
    again = import_file(store, path, id_column="Kundnr")
    console.print(
        f"the same file imported again: {again.imported} new, "
        f"{again.already_imported} already imported"
    )
    return report


def log_interactions(
    console: Console, store: SQLiteStore, folder: Path, *, count: int, seed: int
) -> ImportReport:
    """Step 2: a stream of emails, chats, web forms and calls, against the records they name."""
    _heading(console, 2, "Log the interactions: emails, chats, web forms, calls")
    with (folder / "kunder.csv").open(encoding="utf-8-sig", newline="") as handle:
        contacts = list(csv.DictReader(handle, delimiter=";"))
    path = folder / "interactions.csv"
    rows = interaction_rows(contacts, count, seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    def ingest() -> ImportReport:
        # A chat knows the customer number only: the contact import kept it.
        return import_file(
            store,
            path,
            entity="interactions",
            mapped=[("identifier", "customer_number")],
            participant_source="kunder.csv",
        )

    started = time.perf_counter()
    report = ingest()
    seconds = time.perf_counter() - started
    again = ingest()
    channels = collections.Counter(row["channel"] for row in rows)
    console.print(
        f"logged [bold]{report.imported}[/bold] interactions in {seconds:.1f} s "
        f"({', '.join(f'{n} {c}' for c, n in channels.most_common())}); "
        f"{report.rejected} named nobody stored"
    )
    console.print(f"the same file ingested again: {again.imported} new (idempotent by external id)")
    return report


# ------------------------------------------------------------------ step 3: duplicates


def _reasons(cluster: Cluster) -> list[str]:
    return sorted({e.field for pair in cluster.pairs for e in pair.evidence if e.score > 0.5})


def _review_report(store: SQLiteStore, result: DedupResult, path: Path, source_name: str) -> None:
    """The HTML review report of the store's duplicates (the CLI's report, over records)."""
    from crmcore.cli._report import write_report

    # The report names records by row: give each clustered record one.
    ids = sorted(
        {m for c in result.clusters for m in c.member_ids}
        | {i for p in result.possible_matches for i in (p.a, p.b)}
    )
    index = {record_id: str(n) for n, record_id in enumerate(ids)}
    records = store.customers.get_many(ids)
    header = ["id", "name", "emails", "phones", "city", "country", "Kundnr"]
    rows = []
    for record_id in ids:
        customer = records[CustomerId(record_id)]
        place = customer.addresses[0] if customer.addresses else None
        rows.append(
            [
                customer.id,
                customer.display_name,
                "; ".join(str(e.address) for e in customer.emails),
                "; ".join(p.number.e164 for p in customer.phones),
                (place.locality or "") if place else "",
                (place.country or "") if place else "",
                customer.identifiers.get("Kundnr", ""),
            ]
        )

    def renamed(pair: Any) -> Any:
        return attrs.evolve(pair, a=index[pair.a], b=index[pair.b])

    clusters = tuple(
        attrs.evolve(
            c,
            member_ids=tuple(index[m] for m in c.member_ids),
            pairs=tuple(renamed(p) for p in c.pairs),
        )
        for c in result.clusters
    )
    by_row = attrs.evolve(
        result,
        clusters=clusters,
        possible_matches=tuple(renamed(p) for p in result.possible_matches),
    )
    write_report(
        path,
        source_name=source_name,
        result=by_row,
        header=header,
        shown_columns=range(1, len(header)),
        rows=rows,
        label=lambda row: rows[int(row)][0],
        cluster_label=lambda cluster: cluster.id,
        limit=200,
    )


def show_duplicates(console: Console, store: SQLiteStore, folder: Path) -> DedupResult:
    """Step 3: the store's duplicates as a table with their reasons; the HTML review report."""
    from rich.table import Table

    _heading(console, 3, "Find the duplicates in the store, with reasons")
    result = find_duplicates(store)
    clustered = sum(len(c.member_ids) for c in result.clusters)
    console.print(
        f"{len(result.clusters)} clusters hold {clustered} of "
        f"{store.customers.count()} customers; {len(result.possible_matches)} more pairs "
        "are possible matches for a person to review"
    )
    table = Table(title="The weakest clusters (the first a person should look at)")
    for column in ("records", "confidence", "matched on", "names as stored"):
        table.add_column(column)
    weakest = sorted(result.clusters, key=lambda c: c.confidence)[:8]
    records = store.customers.get_many(m for c in weakest for m in c.member_ids)
    for cluster in weakest:
        colour = "green" if cluster.confidence >= MERGE_ABOVE else "yellow"
        names = " / ".join(records[CustomerId(m)].display_name for m in cluster.member_ids)
        table.add_row(
            str(len(cluster.member_ids)),
            f"[{colour}]{cluster.confidence:.3f}[/{colour}]",
            ", ".join(_reasons(cluster)),
            names,
        )
    console.print(table)
    report = folder / "review.html"
    _review_report(store, result, report, "kunder.csv")
    console.print(f"review report written: {report.name} ({report.stat().st_size:,} bytes)")
    return result


# ------------------------------------------------------------------ step 4: merge, convert


def merge_and_convert(
    console: Console, store: SQLiteStore, result: DedupResult
) -> tuple[BulkMergeResult, Lead]:
    """Step 4: merge the clusters above the threshold; convert a web lead who is a customer."""
    _heading(console, 4, f"Merge the clusters at or above {MERGE_ABOVE}; convert a web lead")
    before = store.customers.count()
    merged = merge_duplicates(store, result, min_confidence=MERGE_ABOVE)
    absorbed = sum(len(m.plan.merged_ids) for m in merged.merged)
    console.print(
        f"merged [bold]{len(merged.merged)}[/bold] clusters ({absorbed} records absorbed, "
        f"kept as tombstones); {len(merged.skipped)} left for review, "
        f"{len(merged.failed)} failed; {before} customer records stored"
    )
    # A shopper fills in the web form with an address a merged customer has
    # (any customer's, in a list too small to have duplicates).
    candidates = [m.survivor for m in merged.merged] + list(store.customers.iter_all())
    survivor = next(
        (c for c in candidates if isinstance(c, Customer) and c.emails and not c.merged_into),
        None,
    )
    if survivor is None:
        console.print("no customer has an email address: no web lead to convert")
        raise SystemExit("the demo needs customers with email addresses")
    email = str(survivor.emails[0].address).upper()
    lead = store.leads.add(
        Lead.create(name=survivor.display_name, emails=[email], source="web_form")
    )
    store.interactions.add(
        Interaction.log(
            channel=Channel.WEB_FORM,
            direction=Direction.INBOUND,
            occurred_at=datetime.now().astimezone(),
            lead_id=lead.id,
            subject="Fråga om storlek",
        )
    )
    for status in (LeadStatus.CONTACTED, LeadStatus.QUALIFIED):
        lead = store.leads.update(lead.transition_to(status))
    conversion = convert_lead(store, lead.id)
    found = "a new customer" if conversion.created else "the existing customer it matched"
    console.print(f"web lead converted into {found}: {conversion.customer.id}")
    same = convert_lead(store, lead.id).customer.id == conversion.customer.id
    console.print(f"converting it again returns the same customer: {same}")
    return merged, store.leads.get(lead.id)


# ------------------------------------------------------------------ step 5: timeline, unmerge


def timeline_and_unmerge(console: Console, store: SQLiteStore, merged: BulkMergeResult) -> bool:
    """Step 5: a customer's timeline across merged records; undo a merge, lose nothing."""
    from rich.table import Table

    _heading(console, 5, "One customer's timeline across merged records; undo a merge")
    if not merged.merged:
        console.print("nothing was merged")
        return False

    def spread(outcome: MergeResult) -> int:
        page = timeline(store, outcome.survivor.id)
        return len({entry.record_id for entry in page.entries})

    chosen = max(merged.merged, key=lambda m: (spread(m), len(m.plan.merged_ids)))
    page = timeline(store, chosen.survivor.id)
    origins = {entry.record_id for entry in page.entries}
    table = Table(
        title=f"{chosen.survivor.id}: {len(page.entries)} interactions from {len(origins)} records"
    )
    for column in ("when (UTC)", "channel", "direction", "subject", "logged against"):
        table.add_column(column)
    for entry in page.entries:
        interaction = entry.interaction
        if interaction is None:  # the demo logs interactions only; an app's store has more
            continue
        table.add_row(
            interaction.occurred_at.strftime("%Y-%m-%d %H:%M"),
            interaction.channel.value,
            interaction.direction.value,
            interaction.subject or "",
            entry.record_id + ("" if entry.record_id == chosen.survivor.id else " (merged)"),
        )
    console.print(table)

    record = store.merges.get(chosen.merge_id)
    unmerge(store, chosen.merge_id)
    restored = [store.customers.get(r.id) for r in record.before.customers]
    exact = all(
        attrs.evolve(now, version=0, updated_at=then.updated_at) == attrs.evolve(then, version=0)
        for now, then in zip(restored, record.before.customers, strict=True)
    )
    # An interaction can name other people too (a family's shared mailbox), whom
    # later merges moved on their own: compare what this merge's records hold.
    ours = set(record.participant_ids)
    back = all(
        ours.intersection(store.interactions.get(i.id).record_ids)
        == ours.intersection(i.record_ids)
        for i in record.before.interactions
    )
    console.print(
        f"merge {chosen.merge_id} undone: {len(restored)} records restored exactly: {exact}; "
        f"{len(record.before.interactions)} interactions back on their records: {back}; "
        f"merged_into cleared: {all(c.merged_into is None for c in restored)}"
    )
    return exact and back


# ------------------------------------------------------------------ step 6: data out


def export_and_stats(console: Console, store: SQLiteStore, folder: Path) -> StoreStats:
    """Step 6: export the store and print its statistics."""
    from rich.table import Table

    _heading(console, 6, "Export the store; its statistics")
    path = folder / "export.jsonl"
    report = export_store(store, path)
    console.print(
        f"exported {path.name}: "
        + ", ".join(f"{kind} {n}" for kind, n in report.counts.items())
        + f" ({path.stat().st_size:,} bytes; crmcore.io.restore reads it back into an "
        "empty store)"
    )
    stats = store_stats(store)
    table = Table(title="crmcore stats")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("customer records", str(stats.customers))
    table.add_row("  of them merged away", str(stats.customers_merged))
    for group, counts in (
        ("kind ", stats.customers_by_kind),
        ("stage ", stats.customers_by_stage),
        ("lead ", stats.leads_by_status),
        ("channel ", stats.interactions_by_channel),
    ):
        for name, count in counts.items():
            if count:
                table.add_row(f"{group}{name}", str(count))
    table.add_row("interactions", str(stats.interactions))
    table.add_row("merges (undone)", f"{stats.merges} ({stats.merges_undone})")
    if stats.duplicates is not None:
        table.add_row("duplicates left: clusters", str(stats.duplicates.clusters))
        table.add_row("duplicates left: pairs to review", str(stats.duplicates.possible_pairs))
    console.print(table)
    return stats


# ------------------------------------------------------------------ the run


def _heading(console: Console, number: int, text: str) -> None:
    console.print()
    console.rule(f"[bold cyan]{number}. {text}", align="left")


@contextmanager
def _progress_bar(console: Console, label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback ``(done, total)`` drawing a bar with rows per second."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed or 0:,.0f} rows/s")

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@contextmanager
def _folder(keep: bool) -> Iterator[Path]:
    if keep:
        path = Path("crmcore-demo").resolve()
        shutil.rmtree(path, ignore_errors=True)  # each run starts from an empty store
        path.mkdir()
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="crmcore-demo-") as folder:
        yield Path(folder)


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> None:
    """Run the six steps and print what happens at each."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep ./crmcore-demo/ afterwards")
    parser.add_argument("--rows", type=_count, default=3_000, help="contact rows (default 3000)")
    parser.add_argument("--interactions", type=_count, default=1_500, help="default 1500")
    parser.add_argument("--seed", type=int, default=0, help="the data's seed (default 0)")
    args = parser.parse_args(argv)
    try:
        from rich.console import Console
    except ImportError:  # pragma: no cover - make demo installs the cli extra
        sys.exit("the demo prints with rich: pip install 'crmcore[cli]'")
    console = Console(highlight=False)
    started = time.perf_counter()
    with _folder(args.keep) as folder:
        path = folder / "crm.db"
        with SQLiteStore(path, key_function=blocking_keys) as store:
            console.print(f"[bold]crmcore demo[/bold]: a web shop's CRM in {path}")
            generate_and_import(console, store, folder, rows=args.rows, seed=args.seed)
            log_interactions(console, store, folder, count=args.interactions, seed=args.seed)
            result = show_duplicates(console, store, folder)
            merged, _ = merge_and_convert(console, store, result)
            timeline_and_unmerge(console, store, merged)
            export_and_stats(console, store, folder)
        console.print()
        kept = f"; files kept in {folder}" if args.keep else ""
        console.print(f"[bold]done[/bold] in {time.perf_counter() - started:.1f} s{kept}")


if __name__ == "__main__":
    main()
