"""crmcore: the domain core of a CRM as a library.

Typed, immutable customers, leads and interactions; normalised emails and phone
numbers; strict serialisation; stores (in memory, SQLite, your own); merges
that lose nothing and can be undone; lead conversion and the timeline.
Duplicate detection lives in :mod:`crmcore.dedup`, the testing kit in
:mod:`crmcore.testing`, the command line in :mod:`crmcore.cli`.
"""

from crmcore.consent import Consent, ConsentStatus, LegalBasis
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
    StorageError,
    ValidationError,
    VersionConflict,
)
from crmcore.events import EventDispatcher
from crmcore.ids import CustomerId, InteractionId, LeadId, MergeId, RecordId
from crmcore.interactions import Channel, Direction, Interaction, Participant, ParticipantRole
from crmcore.leads import Lead, LeadSource, LeadStatus
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
from crmcore.serialization import from_dict, from_json, make_converter, to_dict, to_json
from crmcore.storage import InMemoryStore, SQLiteStore, open_store
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
from crmcore.workflows import ConversionResult, TimelineEntry, TimelinePage, convert_lead, timeline

__all__ = [
    "Channel",
    "Consent",
    "ConsentStatus",
    "ContactEmail",
    "ContactLabel",
    "ContactPhone",
    "ConversionResult",
    "CrmError",
    "CustomFields",
    "Customer",
    "CustomerId",
    "CustomerKind",
    "DataError",
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
    "Participant",
    "ParticipantRole",
    "PersonName",
    "PhoneKind",
    "PhoneNumber",
    "PostalAddress",
    "RecordId",
    "SQLiteStore",
    "StorageError",
    "Survivorship",
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
