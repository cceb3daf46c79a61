"""tf.distribute: Bop sees the all-reduced gradient under MirroredStrategy, runs resume
under both strategies, and two workers train one run over loopback."""

import json
import subprocess

import pytest
from conftest import PYTHON, TESTS_DIR
from loopback import Workers, once_more_if_stalled

from bnno import runs
from bnno.errors import BnnoError
from bnno.training import distribute

HERE = TESTS_DIR


def mirrored_check(part, env):
    done = subprocess.run([PYTHON, str(HERE / "mirrored_check.py"), part], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_one_step_on_two_replicas_equals_one_device(subprocess_env):
    result = mirrored_check("step", subprocess_env)
    assert result["replicas"] == 2
    # About half the sign-matching weights flip; the same ones on one device and on two.
    assert 0 < result["flips_single"] < result["binary_weights"] // 2
    assert result["same_flips"] and result["flips_mirrored"] == result["flips_single"]
    # Batch norm: β (trained by Adam) and the moving means change and are updated alike, and so are
    # the moving variances of the dense layers. Keras computes the moving variance of a
    # batch norm over images (4-D) with a sample-count correction that depends on how
    # many values one replica sees, so those agree only approximately.
    changed = result["bn_changed"]
    assert all(v > 1e-3 for k, v in changed.items() if k.endswith("beta"))  # Adam: ~lr
    assert all(v > 0 for k, v in changed.items() if k.endswith(("moving_mean", "moving_variance")))
    for key, diff in result["bn_rel_diff"].items():
        approximate = key.endswith("moving_variance") and key.split("/")[0] in result[
            "bn_of_images"]
        assert diff < (0.15 if approximate else 1e-4), (key, diff)


@pytest.mark.slow
def test_mirrored_run_refuses_uneven_batches_and_resumes(subprocess_env):
    result = mirrored_check("train", subprocess_env)
    assert "does not split evenly across 2 replicas" in result["uneven_error"]
    assert result["epochs"] == [1, 2] and result["steps"] == [2, 4]
    assert result["strategy"] == "mirrored" and result["weights"]


def run_workers(out, epochs, env):
    command = [PYTHON, str(HERE / "mock_bnno.py"), "train", "binarynet", "--dataset", "cifar10",
               "--hparams-set", "bop", "--hparams",
               f"filters=4,dense_units=8,batch_size=4,epochs={epochs}", "--steps-per-epoch",
               "2", "--validation-steps", "1", "--seed", "1", "--no-tensorboard",
               "--strategy", "multi_worker", "--output-dir", str(out)]
    return once_more_if_stalled(lambda: Workers(command, env))


@pytest.mark.slow
def test_two_workers_on_loopback_train_and_resume(tmp_path, subprocess_env):
    out = tmp_path / "run"
    first = run_workers(out, 1, subprocess_env)
    for code, _, stderr in first:
        assert code == 0, stderr[-3000:]
    assert [r["epoch"] for r in runs.read_metrics(out)] == [1]
    assert runs.read(out)["strategy"] == "multi_worker"  # run.json, as written
    assert runs.weights_file(out, "binarynet").exists()
    assert not [p for p in (out / "backup").iterdir() if p.name != "chief"]  # workers' temps
    second = run_workers(out, 2, subprocess_env)
    for code, _, stderr in second:
        assert code == 0, stderr[-3000:]
    assert all("Resuming" in stdout for _, stdout, _ in second)
    rows = runs.read_metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2] and [r["step"] for r in rows] == [2, 4]


def test_strategy_errors(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(BnnoError, match="choose one of: default, mirrored, multi_worker"):
        distribute.check_name("horovod")
    with pytest.raises(BnnoError, match="TF_CONFIG"):
        distribute.check_name("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(BnnoError, match="not valid JSON"):
        distribute.cluster()
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker",
                                                                     "index": 0}}))
    assert not distribute.is_chief("multi_worker") and distribute.is_chief("default")
