"""The dedup normalisers' caches over personal data: bounded, and emptied by clear_caches."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crmcore.dedup.normalize as normalize
import crmcore.dedup.rules as rules
import crmcore.values as values
from crmcore import Customer, EmailAddress, PostalAddress
from crmcore.dedup import (
    MatchRecord,
    PersonNameRule,
    clear_caches,
    default_rules,
    email_match_key,
    find_duplicates,
    organization_key,
    person_name_key,
    phone_match_keys,
)


def value_caches() -> list[tuple[str, object]]:
    """Every cached function of the dedup modules that is not a loaded data table."""
    found = []
    for module in (normalize, rules):
        for name, value in vars(module).items():
            if name.startswith("__"):
                continue
            info = getattr(value, "cache_info", None)
            # maxsize 1: a data file read once, which holds no one's data.
            if callable(info) and info().maxsize != 1:
                found.append((f"{module.__name__}.{name}", value))
    return found


def fill_caches() -> None:
    person_name_key("Ada Lovelace")
    email_match_key("ada.lovelace@example.com", provider_rules=True)
    email_match_key("ada.lovelace@gmail.com", provider_rules=True)
    phone_match_keys("+46701234567")
    organization_key("Lovelace Engines AB")
    address = PostalAddress(lines=("Storgatan 1",), locality="Stockholm", country="SE")
    a = Customer.create(name="Ada Lovelace", emails=["ada@example.com"], addresses=[address])
    b = Customer.create(name="Ada Lovelace", emails=["ada@example.com"], addresses=[address])
    find_duplicates([a, b])


def test_there_are_caches_over_personal_data_to_clear() -> None:
    names = {name for name, _ in value_caches()}
    assert {"crmcore.dedup.normalize.fold", "crmcore.dedup.rules._street"} <= names


@pytest.mark.parametrize(("name", "cached"), value_caches())
def test_every_cache_over_values_is_bounded_and_emptied_by_clear_caches(
    name: str, cached: object
) -> None:
    info = cached.cache_info  # type: ignore[attr-defined]
    assert info().maxsize is not None, name
    fill_caches()
    clear_caches()
    assert info().currsize == 0, name


def test_clear_caches_empties_what_matching_filled() -> None:
    fill_caches()
    assert sum(cached.cache_info().currsize for _, cached in value_caches()) > 0  # type: ignore[attr-defined]
    clear_caches()
    assert sum(cached.cache_info().currsize for _, cached in value_caches()) == 0  # type: ignore[attr-defined]


@given(st.text(max_size=40))
def test_keys_are_the_same_after_clearing(name: str) -> None:
    before = (person_name_key(name), organization_key(name))
    clear_caches()
    assert (person_name_key(name), organization_key(name)) == before


def test_clear_caches_forgets_the_email_domains_parsing_validated() -> None:
    domains = values._domain_parts
    clear_caches()
    EmailAddress.parse("ada@lovelace-engines.se")
    assert domains.cache_info().currsize == 1
    clear_caches()
    assert domains.cache_info().currsize == 0
    # Parsed again, the domain is validated again: a miss, not a hit.
    misses = domains.cache_info().misses
    EmailAddress.parse("ada@lovelace-engines.se")
    assert domains.cache_info().misses == misses + 1


def test_every_value_cache_of_the_models_is_bounded_and_cleared() -> None:
    cached = [v for v in vars(values).values() if callable(getattr(v, "cache_info", None))]
    assert cached, "crmcore.values caches the email domains it validates"
    EmailAddress.parse("grace@hopper-navy.se")
    clear_caches()
    for function in cached:
        assert function.cache_info().maxsize is not None
        assert function.cache_info().currsize == 0


def test_clear_caches_empties_the_names_a_rule_prepared() -> None:
    # The default rule set lives as long as the process, and its name rule
    # keeps the (given, family) pairs it has prepared.
    rule = next(r for r in default_rules().rules if isinstance(r, PersonNameRule))
    own = PersonNameRule()
    a = Customer.create(name="Ada Lovelace", emails=["ada@example.com"])
    b = Customer.create(name="Ada Lovelace", emails=["ada@example.com"])
    find_duplicates([a, b])
    own.prepare(MatchRecord.from_record(a))
    assert rule._cache
    assert own._cache
    clear_caches()
    assert not rule._cache
    assert not own._cache
