"""Process-wide caches over personal data: bounded, and emptied together.

Erasing a person must not leave their name, address or email domain in a cache
that outlives the store, so every such cache registers here and
:func:`crmcore.dedup.clear_caches` empties them all. This module imports
nothing of crmcore, so that the models and the dedup engine can both use it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from functools import _lru_cache_wrapper

R = TypeVar("R")

_CLEARS: list[Callable[[], None]] = []


class CacheHolder(Protocol):
    """An object that keeps a cache of its own over personal data."""

    def clear_cache(self) -> None:
        """Empty the object's cache."""
        ...


# Keyed by id: holders need not be hashable, and a holder that is collected
# leaves the registry with its cache.
_HOLDERS: weakref.WeakValueDictionary[int, CacheHolder] = weakref.WeakValueDictionary()


def track(holder: CacheHolder) -> None:
    """Have :func:`clear_all` empty ``holder``'s own cache too, for as long as it lives."""
    _HOLDERS[id(holder)] = holder


def personal_cache(maxsize: int) -> Callable[[Callable[..., R]], _lru_cache_wrapper[R]]:
    """A bounded ``lru_cache`` decorator whose cache :func:`clear_all` empties."""

    def decorate(function: Callable[..., R]) -> _lru_cache_wrapper[R]:
        cached = lru_cache(maxsize=maxsize)(function)
        _CLEARS.append(cached.cache_clear)
        return cached

    return decorate


def clear_all() -> None:
    """Empty every registered cache, and the caches of every living tracked holder."""
    for cache_clear in _CLEARS:
        cache_clear()
    for holder in list(_HOLDERS.values()):
        holder.clear_cache()
