"""The one place the command line calls the matching engine."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import attrs

from crmcore.cli._errors import EXIT_USAGE, CliError
from crmcore.dedup import Progress, RuleSet, default_rules, find_duplicates
from crmcore.dedup.records import MatchRecord
from crmcore.dedup.results import DedupResult
from crmcore.errors import ValidationError

__all__ = ["find_clusters", "rules_for"]


def rules_for(threshold: float | None, rules_file: Path | None = None) -> RuleSet:
    """The rules of ``rules_file`` (default: crmcore's), with ``threshold`` as the match one.

    The review band keeps its lower edge unless the new threshold falls below it.

    Raises:
        CliError: the rule file cannot be read, is not JSON, or is not a rule set
            (the message names the field, never a value).
    """
    rules = default_rules() if rules_file is None else _read_rules(rules_file)
    if threshold is None:
        return rules
    return attrs.evolve(rules, match=threshold, possible=min(rules.possible, threshold))


def _read_rules(path: Path) -> RuleSet:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"--rules: {path}: cannot be read ({exc.strerror})", EXIT_USAGE) from None
    except UnicodeDecodeError:
        raise CliError(f"--rules: {path}: is not UTF-8 text", EXIT_USAGE) from None
    except json.JSONDecodeError as exc:
        raise CliError(f"--rules: {path}: is not JSON (line {exc.lineno})", EXIT_USAGE) from None
    try:
        return RuleSet.from_dict(data)
    except ValidationError as exc:
        raise CliError(f"--rules: {path}: {exc}", EXIT_USAGE) from None


def find_clusters(
    records: Iterable[MatchRecord],
    *,
    rules: RuleSet,
    progress: Progress | None,
) -> DedupResult:
    """Cluster ``records`` with ``rules``."""
    return find_duplicates(records, rules, progress=progress)
