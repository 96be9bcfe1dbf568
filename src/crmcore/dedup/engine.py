"""The matching engine: batch deduplication and the on-create duplicate check."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from crmcore.customers import Customer
from crmcore.dedup.records import MatchRecord, RecordType
from crmcore.dedup.results import Cluster, Decision, DedupResult, Evidence, Match, ScoredPair
from crmcore.dedup.rules import FieldRule, Frequency, Rule, RuleSet, default_rules
from crmcore.errors import DuplicateRecord, ValidationError
from crmcore.leads import Lead

__all__ = [
    "DuplicatePolicy",
    "Progress",
    "blocking_keys",
    "candidate_pairs",
    "check_duplicates",
    "find_duplicates",
    "guard_duplicates",
    "lookup_keys",
]

Progress = Callable[[str, int, int], None]
"""A progress callback: ``(stage, done, total)``; stages are load, prepare, block, score, cluster."""

AnyRecord = Customer | Lead | MatchRecord

_BATCH = 1_000


class _Repository(Protocol):
    def iter_all(self, *, batch_size: int = ...) -> Iterable[Any]: ...


def _iter_records(source: Any) -> Iterator[MatchRecord]:
    customers = getattr(source, "customers", None)
    leads = getattr(source, "leads", None)
    if customers is not None and hasattr(customers, "iter_all"):
        for repo in (customers, leads):
            if repo is not None and hasattr(repo, "iter_all"):
                for record in repo.iter_all(batch_size=_BATCH):
                    yield MatchRecord.from_record(record)
        return
    for record in source:
        yield MatchRecord.from_record(record)


def _compatible(a: RecordType, b: RecordType) -> bool:
    # People and organisations are never one entity; a lead may be either.
    return {a, b} != {RecordType.PERSON, RecordType.ORGANIZATION}


class _Scorer:
    """Per-record prepared features and the pair-scoring hot loop."""

    def __init__(self, rules: RuleSet, records: Sequence[MatchRecord]) -> None:
        self.rules = rules
        self.records = records
        self.fast: list[tuple[int, FieldRule[Any], list[Any]]] = []
        self.slow: list[tuple[int, Rule]] = []
        for index, rule in enumerate(rules.rules):
            if isinstance(rule, FieldRule):
                self.fast.append((index, rule, [rule.prepare(r) for r in records]))
            else:
                self.slow.append((index, rule))
        self.frequency: Frequency = lambda _key: 1

    def keys(self, i: int) -> list[str]:
        out: list[str] = []
        for _, rule, features in self.fast:
            f = features[i]
            if f is not None:
                out.extend(rule.keys(f))
        for _, rule in self.slow:
            out.extend(rule.blocking_keys(self.records[i]))
        return out

    def weigh(self, i: int, j: int) -> tuple[float, list[tuple[int, float, float, str]]]:
        """Total weight of a pair and its raw per-rule results."""
        total = 0.0
        parts: list[tuple[int, float, float, str]] = []
        frequency = self.frequency
        for index, rule, features in self.fast:
            fa = features[i]
            if fa is None:
                continue
            fb = features[j]
            if fb is None:
                continue
            score, weight, method = rule.weigh(fa, fb, frequency)
            total += weight
            parts.append((index, score, weight, method))
        for index, slow_rule in self.slow:
            ev = slow_rule.compare(self.records[i], self.records[j])
            if ev is not None:
                total += ev.weight
                parts.append((index, ev.score, ev.weight, ev.method))
        return total, parts

    def evidence(self, parts: list[tuple[int, float, float, str]]) -> list[Evidence]:
        out = []
        for index, score, weight, method in parts:
            rule = self.rules.rules[index]
            field = getattr(rule, "field", "") or rule.name
            out.append(Evidence(rule.name, field, method, round(score, 4), round(weight, 3)))
        return out

    def decide(self, i: int, j: int) -> tuple[float, Decision, list[tuple[int, float, float, str]]]:
        total, parts = self.weigh(i, j)
        score = self.rules.probability(total)
        if self.rules.clauses:
            scores = {self.rules.rules[p[0]].name: p[1] for p in parts}
            for clause in self.rules.clauses:
                if clause.fires(scores):
                    return score, clause.decision, parts
        return score, self.rules.threshold(score), parts

    def scored_pair(self, i: int, j: int) -> ScoredPair:
        _, parts = self.weigh(i, j)
        final, decision, evidence = self.rules.decide(self.evidence(parts))
        return ScoredPair(self.records[i].id, self.records[j].id, final, decision, evidence)


class _Clusters:
    """Union-find over record indices that refuses unions joining clearly different records."""

    def __init__(self, n: int, scorer: _Scorer, cannot: set[int], budget: int = 400) -> None:
        self.parent = list(range(n))
        self.members: dict[int, list[int]] = {}
        self.n = n
        self.scorer = scorer
        self.cannot = cannot
        self.budget = budget
        self.known: dict[int, float] = {}
        self.refused = 0

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def _clearly_differ(self, x: int, y: int) -> bool:
        key = x * self.n + y if x < y else y * self.n + x
        if key in self.cannot:
            return True
        score = self.known.get(key)
        if score is None:
            score, _, _ = self.scorer.decide(min(x, y), max(x, y))
            self.known[key] = score
        return score < self.scorer.rules.cannot_link

    def union(self, i: int, j: int) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return True
        a = self.members.get(ri, [ri])
        b = self.members.get(rj, [rj])
        if len(a) * len(b) <= self.budget:
            for x in a:
                for y in b:
                    if self._clearly_differ(x, y):
                        self.refused += 1
                        return False
        else:
            for x in a:
                for y in b:
                    key = x * self.n + y if x < y else y * self.n + x
                    if key in self.cannot:
                        self.refused += 1
                        return False
        if len(a) < len(b):
            ri, rj, a, b = rj, ri, b, a
        self.parent[rj] = ri
        self.members[ri] = a + b
        self.members.pop(rj, None)
        return True


def find_duplicates(
    records: Iterable[AnyRecord] | Any,
    rules: RuleSet | None = None,
    *,
    progress: Progress | None = None,
) -> DedupResult:
    """Find records that stand for the same person or organisation.

    Args:
        records: customers, leads or match records, or a store (anything with
            ``customers.iter_all`` and ``leads.iter_all``).
        rules: the rule set; :func:`~crmcore.dedup.default_rules` when omitted.
        progress: called as ``progress(stage, done, total)`` while working.

    Returns:
        Clusters of two or more records judged to be one entity (each record in
        at most one), pairs left for review, and statistics: ``records``,
        ``blocks``, ``oversized_blocks``, ``candidate_pairs``, ``matched_pairs``,
        ``possible_pairs``, ``refused_links`` (unions the chaining guard
        refused), ``clusters`` and ``seconds``.

    Raises:
        ValidationError: two input records share an id.
    """
    started = time.perf_counter()
    rules = rules or default_rules()
    report = progress or (lambda _stage, _done, _total: None)

    items: list[MatchRecord] = []
    for record in _iter_records(records):
        items.append(record)
        if len(items) % 10_000 == 0:
            report("load", len(items), 0)
    n = len(items)
    report("load", n, n)
    if len({r.id for r in items}) != n:
        raise ValidationError("records", "record ids must be unique")

    scorer = _Scorer(rules, items)
    report("prepare", n, n)

    candidates, index, blocks, oversized = _candidates(items, scorer, rules)
    total = len(candidates)
    types = [r.type for r in items]
    mixed = len(set(types)) > 1
    report("block", n, n)

    matched: list[tuple[float, int, int]] = []
    possible: list[tuple[float, int, int]] = []
    cannot: set[int] = set()
    cannot_link = rules.cannot_link
    done = 0
    for pair in candidates:
        i, j = divmod(pair, n)
        done += 1
        if done % 50_000 == 0:
            report("score", done, total)
        if mixed and not _compatible(types[i], types[j]):
            continue
        score, decision, _ = scorer.decide(i, j)
        if decision is Decision.MATCH:
            matched.append((score, i, j))
        elif decision is Decision.POSSIBLE:
            possible.append((score, i, j))
        elif score < cannot_link:
            cannot.add(pair)
    report("score", total, total)

    # Strongest links first, so a weak link cannot pull a cluster past a strong one.
    matched.sort(key=lambda t: (-t[0], t[1], t[2]))
    clusters = _Clusters(n, scorer, cannot)
    joined: list[tuple[int, int]] = []
    refused: list[tuple[float, int, int]] = []
    for score, i, j in matched:
        if clusters.union(i, j):
            joined.append((i, j))
        else:
            refused.append((score, i, j))
    report("cluster", len(matched), len(matched))

    by_root: dict[int, list[tuple[int, int]]] = {}
    for i, j in joined:
        by_root.setdefault(clusters.find(i), []).append((i, j))
    result_clusters = []
    for root, members in clusters.members.items():
        if clusters.find(root) != root or len(members) < 2:
            continue
        ordered_members = sorted(members)
        pairs = tuple(scorer.scored_pair(i, j) for i, j in by_root.get(root, []))
        result_clusters.append(
            (ordered_members[0], tuple(items[m].id for m in ordered_members), pairs)
        )
    result_clusters.sort()
    built = tuple(
        Cluster(f"cluster-{k + 1:06d}", ids, pairs)
        for k, (_, ids, pairs) in enumerate(result_clusters)
    )

    review = [
        scorer.scored_pair(i, j)
        for _, i, j in sorted(possible + refused, key=lambda t: (-t[0], t[1], t[2]))
        if clusters.find(i) != clusters.find(j)
    ]
    review = [p if p.decision is Decision.POSSIBLE else _as_possible(p, rules) for p in review]
    stats: dict[str, int | float] = {
        "records": n,
        "blocking_keys": len(index),
        "blocks": blocks,
        "oversized_blocks": oversized,
        "candidate_pairs": total,
        "matched_pairs": len(matched),
        "possible_pairs": len(review),
        "refused_links": len(refused),
        "clusters": len(built),
        "records_in_clusters": sum(len(c.member_ids) for c in built),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return DedupResult(built, tuple(review), stats)


def _candidates(
    items: Sequence[MatchRecord], scorer: _Scorer, rules: RuleSet
) -> tuple[set[int], dict[str, list[int]], int, int]:
    """Candidate pairs (``i * n + j``, ``i < j``), the key index, block and oversized counts."""
    n = len(items)
    index: dict[str, list[int]] = {}
    for i in range(n):
        for key in scorer.keys(i):
            bucket = index.get(key)
            if bucket is None:
                index[key] = [i]
            elif bucket[-1] != i:
                bucket.append(i)
    scorer.frequency = lambda key: len(index.get(key, ()))

    candidates: set[int] = set()
    oversized = 0
    blocks = 0
    limit = rules.max_block_size
    sort_keys: list[str] | None = None
    for bucket in index.values():
        size = len(bucket)
        if size < 2:
            continue
        blocks += 1
        if size <= limit:
            for a in range(size):
                i = bucket[a]
                base = i * n
                for b in range(a + 1, size):
                    candidates.add(base + bucket[b])
            continue
        # An oversized block (a switchboard number, a very common name): compare
        # each record only with its neighbours in name order.
        oversized += 1
        if sort_keys is None:
            sort_keys = [_sort_key(r) for r in items]
        ordered = sorted(bucket, key=sort_keys.__getitem__)
        for a in range(size):
            for b in range(a + 1, min(a + 1 + rules.window, size)):
                i, j = ordered[a], ordered[b]
                candidates.add(i * n + j if i < j else j * n + i)
    return candidates, index, blocks, oversized


def candidate_pairs(
    records: Iterable[AnyRecord] | Any, rules: RuleSet | None = None
) -> set[tuple[str, str]]:
    """The pairs of record ids blocking would compare (for measuring pairs-completeness)."""
    rules = rules or default_rules()
    items = list(_iter_records(records))
    scorer = _Scorer(rules, items)
    candidates, _, _, _ = _candidates(items, scorer, rules)
    n = len(items)
    out = set()
    for pair in candidates:
        i, j = divmod(pair, n)
        a, b = items[i].id, items[j].id
        out.add((a, b) if a < b else (b, a))
    return out


def _as_possible(pair: ScoredPair, rules: RuleSet) -> ScoredPair:
    # A link the chaining guard refused goes to a person instead of into a cluster.
    return ScoredPair(pair.a, pair.b, pair.score, Decision.POSSIBLE, pair.evidence)


def _sort_key(record: MatchRecord) -> str:
    from crmcore.dedup.normalize import organization_key, person_name_key

    if record.name is not None:
        return person_name_key(record.name)
    if record.organization:
        return organization_key(record.organization)
    return record.id


# --------------------------------------------------------------------------- on-create checks


def blocking_keys(record: AnyRecord, rules: RuleSet | None = None) -> list[str]:
    """Every blocking key of a customer, lead or match record under ``rules``.

    Stores index these keys (their ``key_function``) so that
    :func:`check_duplicates` finds candidates with one indexed lookup.
    """
    return (rules or default_rules()).blocking_keys(MatchRecord.from_record(record))


def lookup_keys(record: AnyRecord, rules: RuleSet | None = None) -> list[str]:
    """The selective subset of :func:`blocking_keys` that the on-create check looks up.

    Phonetic keys (those with ``~`` after the rule name) help batch runs find
    typos but match too many stored records to answer in milliseconds.
    """
    return [k for k in blocking_keys(record, rules) if "~" not in k.partition(":")[0]]


def check_duplicates(
    candidate: AnyRecord,
    store: Any,
    rules: RuleSet | None = None,
    *,
    include_leads: bool | None = None,
) -> list[Match]:
    """Stored records that ``candidate`` matches or may match, best first.

    Candidates come from the store's indexed ``find_by_keys`` lookups on the
    candidate's :func:`lookup_keys`; each is compared with the rules.
    Customers are checked against customers; leads against leads and customers
    (``include_leads`` overrides whether stored leads are searched). A stored
    record with the candidate's own id (an update) is skipped.
    """
    rules = rules or default_rules()
    record = MatchRecord.from_record(candidate)
    keys = [k for k in rules.blocking_keys(record) if "~" not in k.partition(":")[0]]
    if not keys:
        return []
    if include_leads is None:
        include_leads = record.type is RecordType.LEAD
    found: dict[str, MatchRecord] = {}
    repos = [store.customers, store.leads] if include_leads else [store.customers]
    for repo in repos:
        for stored in repo.find_by_keys(keys):
            other = MatchRecord.from_record(stored)
            if other.id != record.id and _compatible(record.type, other.type):
                found[other.id] = other
    if not found:
        return []
    # How many of the found records share each key: a switchboard number that
    # many stored people carry is discounted like in batch runs.
    counts: dict[str, int] = {}
    for other in found.values():
        for key in rules.blocking_keys(other):
            counts[key] = counts.get(key, 0) + 1
    matches = []
    for other in found.values():
        evidence = []
        for rule in rules.rules:
            if isinstance(rule, FieldRule):
                fa, fb = rule.prepare(record), rule.prepare(other)
                if fa is None or fb is None:
                    continue
                score, weight, method = rule.weigh(fa, fb, lambda k: counts.get(k, 0) + 1)
                evidence.append(
                    Evidence(rule.name, rule.field, method, round(score, 4), round(weight, 3))
                )
            else:
                ev = rule.compare(record, other)
                if ev is not None:
                    evidence.append(ev)
        score, decision, explained = rules.decide(evidence)
        if decision is not Decision.NON_MATCH:
            matches.append(Match(other.id, score, decision, explained))
    matches.sort(key=lambda m: (-m.score, m.record_id))
    return matches


class DuplicatePolicy(enum.Enum):
    """What to do when a record being created, updated or imported duplicates a stored one."""

    ALLOW = "allow"
    """Do not check."""
    ALERT = "alert"
    """Check and return the matches; the caller decides."""
    BLOCK = "block"
    """Check and refuse a record that MATCHes a stored one (possible matches are returned)."""


def guard_duplicates(
    candidate: AnyRecord,
    store: Any,
    *,
    policy: DuplicatePolicy = DuplicatePolicy.ALERT,
    rules: RuleSet | None = None,
    bypass: bool = False,
) -> list[Match]:
    """Apply a duplicate policy to a record about to be stored.

    Args:
        candidate: the customer or lead being created, updated or imported.
        store: the store to check against.
        policy: allow, alert or block.
        rules: the rule set; the default rules when omitted.
        bypass: skip the check explicitly (a person confirmed the record is new).

    Returns:
        The matches found (empty under ``ALLOW`` or with ``bypass``).

    Raises:
        DuplicateRecord: under ``BLOCK``, when a stored record is a MATCH;
            ``matches`` carries every match found.
    """
    if bypass or policy is DuplicatePolicy.ALLOW:
        return []
    matches = check_duplicates(candidate, store, rules)
    if policy is DuplicatePolicy.BLOCK and any(m.decision is Decision.MATCH for m in matches):
        count = sum(m.decision is Decision.MATCH for m in matches)
        raise DuplicateRecord(f"the record duplicates {count} stored record(s)", matches=matches)
    return matches
