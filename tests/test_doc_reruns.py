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
_PAGES = ["README.md", "docs/adapters.md", "docs/cli.md", "docs/dedup.md", "docs/index.md"]
_PAGES += ["docs/io.md", "docs/leads.md", "docs/merging.md", "docs/model.md"]
_PAGES += ["docs/quickstart.md", "docs/serialization.md", "docs/storage.md"]
_PAGES += ["docs/strategies.md", "docs/values.md"]


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
