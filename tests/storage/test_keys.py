"""The index-key formats of crmcore.storage.keys, shared by stores and dedup."""

from __future__ import annotations

from hypothesis import given

import crmcore.dedup
from crmcore import Customer
from crmcore.storage import InMemoryStore, default_keys, email_key, identifier_key, phone_key
from crmcore.storage.keys import NAME_PREFIXES
from crmcore.testing.strategies import customers


@given(customers())
def test_default_keys_are_built_from_the_public_key_functions(customer: Customer) -> None:
    expected = [email_key(e.address.match_key) for e in customer.emails]
    expected += [phone_key(p.number.e164) for p in customer.phones]
    expected += [identifier_key(s, v) for s, v in customer.identifiers.items()]
    assert list(default_keys(customer)) == expected


def test_the_key_formats() -> None:
    assert email_key("ada@example.org") == "email:ada@example.org"
    assert phone_key("+46812345678") == "phone:+46812345678"
    assert identifier_key("vat", "SE1") == "id:vat:SE1"
    assert NAME_PREFIXES == ("name:", "organization:")


def test_a_store_finds_records_by_the_keys_the_functions_build() -> None:
    with InMemoryStore() as store:
        ada = store.customers.add(
            Customer.create(
                name="Ada Lovelace",
                emails=["ada@example.org"],
                phones=["+46 8 123 456 78"],
                identifiers={"crm": "7"},
            )
        )
        assert store.customers.find_by_keys([email_key("ada@example.org")]) == [ada]
        assert store.customers.find_by_keys([phone_key("+46812345678")]) == [ada]
        assert store.customers.find_by_keys([identifier_key("crm", "7")]) == [ada]


def test_dedup_selective_keys_use_the_storage_formats_and_keep_the_old_name() -> None:
    assert crmcore.dedup.lookup_keys is crmcore.dedup.selective_keys
    ada = Customer.create(name="Ada Lovelace", emails=["ada@example.org"])
    keys = crmcore.dedup.selective_keys(ada)
    assert email_key("ada@example.org") in keys
    assert any(k.startswith(NAME_PREFIXES) for k in keys)
