"""Workers of one multi-worker run on this machine's loopback, for the tests that start
them as processes: free ports, the workers' ``TF_CONFIG``, and a wait that fails with
every worker's own account when one of them stalls."""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path


class Stalled(AssertionError):
    """The workers did not reach a point, or their end, in time; the message holds what
    each one printed and where its Python threads were (``mock_bnno.py`` dumps them on
    SIGUSR1)."""


def _ephemeral_low() -> int:
    # Linux hands ports from this range to outgoing connections: one chosen from it could
    # be taken by a connection between the choice and a worker binding it, or a worker
    # still starting could be reached by its peer's connection to itself.
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports on 127.0.0.1 that are free now, below the ephemeral range."""
    low, ports = _ephemeral_low(), []
    while len(ports) < n:
        port = random.randrange(20000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


class Workers:
    """``command`` started as every worker of one cluster, each with its own
    ``TF_CONFIG``; their output goes to files, so that a worker that prints much never
    waits for a reader.

    Example:
        ``Workers([python, "mock_bnno.py", "train", ..., "--strategy", "multi_worker"],
        env).wait()`` gives each worker's (exit code, stdout, stderr).
    """

    def __init__(self, command: list[str], env: dict, workers: int = 2):
        ports = free_ports(workers)
        addresses = [f"127.0.0.1:{port}" for port in ports]
        self._files = [(tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+"))
                       for _ in range(workers)]
        self.procs = []
        for index, (out, err) in enumerate(self._files):
            config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
            self.procs.append(subprocess.Popen(
                command, env={**env, "TF_CONFIG": json.dumps(config)}, stdout=out, stderr=err,
                text=True))
            if index == 0:
                # Worker 0 runs the cluster's coordination service. A worker that finds
                # it not yet listening retries with gRPC's growing back-off, which on a
                # busy machine can outlast a test; the others start once it listens.
                self._await_listening(ports[0])

    def _await_listening(self, port: int, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.procs[0].poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)

    def wait_for(self, condition: Callable[[], bool], seconds: float = 240) -> None:
        """Return once ``condition()`` holds while the workers run.

        Raises:
            Stalled: it does not hold within ``seconds``, or the workers ended first.
        """
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise Stalled(self._stop_all())
            time.sleep(0.05)

    def wait(self, seconds: float = 240) -> list[tuple[int, str, str]]:
        """(exit code, stdout, stderr) of every worker once all have ended.

        Raises:
            Stalled: some worker still runs after ``seconds``, or 60 s after another
                one ended; every worker is stopped first.
        """
        deadline, ended_at = time.monotonic() + seconds, None
        while any(p.poll() is None for p in self.procs):
            now = time.monotonic()
            if ended_at is None and any(p.poll() is not None for p in self.procs):
                ended_at = now
            if now > deadline or (ended_at is not None and now > ended_at + 60):
                raise Stalled(self._stop_all())
            time.sleep(0.2)
        return [(p.returncode, *self._output(index)) for index, p in enumerate(self.procs)]

    def _output(self, index: int) -> tuple[str, str]:
        texts = []
        for file in self._files[index]:
            file.seek(0)
            texts.append(file.read())
            file.close()
        return texts[0], texts[1]

    def _stop_all(self) -> str:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGUSR1)  # mock_bnno.py prints its threads' stacks
        time.sleep(2)
        report = ["the workers stalled"]
        for index, p in enumerate(self.procs):
            state = "still running" if p.poll() is None else f"exit {p.returncode}"
            p.kill()
            p.wait()
            stdout, stderr = self._output(index)
            lines = [line for line in (stdout + stderr).splitlines()
                     if not line.startswith(("W0000", "E0000", "I0000", "WARNING:"))]
            report.append(f"--- worker {index} ({state}) ---")
            report.extend(lines[-80:])
        return "\n".join(report)


def once_more_if_stalled(start: Callable[[], Workers], until: Callable[[], bool] | None = None,
                         seconds: float = 240):
    """``start()``'s workers, waited for: until ``until()`` holds (then they are returned,
    running), or else to their end (their results are returned). A cluster that stalls is
    stopped and started once more; the first one's report becomes a warning, which the
    test summary shows."""
    for attempt in (1, 2):
        workers = start()
        try:
            if until is None:
                return workers.wait(seconds)
            workers.wait_for(until, seconds)
            return workers
        except Stalled as stalled:
            if attempt == 2:
                raise
            warnings.warn(f"a loopback cluster stalled and was started again: {stalled}",
                          stacklevel=2)
