# SCRATCH STUB (erase stream, never committed): replaced by r11-subject.
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def suppress(store: Any, *, emails: Iterable[str] = (), phones: Iterable[str] = ()) -> int:
    s = store.__dict__.setdefault("_supp", set())
    before = len(s)
    s.update(emails); s.update(phones)
    return len(s) - before

def is_suppressed(store: Any, *, email: str | None = None, phone: str | None = None) -> bool:
    from crmcore.values import EmailAddress, PhoneNumber
    s = store.__dict__.get("_supp", set())
    if email is not None:
        return EmailAddress.parse(email).normalized in s
    return PhoneNumber.parse(phone).e164 in s
