"""``crmcore privacy``: find, export, erase and restrict one person's records.

Four sub-commands over :mod:`crmcore.privacy`, for the person who answers
data-subject requests (see docs/privacy.md):

- ``find``: every record that concerns a person, by email, phone or name
  (:func:`crmcore.privacy.find_subject`). Only ids and non-personal states
  are printed (entity, id, "merged into ...", a channel and a date): the
  operator knows whom they asked about, and a terminal's scrollback or a CI
  log should not learn it.
- ``export``: the person's records as one JSON document
  (:func:`crmcore.privacy.export_subject`, Art. 15 and 20). A file is written
  beside its target with owner-only permissions (0600) and renamed into
  place, so a failed export leaves no half-written copy of personal data.
- ``erase``: :func:`crmcore.privacy.erase`; asks for confirmation on a
  terminal, and needs ``--yes`` anywhere else (a script must say so: there is
  no undo).
- ``restrict``: :func:`crmcore.privacy.restrict` with ``--reason``, or
  :func:`crmcore.privacy.lift_restriction` with ``--lift``. The reason is
  free text that may name the person, so it is never printed back.

``--actor NAME`` (accepted before the command, after ``privacy`` or after the
sub-command) names who acts, for the audit trail: the handler runs inside
:func:`crmcore.audit.acting_as`. ``crmcore --actor NAME import ...`` works for
every other command that writes, too.

Exit status as for the other commands: 0 done, 1 when the store or the record
cannot be used (missing file, unknown id, a store without an audit trail), 2
for a bad command line (a malformed id or email, ``erase`` without ``--yes``
off a terminal), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from crmcore.cli._common import Parser, add_command, add_format_option, add_quiet_option
from crmcore.cli._db import add_existing_db_option
from crmcore.cli._errors import EXIT_INPUT, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from crmcore.storage import Store

__all__ = ["acting", "actor_name", "add_actor_option", "register"]

_ACTOR_MAX = 200

_HELP = "find, export, erase or restrict one person's records (data-subject requests)"

_DESCRIPTION = """\
Answer a data-subject request (GDPR Art. 15 to 20) from the command line.

  find      every record that concerns a person, found by email, phone or name
  export    everything held about a person, as one JSON document (access, portability)
  erase     remove or anonymise a person everywhere, and suppress their contact points
  restrict  mark a record restricted (left out of deduplication, merges and marketing)

Every write is in the store's audit trail; --actor NAME says who made it. Only ids are
printed, never names, addresses or numbers. See docs/privacy.md."""

_EPILOG = """\
examples:
  crmcore privacy find --db crm.db --email Ada@Example.com
  crmcore privacy export --db crm.db --customer cus_01J9Z3Q4K8X2V7B6N5M4C3D2E1 -o ada.json
  crmcore privacy --actor dpo@shop.example erase --db crm.db --customer cus_01J9... --yes
  crmcore privacy restrict --db crm.db --customer cus_01J9... --reason "accuracy contested"

Run 'crmcore privacy COMMAND --help' for a command's options."""


# --------------------------------------------------------------------------- --actor


def actor_name(text: str) -> str:
    """An argparse type: who acts, for the audit trail (1 to 200 printable characters)."""
    name = text.strip()
    if not name or len(name) > _ACTOR_MAX:
        raise argparse.ArgumentTypeError(f"must be 1 to {_ACTOR_MAX} characters")
    # A line break or control character would forge lines in whatever prints
    # the audit trail; str.isprintable also refuses the invisible separators.
    if not name.isprintable():
        raise argparse.ArgumentTypeError("must hold printable characters only")
    return name


def add_actor_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--actor NAME``; several levels may add it, the last one given wins.

    ``SUPPRESS`` as the default: a sub-parser's default would otherwise
    overwrite the value given to its parent (``crmcore --actor A privacy ...``).
    """
    parser.add_argument(
        "--actor",
        type=actor_name,
        default=argparse.SUPPRESS,
        metavar="NAME",
        help="who acts, recorded in the store's audit trail (e.g. a staff email)",
    )


@contextlib.contextmanager
def acting(args: argparse.Namespace) -> Iterator[None]:
    """Run the command as ``--actor`` (when given) for :mod:`crmcore.audit`."""
    actor: str | None = getattr(args, "actor", None)
    if actor is None:
        yield
        return
    from crmcore.audit import acting_as

    with acting_as(actor):
        yield


# --------------------------------------------------------------------------- registration


def register(commands: Any) -> None:
    """Add ``crmcore privacy`` and its sub-commands."""
    privacy = add_command(commands, "privacy", help=_HELP, description=_DESCRIPTION, epilog=_EPILOG)
    add_actor_option(privacy)
    privacy.set_defaults(handler=_run_group, group=privacy)
    sub = privacy.add_subparsers(dest="privacy_command", metavar="COMMAND", parser_class=Parser)
    _register_find(sub)
    _register_export(sub)
    _register_erase(sub)
    _register_restrict(sub)


def _run_group(args: argparse.Namespace, err: TextIO) -> int:
    # `crmcore privacy` alone: what it can do, and a usage exit status.
    group: argparse.ArgumentParser = args.group
    group.print_help(err)
    return EXIT_USAGE


def _add_id_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--customer", required=True, metavar="ID", dest="record_id", help=help)


def _register_find(sub: Any) -> None:
    parser = add_command(
        sub,
        "find",
        help="list every record that concerns a person, by email, phone or name",
        description="""\
List every record that concerns a person: customers and leads (an address is compared as
a mailbox: case folded, a +tag dropped, so ada@example.com finds the lead typed in as
ADA+news@Example.COM; a name ignoring word order, case and accents), the records merged
into them and the leads converted into them, their interactions, deals, tasks and cases,
the merge records that hold copies of them, and the audit entries about them.

Only ids and what state each record is in are printed, never personal data.""",
        epilog="""\
examples:
  crmcore privacy find --db crm.db --email ada@example.com
  crmcore privacy find --db crm.db --phone "070-123 45 67" --region SE --format json
  crmcore privacy find --db crm.db --name "Ada Lovelace"

exit status: 0 (also when nothing is found), 1 when the store cannot be used, 2 for a bad
command line (an email that is no address, a phone without + and without --region).""",
    )
    add_existing_db_option(parser)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--email", metavar="ADDRESS", help="an email address of the person")
    what.add_argument(
        "--phone",
        metavar="NUMBER",
        help="a phone number of the person (+ and country code, or --region)",
    )
    what.add_argument("--name", metavar="NAME", help="the person's full name")
    parser.add_argument(
        "--region", metavar="XX", help="with --phone: the region of a number without a + prefix"
    )
    add_format_option(
        parser,
        "table (default: a table on a terminal, plain lines when piped) or json",
        choices=("table", "json"),
        default="table",
    )
    add_actor_option(parser)
    parser.set_defaults(handler=run_find)


def _register_export(sub: Any) -> None:
    parser = add_command(
        sub,
        "export",
        help="write everything held about a person as one JSON document",
        description="""\
Write everything the store holds about a person as one JSON document (GDPR Art. 15, the
right of access, and Art. 20, portability): the customer, the records merged into it and
the leads converted into it, interactions, deals, tasks, cases, merge lineage, the consent
history and the audit entries about them. The document is versioned
("format": "crmcore-subject", "version": 1) and crmcore.privacy.import_subject loads it
into an empty store.

A file is created readable by its owner only (0600), written beside its target and
renamed into place when complete.""",
        epilog="""\
examples:
  crmcore privacy export --db crm.db --customer cus_01J9Z3Q4K8X2V7B6N5M4C3D2E1 -o ada.json
  crmcore privacy export --db crm.db --customer cus_01J9Z3Q4K8X2V7B6N5M4C3D2E1 | jq .consent_history

exit status: 0 on success, 1 when the store, the customer or the output cannot be used, 2
for a bad command line (a malformed id, an output that is the database file).""",
    )
    add_existing_db_option(parser)
    _add_id_option(
        parser, "the person's customer id (cus_...), or a lead id (led_...) for a prospect"
    )
    parser.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE|-",
        help="where to write the document (default: - for standard output)",
    )
    add_quiet_option(parser, "no summary on stderr")
    add_actor_option(parser)
    parser.set_defaults(handler=run_export)


def _register_erase(sub: Any) -> None:
    parser = add_command(
        sub,
        "erase",
        help="erase a person everywhere, in one transaction (right to erasure)",
        description="""\
Erase a person (GDPR Art. 17) in one transaction: the customer, the records merged into it
and the leads converted into it, the copies in merge records, their interactions (one
shared with other people keeps the others and loses its texts) and their deals, tasks and
cases. Their email addresses and phone numbers go on the store's suppression list (keyed
hashes), so that a later import of them is flagged. The store is then compacted, so the
deleted bytes leave the database file.

--mode anonymize (the default) keeps a tombstone under each id, so references stay valid;
--mode delete removes the records. Neither can be undone. On a terminal the command asks
first; elsewhere --yes is required.""",
        epilog="""\
examples:
  crmcore privacy erase --db crm.db --customer cus_01J9Z3Q4K8X2V7B6N5M4C3D2E1
  crmcore privacy --actor dpo@shop.example erase --db crm.db --customer cus_01J9... \\
      --mode delete --yes --format json

The receipt shows the contact points masked (a***@e***.se, +46*****78), never in full.
exit status: 0 when erased, 1 when the store or the record cannot be used or the answer to
the question was not yes, 2 for a bad command line (a malformed id; no --yes off a
terminal).""",
    )
    add_existing_db_option(parser)
    _add_id_option(parser, "the customer (cus_...) or lead (led_...) to erase")
    parser.add_argument(
        "--mode",
        choices=("anonymize", "delete"),
        default="anonymize",
        help="anonymize (default: tombstones under the same ids) or delete",
    )
    parser.add_argument(
        "-y", "--yes", action="store_true", help="erase without asking (needed off a terminal)"
    )
    add_format_option(parser, "the receipt as text (default) or json")
    add_actor_option(parser)
    parser.set_defaults(handler=run_erase)


def _register_restrict(sub: Any) -> None:
    parser = add_command(
        sub,
        "restrict",
        help="restrict a record's processing, or lift the restriction",
        description="""\
Restrict the processing of a customer or lead (GDPR Art. 18): the record stays, but
duplicate detection, merges, lead conversion matching and marketing consent checks leave
it out until the restriction is lifted. The reason is kept on the record (and never
printed back: it may name the person); restricting again replaces it.""",
        epilog="""\
examples:
  crmcore privacy restrict --db crm.db --customer cus_01J9... --reason "accuracy contested"
  crmcore privacy restrict --db crm.db --customer cus_01J9... --lift

exit status: 0 on success (lifting an unrestricted record changes nothing), 1 when the
store or the record cannot be used, 2 for a bad command line.""",
    )
    add_existing_db_option(parser)
    _add_id_option(parser, "the customer (cus_...) or lead (led_...)")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--reason", metavar="TEXT", help="why processing is restricted (1-500 chars)")
    how.add_argument("--lift", action="store_true", help="lift the restriction")
    add_format_option(parser, "text (default) or json")
    add_actor_option(parser)
    parser.set_defaults(handler=run_restrict)


# --------------------------------------------------------------------------- shared


def _record_id(text: str, *, leads: bool) -> str:
    """``--customer`` checked before the store is opened; never echoed unless it is an id."""
    from crmcore.ids import is_customer_id, is_lead_id

    if is_customer_id(text) or (leads and is_lead_id(text)):
        return text
    what = "a customer or lead id" if leads else "a customer id"
    raise CliError(f"--customer: not {what} (they look like cus_01J9Z3...)", EXIT_USAGE)


def _privacy_store(store: Store) -> None:
    from crmcore.storage import SupportsPrivacy

    if not isinstance(store, SupportsPrivacy):
        raise CliError("--db: this store keeps no audit trail or suppression list")


def _not_found(record_id: str) -> CliError:
    return CliError(f"{record_id}: no such record in the store")


def _reason(exc: Exception) -> str:
    problems = getattr(exc, "problems", ())
    return "; ".join(message for _, message in problems) or "is not valid"


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") else f"{count} {noun}s"


_NOUNS: Mapping[str, str] = {
    "customers": "customer",
    "leads": "lead",
    "interactions": "interaction",
    "opportunities": "opportunity",
    "tasks": "task",
    "cases": "case",
    "merges": "merge record",
    "merge_records": "merge record",
    "audit": "audit entry",
    "audit_entries": "audit entry",
    "consent_history": "consent event",
}


def _counts(counts: Mapping[str, int]) -> str:
    shown = [_plural(n, _NOUNS.get(k, k)) for k, n in counts.items() if n]
    return ", ".join(shown) or "no records"


def _emit_json(value: object) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    print()


# --------------------------------------------------------------------------- find

# SubjectRecords' fields, in the order shown, with their singular for a table.
_SUBJECT_FIELDS: tuple[tuple[str, str], ...] = (
    ("customers", "customer"),
    ("leads", "lead"),
    ("interactions", "interaction"),
    ("opportunities", "opportunity"),
    ("tasks", "task"),
    ("cases", "case"),
    ("merge_records", "merge"),
    ("audit_entries", "audit"),
)


def _day(value: Any) -> str:
    return value.date().isoformat() if value is not None else ""


def _name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _state(entity: str, record: Any) -> str:
    """What a found record is, in words with no personal data in them."""
    parts: list[str] = []
    if entity in ("customer", "lead"):
        if getattr(record, "merged_into", None):
            parts.append(f"merged into {record.merged_into}")
        if getattr(record, "converted_customer_id", None):
            parts.append(f"converted into {record.converted_customer_id}")
        if getattr(record, "is_restricted", False):
            parts.append("restricted")
        return ", ".join(parts) or "live"
    if entity == "interaction":
        return f"{_name(record.channel)}, {_day(record.occurred_at)}"
    if entity == "merge":
        return "undone" if record.unmerged_at is not None else "in effect"
    if entity == "audit":
        return f"{_name(record.action)}, {_day(record.at)}"
    status = getattr(record, "status", None)
    return _name(status) if status is not None else ""


def _found_rows(found: Any) -> list[tuple[str, str, str]]:
    rows = []
    for field, entity in _SUBJECT_FIELDS:
        for record in getattr(found, field, ()):
            rows.append((entity, str(record.id), _state(entity, record)))
    return rows


def run_find(args: argparse.Namespace, err: TextIO) -> int:
    """Run ``crmcore privacy find``."""
    from crmcore.cli._db import existing_store
    from crmcore.errors import ValidationError
    from crmcore.privacy import find_subject

    query: dict[str, str] = {}
    if args.email is not None:
        query["email"] = args.email
    elif args.phone is not None:
        query["phone"] = _phone(args.phone, args.region)
    else:
        query["name"] = args.name
    if args.region is not None and args.phone is None:
        raise CliError("--region: only with --phone", EXIT_USAGE)
    with existing_store(args.db) as store:
        try:
            found = find_subject(store, **query)
        except ValidationError as exc:
            option = "--" + next(iter(query))
            raise CliError(f"{option}: {_reason(exc)}", EXIT_USAGE) from None
    rows = _found_rows(found)
    if args.format == "json":
        document: dict[str, Any] = {
            field: [str(r.id) for r in getattr(found, field, ())] for field, _ in _SUBJECT_FIELDS
        }
        document["total"] = len(rows)
        _emit_json(document)
        return 0
    _print_found(rows)
    return 0


def _phone(text: str, region: str | None) -> str:
    """``--phone`` in E.164, read in ``--region`` when it has no ``+``."""
    from crmcore.cli._common import default_region
    from crmcore.errors import ValidationError
    from crmcore.values import PhoneNumber

    try:
        return PhoneNumber.parse(text, default_region(region)).e164
    except ValidationError as exc:
        raise CliError(f"--phone: {_reason(exc)}", EXIT_USAGE) from None


def _print_found(rows: list[tuple[str, str, str]]) -> None:
    if not rows:
        print("no record in the store concerns this person", file=sys.stdout)
        return
    heading = f"{_plural(len(rows), 'record')} concern this person"
    try:
        from rich.console import Console
    except ImportError:  # installed without the cli extra: plain lines, same content
        console = None
    else:
        console = Console()
    if console is None or not console.is_terminal:
        print(heading, file=sys.stdout)
        width = max(len(entity) for entity, _, _ in rows)
        for entity, record_id, state in rows:
            print(f"  {entity:<{width}}  {record_id}  {state}".rstrip(), file=sys.stdout)
        return
    from rich.table import Table

    table = Table(title=heading, title_justify="left")
    table.add_column("entity", style="bold")
    table.add_column("id", style="cyan")
    table.add_column("state")
    for row in rows:
        table.add_row(*row)
    console.print(table)


# --------------------------------------------------------------------------- export


def run_export(args: argparse.Namespace, err: TextIO) -> int:
    """Run ``crmcore privacy export``."""
    from crmcore.cli._common import check_output_file
    from crmcore.cli._db import existing_store
    from crmcore.errors import NotFound, ValidationError
    from crmcore.privacy import export_subject

    record_id = _record_id(args.record_id, leads=True)
    to_stdout = args.output == "-"
    output = Path(args.output)
    if not to_stdout:
        check_output_file(output, args.db)
    with existing_store(args.db) as store:
        _privacy_store(store)
        try:
            document = export_subject(store, record_id)
        except NotFound:
            raise _not_found(record_id) from None
        except ValidationError as exc:
            raise CliError(f"--customer: {_reason(exc)}") from None
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    try:
        if to_stdout:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            _write_private(output, text)
    except OSError as exc:
        where = "standard output" if to_stdout else str(output)
        raise CliError(f"{where}: cannot be written ({exc.strerror or 'I/O error'})") from None
    if not args.quiet:
        counts = {
            key: len(value)
            for key, value in document.items()
            if key in _NOUNS and isinstance(value, list)
        }
        where = "standard output" if to_stdout else str(output)
        print(f"exported {record_id}: {_counts(counts)} to {where}", file=err)
    return 0


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only, complete or not at all."""
    # mkstemp creates the file 0600 in the target's directory, so the rename
    # is atomic and no other user ever sees the personal data, even briefly.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# --------------------------------------------------------------------------- erase


def _confirmed(record_id: str, mode: str, err: TextIO) -> bool:
    keeps = (
        "anonymised tombstones stay under the same ids"
        if mode == "anonymize"
        else "the records are deleted"
    )
    print(
        f"erase {record_id} and every record merged or converted into it ({mode}: {keeps})?\n"
        "This cannot be undone. Type yes to erase: ",
        end="",
        file=err,
        flush=True,
    )
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def run_erase(args: argparse.Namespace, err: TextIO) -> int:
    """Run ``crmcore privacy erase``."""
    from crmcore.cli._db import existing_store
    from crmcore.errors import NotFound, ValidationError, VersionConflict
    from crmcore.ids import is_customer_id
    from crmcore.privacy import erase

    record_id = _record_id(args.record_id, leads=True)
    interactive = sys.stdin is not None and sys.stdin.isatty()
    if not args.yes and not interactive:
        raise CliError(
            "erase cannot be undone: add --yes to erase without a question "
            "(standard input is not a terminal); nothing was erased",
            EXIT_USAGE,
        )
    with existing_store(args.db) as store:
        _privacy_store(store)
        try:
            # Looked up first: a typo must not be asked about, then fail.
            if is_customer_id(record_id):
                store.customers.get(record_id)
            else:
                store.leads.get(record_id)
        except NotFound:
            raise _not_found(record_id) from None
        if not args.yes and not _confirmed(record_id, args.mode, err):
            raise CliError("not confirmed; nothing was erased", EXIT_INPUT)
        try:
            receipt = erase(store, record_id, mode=args.mode)
        except NotFound:
            raise _not_found(record_id) from None
        except VersionConflict:
            raise CliError(
                f"{record_id}: another writer changed the person's records during the erasure; "
                "nothing was erased, run the command again"
            ) from None
        except ValidationError as exc:
            raise CliError(f"--customer: {_reason(exc)}") from None
    if args.format == "json":
        _emit_json(receipt.to_dict())
        return 0
    print(
        f"erased {receipt.subject} ({receipt.mode}): {_counts(receipt.records)}",
        file=sys.stdout,
    )
    if receipt.masked:
        print(
            f"suppressed {_plural(receipt.suppressed, 'new contact point')} "
            f"({', '.join(receipt.masked)})",
            file=sys.stdout,
        )
    return 0


# --------------------------------------------------------------------------- restrict


def run_restrict(args: argparse.Namespace, err: TextIO) -> int:
    """Run ``crmcore privacy restrict``."""
    from crmcore.cli._db import existing_store
    from crmcore.errors import NotFound, ValidationError, VersionConflict
    from crmcore.privacy import lift_restriction, restrict

    record_id = _record_id(args.record_id, leads=True)
    with existing_store(args.db) as store:
        try:
            if args.lift:
                before = _is_restricted(store, record_id)
                record = lift_restriction(store, record_id)
            else:
                before = None
                record = restrict(store, record_id, reason=args.reason)
        except NotFound:
            raise _not_found(record_id) from None
        except VersionConflict:
            raise CliError(
                f"{record_id}: changed by another writer meanwhile; nothing was changed, "
                "run the command again"
            ) from None
        except ValidationError as exc:
            # Only the reason can be wrong here: the id was checked above.
            raise CliError(f"--reason: {_reason(exc)}", EXIT_USAGE) from None
    restriction = record.restriction
    since = restriction.since.isoformat() if restriction is not None else None
    if args.format == "json":
        _emit_json({"id": record.id, "restricted": restriction is not None, "since": since})
        return 0
    if restriction is not None:
        print(f"restricted {record.id} (since {since})", file=sys.stdout)
    elif before:
        print(f"lifted the restriction of {record.id}", file=sys.stdout)
    else:
        print(f"{record.id} was not restricted; nothing changed", file=sys.stdout)
    return 0


def _is_restricted(store: Store, record_id: str) -> bool:
    from crmcore.ids import is_customer_id

    if is_customer_id(record_id):
        return store.customers.get(record_id).is_restricted
    return store.leads.get(record_id).is_restricted
