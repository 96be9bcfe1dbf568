"""Privacy by design: the consent ledger's questions, and the data subject's rights.

- :func:`can_contact` and :func:`consent_history`: consent as the embedding
  app asks about it (the ledger itself is :mod:`crmcore.consent`).
- :func:`erase` (Art. 17) with its :class:`ErasureReceipt`, :func:`restrict`
  and :func:`lift_restriction` (Art. 18).

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

__all__ = [
    "ERASED",
    "SERVICE_PURPOSE",
    "ErasureMode",
    "ErasureReceipt",
    "can_contact",
    "consent_history",
    "erase",
    "lift_restriction",
    "mask_email",
    "mask_phone",
    "restrict",
]
