"""Which crmcore types ``st.from_type()`` draws with the kit's strategies.

Hypothesis imports this through its entry point (see
``crmcore.testing._hypothesis_setup_hook``) every time hypothesis itself is
imported, so it registers resolvers that import the strategies module only
when a test first asks for one of these types.
"""

from __future__ import annotations

import importlib
from typing import Any

from hypothesis import strategies as st

# By name, where users import them from; resolved when hypothesis runs the hook.
_MODELS = {
    "crmcore": (
        "Customer", "Lead", "Interaction", "Participant", "Consent", "ContactEmail",
        "ContactPhone", "EmailAddress", "PhoneNumber", "PersonName", "PostalAddress",
        "Money", "CustomFields", "ExternalIds", "Pipeline", "Stage", "Opportunity",
        "StageChange", "ContactRole", "Task", "Case", "CaseEvent", "ConsentEvent",
        "ConsentEvidence", "Restriction",
    ),
    "crmcore.merge": (
        "Snapshot", "MergeRecord", "MergePolicy", "Candidate", "FieldDecision", "MergePlan",
        "MergeResult", "BulkMergeResult",
    ),
}  # fmt: skip


def registered() -> list[type[Any]]:
    """The models with a strategy of their own (the others ``st.builds()`` handles)."""
    return [
        getattr(importlib.import_module(module), name)
        for module, names in _MODELS.items()
        for name in names
    ]


def _resolve(kind: type[Any]) -> st.SearchStrategy[Any]:
    from crmcore.testing.strategies import _strategy_for

    return _strategy_for(kind)


def register_lazily() -> None:
    """Point ``st.from_type()`` at the kit's strategy for each registered type."""
    for kind in registered():
        st.register_type_strategy(kind, _resolve)
