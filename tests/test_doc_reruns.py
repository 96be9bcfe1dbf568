"""A reader runs the README's and the docs' examples twice in one directory: both runs pass.

The suite runs every example once in a fresh temporary directory (conftest.py);
a reader runs them where they are, again after a change, so an example that
writes a file (``crm.db``) must not depend on it being absent.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
# Every page with an example, so that a new page is covered the day it is written.
_PAGES = [
    str(path.relative_to(ROOT))
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    if _BLOCK.search(path.read_text(encoding="utf-8"))
]


def run_examples(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for block in _BLOCK.findall(page.read_text(encoding="utf-8")):
            exec(compile(block, str(page), "exec"), namespace)


@pytest.mark.parametrize("page", _PAGES)
def test_examples_run_twice_in_the_same_directory(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source = ROOT / page
    assert _BLOCK.search(source.read_text(encoding="utf-8")), "the page has examples"
    run_examples(source)
    run_examples(source)
