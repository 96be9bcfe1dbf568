"""The progress bar every command shows on stderr (rich), and nothing when it cannot."""

from __future__ import annotations

import time
from typing import Any, Protocol

__all__ = ["Progress", "ProgressLike"]


def _rate_column(unit: str) -> Any:
    """A column showing ``N unit/s``: the work done over the time elapsed."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            elapsed = task.elapsed or 0.0
            per_second = task.completed / elapsed if elapsed > 0 else 0.0
            return Text(f"{per_second:,.0f} {unit}/s", style="progress.data.speed")

    return Rate()


class ProgressLike(Protocol):
    """What the matching stages report to: a stage begins, work is done."""

    def stage(self, description: str, total: int | None) -> None: ...
    def update(self, done: int, total: int | None) -> None: ...


class Progress:
    """A rich progress bar on stderr, or nothing when stderr is no terminal or --quiet."""

    def __init__(self, enabled: bool, *, unit: str | None = None) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._drawn = 0.0
        if enabled:
            try:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    TextColumn,
                    TimeElapsedColumn,
                )
                from rich.progress import Progress as RichProgress
            except ImportError:  # installed without the cli extra: no bar, same result
                return

            console = Console(stderr=True)
            if console.is_terminal:
                # No refresh thread: the parsing stage forks worker processes, and forking
                # a process that runs threads can deadlock.
                rate = [] if unit is None else [_rate_column(unit)]
                self._bar = RichProgress(
                    TextColumn("{task.description:<22}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    *rate,
                    TimeElapsedColumn(),
                    console=console,
                    auto_refresh=False,
                    transient=False,
                )
                self._bar.start()

    def stage(self, description: str, total: int | None) -> None:
        """Begin a new bar (the previous one is shown complete)."""
        if self._bar is not None:
            if self._task is not None:
                self._bar.update(self._task, completed=self._bar.tasks[-1].total or 0)
            self._task = self._bar.add_task(description, total=total)
            self._bar.refresh()

    def set_total(self, total: int) -> None:
        """Set the current bar's total."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=total)
            self._bar.refresh()

    def _refresh(self) -> None:
        # Redrawing costs far more than counting: at most ten frames a second.
        now = time.monotonic()
        if now - self._drawn >= 0.1:
            self._drawn = now
            self._bar.refresh()

    def advance(self, amount: int) -> None:
        """Count ``amount`` more done."""
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, amount)
            self._refresh()

    def update(self, done: int, total: int | None) -> None:
        """Show ``done`` of ``total``."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total)
            self._refresh()

    def stop(self) -> None:
        """Draw the last frame and give the terminal back."""
        if self._bar is not None:
            self._bar.refresh()
            self._bar.stop()
            self._bar = None
