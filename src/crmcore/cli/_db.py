"""Opening the store a command reads: it must exist already, and is always closed."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from crmcore.cli._common import add_db_option, open_db
from crmcore.cli._errors import CliError

if TYPE_CHECKING:
    from crmcore.storage import Store

__all__ = ["add_existing_db_option", "existing_store"]


def add_existing_db_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--db`` for a command that reads a store: it must exist already."""
    add_db_option(parser)
    for action in parser._actions:
        if action.dest == "db":
            action.help = (
                "the store: an existing SQLite file, or a store URL such as sqlite:///crm.db"
            )


@contextmanager
def existing_store(target: str) -> Iterator[Store]:
    """The store ``--db`` names, closed at the end; a SQLite file must exist already.

    Opening a missing SQLite path would create an empty database, and a typo
    would then be exported, counted or deduplicated as an empty store.
    Storage errors on the way become one-line CliErrors.
    """
    from crmcore.errors import StorageError

    if "://" not in target and not Path(target).is_file():
        raise CliError(f"--db: {target}: no such database file")
    store = open_db(target)
    try:
        yield store
    except StorageError as exc:
        raise CliError(f"--db: the store failed ({exc})") from None
    finally:
        store.close()
