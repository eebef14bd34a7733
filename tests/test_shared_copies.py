"""tests/shared/ is a copy of the project's ../shared folder (the article, the scorer
chat_eval.py and its dev cases), so that a clone of this repository runs its tests alone."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, SHARED

ORIGINAL = ROOT.parent / "shared"


def copied_files() -> list[str]:
    """The files of tests/shared, as paths relative to it (no bytecode)."""
    return sorted(str(p.relative_to(SHARED)) for p in SHARED.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def test_the_copy_holds_what_the_tests_read():
    assert {"eval/chat_eval.py", "eval/dev_cases.jsonl",
            "article/systemic-immunomodulators-eczema.txt"} <= set(copied_files())


@pytest.mark.skipif(not ORIGINAL.is_dir(), reason="no ../shared beside this clone to compare with")
@pytest.mark.parametrize("name", copied_files())
def test_each_copy_equals_the_shared_original(name):
    """The held-out set is judged by the original scorer: a copy that drifts from it would
    let the tests pass on rules the judge does not use."""
    assert (SHARED / name).read_bytes() == (ORIGINAL / name).read_bytes(), \
        f"tests/shared/{name} differs from ../shared/{name}: copy the original again"


def test_a_clone_without_shared_collects_every_test(tmp_path):
    """A contributor's clone has no ../shared: every test module must still import."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    clone = tmp_path / "clone"  # tmp_path has no "shared" folder beside it
    for name in listed.splitlines():
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                          "-p", "no:cacheprovider", "tests"],
                         cwd=clone, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "test_dialogue.py::test_shared_example_conversation" in out.stdout
