"""Every field of a customer or a lead has a survivorship rule, or a reason to have none.

What it protects: add ``nickname: str | None = None`` to ``Customer`` and
forget ``CUSTOMER_RULES``, and ``plan_merge`` never looks at the field: the
survivor keeps its own nickname, the other record's is kept only in the merge
record, and no decision reports the loss. This test then fails, naming
``nickname``, until the field gets a rule (``CUSTOMER_RULES``) or is declared
bookkeeping (``BOOKKEEPING``: the store's own) or managed by the merge itself
(``MERGE_MANAGED``).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import pytest

from crmcore import Customer, Lead
from crmcore.merge import BOOKKEEPING, CUSTOMER_RULES, LEAD_RULES, MERGE_MANAGED, Rule


def unaccounted(entity: type, rules: Mapping[str, Rule]) -> set[str]:
    """The fields of ``entity`` that no rule decides and no list excuses."""
    fields = {f.name for f in attrs.fields(entity)}
    return fields - set(rules) - BOOKKEEPING - MERGE_MANAGED


@pytest.mark.parametrize(("entity", "rules"), [(Customer, CUSTOMER_RULES), (Lead, LEAD_RULES)])
def test_every_field_merges_or_is_bookkeeping(entity: type, rules: Mapping[str, Rule]) -> None:
    assert unaccounted(entity, rules) == set()


@pytest.mark.parametrize(("entity", "rules"), [(Customer, CUSTOMER_RULES), (Lead, LEAD_RULES)])
def test_every_rule_names_a_field(entity: type, rules: Mapping[str, Rule]) -> None:
    fields = {f.name for f in attrs.fields(entity)}
    assert set(rules) <= fields
    assert not set(rules) & (BOOKKEEPING | MERGE_MANAGED)


def test_a_field_without_a_rule_is_caught() -> None:
    @attrs.frozen
    class Extended:
        id: str
        name: str
        nickname: str | None = None
        version: int = 0

    assert unaccounted(Extended, {"name": CUSTOMER_RULES["name"]}) == {"nickname"}
