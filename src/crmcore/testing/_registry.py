"""Which crmcore types ``st.from_type()`` draws with the kit's strategies.

Hypothesis imports this through its entry point (see
``crmcore.testing._hypothesis_setup_hook``) every time hypothesis itself is
imported, so it registers resolvers that import the strategies module only
when a test first asks for one of these types.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from crmcore.consent import Consent
from crmcore.contacts import ContactEmail, ContactPhone
from crmcore.customers import Customer
from crmcore.interactions import Interaction, Participant
from crmcore.leads import Lead
from crmcore.merge import (
    BulkMergeResult,
    Candidate,
    FieldDecision,
    MergePlan,
    MergePolicy,
    MergeRecord,
    MergeResult,
    Snapshot,
)
from crmcore.values import (
    CustomFields,
    EmailAddress,
    ExternalIds,
    Money,
    PersonName,
    PhoneNumber,
    PostalAddress,
)

REGISTERED: tuple[type[Any], ...] = (
    Customer,
    Lead,
    Interaction,
    Participant,
    Consent,
    ContactEmail,
    ContactPhone,
    EmailAddress,
    PhoneNumber,
    PersonName,
    PostalAddress,
    Money,
    CustomFields,
    ExternalIds,
    Snapshot,
    MergeRecord,
    MergePolicy,
    Candidate,
    FieldDecision,
    MergePlan,
    MergeResult,
    BulkMergeResult,
)
"""The models with a strategy of their own (the others ``st.builds()`` handles)."""


def _resolve(kind: type[Any]) -> st.SearchStrategy[Any]:
    from crmcore.testing.strategies import _strategy_for

    return _strategy_for(kind)


def register_lazily() -> None:
    """Point ``st.from_type()`` at the kit's strategy for each registered type."""
    for kind in REGISTERED:
        st.register_type_strategy(kind, _resolve)
