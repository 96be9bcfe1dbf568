"""Kept for imports written when merge storage lived here: see :mod:`crmcore.storage.protocols`.

Each store keeps its own merge repository beside it; ``resolve`` follows
``merged_into`` in the shared front of every store.
"""

from crmcore.storage._front import MAX_CHAIN, resolve_chain
from crmcore.storage.protocols import MergeRepository
from crmcore.storage.sqlite._schema import MERGES_MIGRATION

__all__ = ["MAX_CHAIN", "MERGES_MIGRATION", "MergeRepository", "resolve_chain"]
