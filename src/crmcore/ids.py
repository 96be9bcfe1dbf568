"""Typed, time-ordered record ids.

An id is a short prefix naming the record type plus a 26-character ULID in
Crockford base32 (``cus_01JD3...``): ids sort by creation time as plain
strings, which gives stores a cheap, stable order for pagination, and a glance
at an id tells what it names.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import NewType

from crmcore.errors import ValidationError

__all__ = [
    "AuditId",
    "CaseId",
    "CustomerId",
    "InteractionId",
    "LeadId",
    "MergeId",
    "OpportunityId",
    "RecordId",
    "RequestId",
    "TaskId",
    "is_audit_id",
    "is_case_id",
    "is_opportunity_id",
    "is_request_id",
    "is_task_id",
    "new_audit_id",
    "new_case_id",
    "new_customer_id",
    "new_interaction_id",
    "new_lead_id",
    "new_merge_id",
    "new_opportunity_id",
    "new_request_id",
    "new_task_id",
    "parse_case_id",
    "parse_customer_id",
    "parse_interaction_id",
    "parse_lead_id",
    "parse_merge_id",
    "parse_opportunity_id",
    "parse_record_id",
    "parse_request_id",
    "parse_task_id",
]

CustomerId = NewType("CustomerId", str)
LeadId = NewType("LeadId", str)
InteractionId = NewType("InteractionId", str)
MergeId = NewType("MergeId", str)
OpportunityId = NewType("OpportunityId", str)
TaskId = NewType("TaskId", str)
CaseId = NewType("CaseId", str)
AuditId = NewType("AuditId", str)
RequestId = NewType("RequestId", str)
RecordId = CustomerId | LeadId
"""The id of a record an interaction can be about: a customer or a lead."""

CUSTOMER_PREFIX = "cus_"
LEAD_PREFIX = "led_"
INTERACTION_PREFIX = "ixn_"
MERGE_PREFIX = "mrg_"
OPPORTUNITY_PREFIX = "opp_"
TASK_PREFIX = "tsk_"
CASE_PREFIX = "cas_"
AUDIT_PREFIX = "aud_"
REQUEST_PREFIX = "req_"

_ULID_LENGTH = 26
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Two base32 digits per lookup: 13 lookups encode the 128-bit value (with two
# leading zero bits) as 26 digits, far cheaper than a digit-by-digit loop.
_DIGIT_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_PAIR_SHIFTS = tuple(range(120, -1, -10))
_ULID_SHAPE = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_lock = threading.Lock()
_last_ms = 0
_last_random = 0


def _ulid() -> str:
    """Return a monotonic ULID: within one millisecond the random part counts up."""
    global _last_ms, _last_random
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            now_ms = _last_ms
            _last_random += 1
        else:
            _last_random = int.from_bytes(os.urandom(10), "big") >> 1
        _last_ms = now_ms
        value = (now_ms << 80) | (_last_random & ((1 << 80) - 1))
    return "".join([_DIGIT_PAIRS[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


def new_customer_id() -> CustomerId:
    """Return a fresh customer id."""
    return CustomerId(CUSTOMER_PREFIX + _ulid())


def new_lead_id() -> LeadId:
    """Return a fresh lead id."""
    return LeadId(LEAD_PREFIX + _ulid())


def new_interaction_id() -> InteractionId:
    """Return a fresh interaction id."""
    return InteractionId(INTERACTION_PREFIX + _ulid())


def new_merge_id() -> MergeId:
    """Return a fresh merge id."""
    return MergeId(MERGE_PREFIX + _ulid())


def new_opportunity_id() -> OpportunityId:
    """Return a fresh opportunity id."""
    return OpportunityId(OPPORTUNITY_PREFIX + _ulid())


def new_task_id() -> TaskId:
    """Return a fresh task id."""
    return TaskId(TASK_PREFIX + _ulid())


def new_case_id() -> CaseId:
    """Return a fresh support case id."""
    return CaseId(CASE_PREFIX + _ulid())


def new_audit_id() -> AuditId:
    """Return a fresh audit entry id."""
    return AuditId(AUDIT_PREFIX + _ulid())


def new_request_id() -> RequestId:
    """Return a fresh subject request id."""
    return RequestId(REQUEST_PREFIX + _ulid())


def is_valid_id(value: object, prefix: str) -> bool:
    """Tell whether ``value`` is a well-formed id with ``prefix``."""
    return (
        isinstance(value, str)
        and len(value) == len(prefix) + _ULID_LENGTH
        and value.startswith(prefix)
        and _ULID_SHAPE.fullmatch(value, len(prefix)) is not None
    )


def is_customer_id(value: object) -> bool:
    """Tell whether ``value`` is a customer id."""
    return is_valid_id(value, CUSTOMER_PREFIX)


def is_lead_id(value: object) -> bool:
    """Tell whether ``value`` is a lead id."""
    return is_valid_id(value, LEAD_PREFIX)


def is_opportunity_id(value: object) -> bool:
    """Tell whether ``value`` is an opportunity id."""
    return is_valid_id(value, OPPORTUNITY_PREFIX)


def is_task_id(value: object) -> bool:
    """Tell whether ``value`` is a task id."""
    return is_valid_id(value, TASK_PREFIX)


def is_case_id(value: object) -> bool:
    """Tell whether ``value`` is a support case id."""
    return is_valid_id(value, CASE_PREFIX)


def is_audit_id(value: object) -> bool:
    """Tell whether ``value`` is an audit entry id."""
    return is_valid_id(value, AUDIT_PREFIX)


def is_request_id(value: object) -> bool:
    """Tell whether ``value`` is a subject request id."""
    return is_valid_id(value, REQUEST_PREFIX)


def _parse(text: object, prefix: str, field: str, what: str) -> str:
    if not is_valid_id(text, prefix):
        raise ValidationError(field, f"must be {what} id ({prefix} and 26 base32 digits)")
    assert isinstance(text, str)
    return text


def parse_customer_id(text: object, *, field: str = "id") -> CustomerId:
    """Check that ``text`` (say, from a URL) is a well-formed customer id and type it.

    Raises:
        ValidationError: naming ``field`` (never the value) when it is not one.

    Example:
        >>> customer_id = parse_customer_id(new_customer_id())
    """
    return CustomerId(_parse(text, CUSTOMER_PREFIX, field, "a customer"))


def parse_lead_id(text: object, *, field: str = "id") -> LeadId:
    """Check that ``text`` is a well-formed lead id and type it (see :func:`parse_customer_id`)."""
    return LeadId(_parse(text, LEAD_PREFIX, field, "a lead"))


def parse_interaction_id(text: object, *, field: str = "id") -> InteractionId:
    """Check that ``text`` is a well-formed interaction id and type it."""
    return InteractionId(_parse(text, INTERACTION_PREFIX, field, "an interaction"))


def parse_merge_id(text: object, *, field: str = "id") -> MergeId:
    """Check that ``text`` is a well-formed merge id and type it."""
    return MergeId(_parse(text, MERGE_PREFIX, field, "a merge"))


def parse_opportunity_id(text: object, *, field: str = "id") -> OpportunityId:
    """Check that ``text`` is a well-formed opportunity id and type it."""
    return OpportunityId(_parse(text, OPPORTUNITY_PREFIX, field, "an opportunity"))


def parse_task_id(text: object, *, field: str = "id") -> TaskId:
    """Check that ``text`` is a well-formed task id and type it."""
    return TaskId(_parse(text, TASK_PREFIX, field, "a task"))


def parse_case_id(text: object, *, field: str = "id") -> CaseId:
    """Check that ``text`` is a well-formed support case id and type it."""
    return CaseId(_parse(text, CASE_PREFIX, field, "a case"))


def parse_request_id(text: object, *, field: str = "id") -> RequestId:
    """Check that ``text`` is a well-formed subject request id and type it."""
    return RequestId(_parse(text, REQUEST_PREFIX, field, "a subject request"))


def parse_record_id(text: object, *, field: str = "id") -> RecordId:
    """Check that ``text`` is a well-formed customer or lead id and type it."""
    if is_lead_id(text):
        return parse_lead_id(text, field=field)
    if is_customer_id(text):
        return parse_customer_id(text, field=field)
    raise ValidationError(field, "must be a customer or lead id")
