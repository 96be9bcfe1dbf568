"""crmcore: the domain core of a CRM as a library.

Typed, immutable customers, leads and interactions; normalised emails and phone
numbers; strict serialisation. Everything public is re-exported here.
"""

from crmcore._entity import ContactEmail, ContactPhone
from crmcore.consent import Consent, ConsentStatus, LegalBasis
from crmcore.customers import Customer, CustomerKind, LifecycleStage
from crmcore.errors import (
    CrmError,
    DuplicateRecord,
    InvalidTransition,
    NotFound,
    StorageError,
    ValidationError,
    VersionConflict,
)
from crmcore.ids import CustomerId, InteractionId, LeadId, MergeId, RecordId
from crmcore.interactions import Channel, Direction, Interaction, Participant, ParticipantRole
from crmcore.leads import Lead, LeadSource, LeadStatus
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

__all__ = [
    "Channel",
    "Consent",
    "ConsentStatus",
    "ContactEmail",
    "ContactLabel",
    "ContactPhone",
    "CrmError",
    "CustomFields",
    "Customer",
    "CustomerId",
    "CustomerKind",
    "Direction",
    "DuplicateRecord",
    "EmailAddress",
    "ExternalIds",
    "InMemoryStore",
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
    "Money",
    "NotFound",
    "Participant",
    "ParticipantRole",
    "PersonName",
    "PhoneKind",
    "PhoneNumber",
    "PostalAddress",
    "RecordId",
    "SQLiteStore",
    "StorageError",
    "ValidationError",
    "VersionConflict",
    "from_dict",
    "from_json",
    "make_converter",
    "open_store",
    "to_dict",
    "to_json",
]

__version__ = "0.1.0.dev0"
