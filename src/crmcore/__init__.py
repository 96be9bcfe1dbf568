"""crmcore: the domain core of a CRM as a library.

Typed, immutable customers, leads and interactions; normalised emails and phone
numbers; strict serialisation; stores (in memory, SQLite, your own); merges
that lose nothing and can be undone; lead conversion and the timeline.
Duplicate detection lives in :mod:`crmcore.dedup`, the testing kit in
:mod:`crmcore.testing`, the command line in :mod:`crmcore.cli`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any

from crmcore.consent import (
    Consent,
    ConsentEvent,
    ConsentEvidence,
    ConsentStatus,
    LegalBasis,
    Restriction,
)
from crmcore.contacts import ContactEmail, ContactPhone
from crmcore.customers import Customer, CustomerKind, LifecycleStage
from crmcore.errors import (
    CrmError,
    DataError,
    DuplicateDetected,
    DuplicateRecord,
    IntegrityError,
    InvalidTransition,
    NotFound,
    OperationalError,
    RecordRestricted,
    StorageError,
    Suppressed,
    ValidationError,
    VersionConflict,
)
from crmcore.ids import (
    CaseId,
    CustomerId,
    InteractionId,
    LeadId,
    MergeId,
    OpportunityId,
    RecordId,
    TaskId,
)
from crmcore.interactions import Channel, Direction, Interaction, Participant, ParticipantRole
from crmcore.leads import Lead, LeadSource, LeadStatus
from crmcore.values import (
    ContactLabel,
    CustomFields,
    EmailAddress,
    ExternalIds,
    Money,
    PersonName,
    PhoneKind,
    PhoneNumber,
    PostalAddress,
)

if TYPE_CHECKING:
    from crmcore.cases import Case, CaseEvent, CaseStatus
    from crmcore.conversion import ConversionResult, convert_lead
    from crmcore.events import EventDispatcher
    from crmcore.merge import (
        MergePlan,
        MergePolicy,
        MergeRecord,
        MergeResult,
        Survivorship,
        UnmergeConflict,
        merge,
        merge_duplicates,
        plan_merge,
        unmerge,
    )
    from crmcore.opportunities import ContactRole, Opportunity, StageChange
    from crmcore.pipelines import DealStatus, Pipeline, Stage
    from crmcore.serialization import from_dict, from_json, make_converter, to_dict, to_json
    from crmcore.storage import InMemoryStore, SQLiteStore, open_store
    from crmcore.tasks import Priority, Task, TaskKind, TaskStatus
    from crmcore.timeline import TimelineEntry, TimelinePage, timeline

# The people and the conversation load with the package; the work items
# (opportunities, tasks, cases), the services, the stores and the converter
# (sqlite3, cattrs, importlib.metadata...) on first use, so that an app or a
# command that only builds contacts does not pay for them.
_LAZY: dict[str, str] = {
    **dict.fromkeys(["Case", "CaseEvent", "CaseStatus"], "crmcore.cases"),
    **dict.fromkeys(["ContactRole", "Opportunity", "StageChange"], "crmcore.opportunities"),
    **dict.fromkeys(["DealStatus", "Pipeline", "Stage"], "crmcore.pipelines"),
    **dict.fromkeys(["Priority", "Task", "TaskKind", "TaskStatus"], "crmcore.tasks"),
    "EventDispatcher": "crmcore.events",
    **dict.fromkeys(
        [
            "MergePlan",
            "MergePolicy",
            "MergeRecord",
            "MergeResult",
            "Survivorship",
            "UnmergeConflict",
            "merge",
            "merge_duplicates",
            "plan_merge",
            "unmerge",
        ],
        "crmcore.merge",
    ),
    **dict.fromkeys(
        ["from_dict", "from_json", "make_converter", "to_dict", "to_json"],
        "crmcore.serialization",
    ),
    **dict.fromkeys(["InMemoryStore", "SQLiteStore", "open_store"], "crmcore.storage"),
    **dict.fromkeys(["ConversionResult", "convert_lead"], "crmcore.conversion"),
    **dict.fromkeys(["TimelineEntry", "TimelinePage", "timeline"], "crmcore.timeline"),
}

# ``crmcore.merge`` and ``crmcore.timeline`` name both a module and the function
# it defines, and the attribute has always been the function. Importing the
# module (``from crmcore.merge import plan_merge``, from anywhere) makes Python
# set the package attribute to the module; keep the function there instead.
_SHADOWED = frozenset({"merge", "timeline"})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


def _is_submodule(name: str) -> bool:
    return (
        name.isidentifier()
        and not name.startswith("_")
        and importlib.util.find_spec(f"{__name__}.{name}") is not None
    )


def __getattr__(name: str) -> Any:
    """Load a lazily exported name, or a submodule (``crmcore.storage``), on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif _is_submodule(name):
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Case",
    "CaseEvent",
    "CaseId",
    "CaseStatus",
    "Channel",
    "Consent",
    "ConsentEvent",
    "ConsentEvidence",
    "ConsentStatus",
    "ContactEmail",
    "ContactLabel",
    "ContactPhone",
    "ContactRole",
    "ConversionResult",
    "CrmError",
    "CustomFields",
    "Customer",
    "CustomerId",
    "CustomerKind",
    "DataError",
    "DealStatus",
    "Direction",
    "DuplicateDetected",
    "DuplicateRecord",
    "EmailAddress",
    "EventDispatcher",
    "ExternalIds",
    "InMemoryStore",
    "IntegrityError",
    "Interaction",
    "InteractionId",
    "InvalidTransition",
    "Lead",
    "LeadId",
    "LeadSource",
    "LeadStatus",
    "LegalBasis",
    "LifecycleStage",
    "MergeId",
    "MergePlan",
    "MergePolicy",
    "MergeRecord",
    "MergeResult",
    "Money",
    "NotFound",
    "OperationalError",
    "Opportunity",
    "OpportunityId",
    "Participant",
    "ParticipantRole",
    "PersonName",
    "PhoneKind",
    "PhoneNumber",
    "Pipeline",
    "PostalAddress",
    "Priority",
    "RecordId",
    "RecordRestricted",
    "Restriction",
    "SQLiteStore",
    "Stage",
    "StageChange",
    "StorageError",
    "Suppressed",
    "Survivorship",
    "Task",
    "TaskId",
    "TaskKind",
    "TaskStatus",
    "TimelineEntry",
    "TimelinePage",
    "UnmergeConflict",
    "ValidationError",
    "VersionConflict",
    "convert_lead",
    "from_dict",
    "from_json",
    "make_converter",
    "merge",
    "merge_duplicates",
    "open_store",
    "plan_merge",
    "timeline",
    "to_dict",
    "to_json",
    "unmerge",
]

__version__ = "0.1.0.dev0"

sys.modules[__name__].__class__ = _Package
