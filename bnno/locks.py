"""One writer per run directory: the lock file a training process holds while it trains.

``lock.json`` in the run directory names its holder (host, PID, start time) and a
heartbeat, a time the holder rewrites every ``HEARTBEAT_SECONDS`` while it trains. A
second process that opens the run is refused with one line naming the holder. A lock
whose holder is gone is taken over, with a line saying so: on the same host when its
PID is no longer running, on any host (a shared file system) when its heartbeat is older
than ``STALE_SECONDS``. The file is created with a hard link of a complete temporary file
(atomic, also on NFS) and rewritten with a rename, so it is never read half written.

Example:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> with held(run):
    ...     state(run)
    'running'
    >>> state(run) is None  # released
    True
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bnno import atomic
from bnno.errors import BnnoError
from bnno.runs import LOCK_FILE

# How often the holder refreshes its heartbeat, and after how long without one a lock
# counts as abandoned by a holder on another host (a shared file system, where its PID
# cannot be checked): ten minutes, twenty missed heartbeats.
HEARTBEAT_SECONDS = 30
STALE_SECONDS = 600

# The locks this process holds, by resolved path: a run trained inside another call
# that already holds its lock (a sweep's cell, a stage) does not lock it again.
_HELD: dict[str, RunLock] = {}


def read(path: str | Path) -> dict[str, Any] | None:
    """The holder record of the run in ``path`` (None without a readable lock).

    Example:
        >>> read("no/such/run") is None
        True
    """
    try:
        found = json.loads((Path(path) / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def gone(record: dict[str, Any], now: float | None = None) -> str | None:
    """Why the holder of ``record`` is gone, or None if it may still be training: its
    PID is not running on this host, or its heartbeat is older than ``STALE_SECONDS``.

    Example:
        >>> gone({"host": "elsewhere", "pid": 1, "heartbeat": 0.0}, now=STALE_SECONDS + 1.0)
        'its last heartbeat was 601 s ago'
        >>> gone({"host": socket.gethostname(), "pid": os.getpid(), "heartbeat": time.time()})
    """
    now = time.time() if now is None else now
    age = now - float(record.get("heartbeat", 0.0))
    if age > STALE_SECONDS:
        return f"its last heartbeat was {age:.0f} s ago"
    if record.get("host") == socket.gethostname() and not _alive(int(record.get("pid", 0))):
        return "its process is no longer running"
    return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def state(path: str | Path) -> str | None:
    """``running`` when a live process holds the run's lock, ``interrupted`` when its
    holder is gone without releasing it (killed), None without a lock.

    Example:
        >>> state("no/such/run") is None
        True
    """
    record = read(path)
    if record is None:
        return None
    return "interrupted" if gone(record) else "running"


def describe(record: dict[str, Any]) -> str:
    """The holder of a lock in words.

    Example:
        >>> describe({"host": "node7", "pid": 4242, "started": "2026-12-01 10:00:00 UTC",
        ...           "heartbeat": time.time()})  # doctest: +ELLIPSIS
        'PID 4242 on node7 (started 2026-12-01 10:00:00 UTC, last heartbeat ... s ago)'
    """
    age = time.time() - float(record.get("heartbeat", 0.0))
    return (f"PID {record.get('pid')} on {record.get('host')} (started "
            f"{record.get('started')}, last heartbeat {max(age, 0):.0f} s ago)")


class RunLock:
    """The lock of the run in ``path`` for this process (see the module).

    Example:
        >>> import tempfile
        >>> lock = RunLock(tempfile.mkdtemp())
        >>> lock.acquire()
        >>> read(lock.path)["pid"] == os.getpid()
        True
        >>> lock.release()
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.file = self.path / LOCK_FILE
        self.record = {"host": socket.gethostname(), "pid": os.getpid(),
                       "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                       "heartbeat": time.time(), "token": uuid.uuid4().hex}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock, or take over an abandoned one.

        Raises:
            BnnoError: a live process holds it (the message names it).
        """
        if self.path.exists() and not self.path.is_dir():
            raise BnnoError(f"--output-dir {self.path} is a file; give a directory")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BnnoError(f"cannot write the run directory {self.path}: {e.strerror}") from None
        for _ in range(20):  # another process may take over at the same moment
            if self._create():
                self._thread = threading.Thread(target=self._beat, daemon=True,
                                                name="bnno-lock-heartbeat")
                self._thread.start()
                return
            holder = read(self.path)
            if holder is None:
                time.sleep(0.05)  # removed meanwhile: try again
                continue
            why = gone(holder)
            if why is None:
                raise BnnoError(f"{self.path} is being trained by {describe(holder)}; "
                                "wait for it to end, or stop it and run this again")
            if self._take_over(holder):
                print(f"Taking over the lock of {self.path} from {describe(holder)}: {why}.",
                      flush=True)
        raise BnnoError(f"cannot take the lock {self.file}: other processes keep taking it")

    def _create(self) -> bool:
        tmp = self.file.with_name(f"{LOCK_FILE}.{self.record['token']}")
        try:
            atomic.write_text(tmp, json.dumps(self.record))
            os.link(tmp, self.file)  # fails if a lock exists; never shows a partial file
            return True
        except FileExistsError:
            return False
        except OSError as e:
            raise BnnoError(f"cannot write {self.file}: {e.strerror}") from None
        finally:
            tmp.unlink(missing_ok=True)

    def _take_over(self, holder: dict[str, Any]) -> bool:
        # Move the abandoned lock aside; of two processes doing so only one succeeds, and
        # a lock that changed meanwhile (another process took it over first) goes back.
        aside = self.file.with_name(f"{LOCK_FILE}.stale-{self.record['token']}")
        try:
            os.rename(self.file, aside)
        except FileNotFoundError:
            return False
        try:
            moved = json.loads(aside.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            moved = None
        if moved is not None and moved.get("token") != holder.get("token"):
            with contextlib.suppress(OSError):
                os.link(aside, self.file)
            aside.unlink(missing_ok=True)
            return False
        aside.unlink(missing_ok=True)
        return True

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self.refresh()

    def refresh(self) -> None:
        """Rewrite the heartbeat (the training thread may call it too); a lock that
        another process took over is left alone."""
        found = read(self.path)
        if found is None or found.get("token") != self.record["token"]:
            return
        self.record["heartbeat"] = time.time()
        with contextlib.suppress(BnnoError):  # a full disk: the old heartbeat stays
            atomic.write_text(self.file, json.dumps(self.record), sync=False)

    def release(self) -> None:
        """Stop the heartbeat and remove the lock if it is still this process's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        found = read(self.path)
        if found is not None and found.get("token") == self.record["token"]:
            self.file.unlink(missing_ok=True)


@contextlib.contextmanager
def held(path: str | Path, enabled: bool = True) -> Iterator[None]:
    """Hold the lock of the run in ``path`` for the block (nothing without ``enabled``:
    a multi-worker run's other workers). Within a block that holds it already, the lock
    is not taken again.

    Raises:
        BnnoError: another live process holds the lock.

    Example:
        >>> import tempfile
        >>> run = tempfile.mkdtemp()
        >>> with held(run), held(run):  # nested: one lock
        ...     read(run)["pid"] == os.getpid()
        True
    """
    key = str(Path(path).resolve())
    if not enabled or key in _HELD:
        yield
        return
    lock = RunLock(path)
    lock.acquire()
    _HELD[key] = lock
    try:
        yield
    finally:
        del _HELD[key]
        lock.release()
