"""The index-key formats of crmcore.storage.keys, shared by stores and dedup."""

from __future__ import annotations

from hypothesis import given

import crmcore.dedup
from crmcore import Customer
from crmcore.storage import InMemoryStore, default_keys, email_key, identifier_key, phone_key
from crmcore.storage.keys import NAME_PREFIXES, mailbox_index_key
from crmcore.testing.strategies import customers


@given(customers())
def test_default_keys_are_built_from_the_public_key_functions(customer: Customer) -> None:
    expected = []
    for e in customer.emails:
        expected.append(email_key(e.address.match_key))
        if e.address.mailbox_key != e.address.match_key:
            expected.append(mailbox_index_key(e.address.mailbox_key))
    expected += [phone_key(p.number.e164) for p in customer.phones]
    expected += [identifier_key(s, v) for s, v in customer.identifiers.items()]
    assert list(default_keys(customer)) == expected


def test_the_key_formats() -> None:
    assert email_key("ada@example.org") == "email:ada@example.org"
    assert phone_key("+46812345678") == "phone:+46812345678"
    assert identifier_key("vat", "SE1") == "id:vat:SE1"
    assert NAME_PREFIXES == ("name:", "organization:")
    assert mailbox_index_key("annlee@gmail.com") == "mailbox:annlee@gmail.com"


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


def test_a_tagged_or_dotted_address_is_found_by_its_mailbox() -> None:
    with InMemoryStore() as store:
        ann = store.customers.add(
            Customer.create(name="Ann Lee", emails=["Ann.Lee+crm@googlemail.com"])
        )
        assert store.customers.find_by_keys([mailbox_index_key("annlee@gmail.com")]) == [ann]
        candidate = Customer.create(name="Ann Lee", emails=["annlee@gmail.com"])
        found = crmcore.dedup.check_duplicates(candidate, store)
        assert [m.record_id for m in found] == [ann.id]
