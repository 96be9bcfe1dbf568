"""The crmcore.merge package, and what importing crmcore loads and when."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import crmcore


def run(code: str) -> str:
    """Run ``code`` in a fresh interpreter: this process has long imported everything."""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout


def test_import_crmcore_loads_neither_the_dedup_engine_nor_rapidfuzz() -> None:
    loaded = run(
        "import sys, crmcore; "
        "print(' '.join(m for m in sys.modules "
        "if m.split('.')[0] == 'rapidfuzz' or m.startswith('crmcore.dedup')))"
    )
    assert loaded.split() == []


@pytest.mark.parametrize(
    "first",
    [
        "pass",
        "from crmcore.merge import plan_merge",
        "import crmcore.merge",
        "crmcore.convert_lead",
        "crmcore.SQLiteStore",
        "from crmcore import timeline",
    ],
)
def test_crmcore_merge_and_timeline_stay_the_functions_whatever_loads_first(first: str) -> None:
    # Importing a submodule sets the package attribute of its name: for these
    # two the attribute has always been the function the module defines.
    out = run(
        f"import sys, types, crmcore; {first}\n"
        "from crmcore import merge, timeline\n"
        "print(type(merge).__name__, type(timeline).__name__,"
        " merge is sys.modules['crmcore.merge'].merge)"
    )
    assert out.split() == ["function", "function", "True"]


def test_every_exported_name_loads_in_a_fresh_interpreter() -> None:
    out = run(
        "import crmcore; "
        "print(all(getattr(crmcore, n) is not None for n in crmcore.__all__), "
        "sorted(set(crmcore.__all__) - set(dir(crmcore))))"
    )
    assert out.split() == ["True", "[]"]


def test_submodules_are_attributes_after_import_crmcore_as_they_were() -> None:
    out = run(
        "import crmcore; print(crmcore.storage.where('stage').eq('lead') is not None, "
        "crmcore.dedup.find_duplicates.__name__)"
    )
    assert out.split() == ["True", "find_duplicates"]


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        crmcore.no_such_name  # noqa: B018
    with pytest.raises(AttributeError):
        getattr(crmcore, "storage.where")


def test_the_package_holds_the_merge_record_model() -> None:
    package = importlib.import_module("crmcore.merge")
    assert package.merge is crmcore.merge
    assert package.MergeRecord is crmcore.MergeRecord
    for name in package.__all__:
        assert getattr(package, name) is not None
