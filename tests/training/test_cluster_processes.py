"""Runs that survive a cluster, with real processes: two processes on one run directory,
two loopback workers preempted and resumed, and the fault-injection benchmark's short
version (kills at random moments, each run resumed to the uninterrupted weights)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import PYTHON, TESTS_DIR, all_weights
from loopback import Workers, once_more_if_stalled

from bnno import runs
from bnno.analysis.runs_table import scan

MOCK_BNNO = str(TESTS_DIR / "mock_bnno.py")
sys.path.insert(0, str(TESTS_DIR.parent / "benchmarks"))


def command(out, epochs=3, extra=()):
    return [PYTHON, MOCK_BNNO, "train", "binarynet", "--dataset", "cifar10", "--hparams-set",
            "bop", "--hparams", f"filters=4,dense_units=8,batch_size=4,epochs={epochs}",
            "--steps-per-epoch", "6", "--validation-steps", "1", "--seed", "1",
            "--no-tensorboard", "--verbose", "2", "--output-dir", str(out), *extra]


def wait_for(condition, proc, seconds=240):
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert condition(), "the run ended or stalled before the moment to interrupt it"


def status(root, name):
    return {row["run"]: row["status"] for row in scan(root)}[name]


@pytest.mark.slow
def test_a_second_process_is_refused_then_takes_over_when_the_first_is_killed(
        tmp_path, subprocess_env):
    out = tmp_path / "run"
    first = subprocess.Popen(command(out, epochs=200), env=subprocess_env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: runs.has_checkpoint(out), first)
        assert status(tmp_path, "run") == "running"
        second = subprocess.run(command(out), env=subprocess_env, capture_output=True,
                                text=True)
        assert second.returncode == 2
        line = second.stderr.strip().splitlines()[-1]  # after TensorFlow's start-up notes
        assert line.startswith(f"Error: {out} is being trained by PID {first.pid} on ")
        assert line.endswith("; wait for it to end, or stop it and run this again")
        assert "Traceback" not in second.stderr
    finally:
        first.kill()
        first.wait()
    assert status(tmp_path, "run") == "interrupted"
    epochs = [row["epoch"] for row in runs.read_metrics(out)]
    third = subprocess.run(command(out, epochs=len(epochs) + 1), env=subprocess_env,
                           capture_output=True, text=True)
    assert third.returncode == 0, third.stderr[-2000:]
    assert f"Taking over the lock of {out} from PID {first.pid} on " in third.stdout
    assert "its process is no longer running." in third.stdout
    assert [row["epoch"] for row in runs.read_metrics(out)] == list(range(1, len(epochs) + 2))
    assert status(tmp_path, "run") == "finished"


def workers(out, epochs, env, extra=()):
    return Workers(command(out, epochs, ("--strategy", "multi_worker", *extra)), env)


@pytest.mark.slow
def test_two_workers_stop_after_the_same_step_on_sigterm_and_resume(tmp_path,
                                                                    subprocess_env):
    # Enough epochs for the signal to be seen: workers look for it once a second, and an
    # epoch of 6 steps takes about 0.85 s on an idle machine after the first.
    epochs, every = 8, ("--checkpoint-every", "4")
    whole = tmp_path / "whole"
    for code, _, stderr in once_more_if_stalled(
            lambda: workers(whole, epochs, subprocess_env, every)):
        assert code == 0, stderr[-3000:]
    out = tmp_path / "run"
    cluster = once_more_if_stalled(lambda: workers(out, epochs, subprocess_env, every),
                                   until=lambda: runs.has_checkpoint(out))
    cluster.procs[1].send_signal(signal.SIGTERM)  # the worker that is not the chief
    stopped = cluster.wait()
    assert [code for code, _, _ in stopped] == [75, 75], stopped[0][2][-3000:]
    lines = [stderr.strip().splitlines()[-1] for _, _, stderr in stopped]
    assert lines[1].startswith("SIGTERM: stopped after step ")
    assert lines[0].startswith("a peer: stopped after step ")
    assert lines[0].split(";")[0].split("after ")[1] == lines[1].split(";")[0].split("after ")[1]
    done = len(runs.read_metrics(out))
    assert 1 <= done < epochs
    for code, _, stderr in once_more_if_stalled(
            lambda: workers(out, epochs, subprocess_env, every)):
        assert code == 0, stderr[-3000:]
    assert [r["epoch"] for r in runs.read_metrics(out)] == list(range(1, epochs + 1))
    a = all_weights(runs.weights_file(whole, "binarynet"))
    b = all_weights(runs.weights_file(out, "binarynet"))
    assert a.keys() == b.keys()
    for name in a:
        if "moving_" in name:
            # Batch norm's moving statistics are kept per worker and averaged when saved;
            # a resumed run starts from the average, which rounds differently: a few
            # float32 roundings apart (1.2e-7 on 0.52 seen).
            np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.slow
def test_fault_injection_short(tmp_path, subprocess_env):
    import fault_injection

    rows = fault_injection.run_trials([PYTHON, MOCK_BNNO], None, 2, 0, tmp_path,
                                      subprocess_env)
    assert [row["signal"] for row in rows] == ["SIGKILL", "SIGTERM"]
    assert [row["damage"] for row in rows] == [None, None]
    assert [row["mismatch"] for row in rows] == [False, False]
    assert os.path.exists(runs.weights_file(tmp_path / "trial-1", "binarynet"))
