"""Privacy by design: the consent ledger's questions, and the data subject's rights.

- :func:`can_contact` and :func:`consent_history`: consent as the embedding
  app asks about it (the ledger itself is :mod:`crmcore.consent`).
- :func:`erase` (Art. 17) with its :class:`ErasureReceipt`, :func:`restrict`
  and :func:`lift_restriction` (Art. 18).
- :func:`find_subject`, :func:`export_subject`, :func:`import_subject`: a
  person's records, found through match keys, exported and imported again.
- :func:`suppress`, :func:`is_suppressed`, :func:`suppression_digest`: the
  suppression list of erased contact points (keyed digests, never the points).
- :func:`open_request`, :func:`extend_request`, :func:`answer_request`,
  :func:`due_requests`: subject-request bookkeeping (Art. 12(3)).

Each part of this package adds its names below (sorted ``__all__``).
"""

from __future__ import annotations

from crmcore.privacy._consent import SERVICE_PURPOSE, can_contact, consent_history
from crmcore.privacy._erase import (
    ERASED,
    ErasureMode,
    ErasureReceipt,
    erase,
    lift_restriction,
    mask_email,
    mask_phone,
    restrict,
)
from crmcore.privacy._requests import answer_request, due_requests, extend_request, open_request
from crmcore.privacy._subject import (
    SubjectRecords,
    export_subject,
    find_subject,
    import_subject,
    subject_records,
)
from crmcore.privacy._suppression import (
    SuppressionPolicy,
    is_suppressed,
    suppress,
    suppressed_fields,
    suppression_digest,
)

__all__ = [
    "ERASED",
    "SERVICE_PURPOSE",
    "ErasureMode",
    "ErasureReceipt",
    "SubjectRecords",
    "SuppressionPolicy",
    "answer_request",
    "can_contact",
    "consent_history",
    "due_requests",
    "erase",
    "export_subject",
    "extend_request",
    "find_subject",
    "import_subject",
    "is_suppressed",
    "lift_restriction",
    "mask_email",
    "mask_phone",
    "open_request",
    "restrict",
    "subject_records",
    "suppress",
    "suppressed_fields",
    "suppression_digest",
]
