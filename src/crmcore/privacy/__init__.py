"""Privacy by design: the consent ledger's questions, and the data subject's rights.

- :func:`can_contact` and :func:`consent_history`: consent as the embedding
  app asks about it (the ledger itself is :mod:`crmcore.consent`).

Each part of this package adds its names below (sorted ``__all__``).
"""

from __future__ import annotations

from crmcore.privacy._consent import SERVICE_PURPOSE, can_contact, consent_history

__all__ = [
    "SERVICE_PURPOSE",
    "can_contact",
    "consent_history",
]
