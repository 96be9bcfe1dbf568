"""Duplicate detection: explainable rules, blocking, scoring and clustering."""

from crmcore.dedup.records import MatchRecord, RecordType
from crmcore.dedup.results import Cluster, Decision, DedupResult, Evidence, Match, ScoredPair

__all__ = [
    "Cluster",
    "Decision",
    "DedupResult",
    "Evidence",
    "Match",
    "MatchRecord",
    "RecordType",
    "ScoredPair",
]
