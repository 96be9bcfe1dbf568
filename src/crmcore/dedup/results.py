"""What matching returns: evidence, scored pairs, matches and clusters."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

import attrs

__all__ = ["Cluster", "Decision", "DedupResult", "Evidence", "Match", "Matches", "ScoredPair"]


class Decision(enum.Enum):
    """A rule set's verdict on a pair of records."""

    MATCH = "match"
    POSSIBLE = "possible"
    NON_MATCH = "non_match"


@attrs.frozen
class Evidence:
    """One field comparison: which rule compared which field, how, and what it found.

    Explanations name fields and methods, never the values compared.
    """

    rule: str
    field: str
    method: str
    score: float
    weight: float = 0.0
    clause: str | None = None


@attrs.frozen
class ScoredPair:
    """Two records compared: ``score`` in [0, 1] and the evidence behind it."""

    a: str
    b: str
    score: float
    decision: Decision
    evidence: tuple[Evidence, ...] = ()


@attrs.frozen
class Match:
    """A stored record that a candidate matches (the on-create duplicate check)."""

    record_id: str
    score: float
    decision: Decision
    evidence: tuple[Evidence, ...] = ()


class Matches(list[Match]):
    """What :func:`~crmcore.dedup.check_duplicates` returns: the matches, best first, and
    the candidate's suppressed contact points.

    A plain list of :class:`Match` (compare, sort and slice it like one), with
    ``suppressed``: the paths (``emails[0]``, ``phones[1]``) of the
    candidate's contact points on the store's suppression list (see
    :mod:`crmcore.privacy`), never the points themselves. Empty when none is,
    or when the store keeps no list.
    """

    suppressed: tuple[str, ...]

    def __init__(self, matches: Iterable[Match] = (), *, suppressed: Iterable[str] = ()) -> None:
        super().__init__(matches)
        self.suppressed = tuple(suppressed)

    def __repr__(self) -> str:
        return f"Matches({list.__repr__(self)}, suppressed={self.suppressed!r})"


@attrs.frozen
class Cluster:
    """Records judged to be one entity, with the pair scores that joined them."""

    id: str
    member_ids: tuple[str, ...]
    pairs: tuple[ScoredPair, ...] = ()

    @property
    def confidence(self) -> float:
        """The weakest score that holds the cluster together (1.0 for a single record)."""
        return min((p.score for p in self.pairs), default=1.0)


@attrs.frozen
class DedupResult:
    """Every cluster of two or more records, the pairs left for review, and statistics.

    Records in no cluster are distinct as far as the rules can tell.
    """

    clusters: tuple[Cluster, ...]
    possible_matches: tuple[ScoredPair, ...] = ()
    stats: Mapping[str, int | float] = attrs.field(factory=dict)
    _by_member: dict[str, Cluster] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        by_member = {m: c for c in self.clusters for m in c.member_ids}
        object.__setattr__(self, "_by_member", by_member)

    def cluster_of(self, record_id: str) -> Cluster | None:
        """The cluster holding ``record_id``, or ``None`` when it matched nothing."""
        return self._by_member.get(record_id)
