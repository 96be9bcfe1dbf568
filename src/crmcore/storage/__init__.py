"""Storage: protocols, the in-memory reference store, SQLite, and ``open_store(url)``.

Apps own their databases: a store is anything implementing :class:`Store`
(three repositories and a transaction). crmcore ships :class:`InMemoryStore`
(the reference semantics) and :class:`SQLiteStore` (the embedded default);
third parties register more under the entry-point group ``crmcore.stores``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final, TypeVar

from crmcore.errors import StorageError, ValidationError
from crmcore.storage import protocols
from crmcore.storage.keys import KeyFunction, default_keys, email_key, identifier_key, phone_key
from crmcore.storage.memory import InMemoryStore

# The package re-exports the protocols module's whole surface (see __all__).
from crmcore.storage.protocols import *  # noqa: F403
from crmcore.storage.protocols import Store
from crmcore.storage.sqlite import SQLiteStore

__all__ = [
    "ENTRY_POINT_GROUP",
    "InMemoryStore",
    "KeyFunction",
    "SQLiteStore",
    "default_keys",
    "email_key",
    "identifier_key",
    "open_store",
    "phone_key",
]
__all__ += protocols.__all__

ENTRY_POINT_GROUP: Final = "crmcore.stores"
"""Third-party stores register a factory ``(url, **options) -> Store`` under this group,
named after their URL scheme."""

_MAX_URL_LENGTH = 4_096
T = TypeVar("T")


def open_store(url: str, **options: Any) -> Store:
    """Open the store a URL names.

    - ``"memory://"``: a new, empty :class:`InMemoryStore`;
    - ``"sqlite:///relative/path.db"``, ``"sqlite:////absolute/path.db"`` or
      ``"sqlite:///:memory:"``: a :class:`SQLiteStore`;
    - a SQLAlchemy URL, ``"<dialect>+<driver>://..."`` or ``"postgresql://..."``
      (``"postgresql+psycopg://user@host/db"``, ``"sqlite+pysqlite:///crm.db"``):
      a :class:`~crmcore.storage.sql.SQLStore` on its own engine (extra
      ``crmcore[sql]``, ``crmcore[postgres]`` for PostgreSQL), creating the
      crmcore tables if they are missing;
    - ``"<scheme>://..."``: the factory a third party registered under the
      entry-point group ``crmcore.stores`` with the name ``<scheme>``; it is
      called with the whole URL and ``options``.

    ``options`` (for example ``key_function=``) go to the store's constructor.

    Raises:
        ValidationError: naming ``url`` when it is malformed or no store is
            known for its scheme (the URL itself is never repeated: it may
            hold a password), or ``options`` when the store does not take one
            of them.
        StorageError: when a third-party factory fails to load.
    """
    if not isinstance(url, str) or len(url) > _MAX_URL_LENGTH or "://" not in url:
        raise ValidationError("url", "must look like scheme://...")
    scheme, _, rest = url.partition("://")
    if scheme == "memory":
        if rest:
            raise ValidationError("url", "memory:// takes no path")
        return _build(InMemoryStore, **options)
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ValidationError("url", "must be sqlite:///relative.db or sqlite:////abs.db")
        return _build(SQLiteStore, rest[1:], **options)
    if "+" in scheme or scheme == "postgresql":
        try:
            from crmcore.storage.sql._store import open_url
        except ImportError:
            raise ValidationError(
                "url", "needs SQLAlchemy: pip install 'crmcore[sql]' (or crmcore[postgres])"
            ) from None
        return open_url(url, **options)
    # Imported here, not at the top: it costs ~30 ms and only third-party schemes need it.
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == scheme]
    if not found:
        raise ValidationError("url", "no store is registered for this scheme")
    try:
        factory = found[0].load()
    except Exception as exc:
        raise StorageError("the store registered for this scheme failed to load") from exc
    try:
        store = _build(factory, url, **options)
    except TypeError as exc:
        if not options:
            raise
        # A factory taking **options binds anything; its body then refuses an
        # option with a TypeError, which is the caller's mistake, not a crash.
        raise ValidationError("options", "holds an option this store does not take") from exc
    if not isinstance(store, Store):
        raise StorageError("the store registered for this scheme did not return a Store")
    return store


def _build(factory: Callable[..., T], *args: Any, **options: Any) -> T:
    # An unknown or missing option would surface as a TypeError from the call.
    try:
        inspect.signature(factory).bind(*args, **options)
    except TypeError:
        raise ValidationError("options", "holds an option this store does not take") from None
    except ValueError:  # no signature to check (a builtin): let the call decide
        pass
    return factory(*args, **options)
