"""Distinct emails and phones parsed once each, on every core; dates in unambiguous formats.

Parsing dominates the cost of reading a contact list (email-validator and
phonenumbers each take tens of microseconds a value), and contact lists repeat
values: the same company switchboard, the same address typed twice. So
:func:`crmcore.io.match_records` collects the distinct values of a table first
and hands them to a :class:`ParseJob`, which parses them in worker processes in
chunks while the rest of each row is read.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date

import phonenumbers

from crmcore.errors import ValidationError
from crmcore.values import EmailAddress, PhoneNumber

__all__ = [
    "PARALLEL_THRESHOLD",
    "EmailResult",
    "ParseJob",
    "PhoneKey",
    "PhoneResult",
    "default_workers",
    "parse_birth_date",
    "parse_distinct",
    "parse_emails",
    "parse_phones",
    "phone_key",
    "terminate_workers",
]

# Below this many distinct values (or rows), starting worker processes costs more
# than it saves.
PARALLEL_THRESHOLD = 4_000
"""Below this many distinct values (or rows), values are parsed in this process."""
# Distinct values handed to the workers at a time while the rows are read.
_BATCH = 4_096

EmailResult = tuple[str, str] | None
"""A parsed email: ``(normalized, match_key)``, or ``None`` when the text is no address."""
PhoneResult = tuple[str, str | None] | None
"""A parsed phone: ``(e164, extension)``, or ``None`` when the text is no number."""
PhoneKey = tuple[str, str | None]
"""A phone cell's cache key: ``(text, region)``, see :func:`phone_key`."""


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def parse_emails(texts: Sequence[str]) -> list[EmailResult]:
    """Parse each text; ``(normalized, match_key)`` or ``None`` when it is not an address.

    :meth:`EmailAddress.parse` validates each distinct domain once, so a list
    full of gmail.com addresses costs little more than its local parts.
    """
    out: list[EmailResult] = []
    for text in texts:
        try:
            email = EmailAddress.parse(text)
        except ValidationError:
            out.append(None)
        else:
            out.append((email.normalized, email.match_key))
    return out


def parse_phones(keys: Sequence[PhoneKey]) -> list[PhoneResult]:
    """Parse each ``(text, region)``; ``(e164, extension)`` or ``None`` when it is no number."""
    out: list[PhoneResult] = []
    for text, region in keys:
        if region is None and text.startswith("00"):
            # Without a region, 00 is read as the international prefix it is in most
            # of the world (not in North America, whose rows carry a country anyway).
            text = "+" + text[2:]
        elif region is None and _COUNTRY_CODE_FIRST.fullmatch(text):
            # "46812345678": a country code written without its +. Taken only when
            # it makes a valid number; without a region nothing else could be read.
            text = _with_plus(text)
        try:
            phone = PhoneNumber.parse(text, region)
        except ValidationError:
            out.append(None)
        else:
            out.append((phone.e164, phone.extension))
    return out


_COUNTRY_CODE_FIRST = re.compile(r"[1-9][0-9]{10,14}")


def _with_plus(digits: str) -> str:
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return digits
    return "+" + digits if phonenumbers.is_valid_number(number) else digits


_PHONE_PLAIN = re.compile(r"\+?[0-9][0-9 .\-]*")
_PHONE_SEPARATORS = re.compile(r"[ .\-]+")


def phone_key(text: str, region: str | None) -> PhoneKey:
    """The cache key of a phone cell: spaces, dots and hyphens dropped, region only if needed.

    ``070-123 45 67`` and ``0701234567`` in one region are one number, so they
    are parsed once; a number with ``+`` does not depend on the region at all.
    """
    if len(text) <= 64 and _PHONE_PLAIN.fullmatch(text):
        digits = _PHONE_SEPARATORS.sub("", text)
        # phonenumbers reads very short digit strings differently with and without
        # punctuation; real numbers are longer than that.
        if len(digits) >= 7:
            text = digits
    return (text, None if text.startswith("+") else region)


def _chunks(items: list[object], count: int) -> list[list[object]]:
    size = max(1, -(-len(items) // count))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _parse_chunk(kind: str, items: list[object]) -> list[object]:
    if kind == "email":
        return list(parse_emails(items))  # type: ignore[arg-type]
    return list(parse_phones(items))  # type: ignore[arg-type]


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with(parent: int) -> None:
    """Worker initializer: end this worker when ``parent`` ends, however it ends.

    A parent killed with SIGKILL runs no clean-up, and its workers would wait on
    their queue forever, holding memory and the terminal's stdout and stderr.
    """
    # Forked workers inherit the parent's handlers: the CLI's handlers belong
    # to the parent. A worker ends on SIGTERM, and leaves Ctrl-C (sent to the
    # whole process group) to its parent, which kills it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                # The parent may have died before prctl took effect.
                if os.getppid() != parent:
                    os._exit(1)
                return
        except (OSError, AttributeError):  # pragma: no cover - no usable libc
            pass
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:  # pragma: no cover - where prctl is unavailable
    # Once the parent is gone the worker is re-parented: its parent id changes.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


# The pools of the jobs still running, so that a signal handler can end them.
_LIVE_POOLS: set[concurrent.futures.ProcessPoolExecutor] = set()


def terminate_workers() -> None:
    """Kill the worker processes of every running :class:`ParseJob` at once.

    Safe in a signal handler (the CLI calls it on SIGTERM before it exits): it
    only sends signals; the jobs' own clean-up then finds their workers gone.
    """
    for pool in list(_LIVE_POOLS):
        _kill_processes(pool)


def _kill_processes(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    # The executor has no public way to reach its processes before Python 3.14.
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(OSError, ValueError):  # exited already, or closed
            process.kill()
    # The queue's feeder thread may be blocked writing a chunk into the pipe of
    # workers that are now dead; the pool's shutdown (and the interpreter's exit)
    # would then join it forever: seen on Python 3.11, with the main thread in
    # shutdown() and the feeder in send(). The chunks are not wanted any more.
    call_queue = getattr(pool, "_call_queue", None)
    if call_queue is not None:
        with contextlib.suppress(Exception):
            call_queue.cancel_join_thread()


def _end_results(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    # A worker killed while it wrote a result leaves half a message in the result
    # pipe, and the pool's manager thread waits in recv() for the rest forever
    # (so would shutdown, and the interpreter's exit): seen on Python 3.11. Once
    # the workers are dead, this process holds the pipe's last write end; closing
    # it turns that wait into an end of file, which the pool takes for a broken
    # pool and cleans up. Not for a signal handler: it waits for the workers.
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(timeout=5)
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()


def _mp_context() -> multiprocessing.context.BaseContext:
    # fork shares the already imported dependencies with the workers at no cost;
    # where it is unavailable (Windows, macOS default), spawn still works, only slower.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class ParseJob:
    """Distinct emails and phones being parsed, in worker processes when that pays.

    With workers, creating the job (and :meth:`add`) returns at once, so that the
    caller can go on reading rows and building names and addresses while they
    parse; :meth:`result` waits for them. Without workers, :meth:`result` does
    the parsing itself.
    """

    def __init__(
        self,
        emails: list[str],
        phones: list[PhoneKey],
        *,
        workers: int,
        advance: Callable[[int], None] | None = None,
        parallel: bool | None = None,
    ) -> None:
        self._emails = list(emails)
        self._phones = list(phones)
        self._advance = advance
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._futures: dict[concurrent.futures.Future[list[object]], tuple[str, list[object]]]
        self._futures = {}
        if parallel is None:
            parallel = len(emails) + len(phones) >= PARALLEL_THRESHOLD
        if workers > 1 and parallel:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=workers,
                mp_context=_mp_context(),
                initializer=_die_with,
                initargs=(os.getpid(),),
            )
            _LIVE_POOLS.add(self._pool)
            # Many chunks per worker so that the progress bar moves, a slow chunk does
            # not leave a core idle at the end, and this process can take over the
            # chunks not started yet once it has built the rest of the records.
            self._submit("email", _chunks(list(emails), workers * 8))
            self._submit("phone", _chunks(list(phones), workers * 8))

    def _submit(self, kind: str, chunks: list[list[object]]) -> None:
        assert self._pool is not None
        for chunk in chunks:
            if chunk:
                self._futures[self._pool.submit(_parse_chunk, kind, chunk)] = (kind, chunk)

    def add(self, emails: list[str], phones: list[PhoneKey]) -> None:
        """More distinct values to parse: workers start on them at once."""
        self._emails += emails
        self._phones += phones
        if self._pool is not None:
            self._submit("email", [list(emails)])
            self._submit("phone", [list(phones)])

    def result(self) -> tuple[dict[str, EmailResult], dict[PhoneKey, PhoneResult]]:
        """The parsed values: ``text -> (normalized, match_key)``, ``key -> (e164, ext)``."""
        advance = self._advance
        if self._pool is None:
            email_results = parse_emails(self._emails)
            if advance:
                advance(len(self._emails))
            phone_results = parse_phones(self._phones)
            if advance:
                advance(len(self._phones))
            return dict(zip(self._emails, email_results, strict=True)), dict(
                zip(self._phones, phone_results, strict=True)
            )
        email_map: dict[str, EmailResult] = {}
        phone_map: dict[PhoneKey, PhoneResult] = {}

        def take(kind: str, chunk: list[object], results: list[object]) -> None:
            if kind == "email":
                email_map.update(zip(chunk, results, strict=True))  # type: ignore[arg-type]
            else:
                phone_map.update(zip(chunk, results, strict=True))  # type: ignore[arg-type]
            if advance:
                advance(len(chunk))

        try:
            # This process is free now: rather than wait, it parses the chunks no
            # worker has started, from the last one back, while the workers take
            # theirs from the front.
            for future in reversed(list(self._futures)):
                if future.cancel():
                    kind, chunk = self._futures.pop(future)
                    take(kind, chunk, _parse_chunk(kind, chunk))
            for future in concurrent.futures.as_completed(self._futures):
                kind, chunk = self._futures[future]
                take(kind, chunk, future.result())
        except BaseException:
            self.close(kill=True)
            raise
        finally:
            self.close()
        return email_map, phone_map

    def close(self, *, kill: bool = False) -> None:
        """Stop the workers, waiting for them; safe to call more than once.

        Args:
            kill: kill the workers rather than let them finish their chunks (on
                an interrupt or an error, when their results are not wanted).
        """
        pool = self._pool
        if pool is not None:
            self._pool = None
            _LIVE_POOLS.discard(pool)
            if kill:
                _kill_processes(pool)
                _end_results(pool)
            pool.shutdown(wait=True, cancel_futures=True)


def parse_distinct(
    emails: list[str],
    phones: list[PhoneKey],
    *,
    workers: int,
    advance: Callable[[int], None] | None = None,
) -> tuple[dict[str, EmailResult], dict[PhoneKey, PhoneResult]]:
    """Parse distinct emails and phones, in ``workers`` processes when that pays."""
    return ParseJob(emails, phones, workers=workers, advance=advance).result()


_DATE_FORMATS = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
    re.compile(r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})"),
    re.compile(r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})"),
)


def parse_birth_date(text: str) -> date | None:
    """A date as ``YYYY-MM-DD``, ``YYYYMMDD``, ``YYYY/MM/DD`` or ``DD.MM.YYYY``, else ``None``."""
    for pattern in _DATE_FORMATS:
        found = pattern.fullmatch(text)
        if found:
            try:
                return date(int(found["y"]), int(found["m"]), int(found["d"]))
            except ValueError:
                return None
    return None


if sys.platform == "win32":  # pragma: no cover
    PARALLEL_THRESHOLD = 20_000  # spawn re-imports crmcore in every worker
