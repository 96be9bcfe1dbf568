"""The review report: one self-contained HTML page, every value escaped."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path

from crmcore.dedup.results import Cluster, DedupResult, ScoredPair

__all__ = ["write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1f2328;
background:#fff}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin:0 0 .5rem}
.summary{color:#57606a;margin-bottom:1.5rem}
section.cluster{border:1px solid #d0d7de;border-radius:6px;padding:1rem;margin:0 0 1.25rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.same{background:#dafbe1}
.reason{font-size:.85rem;margin:.25rem 0}
.score{font-weight:600}
.ev{display:inline-block;background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;
padding:0 .3rem;margin:0 .2rem .2rem 0}
.note{color:#57606a;font-size:.85rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pair_html(pair: ScoredPair, label: Callable[[str], str]) -> str:
    evidence = "".join(
        '<span class="ev">'
        + _e(f"{ev.field}: {ev.method} {ev.score:.2f}")
        + (_e(f" (clause {ev.clause})") if ev.clause else "")
        + (_e(f" weight {ev.weight:+.2f}") if ev.weight else "")
        + "</span>"
        for ev in pair.evidence
    )
    return (
        '<p class="reason">'
        f"{_e(label(pair.a))} ~ {_e(label(pair.b))}: "
        f'<span class="score">{pair.score:.3f}</span> '
        f"({_e(pair.decision.value)}) {evidence}</p>"
    )


def _records_table(
    members: Sequence[str],
    label: Callable[[str], str],
    header: Sequence[str],
    shown: Sequence[int],
    rows: Sequence[Sequence[str]],
) -> str:
    parts = ["<table><tr><th>column</th>"]
    parts.extend(f"<th>{_e(label(m))}</th>" for m in members)
    parts.append("</tr>")
    for col in shown:
        values = [rows[int(m)][col] for m in members]
        folded = {v.strip().casefold() for v in values}
        same = len(folded) == 1 and "" not in folded
        cls = ' class="same"' if same else ""
        parts.append(f"<tr><th>{_e(header[col])}</th>")
        parts.extend(f"<td{cls}>{_e(v)}</td>" for v in values)
        parts.append("</tr>")
    parts.append("</table>")
    return "".join(parts)


def write_report(
    path: Path,
    *,
    source_name: str,
    result: DedupResult,
    header: Sequence[str],
    shown_columns: Sequence[int],
    rows: Sequence[Sequence[str]],
    label: Callable[[str], str],
    cluster_label: Callable[[Cluster], str],
    limit: int,
) -> None:
    """Write the review page: clusters weakest first, then pairs left for review.

    ``label`` turns a record id into what a person recognises (the row number or
    the row's id); ``limit`` caps the clusters and pairs shown, so that a huge
    file still gives a page a browser opens.
    """
    clusters = sorted(result.clusters, key=lambda c: (c.confidence, len(c.member_ids)))
    shown = clusters[:limit]
    records = sum(len(c.member_ids) for c in result.clusters)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>crmcore dedupe report: {_e(source_name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Duplicate review: {_e(source_name)}</h1>",
        f'<p class="summary">{len(result.clusters)} clusters hold {records} records judged '
        "to be duplicates. Weakest clusters come first; cells equal across a cluster are "
        "green. Each line under a cluster is one pair of records, its score and the "
        "comparisons behind it.</p>",
    ]
    if len(clusters) > limit:
        out.append(f'<p class="note">Showing the {limit} weakest of {len(clusters)} clusters.</p>')
    for cluster in shown:
        members = sorted(cluster.member_ids, key=int)
        out.append('<section class="cluster">')
        out.append(
            f"<h2>Cluster {_e(cluster_label(cluster))} &middot; {len(members)} records "
            f"&middot; confidence {cluster.confidence:.3f}</h2>"
        )
        out.append(_records_table(members, label, header, shown_columns, rows))
        out.extend(_pair_html(p, label) for p in cluster.pairs)
        out.append("</section>")
    possible = sorted(result.possible_matches, key=lambda p: -p.score)
    if possible:
        out.append("<h1>Possible matches, not merged</h1>")
        out.append(
            '<p class="summary">Pairs that scored in the review band: they are in different '
            "clusters in the output. Decide for each whether it is one entity.</p>"
        )
        if len(possible) > limit:
            out.append(f'<p class="note">Showing the {limit} strongest of {len(possible)}.</p>')
        for pair in possible[:limit]:
            out.append('<section class="cluster">')
            out.append(_records_table([pair.a, pair.b], label, header, shown_columns, rows))
            out.append(_pair_html(pair, label))
            out.append("</section>")
    out.append("</body></html>")
    path.write_text("\n".join(out), encoding="utf-8")
