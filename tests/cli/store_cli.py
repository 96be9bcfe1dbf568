"""Running the real ``crmcore`` command against real SQLite files, for the store commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs

from crmcore.merge import merge
from crmcore.storage import SQLiteStore
from crmcore.testing._builders import customer, full_customer, interaction, lead


def crmcore(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m crmcore ARGS`` in a child process; never raises on a failure."""
    env = {**os.environ, "COLUMNS": "120", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "crmcore", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def busy_db(path: Path) -> dict[str, str]:
    """A SQLite file with three customers (two of them merged), a lead, and two
    interactions; returns the ids a test needs."""
    with SQLiteStore(path) as store:
        # Without its organisation: a store refuses an organization_id naming nothing,
        # and the counts below are of three customers.
        full = store.customers.add(attrs.evolve(full_customer(), organization_id=None))
        a = store.customers.add(customer(1))
        b = store.customers.add(customer(2))
        prospect = store.leads.add(lead(3))
        store.interactions.add(interaction((a.id, full.id), 1))
        store.interactions.add(interaction((b.id,), 2, external_id="<m2@mail.example>"))
        result = merge(store, [a.id, b.id])
    return {
        "full": full.id,
        "survivor": result.survivor.id,
        "lead": prospect.id,
        "merge": result.merge_id,
    }
