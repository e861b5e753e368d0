"""`make run`'s checks: a newcomer hears what to do, not a traceback from gunicorn or venv."""

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = str(ROOT / "scripts" / "check-run")


def run(*args):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_a_port_in_use_is_reported_with_the_command_that_avoids_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(CHECK, "port", "127.0.0.1", str(port))
    assert result.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert f"make run PORT={port + 1}" in result.stderr
    assert run(CHECK, "port", "127.0.0.1", str(port)).returncode == 0  # free again


def test_a_python_without_venv_is_reported_with_the_package_to_install(tmp_path):
    # What Debian's python3 does without python3-venv: `import ensurepip` fails.
    fake = tmp_path / "python3"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$2" in *ensurepip*) echo "No module named ensurepip" >&2; exit 1;; esac\n'
        f'exec {sys.executable} "$@"\n'
    )
    fake.chmod(0o755)
    result = run(CHECK, "venv", str(fake))
    assert result.returncode == 1
    assert "cannot create the virtual environment .venv" in result.stderr
    assert "apt-get install python3-venv" in result.stderr
    assert run(CHECK, "venv", sys.executable).returncode == 0


def test_a_missing_python_is_named():
    result = run(CHECK, "venv", "python-that-does-not-exist")
    assert result.returncode == 1
    assert "python-that-does-not-exist not found" in result.stderr


def test_port_chooses_where_gunicorn_binds():
    result = run("make", "-n", "run", "PORT=8123")
    assert result.returncode == 0, result.stderr
    assert "scripts/check-run port 127.0.0.1 8123" in result.stdout
    assert "GUNICORN_BIND=127.0.0.1:8123" in result.stdout
