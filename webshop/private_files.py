"""Files that hold personal data: mode 0600 (folders 0700) whatever the umask, never through a symlink.

The shop's own files under ``instance/`` (the SQLite database and its
``-wal``/``-shm``, the visit spool, the outbox, backups) are made private
with :func:`private_dir` and :func:`private_file`. Files an operator names
on the command line (``--output``) are created by :func:`create_output`:
a new file only, so an existing file or a symlink planted at that path is
refused and never truncated or written through.
"""

import os
from contextlib import contextmanager
from pathlib import Path

import click

FILE_MODE = 0o600
DIR_MODE = 0o700
# O_EXCL with O_CREAT refuses any existing name, a symlink (even a dangling one) included;
# O_NOFOLLOW says the same where O_EXCL is not honoured.
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def private_dir(path) -> Path:
    """Create the folder ``path`` (and missing parents) and make it 0700."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def private_file(path) -> None:
    """Make the existing file ``path`` 0600; a missing file is left missing."""
    try:
        if os.lstat(path).st_mode & 0o777 != FILE_MODE:
            os.chmod(path, FILE_MODE, follow_symlinks=False)
    except (FileNotFoundError, NotImplementedError):
        pass


def claim_private_file(path, data: bytes) -> bool:
    """Put ``data`` at ``path`` (mode 0600) unless a file is already there; whether this call put it.

    The data is written in full to a private temporary file beside ``path``
    and then hard-linked into place. The link is atomic and fails if
    ``path`` exists, so a process starting at the same moment finds either
    no file or a complete one, never a half-written one, and every process
    ends up reading the one file that was linked first.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False  # another process linked its file first; that one is used
    finally:
        temporary.unlink(missing_ok=True)


def open_private(path, flags: int) -> int:
    """``os.open`` a file created 0600 whatever the umask; the descriptor."""
    fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOFOLLOW, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def create_output(path, binary: bool = False, encoding: str = "utf-8"):
    """Open a new file at ``path`` (mode 0600) for a command's output.

    An existing file, or a symlink wherever it points, is refused with a
    clear message; nothing at that path is changed. If the command fails
    while writing, the unfinished file is removed.
    """
    path = Path(path)
    try:
        fd = open_private(path, NEW_FILE_FLAGS)
    except FileExistsError:
        what = "is a symbolic link" if path.is_symlink() else "already exists"
        raise click.ClickException(
            f"{path} {what}; output is only written to a new file, never over or through an existing one"
        ) from None
    except OSError as error:
        raise click.ClickException(f"cannot create {path}: {error.strerror}") from None
    if binary:
        handle = os.fdopen(fd, "wb")
    else:
        handle = os.fdopen(fd, "w", encoding=encoding, newline="")
    created = os.fstat(fd)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _remove_if_ours(path, created)
        raise


def _remove_if_ours(path: Path, created: os.stat_result) -> None:
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return
    if (now.st_dev, now.st_ino) == (created.st_dev, created.st_ino):
        path.unlink()
