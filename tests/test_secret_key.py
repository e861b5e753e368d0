"""The generated secret key: workers starting at the same moment all read one complete key."""

import multiprocessing
import stat
import threading

import pytest

from webshop.config import SECRET_KEY_FILE, ConfigError, load_secret_key

STARTERS = 50
ROUNDS = 2


def start(instance, barrier, answers):
    barrier.wait()
    try:
        answers.put(load_secret_key(str(instance)))
    except Exception as error:  # reported to the test, which shows it
        answers.put(f"error: {type(error).__name__}: {error}")


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_fifty_processes_starting_at_once_all_get_the_same_non_empty_key(tmp_path, round_):
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(STARTERS)
    answers = context.Queue()
    instance = tmp_path / "instance"
    instance.mkdir()
    starters = [context.Process(target=start, args=(instance, barrier, answers)) for _ in range(STARTERS)]
    for starter in starters:
        starter.start()
    keys = [answers.get(timeout=60) for _ in starters]
    for starter in starters:
        starter.join(timeout=30)
    assert [starter.exitcode for starter in starters] == [0] * STARTERS
    check_one_key(instance, keys)


def start_thread(instance, barrier, keys):
    barrier.wait()
    try:
        keys.append(load_secret_key(str(instance)))
    except ConfigError as error:
        keys.append(f"error: {error}")


def check_one_key(instance, keys):
    assert len(set(keys)) == 1, sorted(set(keys))[:3]
    [key] = set(keys)
    assert len(key) >= 60 and not key.startswith("error:")
    path = instance / SECRET_KEY_FILE
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in instance.iterdir()] == [SECRET_KEY_FILE]  # no temporary file left behind


def test_threads_starting_at_once_never_read_a_half_written_key(tmp_path):
    """Threads switch right after the file is created, so an empty key file would be read."""
    for round_ in range(10):
        instance = tmp_path / f"instance{round_}"
        instance.mkdir()
        barrier = threading.Barrier(20)
        keys = []

        threads = [threading.Thread(target=start_thread, args=(instance, barrier, keys)) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        check_one_key(instance, keys)


def test_the_key_is_kept_across_starts_and_an_emptied_file_is_reported(tmp_path):
    first = load_secret_key(str(tmp_path))
    assert load_secret_key(str(tmp_path)) == first
    (tmp_path / SECRET_KEY_FILE).write_text("")
    with pytest.raises(ConfigError, match="is empty; delete it"):
        load_secret_key(str(tmp_path))
