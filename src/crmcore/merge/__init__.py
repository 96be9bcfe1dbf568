"""Merging duplicate customers or leads without losing anything, and undoing merges.

- :func:`plan_merge` is pure: it says, field by field, what a merge would keep
  and why, before anything is written.
- :func:`merge` applies a plan to a store in one transaction, retiring the
  other records as tombstones and storing a :class:`MergeRecord`.
- :func:`unmerge` restores what a merge changed; :func:`merge_duplicates`
  applies a deduplication result in bulk.

The code lives in private modules (survivorship rules, the plan, applying,
undoing, bulk merges), re-exported here; the :class:`MergeRecord` model lives in
:mod:`crmcore.merge_record`, which stores import without loading these services.
See ``docs/merging.md`` for the default survivorship rules.
"""

from crmcore.merge._apply import MergeResult, merge
from crmcore.merge._bulk import BulkMergeResult, merge_duplicates
from crmcore.merge._plan import (
    FieldDecision,
    MergePlan,
    RelatedChange,
    completeness,
    default_survivor,
    plan_merge,
)
from crmcore.merge._plan import Record as Record
from crmcore.merge._survivorship import (
    BOOKKEEPING,
    CUSTOMER_RULES,
    LEAD_RULES,
    MERGE_MANAGED,
    Candidate,
    MergePolicy,
    Rule,
    Survivorship,
)
from crmcore.merge._survivorship import FOLLOWERS as FOLLOWERS
from crmcore.merge._survivorship import Outcome as Outcome
from crmcore.merge._survivorship import apply_rule as apply_rule
from crmcore.merge._survivorship import conflicts as conflicts
from crmcore.merge._survivorship import is_empty as is_empty
from crmcore.merge._survivorship import item_key as item_key
from crmcore.merge._survivorship import rule_name as rule_name
from crmcore.merge._undo import UnmergeConflict, UnmergeResult, restore_plan, unmerge
from crmcore.merge_record import MergeRecord, Snapshot, StoredRecord

__all__ = [
    "BOOKKEEPING",
    "CUSTOMER_RULES",
    "LEAD_RULES",
    "MERGE_MANAGED",
    "BulkMergeResult",
    "Candidate",
    "FieldDecision",
    "MergePlan",
    "MergePolicy",
    "MergeRecord",
    "MergeResult",
    "RelatedChange",
    "Rule",
    "Snapshot",
    "StoredRecord",
    "Survivorship",
    "UnmergeConflict",
    "UnmergeResult",
    "completeness",
    "default_survivor",
    "merge",
    "merge_duplicates",
    "plan_merge",
    "restore_plan",
    "unmerge",
]
