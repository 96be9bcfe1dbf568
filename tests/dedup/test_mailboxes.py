"""Emails compared by mailbox: +tags, Gmail dots and googlemail.com."""

from __future__ import annotations

import pytest

from crmcore.dedup import Decision, EmailRule, RuleSet, default_rules
from tests.dedup._helpers import person

RULES = RuleSet.default()


@pytest.mark.parametrize(
    "other",
    ["ann.lee+crm@gmail.com", "annlee@googlemail.com", "Ann.Lee@GMAIL.com", "a.n.n.lee@gmail.com"],
)
def test_one_gmail_mailbox_is_one_address(other: str) -> None:
    a = person("a", "Ann", "Lee", emails=["annlee@gmail.com"])
    b = person("b", "Ann", "Lee", emails=[other])
    assert RULES.compare(a, b)[1] is Decision.MATCH


def test_a_plus_tag_is_dropped_at_any_domain_but_dots_matter_there() -> None:
    tagged = person("a", None, None, emails=["anna.lindqvist+shop@example.org"])
    plain = person("b", "Anna", "Lindqvist", emails=["anna.lindqvist@example.org"])
    dotless = person("c", "Anna", "Lindqvist", emails=["annalindqvist@example.org"])
    assert RULES.compare(tagged, plain)[1] is Decision.MATCH
    assert RULES.compare(tagged, dotless)[1] is not Decision.MATCH


def test_exact_addresses_when_the_provider_rules_are_off() -> None:
    exact = default_rules().with_rules(EmailRule(provider_rules=False))
    a = person("a", None, None, emails=["ann.lee+crm@gmail.com"])
    b = person("b", None, None, emails=["annlee@gmail.com"])
    assert exact.compare(a, b)[1] is not Decision.MATCH


def test_a_dotted_family_mailbox_is_still_a_shared_one() -> None:
    # Without its dots "familie.zimmer@gmail.com" would read as a person's mailbox.
    shared = {"emails": ["familie.zimmer@gmail.com"], "phones": ["030 34749423"]}
    a = person("a", "Ramona", "Zimmer", city="Berlin", **shared)  # type: ignore[arg-type]
    b = person("b", "Falk", "Zimmer", city="Berlin", **shared)  # type: ignore[arg-type]
    assert RULES.compare(a, b)[1] is Decision.NON_MATCH
