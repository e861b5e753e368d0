"""Every server process the suite starts, so that no run leaves one behind, however it ends.

A server is registered while it runs: a process started here in a session of
its own (``start_new_session=True``, so its process group is the server and
every worker it forks), or a daemon known by its pid file (PostgreSQL's
``postmaster.pid``; ``pg_ctl`` starts the postmaster in a session of its own
too).

What is still registered is stopped at the end of the pytest session
(conftest), at interpreter exit (``atexit``), and on SIGTERM and SIGINT. The
signal handler stops the servers, passes the signal on to this process's
other children (pytest-xdist's workers, a pytest run a test started), and
then lets the signal do what it did before: SIGTERM ends the process,
SIGINT raises KeyboardInterrupt.

Stopping sends the group the server's own quick-stop signal, waits up to
:data:`STOP_TIMEOUT` seconds for every member to go, then SIGKILLs the rest.
"""

import atexit
import os
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STOP_TIMEOUT = 5.0


@dataclass(eq=False)
class Server:
    name: str
    stop_signal: int
    process: subprocess.Popen | None = None  # started here, leading its own process group
    pidfile: Path | None = None  # or a daemon that writes its pid here

    def group(self) -> int | None:
        """The process group to signal, or None when there is nothing to signal."""
        if self.process is not None:
            return self.process.pid
        try:
            pid = int(self.pidfile.read_text().split()[0])
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        # A pid file left by a killed daemon may name a pid that some other process has now.
        return pid if str(self.pidfile.parent).encode() in command else None


_servers: list[Server] = []
_previous_handlers: dict[int, object] = {}
_holding = 0  # > 0 while a server is being started: a signal then waits until it is registered
_held: set[int] = set()

os.register_at_fork(after_in_child=_servers.clear)  # a forked child must never stop its parent's servers


def start(command: list[str], name: str, stop_signal: int = signal.SIGTERM, **popen) -> subprocess.Popen:
    """Start ``command`` in a session of its own and register it until :func:`stop`."""
    install()
    with holding_signals():
        process = subprocess.Popen(command, start_new_session=True, **popen)
        _servers.append(Server(name, stop_signal, process=process))
    return process


def watch(pidfile: Path, name: str, stop_signal: int = signal.SIGTERM) -> Server:
    """Register a daemon by the file it writes its pid to; call before starting it, inside :func:`holding_signals`."""
    install()
    server = Server(name, stop_signal, pidfile=pidfile)
    _servers.append(server)
    return server


@contextmanager
def holding_signals():
    """SIGTERM and SIGINT that come while a server starts take effect once it is registered."""
    global _holding
    _holding += 1
    try:
        yield
    finally:
        _holding -= 1
        if not _holding and _held:
            signum = _held.pop()
            _held.clear()
            os.kill(os.getpid(), signum)


def stop(target: subprocess.Popen | Server, signum: int | None = None, timeout: float = STOP_TIMEOUT):
    """Stop one registered server (its whole process group) and forget it."""
    _stop([server for server in _servers if target in (server, server.process)], signum, timeout)


def stop_all(timeout: float = STOP_TIMEOUT):
    """Stop every registered server."""
    _stop(list(_servers), None, timeout)


def _stop(servers: list[Server], signum: int | None, timeout: float):
    groups = {}
    for server in servers:
        group = server.group()
        if group is not None:
            _signal_group(group, signum or server.stop_signal)
            groups[server] = group
    deadline = time.monotonic() + timeout
    while _wait_round(groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    for group in _wait_round(groups):
        _signal_group(group, signal.SIGKILL)
    deadline = time.monotonic() + 1
    while _wait_round(groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    for server in servers:
        if server in _servers:
            _servers.remove(server)


def _wait_round(groups: dict[Server, int]) -> list[int]:
    """Reap the leaders started here; the groups that still have a live member."""
    for server in groups:
        if server.process is not None:
            server.process.poll()
    return [group for group in groups.values() if members(group)]


def _signal_group(group: int, signum: int):
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass


def process_table() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every live process; zombies are gone already."""
    table = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        state, ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if state not in ("Z", "X"):
            table.append((int(entry.name), int(ppid), int(pgrp)))
    return table


def members(group: int) -> list[int]:
    """The live processes of process group ``group``."""
    return [pid for pid, _ppid, pgrp in process_table() if pgrp == group]


def install():
    """Stop the registered servers at exit and on SIGTERM and SIGINT; once, from the main thread."""
    if _previous_handlers or threading.current_thread() is not threading.main_thread():
        return
    atexit.register(stop_all)
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if previous is not signal.SIG_IGN:  # a process told to ignore it (``nohup``, ``&``) keeps ignoring it
            _previous_handlers[signum] = previous
            signal.signal(signum, _on_signal)


def _on_signal(signum, frame):
    if _holding:
        _held.add(signum)
        return
    stop_all()
    _pass_on(signum)
    previous = _previous_handlers[signum]
    if callable(previous):
        previous(signum, frame)  # SIGINT: Python's KeyboardInterrupt, which pytest turns into an orderly stop
    else:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _pass_on(signum: int):
    """Send ``signum`` to this process's children; after SIGTERM, wait (a while) for them to go.

    A Ctrl-C at a terminal already reached every process of the foreground
    group, so SIGINT is passed on only to children outside it.
    """
    me, typed = os.getpid(), None
    if signum == signal.SIGINT:
        typed = _foreground_group()
    children = [pid for pid, ppid, pgrp in process_table() if ppid == me and pgrp != typed]
    for pid in children:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    if signum == signal.SIGTERM:  # after SIGINT pytest goes on, and waits for them in its own teardown
        alive = set(children)
        deadline = time.monotonic() + 2 * STOP_TIMEOUT
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive &= {pid for pid, _ppid, _pgrp in process_table()}


def _foreground_group() -> int | None:
    try:
        terminal = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.tcgetpgrp(terminal)
    except OSError:
        return None
    finally:
        os.close(terminal)
