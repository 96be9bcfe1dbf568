"""The matching engine: batch deduplication and the on-create duplicate check."""

from __future__ import annotations

import enum
import gc
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

import attrs

from crmcore.customers import Customer
from crmcore.dedup.normalize import organization_key, person_name_key
from crmcore.dedup.records import MatchRecord, RecordType
from crmcore.dedup.results import (
    Cluster,
    Decision,
    DedupResult,
    Evidence,
    Match,
    Matches,
    ScoredPair,
)
from crmcore.dedup.rules import (
    AddressRule,
    FieldRule,
    Frequency,
    Rule,
    RuleSet,
    default_rules,
)
from crmcore.errors import DuplicateDetected, ValidationError
from crmcore.leads import Lead
from crmcore.storage.keys import (
    NAME_PREFIXES,
    identifier_key,
    mailbox_index_key,
    phone_key,
    source_keys,
)
from crmcore.values import PersonName

__all__ = [
    "DuplicatePolicy",
    "Progress",
    "blocking_keys",
    "candidate_pairs",
    "check_duplicates",
    "find_duplicates",
    "guard_duplicates",
    "lookup_keys",
    "selective_keys",
]

Progress = Callable[[str, int, int], None]
"""A progress callback ``(stage, done, total)``; stages: load, prepare, block, score, cluster."""

AnyRecord = Customer | Lead | MatchRecord

_BATCH = 1_000
_Part = tuple[int, float, float, str]
_PARALLEL_PAIRS = 100_000
# At most this many records per key lookup on the on-create path: a switchboard
# number on thousands of stored records must not turn a check into a scan.
_CHECK_LIMIT = 100
_NAME_LIMIT = 10
_COMMON_NAME = 100


def _restricted(record: object) -> bool:
    # Art. 18: a restricted customer or lead is kept, but not processed, and
    # matching is processing. A MatchRecord carries no restriction: whoever
    # built it decided.
    return isinstance(record, Customer | Lead) and record.is_restricted


def _iter_records(source: Any) -> Iterator[MatchRecord]:
    customers = getattr(source, "customers", None)
    leads = getattr(source, "leads", None)
    if customers is not None and hasattr(customers, "iter_all"):
        for repo in (customers, leads):
            if repo is not None and hasattr(repo, "iter_all"):
                for record in repo.iter_all(batch_size=_BATCH):
                    if not _restricted(record):
                        yield MatchRecord.from_record(record)
        return
    # A string is iterable too, but its characters are never records.
    if isinstance(source, str | bytes) or not isinstance(source, Iterable):
        raise ValidationError("records", "must be customers, leads or match records, or a store")
    for i, record in enumerate(source):
        matched = _as_record(record, f"records[{i}]")
        if not _restricted(record):
            yield matched


def _as_record(record: Any, field: str) -> MatchRecord:
    if not isinstance(record, Customer | Lead | MatchRecord):
        raise ValidationError(field, "must be a customer, lead or match record")
    return MatchRecord.from_record(record)


def _rules(rules: Any) -> RuleSet:
    if rules is None:
        return default_rules()
    if not isinstance(rules, RuleSet):
        raise ValidationError("rules", "must be a RuleSet")
    return rules


def _kind(record: MatchRecord) -> RecordType:
    # A lead is a person when it names one, an organisation when it names only a company.
    if record.type is RecordType.LEAD:
        if record.name is not None:
            return RecordType.PERSON
        if record.organization:
            return RecordType.ORGANIZATION
    return record.type


def _compatible(a: RecordType, b: RecordType) -> bool:
    # People and organisations are never one entity; a bare lead may be either.
    return {a, b} != {RecordType.PERSON, RecordType.ORGANIZATION}


class _Counts(dict[str, int]):
    """How many records carry each blocking key; one for keys not listed."""

    def __missing__(self, key: str) -> int:
        return 1


class _Scorer:
    """Per-record prepared features and the pair-scoring hot loop."""

    def __init__(
        self,
        rules: RuleSet,
        records: Iterable[MatchRecord],
        loaded: Callable[[int], None] | None = None,
    ) -> None:
        """Prepare every record's features, reading ``records`` once.

        A record is kept only while rules that are not field rules need it
        (they compare whole records): with field rules alone, each record is
        dropped once its features, id, kind and sort name are taken, so that
        a caller that hands over records it no longer holds never has a
        million of them alive beside their features.
        """
        self.rules = rules
        self.fast: list[tuple[int, FieldRule[Any], list[Any]]] = []
        self.slow: list[tuple[int, Rule]] = []
        for index, rule in enumerate(rules.rules):
            if isinstance(rule, FieldRule):
                self.fast.append((index, rule, []))
            else:
                self.slow.append((index, rule))
        kept: list[MatchRecord] = []
        keep = kept.append if self.slow else None
        self.ids: list[str] = []
        self.kinds: list[RecordType] = []
        # What a record is ordered by in an oversized block (see sort_key).
        self._sort_names: list[PersonName | str | None] = []
        columns = [(rule.prepare, features.append) for _, rule, features in self.fast]
        add_id, add_kind, add_name = self.ids.append, self.kinds.append, self._sort_names.append
        for record in records:
            for prepare, add in columns:
                add(prepare(record))
            add_id(record.id)
            add_kind(_kind(record))
            add_name(record.name if record.name is not None else record.organization or None)
            if keep is not None:
                keep(record)
            if loaded is not None and len(self.ids) % 10_000 == 0:
                loaded(len(self.ids))
        self.records: Sequence[MatchRecord] = kept
        self.n = len(self.ids)
        self.frequency: Frequency = lambda _key: 1
        self.calls = [(rule.weigh, features) for _, rule, features in self.fast]
        # Which fast rules each record has a value for, as a bit mask; per mask,
        # the rules to weigh and an upper bound of what the rest can still add.
        self.masks = [0] * self.n
        for bit, (_, _, features) in enumerate(self.fast):
            flag = 1 << bit
            masks = self.masks
            for k, f in enumerate(features):
                if f is not None:
                    masks[k] |= flag
        self._plans: dict[int, list[tuple[int, Callable[..., Any], list[Any], float, int]]] = {}
        self.shared_names = rules.shared_rules
        self._address = next(
            ((rule, features) for _, rule, features in self.fast if isinstance(rule, AddressRule)),
            None,
        )
        self._evidence: dict[tuple[int, float, float, str], Evidence] = {}

    def plan(self, mask: int) -> list[tuple[int, Callable[..., Any], list[Any], float, int]]:
        """The rules both records of a pair have values for: weigh, values, bound after, kind.

        Kind 1 marks a shared-contact rule, 2 the identity rule, 0 any other.
        """
        plan = self._plans.get(mask)
        if plan is None:
            identity = self.rules.identity_rule
            present = [
                (
                    index,
                    rule.weigh,
                    features,
                    max(rule.max_weight, 0.0),
                    1 if rule.shared else 2 if rule.name == identity else 0,
                )
                for bit, (index, rule, features) in enumerate(self.fast)
                if mask >> bit & 1
            ]
            plan = []
            for k, (index, weigh, features, _, kind) in enumerate(present):
                rest = sum(bound for _, _, _, bound, _ in present[k + 1 :])
                plan.append((index, weigh, features, rest, kind))
            self._plans[mask] = plan
        return plan

    def assess(self, i: int, j: int, floor: float) -> tuple[float, list[_Part]] | None:
        """The summed rule weights of a pair and the per-rule results behind them.

        The hot loop: ``None`` as soon as the total cannot reach ``floor`` any more.
        """
        total = 0.0
        shared = 0.0
        conflict = False
        parts: list[_Part] = []
        if self.slow:
            a, b = self.records[i], self.records[j]
            for index, slow_rule in self.slow:
                ev = slow_rule.compare(a, b)
                if ev is not None:
                    parts.append((index, ev.score, ev.weight, ev.method))
                    if ev.rule in self.shared_names:
                        shared += ev.weight
                    else:
                        total += ev.weight
        frequency = self.frequency
        conflict_weight = self.rules.conflict_weight
        mask = self.masks[i] & self.masks[j]
        plan = self._plans.get(mask) or self.plan(mask)
        for index, weigh, features, rest, kind in plan:
            score, weight, method = weigh(features[i], features[j], frequency)
            parts.append((index, score, weight, method))
            if kind == 1:
                shared += weight
            else:
                total += weight
                if kind == 2 and weight <= conflict_weight:
                    conflict = True
            if total + shared + rest < floor:
                return None
        if conflict and shared > self.rules.shared_cap:
            shared = self.rules.shared_cap
        return total + shared, parts

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

    def evidence(self, parts: Sequence[tuple[int, float, float, str]]) -> list[Evidence]:
        out = []
        cache = self._evidence
        for part in parts:
            ev = cache.get(part)
            if ev is None:
                index, score, weight, method = part
                rule = self.rules.rules[index]
                field = getattr(rule, "field", "") or rule.name
                ev = Evidence(rule.name, field, method, round(score, 4), round(weight, 3))
                if len(cache) < 100_000:  # evidence is frozen: equal parts share one
                    cache[part] = ev
            out.append(ev)
        return out

    def decide(self, i: int, j: int) -> tuple[float, Decision]:
        """Score and decision of a pair, clauses included."""
        rules = self.rules
        if not rules.clauses:
            assessed = self.assess(i, j, -math.inf)
            assert assessed is not None
            score = rules.probability(assessed[0])
            return score, rules.threshold(score)
        _, parts = self.weigh(i, j)
        score, decision, _ = rules.decide(self.evidence(parts))
        return score, decision

    def scored_pair(
        self, i: int, j: int, parts: Sequence[tuple[int, float, float, str]] | None = None
    ) -> ScoredPair:
        if parts is None:
            parts = self.weigh(i, j)[1]
        final, decision, evidence = self.rules.decide(self.evidence(parts))
        return ScoredPair(self.ids[i], self.ids[j], final, decision, evidence)

    def sort_key(self, i: int) -> str:
        """What record ``i`` is ordered by in an oversized block: its name and place, else its id.

        Within one name, records of one place are neighbours: in a block too
        big to compare whole, the window then meets the same name in the same
        city rather than the same name anywhere.
        """
        name = self._sort_names[i]
        if isinstance(name, PersonName):
            return f"{person_name_key(name)}\x00{self._place(i)}"
        if name:
            return f"{organization_key(name)}\x00{self._place(i)}"
        return self.ids[i]

    def _place(self, i: int) -> str:
        # From the address rule's prepared features, so nothing more is kept
        # per record; a rule set without an address rule orders by name only.
        address = self._address
        if address is None or address[1][i] is None:
            return ""
        return address[0].place(address[1][i])


class _Clusters:
    """Union-find over record indices that refuses unions joining clearly different records."""

    def __init__(
        self,
        n: int,
        scorer: _Scorer,
        cannot: set[int],
        kinds: Sequence[RecordType] | None,
        budget: int = 400,
    ) -> None:
        self.kinds = kinds
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
        if self.kinds is not None and not _compatible(self.kinds[x], self.kinds[y]):
            return True
        key = x * self.n + y if x < y else y * self.n + x
        if key in self.cannot:
            return True
        score = self.known.get(key)
        if score is None:
            score, _ = self.scorer.decide(min(x, y), max(x, y))
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
                    if key in self.cannot or (
                        self.kinds is not None and not _compatible(self.kinds[x], self.kinds[y])
                    ):
                        self.refused += 1
                        return False
        if len(a) < len(b):
            ri, rj, a, b = rj, ri, b, a
        self.parent[rj] = ri
        self.members[ri] = a + b
        self.members.pop(rj, None)
        return True


_Scored = tuple[
    list[tuple[float, int, int]],
    list[tuple[float, int, int]],
    list[int],
    list[tuple[int, tuple[_Part, ...]]],
]


def _score_slice(
    scorer: _Scorer, pairs: Iterable[int], types: Sequence[RecordType] | None, report: Progress
) -> _Scored:
    """Score candidate pairs: matches, possible matches, and pairs that clearly differ."""
    n = scorer.n
    rules = scorer.rules
    matched: list[tuple[float, int, int]] = []
    possible: list[tuple[float, int, int]] = []
    cannot: list[int] = []
    # The per-rule results of kept pairs, computed here so that worker processes
    # share the cost of the explanations too.
    details: list[tuple[int, tuple[_Part, ...]]] = []
    assess = scorer.assess
    probability = rules.probability
    # Thresholds as bits of log-odds, so that most pairs need no exponentiation.
    possible_bits = math.log2(rules.possible / (1 - rules.possible)) - rules.prior
    cannot_bits = math.log2(rules.cannot_link / (1 - rules.cannot_link)) - rules.prior
    clauses = bool(rules.clauses)
    step = 0
    for pair in pairs:
        i, j = divmod(pair, n)
        step += 1
        if step == 50_000:
            report("score", 0, 0)
            step = 0
        if types is not None and not _compatible(types[i], types[j]):
            continue
        if clauses:
            score, decision = scorer.decide(i, j)
        else:
            assessed = assess(i, j, possible_bits)
            if assessed is None:
                continue
            total, parts = assessed
            if total < possible_bits:
                if total < cannot_bits:
                    cannot.append(pair)
                continue
            score = probability(total)
            decision = rules.threshold(score)
        if decision is Decision.MATCH:
            matched.append((score, i, j))
        elif decision is Decision.POSSIBLE:
            possible.append((score, i, j))
        else:
            if score < rules.cannot_link:
                cannot.append(pair)
            continue
        details.append((pair, tuple(parts) if not clauses else tuple(scorer.weigh(i, j)[1])))
    return matched, possible, cannot, details


def _score_child(
    scorer: _Scorer,
    blocks: _Blocks,
    part: int,
    parts: int,
    types: Sequence[RecordType] | None,
    conn: Connection,
) -> None:
    owned = blocks.pairs(part, parts)
    conn.send((len(owned), _score_slice(scorer, owned, types, lambda _s, _d, _t: None)))
    conn.close()


def _score(
    scorer: _Scorer,
    blocks: _Blocks,
    types: Sequence[RecordType] | None,
    report: Progress,
    workers: int | None,
) -> tuple[int, _Scored]:
    """The number of candidate pairs, and every pair scored.

    In forked worker processes when that pays and is safe: each process
    generates and scores only the pairs it owns (``pair % parts == part``)
    from the blocks the parent built, which the children share copy-on-write
    with the prepared features. No process materialises every pair, and the
    parent's share of the work runs while the children run theirs.
    """
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if blocks.bound >= _PARALLEL_PAIRS else 1
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    # Forking a multi-threaded process can deadlock; stay in this process then.
    if workers <= 1 or not can_fork or threading.active_count() > 1:
        owned = blocks.pairs(0, 1)
        return len(owned), _score_slice(scorer, owned, types, report)
    context = multiprocessing.get_context("fork")
    children = []
    for k in range(1, workers):
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_score_child, args=(scorer, blocks, k, workers, types, writer), daemon=True
        )
        process.start()
        writer.close()
        children.append((k, process, reader))
    owned = blocks.pairs(0, workers)
    total = len(owned)
    matched, possible, cannot, details = _score_slice(scorer, owned, types, report)
    del owned
    for k, process, reader in children:
        try:
            count, more = reader.recv()
        except EOFError:  # the child died: score its share here
            owned = blocks.pairs(k, workers)
            count, more = len(owned), _score_slice(scorer, owned, types, report)
        process.join()
        total += count
        matched += more[0]
        possible += more[1]
        cannot += more[2]
        details += more[3]
    return total, (matched, possible, cannot, details)


def find_duplicates(
    records: Iterable[AnyRecord] | Any,
    rules: RuleSet | None = None,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> DedupResult:
    """Find records that stand for the same person or organisation.

    Args:
        records: customers, leads or match records, or a store (anything with
            ``customers.iter_all`` and ``leads.iter_all``).
        rules: the rule set; :func:`~crmcore.dedup.default_rules` when omitted.
        progress: called as ``progress(stage, done, total)`` while working.
        workers: processes that score candidate pairs; by default one per core
            (at most four) for large inputs where ``fork`` is available, else one.

    Returns:
        Clusters of two or more records judged to be one entity (each record in
        at most one), pairs left for review, and statistics: ``records``,
        ``blocks``, ``oversized_blocks``, ``candidate_pairs``, ``matched_pairs``,
        ``possible_pairs``, ``refused_links`` (unions the chaining guard
        refused), ``clusters`` and ``seconds``.

    Raises:
        ValidationError: two input records share an id, or an argument is not
            of the kind described above (the error names it).
    """
    # The run allocates millions of small objects and frees few: the cyclic
    # garbage collector would rescan them all, over and over, for nothing.
    ruleset = _rules(rules)
    if progress is not None and not callable(progress):
        raise ValidationError("progress", "must be callable")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValidationError("workers", "must be a whole number of at least 1")
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _find_duplicates(records, ruleset, progress, workers)
    finally:
        if enabled:
            gc.enable()


def _find_duplicates(
    records: Iterable[AnyRecord] | Any,
    rules: RuleSet,
    progress: Progress | None,
    workers: int | None,
) -> DedupResult:
    started = time.perf_counter()
    report = progress or (lambda _stage, _done, _total: None)

    # Records are read once, into their features: see _Scorer.
    scorer = _Scorer(rules, _iter_records(records), lambda done: report("load", done, 0))
    n = scorer.n
    report("load", n, n)
    if len(set(scorer.ids)) != n:
        raise ValidationError("records", "record ids must be unique")
    report("prepare", n, n)

    blocks = _block(scorer, rules)
    report("block", n, n)
    kinds = scorer.kinds
    types = kinds if len(set(kinds)) > 1 else None
    total, (matched, possible, cannot, details) = _score(scorer, blocks, types, report, workers)
    parts_of = dict(details)
    del details
    report("score", total, total)

    # Strongest links first, so a weak link cannot pull a cluster past a strong one.
    matched.sort(key=lambda t: (-t[0], t[1], t[2]))
    clusters = _Clusters(n, scorer, set(cannot), types)
    clusters.known.update((i * n + j, score) for score, i, j in matched)
    clusters.known.update((i * n + j, score) for score, i, j in possible)
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
        joins = tuple(
            scorer.scored_pair(i, j, parts_of.get(i * n + j)) for i, j in by_root.get(root, [])
        )
        result_clusters.append(
            (ordered_members[0], tuple(scorer.ids[m] for m in ordered_members), joins)
        )
    # Clusters are numbered in input order of their first record.
    result_clusters.sort(key=lambda c: c[0])
    built = tuple(
        Cluster(f"cluster-{k + 1:06d}", ids, joins)
        for k, (_, ids, joins) in enumerate(result_clusters)
    )

    review = [
        scorer.scored_pair(i, j, parts_of.get(i * n + j))
        for _, i, j in sorted(possible + refused, key=lambda t: (-t[0], t[1], t[2]))
        if clusters.find(i) != clusters.find(j)
    ]
    review = [p if p.decision is Decision.POSSIBLE else _as_possible(p) for p in review]
    stats: dict[str, int | float] = {
        "records": n,
        "blocking_keys": blocks.keys,
        "blocks": len(blocks.small) + len(blocks.ordered),
        "oversized_blocks": len(blocks.ordered),
        "candidate_pairs": total,
        "matched_pairs": len(matched),
        "possible_pairs": len(review),
        "refused_links": len(refused),
        "clusters": len(built),
        "records_in_clusters": sum(len(c.member_ids) for c in built),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return DedupResult(built, tuple(review), stats)


@attrs.frozen
class _Blocks:
    """Records that share a blocking key: what candidate pairs are generated from.

    ``small`` holds blocks compared in full; ``ordered`` the oversized blocks
    (a switchboard number, a very common name) in name order, where each record
    is compared only with its ``window`` nearest neighbours.
    """

    n: int
    small: list[list[int]]
    ordered: list[list[int]]
    window: int
    keys: int

    @property
    def bound(self) -> int:
        """An upper bound of the number of candidate pairs (pairs in several blocks count twice)."""
        full = sum(len(b) * (len(b) - 1) // 2 for b in self.small)
        return full + sum(len(b) * min(self.window, len(b)) for b in self.ordered)

    def pairs(self, part: int = 0, parts: int = 1) -> set[int]:
        """The distinct candidate pairs (``i * n + j``, ``i < j``) with ``pair % parts == part``."""
        n = self.n
        out: set[int] = set()
        add = out.add
        whole = parts == 1
        for bucket in self.small:
            size = len(bucket)
            for a in range(size - 1):
                i = bucket[a]
                base = i * n
                for b in range(a + 1, size):
                    j = bucket[b]
                    if j > i:
                        pair = base + j
                    elif j < i:  # only keys of user rules can arrive out of order
                        pair = j * n + i
                    else:
                        continue
                    if whole or pair % parts == part:
                        add(pair)
        window = self.window
        for ordered in self.ordered:
            size = len(ordered)
            for a in range(size):
                for b in range(a + 1, min(a + 1 + window, size)):
                    i, j = ordered[a], ordered[b]
                    pair = i * n + j if i < j else j * n + i
                    if whole or pair % parts == part:
                        add(pair)
        return out


class _EntityCount:
    """About how many different entities carry a blocking key.

    Term frequency says a value is common when many records carry it, but one
    person with 500 records makes their own name and email look as common as
    a switchboard number. So records are told apart by what identifies them
    besides the key: holders of a contact key by their names (500 records of
    one name are about one entity; 50 names on one number are 50), holders of
    a name key by their email or phone. Records without that other field are
    assumed to be spread like those with it. A holder of a name key with no
    email or phone (a list of inventors, of members, of a register) is told
    apart by its address instead: 40 records of one name in one city are about
    one entity, not 40, also when one of them has an email.
    """

    def __init__(self, scorer: _Scorer) -> None:
        by_rule = {rule.name: features for _, rule, features in scorer.fast}
        self.names = _first_present(by_rule, ("name", "organization"), scorer.n)
        self.contacts = _first_present(by_rule, ("email", "phone"), scorer.n)
        self.places = _first_present(by_rule, ("address",), scorer.n)

    def __call__(self, key: str, bucket: list[int]) -> int:
        if key.startswith(_NAME_RULES):
            contacts, places = self.contacts, self.places
            held = [
                contacts[i] if contacts[i] is not None else places[i]
                for i in bucket
                if contacts[i] is not None or places[i] is not None
            ]
        else:
            names = self.names
            held = [names[i] for i in bucket if names[i] is not None]
        if not held:
            return len(bucket)
        distinct = len(set(held))
        return max(1, round(distinct * len(bucket) / len(held)))


_NAME_RULES = ("name", "organization")


def _first_present(by_rule: Mapping[str, list[Any]], names: Sequence[str], size: int) -> list[Any]:
    # Per record, the features of the first of the named rules that it has.
    out: list[Any] = [None] * size
    for name in reversed(names):
        for i, f in enumerate(by_rule.get(name, ())):
            if f is not None:
                out[i] = (name, f)
    return out


def _filed(scorer: _Scorer) -> Iterator[tuple[str, int]]:
    """Every blocking key with the index of a record filed under it."""
    for _, rule, features in scorer.fast:
        keys_of = rule.keys
        for i, f in enumerate(features):
            if f is not None:
                for key in keys_of(f):
                    yield key, i
    for _, slow_rule in scorer.slow:
        for i, record in enumerate(scorer.records):
            for key in slow_rule.blocking_keys(record):
                yield key, i


def _block(scorer: _Scorer, rules: RuleSet) -> _Blocks:
    """Index records by blocking key; set the scorer's key frequencies."""
    # Most keys are carried by one record only (a personal email, a phone): those
    # are held as the record's index, and a list is made when a second record
    # comes, so that a million records do not make millions of one-item lists.
    index: dict[str, list[int]] = {}
    alone: dict[str, int] = {}
    get = index.get
    first = alone.pop
    for key, i in _filed(scorer):
        bucket = get(key)
        if bucket is not None:
            if bucket[-1] != i:
                bucket.append(i)
            continue
        j = first(key, -1)
        if j < 0 or j == i:
            alone[key] = i
        else:
            index[key] = [j, i]
    keys = len(index) + len(alone)
    del alone
    # Only keys on more than two records change a weight (term frequency), and
    # they count the entities that carry them, not the records.
    entities = _EntityCount(scorer)
    counts = _Counts(
        {key: entities(key, bucket) for key, bucket in index.items() if len(bucket) > 2}
    )
    scorer.frequency = counts.__getitem__

    small: list[list[int]] = []
    ordered: list[list[int]] = []
    limit = rules.max_block_size
    sort_keys: dict[int, str] = {}
    for bucket in index.values():
        size = len(bucket)
        if size < 2:
            continue
        if size <= limit:
            small.append(bucket)
            continue
        for i in bucket:
            if i not in sort_keys:
                sort_keys[i] = scorer.sort_key(i)
        ordered.append(sorted(set(bucket), key=sort_keys.__getitem__))
    return _Blocks(scorer.n, small, ordered, rules.window, keys)


def candidate_pairs(
    records: Iterable[AnyRecord] | Any, rules: RuleSet | None = None
) -> set[tuple[str, str]]:
    """The pairs of record ids blocking would compare (for measuring pairs-completeness).

    Raises:
        ValidationError: two input records share an id, or an argument is of the
            wrong kind (as for :func:`find_duplicates`).
    """
    rules = _rules(rules)
    scorer = _Scorer(rules, _iter_records(records))
    ids, n = scorer.ids, scorer.n
    # As in find_duplicates: a repeated id would come back as a pair with itself.
    if len(set(ids)) != n:
        raise ValidationError("records", "record ids must be unique")
    out = set()
    for pair in _block(scorer, rules).pairs():
        i, j = divmod(pair, n)
        a, b = ids[i], ids[j]
        out.add((a, b) if a < b else (b, a))
    return out


def _as_possible(pair: ScoredPair) -> ScoredPair:
    # A link the chaining guard refused goes to a person instead of into a cluster.
    return ScoredPair(pair.a, pair.b, pair.score, Decision.POSSIBLE, pair.evidence)


# --------------------------------------------------------------------------- on-create checks


def blocking_keys(record: AnyRecord, rules: RuleSet | None = None) -> list[str]:
    """Every blocking key of a customer, lead or match record under ``rules``.

    Stores index these keys (their ``key_function``) so that
    :func:`check_duplicates` finds candidates with one indexed lookup. The
    source ids of a customer or lead (:func:`crmcore.storage.keys.source_keys`)
    are yielded too, so that the importer finds stored rows by them.
    """
    keys = _rules(rules).blocking_keys(_as_record(record, "record"))
    if isinstance(record, Customer | Lead):
        keys.extend(source_keys(record))
    return keys


def selective_keys(record: AnyRecord, rules: RuleSet | None = None) -> list[str]:
    """The selective subset of :func:`blocking_keys` that the on-create check looks up.

    Phonetic keys (those with ``~`` after the rule name) help batch runs find
    typos but match too many stored records to answer in milliseconds.
    """
    return _selective_keys(_as_record(record, "record"), _rules(rules))


lookup_keys = selective_keys
"""The former name of :func:`selective_keys`, kept as an alias (not deprecated)."""


# Stores that persist their key index rebuild it when this changes
# (see crmcore.storage.keys.key_function_name). Version 2: leads' source ids;
# 3: emails by mailbox.
setattr(blocking_keys, "keys_version", "3")  # noqa: B010


def check_duplicates(
    candidate: AnyRecord,
    store: Any,
    rules: RuleSet | None = None,
    *,
    include_leads: bool | None = None,
) -> Matches:
    """Stored records that ``candidate`` matches or may match, best first.

    Candidates come from the store's indexed lookups only: ``find_by_keys`` on
    the candidate's :func:`selective_keys` (useful when the store's
    ``key_function`` is :func:`blocking_keys`), plus ``find_by_email``,
    ``find_by_phone`` and ``find_by_identifier`` for each of its contact points,
    which every store indexes. Each candidate is compared with the rules.

    Customers are checked against customers; leads against leads and customers
    (``include_leads`` overrides whether stored leads are searched). A stored
    record with the candidate's own id (an update) is skipped, and so is a
    restricted one (GDPR Art. 18: it is kept, not processed); a restricted
    candidate is checked against nothing.

    On a store that keeps a suppression list
    (:class:`~crmcore.storage.SupportsPrivacy`), the result's ``suppressed``
    names the candidate's contact points on it (``emails[0]``, ``phones[1]``):
    an erased person's address coming back.

    Returns:
        A :class:`~crmcore.dedup.Matches` (a list): one
        :class:`~crmcore.dedup.Match` per stored record judged a MATCH or a
        POSSIBLE match, highest score first.

    Raises:
        ValidationError: ``candidate``, ``store`` or ``rules`` is not what it should be.
    """
    rules = _rules(rules)
    record = _as_record(candidate, "candidate")
    if not hasattr(store, "customers") or not hasattr(store, "leads"):
        raise ValidationError("store", "must be a store (with customers and leads)")
    if include_leads is None:
        include_leads = record.type is RecordType.LEAD
    from crmcore.privacy._suppression import suppressed_fields

    suppressed = suppressed_fields(store, record)
    if _restricted(candidate):
        return Matches(suppressed=suppressed)
    keys = _selective_keys(record, rules)
    repos = [store.customers, store.leads] if include_leads else [store.customers]
    found: dict[str, MatchRecord] = {}
    common: set[str] = set()
    for repo in repos:
        for stored in _lookup(repo, record, keys, common):
            if _restricted(stored):
                continue
            other = MatchRecord.from_record(stored)
            if other.id != record.id and _compatible(_kind(record), _kind(other)):
                found[other.id] = other
    if not found:
        return Matches(suppressed=suppressed)
    fast = [rule for rule in rules.rules if isinstance(rule, FieldRule)]
    mine = [rule.prepare(record) for rule in fast]
    theirs = {oid: [rule.prepare(other) for rule in fast] for oid, other in found.items()}
    # How many of the found records share each key: a switchboard number that
    # many stored people carry is discounted as in batch runs.
    counts: dict[str, int] = {}
    for features in theirs.values():
        for rule, f in zip(fast, features, strict=True):
            if f is not None:
                for key in rule.keys(f):
                    counts[key] = counts.get(key, 0) + 1

    for key in common:
        counts[key] = max(counts.get(key, 0), _COMMON_NAME)

    def frequency(key: str) -> int:
        return counts.get(key, 0) + 1

    slow = [rule for rule in rules.rules if not isinstance(rule, FieldRule)]
    matches = []
    for oid, other in found.items():
        evidence = []
        for rule, fa, fb in zip(fast, mine, theirs[oid], strict=True):
            if fa is None or fb is None:
                continue
            score, weight, method = rule.weigh(fa, fb, frequency)
            evidence.append(
                Evidence(rule.name, rule.field, method, round(score, 4), round(weight, 3))
            )
        for slow_rule in slow:
            ev = slow_rule.compare(record, other)
            if ev is not None:
                evidence.append(ev)
        score, decision, explained = rules.decide(evidence)
        if decision is not Decision.NON_MATCH:
            matches.append(Match(other.id, score, decision, explained))
    matches.sort(key=lambda m: (-m.score, m.record_id))
    return Matches(matches, suppressed=suppressed)


def _selective_keys(record: MatchRecord, rules: RuleSet) -> list[str]:
    return [k for k in rules.blocking_keys(record) if "~" not in k.partition(":")[0]]


def _lookup(repo: Any, record: MatchRecord, keys: Sequence[str], common: set[str]) -> list[Any]:
    # One indexed query answers for stores keyed by blocking_keys and for stores
    # keyed by crmcore.storage's default keys (their email, phone and identifier
    # keys are in the list too). Only when it finds nothing, which may mean the
    # store has a key function of its own, do the per-field lookups run.
    # Names are the least selective keys ("John Smith" among a million customers):
    # they get their own, smaller limit so that they cannot crowd out a record
    # found by its email or phone, nor turn a check into a scan.
    names = [k for k in keys if k.startswith(NAME_PREFIXES)]
    wanted = [k for k in keys if not k.startswith(NAME_PREFIXES)]
    # A store keyed by the default keys files "Ann.Lee+crm@googlemail.com"
    # under its mailbox too; the email keys above are the candidate's mailboxes.
    wanted += [mailbox_index_key(e.mailbox_key) for e in record.emails]
    wanted += [phone_key(p.e164) for p in record.phones]
    wanted += [identifier_key(scheme, value) for scheme, value in record.identifiers.items()]
    found = list(repo.find_by_keys(wanted, limit=_CHECK_LIMIT)) if wanted else []
    if names:
        by_name = repo.find_by_keys(names, limit=_NAME_LIMIT)
        if len(by_name) >= _NAME_LIMIT:
            # More records carry this name than were read: weigh it as a common one.
            common.update(names)
        found += by_name
    if found:
        return found
    for email in record.emails:
        found += repo.find_by_email(email)
    for phone in record.phones:
        found += repo.find_by_phone(phone)
    for scheme, value in record.identifiers.items():
        found += repo.find_by_identifier(scheme, value)
    return found


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
        DuplicateDetected: under ``BLOCK``, when a stored record is a MATCH;
            ``matches`` carries every match found.
        ValidationError: ``policy`` is not a :class:`DuplicatePolicy`.
    """
    # A misspelt policy must not quietly act as ALERT where BLOCK was meant.
    if not isinstance(policy, DuplicatePolicy):
        raise ValidationError("policy", "must be a DuplicatePolicy (ALLOW, ALERT or BLOCK)")
    if bypass or policy is DuplicatePolicy.ALLOW:
        return []
    matches = check_duplicates(candidate, store, rules)
    if policy is DuplicatePolicy.BLOCK and any(m.decision is Decision.MATCH for m in matches):
        count = sum(m.decision is Decision.MATCH for m in matches)
        raise DuplicateDetected(f"the record duplicates {count} stored record(s)", matches=matches)
    return matches
