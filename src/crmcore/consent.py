"""Consent to be contacted, per channel and purpose."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from crmcore._validation import Problems
from crmcore.errors import ValidationError
from crmcore.interactions import Channel
from crmcore.values import optional_text

__all__ = ["Consent", "ConsentStatus", "LegalBasis", "normalize_purpose"]


class ConsentStatus(enum.Enum):
    """Whether a person agreed to be contacted."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class LegalBasis(enum.Enum):
    """The GDPR Art. 6 basis a contact relies on."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


def normalize_purpose(value: object, field: str = "purpose") -> str:
    """A consent purpose as stored: trimmed, whitespace-folded and case-folded."""
    purpose = optional_text(value, field, max_length=100)
    if purpose is None:
        raise ValidationError(field, "must not be blank")
    return purpose.casefold()


def _masked(value: object) -> str:
    # Free text typed by whoever recorded the consent ("phoned Ada Lovelace on
    # 0701234567") can hold personal data, and reprs end up in logs.
    return "None" if value is None else "<masked>"


@attrs.frozen
class Consent:
    """The state of consent for one channel and purpose (``marketing``, ``newsletter``...).

    Its repr masks the free-text ``purpose`` and ``source``.
    """

    channel: Channel
    purpose: str = attrs.field(repr=_masked)
    status: ConsentStatus
    recorded_at: datetime
    source: str | None = attrs.field(default=None, repr=_masked)
    legal_basis: LegalBasis = LegalBasis.CONSENT

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if not isinstance(self.channel, Channel):
            problems.add("channel", "must be a Channel")
        problems.set(self, "purpose", normalize_purpose, self.purpose)
        if not isinstance(self.status, ConsentStatus):
            problems.add("status", "must be a ConsentStatus")
        if not isinstance(self.legal_basis, LegalBasis):
            problems.add("legal_basis", "must be a LegalBasis")
        problems.utc(self, "recorded_at")
        problems.set(self, "source", optional_text, self.source, "source", max_length=200)
        problems.raise_if_any()

    @property
    def granted(self) -> bool:
        """Whether contact is allowed."""
        return self.status is ConsentStatus.GRANTED
