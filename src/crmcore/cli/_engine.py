"""The one place the command line calls the matching engine."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from crmcore.dedup import Progress, RuleSet, default_rules, find_duplicates
from crmcore.dedup.records import MatchRecord
from crmcore.dedup.results import DedupResult

__all__ = ["find_clusters", "rules_for"]


def rules_for(threshold: float | None) -> RuleSet:
    """The default rules, with the match threshold replaced when ``threshold`` is given.

    The review band keeps its lower edge unless the new threshold falls below it.
    """
    rules = default_rules()
    if threshold is None:
        return rules
    return attrs.evolve(rules, match=threshold, possible=min(rules.possible, threshold))


def find_clusters(
    records: Sequence[MatchRecord],
    *,
    threshold: float | None,
    progress: Progress | None,
) -> DedupResult:
    """Cluster ``records`` with the default rules (the match threshold optionally replaced)."""
    return find_duplicates(records, rules_for(threshold), progress=progress)
