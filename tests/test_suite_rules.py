"""The suite's own rules: nothing may quietly not run, and an xfail that passes is a failure.

Each rule is tried on a small throwaway test module, run by a real pytest
with this suite's configuration and conftest hooks.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MODULES = {
    "test_skips_itself.py": 'import pytest\n\npytest.importorskip("no_such_module")\n\n\ndef test_x():\n    pass\n',
    "test_skips_inside.py": 'import pytest\n\n\ndef test_x():\n    pytest.skip("not today")\n',
    "test_xpasses.py": 'import pytest\n\n\n@pytest.mark.xfail(reason="said to be broken")\ndef test_x():\n    pass\n',
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> dict[str, str]:
    """Each throwaway module's line in pytest's short summary (``-rA``), and the whole output, after one run."""
    folder = tmp_path_factory.mktemp("throwaway")
    for name, source in MODULES.items():
        (folder / name).write_text(source)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(folder),
            "-p",
            "tests.conftest",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(folder),
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
            "--continue-on-collection-errors",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode != 0, result.stdout
    lines = {}
    for name in MODULES:
        found = [line for line in result.stdout.splitlines() if name in line and line.split(" ")[0].isupper()]
        assert found, result.stdout
        lines[name] = found[-1]
    lines["output"] = result.stdout
    return lines


def test_a_module_that_skips_itself_at_collection_is_an_error(outcome):
    line = outcome["test_skips_itself.py"]
    assert line.startswith("ERROR")
    message = "test_skips_itself.py skipped itself while collected, which this suite treats as a failure"
    assert message in outcome["output"]


def test_a_skip_inside_a_test_is_a_failure(outcome):
    assert outcome["test_skips_inside.py"].startswith("FAILED")


def test_an_xfail_that_passes_is_a_failure(outcome):
    assert outcome["test_xpasses.py"].startswith("FAILED")
