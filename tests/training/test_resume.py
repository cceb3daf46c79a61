"""A run killed with SIGKILL and resumed ends with the weights of an uninterrupted run."""

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from conftest import PYTHON, TESTS_DIR, all_weights

MOCK_BNNO = str(TESTS_DIR / "mock_bnno.py")


def command(out):
    return [PYTHON, MOCK_BNNO, "train", "binarynet", "--dataset", "cifar10",
            "--preprocess-fn", "resize_and_flip", "--hparams-set", "bop_sec52",
            "--hparams", "filters=4,dense_units=8,batch_size=4,epochs=4,gamma.decay_steps=10",
            "--steps-per-epoch", "8", "--validation-steps", "1", "--seed", "7",
            "--output-dir", str(out), "--no-tensorboard"]


def epochs_logged(out):
    file = out / "metrics.jsonl"
    if not file.exists():
        return []
    return [json.loads(line)["epoch"] for line in file.read_text().splitlines() if line]


@pytest.mark.slow
def test_killed_and_resumed_run_equals_uninterrupted_run(tmp_path, subprocess_env):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(command(whole), env=subprocess_env, check=True, capture_output=True)

    proc = subprocess.Popen(command(killed), env=subprocess_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    checkpoint = killed / "backup" / "chief" / "checkpoint"
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = epochs_logged(killed)
    assert 1 <= len(done) < 4 and not (killed / "binarynet_weights.h5").exists()

    resumed = subprocess.run(command(killed), env=subprocess_env, check=True,
                             capture_output=True, text=True)
    assert "Resuming" in resumed.stdout
    assert epochs_logged(killed) == [1, 2, 3, 4]
    a = all_weights(whole / "binarynet_weights.h5")
    b = all_weights(killed / "binarynet_weights.h5")
    assert a.keys() == b.keys() and len(a) > 9
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    # The gamma schedule (decay every 10 steps) resumed at the right step too.
    rows = [json.loads(line) for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [8, 16, 24, 32]
    np.testing.assert_allclose(rows[-1]["gamma"], 1e-4 * 0.1 ** 3, rtol=1e-5)
