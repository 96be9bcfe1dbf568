"""The services over a store, under the module name they had first.

Lead conversion lives in :mod:`crmcore.conversion`, the timeline in
:mod:`crmcore.timeline` and the event-publishing writes in :mod:`crmcore.writes`;
this module re-exports them so that ``from crmcore.workflows import ...`` keeps
working.
"""

from crmcore.conversion import ConversionResult, OpportunityDraft, convert_lead
from crmcore.timeline import Relation, TimelineEntry, TimelinePage, timeline
from crmcore.writes import (
    CheckedWrite,
    add_case,
    add_customer,
    add_lead,
    add_opportunity,
    add_task,
    change_case_status,
    change_lead_status,
    check_and_lock,
    log_interaction,
    move_opportunity,
    update_case,
    update_customer,
    update_opportunity,
    update_task,
)

__all__ = [
    "CheckedWrite",
    "ConversionResult",
    "OpportunityDraft",
    "Relation",
    "TimelineEntry",
    "TimelinePage",
    "add_case",
    "add_customer",
    "add_lead",
    "add_opportunity",
    "add_task",
    "change_case_status",
    "change_lead_status",
    "check_and_lock",
    "convert_lead",
    "log_interaction",
    "move_opportunity",
    "timeline",
    "update_case",
    "update_customer",
    "update_opportunity",
    "update_task",
]
