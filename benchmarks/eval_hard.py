"""``crmcore dedupe`` on harder CRM exports: quality overall and per kind, against two baselines.

Generates files with ``benchmarks/datagen_hard.py`` (one phenomenon per
duplicate group, named in its ``kind`` column), runs the real command as a
reader of docs/cli.md would (``python -m crmcore.cli dedupe FILE --output OUT
--quiet --id-column record_id --map ...``; ``entity_id`` and ``kind`` are never
mapped, so the command cannot read them), and in the same run scores two naive
baselines on the same rows:

- ``email|phone``: union of rows sharing a normalised email (trimmed,
  casefolded) or a normalised phone (E.164 through phonenumbers in the row's
  country, else its digits);
- ``name+phone|addr``: union of rows with the same normalised name (folded,
  casefolded, punctuation dropped; the company for rows with no person name)
  and either the same normalised phone or the same normalised street and
  postcode.

Quality is pairwise: the true pairs are pairs of rows sharing an ``entity_id``.
Per kind, a true pair's kind is its entity's kind; recall is over those pairs,
and precision counts against a kind every false-positive pair with a row of that
kind (a pair between two kinds counts against both). False positives are also
tabulated by the pair of kinds they joined. ``overall`` includes the entities
with hundreds of rows (whose pairs outnumber the rest); ``w/o big`` leaves
their pairs out.

Time is the wall clock of the command, CPU its and its workers' (``os.wait4``);
peak memory is that of the command's whole process tree, the parent and its
workers together (proportional set size, sampled; the largest single process's
``ru_maxrss`` is printed beside it), as ``benchmarks/measure.py`` describes.

Failing pairs are printed with every letter and digit enciphered (one fixed
substitution for the whole run, so equal values stay equal and differences stay
visible); honorifics, suffixes, legal forms, street types, role mailboxes and
free-mail domains are shown as they are, since they are what matching reads.

Run: ``.venv/bin/python benchmarks/eval_hard.py [--sizes 20000 50000] [--seed 7] [--samples 3]``;
at scale, ``--sizes 500000 --keep DIR`` (generating the file takes minutes; a kept one is reused).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import random
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import phonenumbers

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks.*`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.datagen_hard import COLUMNS, generate, write_csv  # noqa: E402
from benchmarks.measure import run_measured  # noqa: E402

MAP_ARGS = (
    "--id-column", "record_id",
    "--map", "name=Name",
    "--map", "given_name=First Name",
    "--map", "family_name=Last Name",
    "--map", "email=Email",
    "--map", "phone=Phone",
    "--map", "company=Company",
    "--map", "address=Street",
    "--map", "postcode=Postcode",
    "--map", "city=City",
    "--map", "country=Country",
)  # fmt: skip
FIELDS = COLUMNS[3:]
"""The columns the matcher reads (the truth columns come first and are never mapped)."""
BIG = ("big_person", "big_org")
_REGION_OF = {
    "se": "SE", "sweden": "SE", "sverige": "SE", "de": "DE", "germany": "DE", "deutschland": "DE",
    "nl": "NL", "netherlands": "NL", "nederland": "NL", "id": "ID", "indonesia": "ID",
    "gb": "GB", "united kingdom": "GB", "uk": "GB", "us": "US", "united states": "US", "usa": "US",
}  # fmt: skip


def _c2(n: int) -> int:
    return n * (n - 1) // 2


# --- running the command ------------------------------------------------------------


def run_cli(source: Path, output: Path) -> dict[str, float]:
    """Run ``crmcore dedupe`` on ``source``; wall, CPU, peak memory of its process tree."""
    command = [
        sys.executable,
        "-m",
        "crmcore.cli",
        "dedupe",
        str(source),
        "--output",
        str(output),
        "--quiet",
        *MAP_ARGS,
    ]
    done = run_measured(command)
    if done.returncode != 0:
        raise SystemExit(f"crmcore dedupe failed ({done.returncode}): {done.stderr.strip()}")
    return {
        "wall_s": done.wall,
        "cpu_s": done.cpu,
        "peak_pss_mb": done.peak_pss_mb,
        "peak_rss_sum_mb": done.peak_rss_sum_mb,
        "peak_rss_mb": done.max_rss_mb,
        "load": done.load,
        "warnings": done.stderr.count("\n"),
    }


# --- baselines ----------------------------------------------------------------------


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def _norm_words(text: str) -> str:
    return " ".join(re.findall(r"\w+", _fold(text)))


def _norm_phone(cell: str, country: str) -> str:
    cell = cell.strip()
    if not cell:
        return ""
    region = _REGION_OF.get(country.strip().casefold())
    try:
        number = phonenumbers.parse(cell, region)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", cell)


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join_groups(self, groups: Iterable[list[int]]) -> None:
        for members in groups:
            root = self.find(members[0])
            for j in members[1:]:
                other = self.find(j)
                if other != root:
                    self.parent[other] = root

    def labels(self) -> list[int]:
        return [self.find(i) for i in range(len(self.parent))]


def _grouped(keys: Iterable[tuple[int, str]]) -> Iterable[list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in keys:
        if key:
            groups[key].append(i)
    return (g for g in groups.values() if len(g) > 1)


def baselines(rows: Sequence[dict[str, str]]) -> dict[str, list[int]]:
    """Cluster labels of the two naive rules."""
    emails = [r["Email"].strip().casefold() for r in rows]
    phones = [_norm_phone(r["Phone"], r["Country"]) for r in rows]
    names = []
    for r in rows:
        person = _norm_words(r["Name"]) or _norm_words(f"{r['First Name']} {r['Last Name']}")
        names.append(
            person or ("org " + _norm_words(r["Company"]) if _norm_words(r["Company"]) else "")
        )
    addresses = [
        (_norm_words(r["Street"]) + "|" + re.sub(r"\s", "", r["Postcode"].casefold()))
        if r["Street"].strip()
        else ""
        for r in rows
    ]
    first = _Union(len(rows))
    first.join_groups(_grouped(enumerate(emails)))
    first.join_groups(_grouped(enumerate(phones)))
    second = _Union(len(rows))
    second.join_groups(
        _grouped(
            (i, f"{n}|{p}") for i, (n, p) in enumerate(zip(names, phones, strict=True)) if n and p
        )
    )
    second.join_groups(
        _grouped(
            (i, f"{n}|{a}")
            for i, (n, a) in enumerate(zip(names, addresses, strict=True))
            if n and a
        )
    )
    return {"email|phone": first.labels(), "name+phone|addr": second.labels()}


# --- scoring ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Figures:
    """Precision, recall and F1 of one system on one kind (or overall), with its errors."""

    precision: float
    recall: float
    f1: float
    missed: int
    false_positive: int


def figures(correct: int, true: int, false_positive: int) -> Figures:
    """Pairwise figures from pair counts."""
    predicted = correct + false_positive
    p = correct / predicted if predicted else 1.0
    r = correct / true if true else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return Figures(p, r, f, true - correct, false_positive)


@dataclasses.dataclass(frozen=True)
class Scores:
    """Pair counts of one clustering against the truth, per kind."""

    true: Counter[str]  # true pairs, by the kind of their entity
    correct: Counter[str]  # true pairs predicted
    false_positive: Counter[str]  # false-positive pairs with a row of the kind
    fp_pairs: Counter[tuple[str, str]]  # false-positive pairs by the (sorted) kinds they joined

    def overall(self, exclude: Sequence[str] = ()) -> Figures:
        """All kinds together, optionally without the pairs of some kinds."""
        true = sum(v for k, v in self.true.items() if k not in exclude)
        correct = sum(v for k, v in self.correct.items() if k not in exclude)
        fp = sum(v for (a, b), v in self.fp_pairs.items() if a not in exclude and b not in exclude)
        return figures(correct, true, fp)

    def kind(self, k: str) -> Figures:
        """One kind."""
        return figures(self.correct[k], self.true[k], self.false_positive[k])


def score(entity: Sequence[str], kind: Sequence[str], predicted: Sequence[object]) -> Scores:
    """Pairwise counts overall and per kind, without listing pairs."""
    kind_of_entity = dict(zip(entity, kind, strict=True))
    true_by_kind: Counter[str] = Counter()
    for e, n in Counter(entity).items():
        true_by_kind[kind_of_entity[e]] += _c2(n)
    clusters: dict[object, list[int]] = defaultdict(list)
    for i, c in enumerate(predicted):
        clusters[c].append(i)
    correct_by_kind: Counter[str] = Counter()
    fp_by_kind: Counter[str] = Counter()
    fp_by_pair: Counter[tuple[str, str]] = Counter()
    for members in clusters.values():
        if len(members) < 2:
            continue
        per_kind = Counter(kind[i] for i in members)
        same_entity_by_kind: Counter[str] = Counter()
        for e, n in Counter(entity[i] for i in members).items():
            same_entity_by_kind[kind_of_entity[e]] += _c2(n)
        correct_by_kind.update(same_entity_by_kind)
        kinds = sorted(per_kind)
        for x, a in enumerate(kinds):
            within = _c2(per_kind[a]) - same_entity_by_kind[a]
            if within:
                fp_by_pair[(a, a)] += within
                fp_by_kind[a] += within
            for b in kinds[x + 1 :]:
                cross = per_kind[a] * per_kind[b]
                fp_by_pair[(a, b)] += cross
                fp_by_kind[a] += cross
                fp_by_kind[b] += cross
    return Scores(true_by_kind, correct_by_kind, fp_by_kind, fp_by_pair)


# --- anonymised samples -------------------------------------------------------------

_KEEP_WORDS = """
dr prof mr mrs ms herr frau bapak bpk ibu dhr mevr ir drs jr sr ii iii junior
bv b v nv n ab a gmbh g m h ltd limited inc incorporated pt p t sp z o oo spółka s de c kg co u
tbk persero hb as e k kon koninklijke
street st road rd avenue ave av jalan jl jln gang gg no straße str strasse weg straat laan ln
gatan vägen vagen tel ext x
info sales kontakt office hello support order admin vertrieb verkoop contact cs
gmail googlemail com yahoo outlook aol hotmail btinternet telia gmx web online ziggo kpnmail
fastmail uk id se de nl us gb sweden sverige germany deutschland netherlands nederland
indonesia united kingdom states usa the familjen familie keluarga crm shop news newsletter orders
"""
_KEEP = {w.casefold() for w in _KEEP_WORDS.split()}
_SUFFIX_TYPES = (
    "gatan",
    "vägen",
    "vagen",
    "straße",
    "strasse",
    "str",
    "straat",
    "laan",
    "weg",
    "g",
    "v",
)


class Cipher:
    """One letter and digit substitution for the whole run; structural words stay readable."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.maps: list[tuple[int, int, list[int]]] = []
        # Upper case follows lower case (a capitalised name and its email stay alike).
        blocks = (
            (0x61, 0x7A),
            (0x30, 0x39),
            (0x430, 0x44F),
            (0x3B1, 0x3C9),
            (0x621, 0x64A),
            (0x4E00, 0x9FA5),
        )
        for start, end in blocks:
            span = list(range(start, end + 1))
            shuffled = span[:]
            if start == 0x30:  # 0 stays 0: trunk prefixes (070, 020) stay readable
                rest = shuffled[1:]
                rng.shuffle(rest)
                shuffled = [0x30, *rest]
            else:
                rng.shuffle(shuffled)
            self.maps.append((start, end, shuffled))

    def _char(self, ch: str) -> str:
        if ch.isupper() and ch.lower() != ch:
            return self._char(ch.lower()).upper()
        cp = ord(ch)
        for start, end, table in self.maps:
            if start <= cp <= end:
                return chr(table[cp - start])
        return ch

    def _word(self, word: str) -> str:
        if word.casefold() in _KEEP:
            return word
        folded = word.casefold()
        for suffix in _SUFFIX_TYPES:
            if len(folded) > len(suffix) + 2 and folded.endswith(suffix):
                return self._plain(word[: -len(suffix)]) + word[-len(suffix) :]
        return self._plain(word)

    def _plain(self, text: str) -> str:
        out = []
        for ch in unicodedata.normalize("NFD", text):
            out.append(self._char(ch))
        return unicodedata.normalize("NFC", "".join(out))

    def phone(self, text: str) -> str:
        """A phone cell enciphered, its country code (after ``+`` or ``00``) kept."""
        match = re.match(r"^(\s*(?:tel:)?(?:\+|00)(?:46|49|31|62|44|1))", text)
        if not match:
            match = re.match(r"^((?:46|49|31|62|44)(?=\d{8}))", text)
        keep = match.group(1) if match else ""
        return keep + self.cell(text[len(keep) :])

    def cell(self, text: str) -> str:
        """``text`` enciphered word by word."""
        return "".join(
            self._word(p) if p and re.match(r"\w", p) else p for p in re.split(r"(\w+)", text)
        )


def _sample_pairs(
    rng: random.Random,
    kind_name: str,
    entity: Sequence[str],
    kind: Sequence[str],
    predicted: Sequence[object],
    missed: int,
    false_pos: int,
    n: int,
) -> list[tuple[str, int, int]]:
    """Up to ``n`` failing pairs of one kind: missed pairs and false positives, in proportion."""
    rows_of_entity: dict[str, list[int]] = defaultdict(list)
    cluster_rows: dict[object, list[int]] = defaultdict(list)
    for i, (e, c) in enumerate(zip(entity, predicted, strict=True)):
        if kind[i] == kind_name:
            rows_of_entity[e].append(i)
        cluster_rows[c].append(i)
    fn_candidates: list[tuple[int, int]] = []
    for members in rows_of_entity.values():
        split = [
            (a, b)
            for x, a in enumerate(members)
            for b in members[x + 1 :]
            if predicted[a] != predicted[b]
        ]
        if split:
            fn_candidates.append(rng.choice(split))
    fp_candidates: list[tuple[int, int]] = []
    for members in cluster_rows.values():
        mine = [i for i in members if kind[i] == kind_name]
        if not mine or len(members) < 2:
            continue
        for _ in range(3):
            a = rng.choice(mine)
            others = [j for j in members if entity[j] != entity[a]]
            if others:
                fp_candidates.append((a, rng.choice(others)))
                break
    total = missed + false_pos
    want_fp = round(n * false_pos / total) if total else 0
    if missed and want_fp == n and n > 1:
        want_fp = n - 1
    if false_pos and want_fp == 0:
        want_fp = 1
    picks = [
        ("false positive", a, b)
        for a, b in rng.sample(fp_candidates, min(want_fp, len(fp_candidates)))
    ]
    picks += [
        ("missed", a, b)
        for a, b in rng.sample(fn_candidates, min(n - len(picks), len(fn_candidates)))
    ]
    return picks


def _show(row: dict[str, str], cipher: Cipher) -> str:
    parts = [
        f"{f}={(cipher.phone(row[f]) if f == 'Phone' else cipher.cell(row[f]))!r}"
        for f in FIELDS
        if row[f].strip()
    ]
    return ", ".join(parts)


# --- the run ------------------------------------------------------------------------


def read_output(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file (the command's output, or a kept input)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _fmt(f: Figures) -> str:
    return f"P {f.precision:.3f} R {f.recall:.3f} F1 {f.f1:.3f}"


def evaluate(
    size: int, seed: int, tmp: Path, samples: int, top: int, *, reuse: bool = False
) -> dict[str, object]:
    """Generate (or, with ``reuse``, read a kept file), run, score and print one size."""
    source, output = tmp / f"hard_{size}_seed{seed}.csv", tmp / f"hard_{size}_out.csv"
    if reuse and source.exists():  # a kept file of this size and seed: the same rows
        rows = read_output(source)
    else:
        rows = generate(size, seed=seed)
        write_csv(source, rows)
    timing = run_cli(source, output)
    out = read_output(output)
    if [r["record_id"] for r in out] != [r["record_id"] for r in rows]:
        raise SystemExit("the output's rows are not the input's, in order")
    entity = [r["entity_id"] for r in rows]
    kind = [r["kind"] for r in rows]
    start = time.perf_counter()
    labels: dict[str, Sequence[object]] = {
        "crmcore": [r["cluster_id"] for r in out],
        **baselines(rows),
    }
    baseline_s = time.perf_counter() - start
    scores = {name: score(entity, kind, lab) for name, lab in labels.items()}

    line = [f"{len(rows):>6} rows:"]
    for name, s in scores.items():
        line.append(f"{name} {_fmt(s.overall())} (w/o big: {_fmt(s.overall(BIG))}) |")
    line.append(
        f"wall {timing['wall_s']:.1f} s, cpu {timing['cpu_s']:.1f} s, "
        f"peak tree PSS {timing['peak_pss_mb']:.0f} MB "
        f"(largest process {timing['peak_rss_mb']:.0f} MB), "
        f"load {timing['load']:.1f}; baselines {baseline_s:.1f} s"
    )
    print(" ".join(line), flush=True)

    rows_by_kind = Counter(kind)
    entities_by_kind = Counter(k for _, k in set(zip(entity, kind, strict=True)))
    crm = scores["crmcore"]
    print(f"\nper kind at {len(rows)} rows (P R F1; missed and false-positive pairs for crmcore)")
    header = (
        f"{'kind':<26}{'rows':>6}{'ents':>6}{'pairs':>7} | {'crmcore P   R     F1':<20}"
        f"{'miss':>7}{'fp':>7} | {'email|phone':<18} | {'name+phone|addr':<18}"
    )
    print(header)
    print("-" * len(header))
    table: dict[str, dict[str, object]] = {}
    for k in sorted(rows_by_kind):
        mine, b1, b2 = (s.kind(k) for s in scores.values())
        table[k] = {
            "rows": rows_by_kind[k],
            "entities": entities_by_kind[k],
            "true_pairs": crm.true[k],
            **{name: dataclasses.asdict(s.kind(k)) for name, s in scores.items()},
        }
        print(
            f"{k:<26}{rows_by_kind[k]:>6}{entities_by_kind[k]:>6}{crm.true[k]:>7} | "
            f"{mine.precision:.3f} {mine.recall:.3f} {mine.f1:.3f}  "
            f"{mine.missed:>7}{mine.false_positive:>7} | "
            f"{b1.precision:.3f} {b1.recall:.3f} {b1.f1:.3f} | "
            f"{b2.precision:.3f} {b2.recall:.3f} {b2.f1:.3f}"
        )
    joined = len(crm.fp_pairs)
    print(f"\ncrmcore false-positive pairs by the kinds they joined (top {top} of {joined})")
    for (a, b), n in crm.fp_pairs.most_common(top):
        print(f"  {n:>7}  {a} + {b}")

    failing = [k for k in rows_by_kind if crm.true[k] or crm.false_positive[k]]
    # F1 ranks the kinds with true pairs; a trap of singletons has none, so any false
    # positive would put it at F1 0: those are listed by their false positives instead.
    ranked = [k for k in failing if crm.true[k]]
    by_f1 = sorted(ranked, key=lambda k: (crm.kind(k).f1, -crm.kind(k).missed))
    print("\nkinds where crmcore loses most, by F1 (ties: wrong pairs):")
    for k in by_f1[:top]:
        c = crm.kind(k)
        print(f"  {k:<26} F1 {c.f1:.3f}  missed {c.missed}  false positives {c.false_positive}")
    for k in sorted(set(failing) - set(ranked)):
        print(f"  {k:<26} (no true pairs) false positives {crm.kind(k).false_positive}")
    print("kinds with most wrong pairs (missed + false positive):")
    wrong = {k: crm.kind(k).missed + crm.kind(k).false_positive for k in failing}
    for k, n in sorted(wrong.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {k:<26} {n}")

    cipher = Cipher(seed)
    rng = random.Random(seed)
    confidence = [r.get("match_confidence", "") for r in out]
    print(f"\nsample failing pairs (anonymised), {samples} per kind, for the {top} lowest-F1 kinds")
    sampled: dict[str, list[dict[str, str]]] = {}
    for k in by_f1[:top]:
        c = crm.kind(k)
        picks = _sample_pairs(
            rng, k, entity, kind, labels["crmcore"], c.missed, c.false_positive, samples
        )
        print(f"  {k}:")
        sampled[k] = []
        for what, i, j in picks:
            same = "same cluster" if labels["crmcore"][i] == labels["crmcore"][j] else "apart"
            print(
                f"    {what} ({same}; kinds {kind[i]} / {kind[j]}; "
                f"confidence {confidence[i] or '-'} / {confidence[j] or '-'})"
            )
            print(f"      a: {_show(rows[i], cipher)}")
            print(f"      b: {_show(rows[j], cipher)}")
            sampled[k].append(
                {"what": what, "a": _show(rows[i], cipher), "b": _show(rows[j], cipher)}
            )
    print(flush=True)
    return {
        "rows": len(rows),
        "timing": timing,
        "overall": {name: dataclasses.asdict(s.overall()) for name, s in scores.items()},
        "overall_without_big": {
            name: dataclasses.asdict(s.overall(BIG)) for name, s in scores.items()
        },
        "per_kind": table,
        "false_positive_kind_pairs": {f"{a} + {b}": n for (a, b), n in crm.fp_pairs.most_common()},
        "samples": sampled,
    }


def main() -> None:
    """Run the evaluation and print its figures."""
    parser = argparse.ArgumentParser(description="crmcore dedupe on harder CRM exports, per kind")
    parser.add_argument("--sizes", type=int, nargs="*", default=[20_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", type=int, default=3, help="failing pairs shown per kind")
    parser.add_argument("--top", type=int, default=5, help="kinds shown in the loss rankings")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the generated and output files in this directory, and reuse a generated "
        "file kept there before (generating 500,000 rows takes minutes)",
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="crmcore-hard-") as name:
        tmp = args.keep or Path(name)
        tmp.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            results.append(
                evaluate(size, args.seed, tmp, args.samples, args.top, reuse=args.keep is not None)
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
