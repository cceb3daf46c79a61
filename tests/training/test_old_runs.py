"""Run directories written before typed configs still load, evaluate, resume and export.

``tests/fixtures/runs_v1`` holds runs that bnno 0.1.0 wrote (flat ``hparams`` in run.json,
the dataset, preprocessing and shortened epochs beside them) with these commands, on
mock data, seed 3, ``--steps-per-epoch 2 --validation-steps 1``:

* ``binarynet_default_to_bop``: ``train binarynet --dataset cifar10 --hparams-set default
  --hparams filters=4,dense_units=8,batch_size=8,epochs=2,optimizer=bop,threshold=1e-6,
  gamma=1e-3`` (latent-free after a switch);
* ``sibnn_mlp_sibnn``: ``train sibnn_mlp --dataset mnist --hparams-set sibnn --hparams
  units=16,batch_size=8,epochs=1,activation.rho=0.4`` (a quantizer spec with an option);
* ``bnext_t_cifar``: ``train bnext_t --dataset cifar10 --hparams-set cifar --hparams
  width_multiplier=0.05,blocks=2,batch_size=8,epochs=2`` (AdamW, a temperature);
* ``binarynet_bop2ndorder``: ``train binarynet --dataset cifar10 --hparams-set
  bop2ndOrder_testExp --hparams filters=4,dense_units=8,batch_size=8,epochs=1`` (step
  decays expanded by the optimizer).
"""

import json
import shutil

import pytest
from conftest import TESTS_DIR

from bnno.config import stored

OLD = TESTS_DIR / "fixtures" / "runs_v1"
SHORT = ["--steps-per-epoch", "2", "--validation-steps", "1", "--seed", "3",
         "--no-tensorboard", "--verbose", "0"]

COMMANDS = {
    "binarynet_default_to_bop": ("binarynet", "cifar10", "default",
                                 "filters=4,dense_units=8,batch_size=8,epochs={},optimizer=bop,"
                                 "threshold=1e-6,gamma=1e-3", 2),
    # These sets train the last partial batch since (drop_last false, as their PyTorch
    # loaders do); the runs were trained without it, which their run.json reads as.
    "sibnn_mlp_sibnn": ("sibnn_mlp", "mnist", "sibnn",
                        "units=16,batch_size=8,epochs={},activation.rho=0.4,drop_last=true",
                        1),
    "bnext_t_cifar": ("bnext_t", "cifar10", "cifar",
                      "width_multiplier=0.05,blocks=2,batch_size=8,epochs={},drop_last=true",
                      2),
    # The set took the Bop2ndOrder code's later values since: the values the run was
    # trained with are given.
    "binarynet_bop2ndorder": ("binarynet", "cifar10", "bop2ndOrder_testExp",
                              "filters=4,dense_units=8,batch_size=8,epochs={},"
                              "normalization=layer,gamma=1e-6,sigma=1e-2,learning_rate=0.01",
                              1),
}


@pytest.fixture
def old_run(tmp_path):
    def copy(name):
        shutil.copytree(OLD / name, tmp_path / name)
        return tmp_path / name

    return copy


def test_old_run_json_reads_as_the_config_the_same_command_plans_now():
    config = stored.read(OLD / "binarynet_default_to_bop")
    assert (config.model.name, config.optimizer.name) == ("binarynet", "bop")
    assert config.model.hparams["kernel_quantizer"] is None  # the switch was recorded
    assert config.optimizer.options["gamma"] == 1e-3
    assert (config.trainer.steps_per_epoch, config.data.preprocess_fn) == (2, "resize_and_flip")
    sibnn = stored.read(OLD / "sibnn_mlp_sibnn")
    assert sibnn.model.hparams["activation"] == {"name": "sibnn", "rho": 0.4}
    assert sibnn.optimizer.options["adam_epsilon"] == 1e-8


def test_renamed_keys_of_older_runs_take_their_new_form():
    def activation(hp):
        spec = {"model": "sibnn_mlp", "dataset": "mnist", "hparams": {
            "optimizer": "adam", "learning_rate": 1e-3, "epochs": 1, "batch_size": 8, **hp}}
        return stored.from_json(spec).model.hparams["activation"]

    assert activation({"input_quantizer": "sibnn", "rho": 0.4}) == {"name": "sibnn", "rho": 0.4}
    # rho did nothing next to another binarizer, so it goes.
    assert activation({"activation": "ste_sign", "rho": 0.3}) == "ste_sign"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_old_run_evaluates_and_resumes_with_its_command(mock_tfds, cli, old_run, name):
    path = old_run(name)
    model, dataset, set_name, hparams, epochs = COMMANDS[name]
    code, stdout, err = cli("evaluate", str(path), "--json")
    assert code == 0, err
    assert 0 <= json.loads(stdout)["accuracy"] <= 1
    before = (path / "run.json").read_text()
    # The same command with one more epoch resumes the old run.
    code, stdout, err = cli("train", model, "--dataset", dataset, "--hparams-set", set_name,
                            "--hparams", hparams.format(epochs + 1), "--output-dir",
                            str(path), *SHORT)
    assert code == 0, err
    assert f"Resuming {path} after epoch {epochs}." in stdout
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 2))
    assert stored.read(path).trainer.epochs == epochs + 1
    assert before != (path / "run.json").read_text()  # now in the current form
    # Another recipe is still refused in it.
    code, _, err = cli("train", model, "--dataset", dataset, "--hparams-set", set_name,
                       "--hparams", hparams.format(epochs + 1) + ",batch_size=4",
                       "--output-dir", str(path), *SHORT)
    assert code == 2 and "different batch_size" in err


def test_an_old_run_exports(mock_tfds, cli, old_run, tmp_path):
    path = old_run("binarynet_default_to_bop")
    code, stdout, err = cli("export", str(path), "-o", str(tmp_path / "m.tflite"),
                            "--check-examples", "8", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    # Five binary convolutions (the first sees the image) and three binary dense layers.
    assert result["binary_ops"] == result["binary_layers"] == 8
    assert result["check"]["passed"]
