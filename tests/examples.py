"""The docs' example files (``docs/examples``) as modules: the doc's code is what is tested."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).parents[1] / "docs" / "examples"


def load_example(filename: str) -> ModuleType:
    """Import ``docs/examples/<filename>`` (not a package) as ``crmcore_docs_<stem>``."""
    spec = importlib.util.spec_from_file_location(
        f"crmcore_docs_{Path(filename).stem}", EXAMPLES / filename
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
