"""Kept for imports written when merge storage lived here: see :mod:`crmcore.storage.protocols`.

Each store keeps its own merge repository beside it; ``resolve`` follows
``merged_into`` in the shared front of every store.
"""

from crmcore.storage._front import MAX_CHAIN, resolve_chain
from crmcore.storage.protocols import MergeRepository

__all__ = ["MAX_CHAIN", "MergeRepository", "resolve_chain"]
