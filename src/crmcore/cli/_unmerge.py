"""``crmcore unmerge``: undo one merge of a store, through :func:`crmcore.unmerge`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from crmcore.cli._common import add_command, add_format_option
from crmcore.cli._db import add_existing_db_option
from crmcore.cli._errors import EXIT_USAGE, CliError

__all__ = ["register"]

_HELP = "undo one merge of a store, restoring the records exactly"

_DESCRIPTION = """\
Undo a merge: the merged records come back as they were before it, the survivor loses
what the merge gave it, and the interactions it moved go back to their records. A merge
id (mrg_...) is printed by 'crmcore dedupe --db ... --merge-above P' and listed in
'crmcore export --entity merges'.

The unmerge is refused when a value the merge changed was changed again since, when a
record it wrote was deleted, or when the survivor took part in a later merge still in
effect (undo that one first); --force restores anyway, losing those later edits."""

_EPILOG = """\
examples:
  crmcore unmerge --db crm.db mrg_01J9Z3Q4K8X2V7B6N5M4C3D2E1
  crmcore unmerge --db crm.db mrg_01J9Z3Q4K8X2V7B6N5M4C3D2E1 --force --format json

exit status: 0 when the merge was undone, 1 when it cannot be (unknown id, already
undone, conflicting changes or later merges without --force), 2 for a bad command line."""


def register(commands: Any) -> None:
    """Add ``crmcore unmerge`` to the sub-commands."""
    parser = add_command(commands, "unmerge", help=_HELP, description=_DESCRIPTION, epilog=_EPILOG)
    add_existing_db_option(parser)
    parser.add_argument("merge_id", metavar="MERGE_ID", help="the merge to undo (mrg_...)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="restore even over later changes and merges (those changes are lost)",
    )
    add_format_option(parser, "text (default) or json")
    parser.set_defaults(handler=run_unmerge)


def _listed(items: tuple[str, ...], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def run_unmerge(args: argparse.Namespace, err: TextIO) -> int:
    """Run ``crmcore unmerge``; the reasons it is refused become one-line CliErrors."""
    from crmcore.cli._db import existing_store
    from crmcore.errors import NotFound, ValidationError
    from crmcore.ids import MERGE_PREFIX, is_valid_id
    from crmcore.merge import UnmergeConflict, unmerge

    merge_id: str = args.merge_id
    if not is_valid_id(merge_id, MERGE_PREFIX):
        raise CliError("MERGE_ID: not a merge id (they look like mrg_01J9Z3...)", EXIT_USAGE)
    with existing_store(args.db) as store:
        try:
            result = unmerge(store, merge_id, force=args.force)  # type: ignore[arg-type]
        except NotFound:
            raise CliError(f"{merge_id}: no merge with this id in the store") from None
        except ValidationError:
            raise CliError("--db: this store keeps no merge records") from None
        except UnmergeConflict as exc:
            if not (exc.record_ids or exc.later_merges):
                raise CliError(f"{merge_id}: the merge was already undone") from None
            parts = []
            if exc.fields:
                parts.append(f"changed since in {_listed(exc.fields)}")
            if exc.later_merges:
                parts.append(f"later merges still in effect: {_listed(exc.later_merges)}")
            raise CliError(
                f"{merge_id}: cannot be undone without --force ({'; '.join(parts)})"
            ) from None
    restored = [r.id for r in result.restored]
    if args.format == "json":
        json.dump(
            {"merge_id": result.merge_id, "restored": restored, "forced": result.forced},
            sys.stdout,
        )
        print()
    else:
        print(
            f"undid {result.merge_id}: {len(restored)} record"
            f"{'' if len(restored) == 1 else 's'} restored"
            + (" (forced over later changes)" if result.forced else ""),
            file=sys.stdout,
        )
        for record_id in restored:
            print(f"  {record_id}", file=sys.stdout)
    return 0
