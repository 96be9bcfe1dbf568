"""``make demo``: crmcore's main job on the embedded SQLite store (``python -m crmcore.demo``).

A small business imports a messy contact list, logs what happened with those
people, captures a web-form lead, finds and merges the duplicates, reads a
customer's whole timeline, and undoes a merge. Everything goes through a real
SQLite file, which the demo deletes at the end unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs

from crmcore import (
    Channel,
    Customer,
    CustomerId,
    Direction,
    Interaction,
    Lead,
    LeadStatus,
    SQLiteStore,
    ValidationError,
    convert_lead,
    merge_duplicates,
    timeline,
    unmerge,
)
from crmcore.dedup import DuplicatePolicy, blocking_keys, find_duplicates, guard_duplicates
from crmcore.ids import new_interaction_id

# The same few people, typed in by sales, imported from a web shop and created
# by a support form: case, spacing, phone formats, nicknames, name order.
CONTACTS = [
    ("Robert Müller", "robert.mueller@example.de", "030 1234567", "DE"),
    ("Bob Mueller", " Robert.Mueller@Example.DE", "+49 30 1234567", "DE"),
    ("Åsa Lindqvist", "asa.lindqvist@example.se", "070-123 45 67", "SE"),
    ("Lindqvist Asa", "", "+46701234567", "SE"),
    ("Siti Rahayu", "siti.rahayu@contoh.co.id", "0812-3456-7890", "ID"),
    ("Budi Santoso", "info@contoh.co.id", "021 555 0100", "ID"),  # a shared mailbox and switchboard
    ("Dewi Santoso", "info@contoh.co.id", "021 555 0100", "ID"),
    ("Grace Hopper", "grace@example.org", "(212) 555-0147", "US"),
    ("Grace Hoper", "grace@example.org", "", "US"),
    ("Alan Turing", "not-an-email", "12", "GB"),  # refused, with field paths
]


@contextmanager
def _store_file(keep: bool) -> Iterator[Path]:
    if keep:
        path = Path("crmcore-demo.db").resolve()
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)  # each run starts from an empty store
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="crmcore-demo-") as folder:
        yield Path(folder) / "crm.db"


def main(argv: list[str] | None = None) -> None:
    """Run the tour and print what happens at each step."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep ./crmcore-demo.db afterwards")
    args = parser.parse_args(argv)
    with _store_file(args.keep) as path, SQLiteStore(path, key_function=blocking_keys) as store:
        print(f"SQLite store: {path}")

        print("\n1. Import a messy contact list (duplicate policy: alert)")
        imported: list[Customer] = []
        for row, (name, email, phone, region) in enumerate(CONTACTS, start=1):
            try:
                customer = Customer.create(
                    name=name,
                    emails=[email] if email else [],
                    phones=[phone] if phone else [],
                    region=region,
                )
            except ValidationError as error:
                print(f"   row {row}: refused ({error})")
                continue
            matches = guard_duplicates(customer, store, policy=DuplicatePolicy.ALERT)
            imported.append(store.customers.add(customer))
            note = f", may duplicate {len(matches)} stored record(s)" if matches else ""
            print(f"   row {row}: stored {customer.id}{note}")

        print("\n2. Log interactions against whichever record each channel knew")
        now = datetime.now(UTC)
        logged = []
        for hours, customer in enumerate(imported):
            message = Interaction.log(
                channel=Channel.EMAIL if hours % 2 else Channel.PHONE_CALL,
                direction=Direction.INBOUND,
                occurred_at=now - timedelta(hours=hours + 1),
                customer_id=customer.id,
                subject=f"Contact #{hours + 1}",
                external_id=f"provider-message-{hours}",
            )
            logged.append(store.interactions.add(message))
        print(f"   {len(logged)} interactions logged")
        replayed = store.interactions.add(attrs.evolve(logged[0], id=new_interaction_id()))
        print(f"   the same provider message ingested again is not copied: {replayed == logged[0]}")

        print("\n3. A web-form lead who is already a customer")
        lead = store.leads.add(
            Lead.create(name="Grace M. Hopper", emails=["GRACE@example.org"], source="web_form")
        )
        store.interactions.add(
            Interaction.log(
                channel=Channel.WEB_FORM,
                direction=Direction.INBOUND,
                occurred_at=now,
                lead_id=lead.id,
                subject="Pricing request",
            )
        )
        for status in (LeadStatus.CONTACTED, LeadStatus.QUALIFIED):
            lead = store.leads.update(lead.transition_to(status))
        conversion = convert_lead(store, lead.id)
        found = "a new customer" if conversion.created else "the existing customer it matched"
        print(f"   lead converted into {found}, {conversion.customer.id}")
        same = convert_lead(store, lead.id).customer.id == conversion.customer.id
        print(f"   converting again returns the same customer: {same}")

        print("\n4. Find the duplicates in the store, with reasons")
        result = find_duplicates(store)
        for cluster in result.clusters:
            reasons = sorted(
                {e.field for pair in cluster.pairs for e in pair.evidence if e.score > 0.5}
            )
            print(
                f"   {len(cluster.member_ids)} records, confidence {cluster.confidence:.2f},"
                f" matched on {', '.join(reasons)}"
            )
        print(f"   {len(result.possible_matches)} pair(s) left for a person to review")

        print("\n5. Merge them: nothing is lost, old ids still resolve")
        merged = merge_duplicates(store, result)
        for outcome in merged.merged:
            survivor = outcome.survivor
            page = timeline(store, survivor.id)
            print(
                f"   merge {outcome.merge_id}: survivor {survivor.id} has"
                f" {len(survivor.emails)} email(s), {len(survivor.phones)} phone(s),"
                f" {len(page.entries)} interaction(s) on its timeline"
            )
            resolved = all(
                store.customers.resolve(CustomerId(old)).id == survivor.id
                for old in outcome.plan.merged_ids
                if old.startswith("cus_")
            )
            print(f"   the merged-away ids resolve to the survivor: {resolved}")
        live = store.customers.count()
        print(f"   {live} customer records stored (merged ones kept as tombstones)")

        if merged.merged:
            first = merged.merged[0]
            print("\n6. Undo the first merge")
            unmerge(store, first.merge_id)
            for record_id in (first.plan.survivor_id, *first.plan.merged_ids):
                restored = store.customers.get(CustomerId(record_id))
                print(f"   {restored.id} restored (merged_into={restored.merged_into})")


if __name__ == "__main__":
    main()
