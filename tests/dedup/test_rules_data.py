"""A RuleSet as data: to_dict / from_dict round trips, and strict reading."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import ValidationError
from crmcore.dedup import (
    AddressRule,
    Clause,
    Decision,
    EmailRule,
    NicknameTable,
    PersonNameRule,
    RuleSet,
    default_rules,
)

_WEIGHT = st.floats(min_value=-30, max_value=30, allow_nan=False).map(lambda w: round(w, 3))


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    email = EmailRule(
        agree=draw(_WEIGHT), provider_rules=draw(st.booleans()), disagree=draw(_WEIGHT)
    )
    address = AddressRule(full=draw(_WEIGHT), branch=draw(_WEIGHT))
    extra = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["Gunnar", "Karl"]), st.sampled_from(["Gurra", "Kalle", "Kalli"])
            ),
            max_size=3,
        )
    )
    names = PersonNameRule(nicknames=NicknameTable.default().extended(extra))
    clauses = draw(
        st.lists(
            st.builds(
                Clause,
                st.sampled_from(["one", "two"]),
                st.dictionaries(st.sampled_from(["email", "name"]), st.floats(0, 1), max_size=2),
                st.dictionaries(st.sampled_from(["phone"]), st.floats(0, 1), max_size=1),
                st.sampled_from(list(Decision)),
            ),
            max_size=2,
        )
    )
    return attrs.evolve(
        default_rules().with_rules(email, address, names),
        clauses=tuple(clauses),
        match=draw(st.floats(0.6, 0.99)),
        possible=draw(st.floats(0.01, 0.5)),
        window=draw(st.integers(1, 20)),
    )


@given(rule_sets())
def test_a_rule_set_survives_json(rules: RuleSet) -> None:
    data = json.loads(json.dumps(rules.to_dict()))
    assert RuleSet.from_dict(data) == rules


def test_the_default_rules_round_trip_and_name_the_default_nicknames() -> None:
    data = default_rules().to_dict()
    assert RuleSet.from_dict(data) == default_rules()
    names = next(r for r in data["rules"] if r["type"] == "PersonNameRule")
    assert names["nicknames"] == "default"


def test_left_out_fields_take_their_defaults() -> None:
    rules = RuleSet.from_dict(
        {"format": "crmcore-rules", "version": 1, "rules": [{"type": "EmailRule"}]}
    )
    assert rules == RuleSet(rules=(EmailRule(),))


def test_a_user_rule_is_code_not_data() -> None:
    class Mine:
        name = "mine"

        def blocking_keys(self, record: object) -> list[str]:
            return []

        def compare(self, a: object, b: object) -> None:
            return None

    with pytest.raises(ValidationError) as caught:
        default_rules().with_rules(Mine()).to_dict()
    assert caught.value.paths == ("rules[8]",)


def _base(**changes: Any) -> dict[str, Any]:
    data = default_rules().to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"rules": []}, "format"),
        (_base(format="other"), "format"),
        (_base(version=2), "version"),
        (_base(rules=[]), "rules"),
        (_base(rules=[{"type": "NoSuchRule"}]), "rules[0].type"),
        (_base(rules=[{"type": "EmailRule", "agree": "13"}]), "rules[0].agree"),
        (_base(rules=[{"type": "EmailRule", "agree": True}]), "rules[0].agree"),
        (_base(rules=[{"type": "EmailRule", "secret": 1}]), "rules[0].secret"),
        (_base(rules=[{"type": "PersonNameRule", "weights": [[1]]}]), "rules[0].weights"),
        (_base(rules=[{"type": "PersonNameRule", "nicknames": "mine"}]), "rules[0].nicknames"),
        (_base(window="8"), "window"),
        (_base(match=1.5), "match"),
        (_base(surprise=1), "surprise"),
        (_base(clauses=[{"name": "x", "decision": "maybe"}]), "clauses[0].decision"),
    ],
)
def test_bad_rule_data_names_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RuleSet.from_dict(data)
    assert caught.value.paths == (path,)
