"""The CLI end to end on mock data, and every bad-input path."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import TINY

SHORT = ["--steps-per-epoch", "2", "--validation-steps", "1"]


def train_args(out, set_name="bop", extra=TINY, *more, seed="1"):
    return ["train", "binarynet", "--dataset", "cifar10", "--preprocess-fn", "resize_and_flip",
            "--hparams-set", set_name, "--hparams", extra, "--output-dir", str(out), *SHORT,
            "--seed", seed, *more]


def kernels(h5_path):
    found = {}
    with h5py.File(h5_path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) and name.endswith("kernel:0") else None)
    return found


def test_help_does_not_import_tensorflow():
    code = ("import sys, bnno.cli; from click.testing import CliRunner; "
            "r = CliRunner().invoke(bnno.cli.cli, ['train', '--help']); "
            "assert r.exit_code == 0 and '--hparams-set' in r.output, r.output; "
            "assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
@pytest.mark.parametrize("set_name, seed", [("bop", "1"), ("default", "0")])
def test_train_evaluate_and_rerun(mock_tfds, cli, tmp_path, set_name, seed):
    out = tmp_path / "run"
    code, stdout, err = cli(*train_args(out, set_name, seed=seed))
    assert code == 0, err
    spec = json.loads((out / "run.json").read_text())
    assert spec["model"]["name"] == "binarynet" and spec["model"]["hparams"]["filters"] == 4
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1] and rows[0]["step"] == 2
    flip_keys = [k for k in rows[0] if k.startswith("flip_ratio/")]
    assert len(flip_keys) == 9 and "val_accuracy" in rows[0]
    assert list((out / "logs" / "train").iterdir())  # TensorBoard events
    weights = kernels(out / "binarynet_weights.h5")
    assert len(weights) == 9
    if set_name == "bop":  # Bop runs store their binary kernels as ±1
        assert all(set(np.unique(k)) <= {-1.0, 1.0} for k in weights.values())
    else:  # latent weights, clipped to [-1, 1]
        assert all(np.abs(k).max() <= 1.0 for k in weights.values())

    code, stdout, err = cli("evaluate", str(out), "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["weights"] == "binarynet_weights.h5" and 0 <= result["accuracy"] <= 1

    before = (out / "binarynet_weights.h5").read_bytes()
    code, stdout, _ = cli(*train_args(out, set_name, seed=seed))
    assert code == 0 and "nothing to train" in stdout
    assert (out / "binarynet_weights.h5").read_bytes() == before


@pytest.mark.slow
def test_more_epochs_continue_a_finished_run(mock_tfds, cli, tmp_path):
    out = tmp_path / "run"
    assert cli(*train_args(out))[0] == 0
    code, stdout, err = cli(*train_args(out, "bop", TINY.replace("epochs=1", "epochs=2")))
    assert code == 0, err
    assert "Resuming" in stdout
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["step"] == 4


@pytest.mark.slow
def test_evaluate_partial_run_uses_checkpoint(mock_tfds, cli, tmp_path):
    out = tmp_path / "run"
    assert cli(*train_args(out))[0] == 0
    (out / "binarynet_weights.h5").unlink()  # as if killed after the first epoch
    code, stdout, err = cli("evaluate", str(out))
    assert code == 0, err
    assert "checkpoint after epoch 1" in stdout and "accuracy" in stdout


@pytest.mark.slow
def test_evaluate_refuses_other_shapes_and_corrupt_weights(mock_tfds, cli, tmp_path):
    out = tmp_path / "run"
    assert cli(*train_args(out))[0] == 0
    code, _, err = cli("evaluate", str(out), "--dataset", "mnist")
    assert code == 2 and "was trained on cifar10" in err and err.count("\n") == 1
    (out / "binarynet_weights.h5").write_bytes(b"not hdf5")
    code, _, err = cli("evaluate", str(out))
    assert code == 2 and "cannot read" in err and err.count("\n") == 1


@pytest.mark.slow
def test_summary_json(cli):
    code, stdout, err = cli("summary", "binarynet", "--dataset", "mnist", "--hparams-set", "bop",
                            "--hparams", "filters=4,dense_units=8", "--json")
    assert code == 0, err
    counts = json.loads(stdout)
    # Keys are only ever added: the first five stay, OPs came later.
    assert set(counts) == {"total_params", "trainable_params", "binary_params",
                           "binary_macs", "fp_macs", "bops", "flops", "ops",
                           "binarization_degree"}
    assert counts["ops"] == counts["bops"] / 64 + counts["flops"]
    assert all(isinstance(counts[k], int) for k in ("total_params", "binary_macs", "bops"))
    # 28×28 MNIST: first conv "valid" -> 26 -> pools 13, 6, 3; dense input 3·3·16.
    assert counts["binary_params"] == (9 * (1 * 4 + 4 * 4 + 4 * 8 + 8 * 8 + 8 * 16 + 16 * 16)
                                       + 144 * 8 + 8 * 8 + 8 * 10)


def test_hparams_commands(cli):
    code, stdout, _ = cli("hparams", "list")
    assert code == 0 and "bop_sec52" in stdout and "binarynet" in stdout
    code, stdout, _ = cli("hparams", "show", "binarynet", "bop", "--hparams", "gamma=1e-4")
    shown = json.loads(stdout)
    assert code == 0 and shown["optimizer"]["gamma"] == 1e-4
    assert list(shown)[:2] == ["description", "source"]
    # An alias finds its model's sets, with the hparams it fixes.
    code, stdout, _ = cli("hparams", "list", "binarynet_batch")
    assert code == 0 and "bop2ndOrder_unbiased_testExp" in stdout
    for name, norm in (("binarynet", "layer"), ("binarynet_batch", "batch")):
        code, stdout, _ = cli("hparams", "show", name, "bop2ndOrder")
        assert code == 0 and json.loads(stdout)["model"]["normalization"] == norm


@pytest.mark.parametrize("text, message", [
    ("activation.widht=1", "quantizer 'sibnn' has no option 'widht'"),
    ("activation=nonexistent", "unknown activation 'nonexistent'"),
    ("activation.rho=2", "expects a number from 0 to 1"),
    ("optimizer=bop", "optimizer bop needs gamma, threshold"),
    ("kernel_quantizer=channel_scale", "only a latent-free optimizer trains"),
    ("preprocess_fn=nope", "unknown preprocess fn 'nope'"),
])
def test_hparams_show_refuses_what_train_refuses(cli, text, message):
    code, stdout, err = cli("hparams", "show", "sibnn_mlp", "sibnn", "--hparams", text)
    assert code == 2 and message in err and err.count("\n") == 1 and not stdout
    code, _, err = cli("train", "sibnn_mlp", "--dataset", "mnist", "--hparams-set", "sibnn",
                       "--hparams", text)
    assert code == 2 and message in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "no_such_model", "--dataset", "cifar10"],
         "unknown model 'no_such_model'; choose one of: alexnet, "),
        (["train", "binarynet", "--dataset", "svhn"],
         "unknown dataset 'svhn'; give a tfds image-classification dataset (cifar10, "
         "cifar100, imagenet2012, mnist, fashion_mnist, svhn_cropped, ...; list them with"),
        (["train", "birealnet", "--dataset", "imagenet2012", "--preprocess-fn",
          "resize_and_flip"], "for imagenet2012; choose one of: "),
        (["train", "bnext_t", "--dataset", "cifar10"],
         "hparam set 'imagenet' of bnext_t preprocesses with 'bnext', which cifar10 cannot use; "
         "choose --hparams-set cifar or bop_cifar, or a --preprocess-fn (crop_flip_normalize, "
         "default, resize_and_flip)"),
        (["train", "birealnet", "--dataset", "cifar10", "--strategy", "tpu"],
         "choose one of: default, mirrored, multi_worker"),
        (["train", "binarynet", "--dataset", "cifar10", "--preprocess-fn", "x"],
         "unknown preprocess fn 'x' for cifar10; choose one of: "),
        (["train", "binarynet", "--dataset", "cifar10", "--hparams-set", "x"],
         "unknown hparam set 'x' for model 'binarynet'; choose one of: adam_sec52, bop, "),
        (["train", "binarynet_batch", "--dataset", "cifar10", "--hparams-set", "bop2ndOrder",
          "--hparams", "normalization=layer"],
         "binarynet_batch is binarynet with normalization=batch; for normalization=layer "
         "train binarynet --hparams normalization=layer"),
        (["train", "xnornet", "--dataset", "imagenet2012", "--hparams", "normalization=group"],
         "hparam 'normalization' must be one of: batch, layer; got 'group'"),
        (["train", "binarynet", "--dataset", "cifar10", "--hparams-set", "bop2ndOrder",
          "--hparams", "sigma_decay=0.5"], "sigma_decay needs epochs_decay"),
        (["train", "binarynet", "--dataset", "cifar10", "--tensorboard=maybe"],
         "'maybe' is not a valid boolean"),
        (["train", "binarynet", "--dataset", "cifar10", "--tensorboard", "--no-tensorboard"],
         "give --tensorboard or --no-tensorboard, not both"),
        (["train", "binarynet", "--dataset", "cifar10", "--hparams", "lr=1"], "valid keys:"),
        (["train", "binarynet", "--dataset", "cifar10", "--hparams", "epochs=ten"],
         "expects a positive integer"),
        (["train", "binarynet", "--dataset", "cifar10", "--hparams", "kernel_quantizer=sgn"],
         "unknown kernel_quantizer"),
        (["train", "binarynet", "--dataset", "cifar10", "--steps-per-epoch", "0"],
         "0 is not in the range x>=1"),
        (["train", "binarynet", "--dataset", "cifar10", "--hparams", "test_only_unknown=0.9"],
         "unknown hparam 'test_only_unknown'"),
        (["train", "binarynet", "--dataset", "cifar10", "--hparams", "lr_scaling=xavier,"
          "optimizer=bop"], "'lr_scaling' is an option of optimizer adam, not of bop"),
        (["train", "binarynet"], "Missing option '--dataset'"),
        (["train", "binarynet", "--dataset", "cifar10", "--seed", "x"], "not a valid integer"),
        (["train", "binarynet", "--dataset", "cifar10", "--seed", "-1"], "0<=x<=2147483647"),
        (["sweep", "binarynet", "--dataset", "cifar10", "--grid", "gamma=1e-3", "--seed",
          str(2**31)], "0<=x<=2147483647"),
        (["hparams", "show", "binarynet", "nope"], "choose one of"),
        (["evaluate", "/nonexistent/run"], "does not exist"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, message):
    code, stdout, err = cli(*args)
    assert code == 2
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    assert message in err


@pytest.mark.parametrize("flags, expected", [
    ([], True), (["--tensorboard"], True), (["--tensorboard=True"], True),
    (["--tensorboard=False"], False), (["--tensorboard", "false"], False),
    (["--no-tensorboard"], False),
])
def test_tensorboard_takes_a_flag_or_a_boolean(cli, monkeypatch, flags, expected):
    # The Bop2ndOrder README writes --tensorboard=True, as its code's click option took.
    import bnno.analysis.sweep
    import bnno.training.train

    class Dispatched(Exception):
        pass

    def train(config, output_dir, source, options):
        raise Dispatched(options.tensorboard)

    def sweep(model, dataset, hparams_set, configs, shared, output_dir, seed, runner):
        raise Dispatched(runner.options.tensorboard)

    monkeypatch.setattr(bnno.training.train, "train", train)
    monkeypatch.setattr(bnno.analysis.sweep, "sweep", sweep)
    for command in (["train", "binarynet"], ["sweep", "binarynet", "--grid", "gamma=1e-3"]):
        with pytest.raises(Dispatched) as given:
            cli(*command, "--dataset", "cifar10", *flags)
        assert given.value.args == (expected,)


def test_missing_data_says_where_tfds_looked(cli, tmp_path, monkeypatch):
    import bnno.data.datasets

    monkeypatch.setattr(bnno.data.datasets, "_online", lambda url: False)
    empty = tmp_path / "tfds"
    code, _, err = cli("train", "binarynet", "--dataset", "cifar10", "--data-dir", str(empty),
                       "--output-dir", str(tmp_path / "run"))
    assert code == 2 and err.count("\n") == 1
    assert str(empty) in err and "--data-dir" in err and "TFDS_DATA_DIR" in err
    assert not (tmp_path / "run").exists()


def snapshot(path):
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "prepare, message",
    [
        (lambda d: (d / "notes.txt").write_text("mine"), "not a bnno run directory"),
        (lambda d: (d / "run.json").write_text("{not json"), "corrupt"),
        (lambda d: (d / "run.json").write_text("[1, 2]"), "corrupt"),
    ],
)
def test_foreign_or_corrupt_output_dir_is_refused(mock_tfds, cli, tmp_path, prepare, message):
    out = tmp_path / "run"
    out.mkdir()
    prepare(out)
    before = snapshot(out)
    code, _, err = cli(*train_args(out))
    assert code == 2 and message in err and err.count("\n") == 1
    assert snapshot(out) == before


@pytest.mark.slow
def test_output_dir_of_another_run_is_refused(mock_tfds, cli, tmp_path):
    out = tmp_path / "run"
    assert cli(*train_args(out))[0] == 0
    before = snapshot(out)
    for args in (train_args(out, "default"), train_args(out, "bop", TINY + ",gamma=0.1")):
        code, _, err = cli(*args)
        assert code == 2 and "holds a run with a different" in err
    code, _, err = cli(*train_args(out, "bop", TINY, seed="2"))
    assert code == 2 and "different seed" in err
    assert snapshot(out) == before
    file_out = tmp_path / "file"
    file_out.write_text("x")
    code, _, err = cli(*train_args(file_out))
    assert code == 2 and "is a file" in err and file_out.read_text() == "x"


# The seed README's §5.3 commands, on mock ImageNet (random JPEGs of random sizes) through
# the real pipeline: JPEG bytes, Larq Zoo's decode-and-crop, 224×224 models.
# (The adam sets and other datasets build the same networks; test_imagenet_models
# covers them without a training run each.)
@pytest.mark.slow
@pytest.mark.parametrize("model, dataset, set_name", [
    ("alexnet", "imagenet2012", "bop"),
    ("xnornet", "imagenet2012", "bop"),
    ("birealnet", "imagenet2012", "bop"),
])
def test_paper_imagenet_commands_train(mock_tfds, cli, tmp_path, model, dataset, set_name):
    out = tmp_path / "run"
    code, stdout, err = cli("train", model, "--dataset", dataset, "--hparams-set", set_name,
                            "--hparams", "batch_size=2,epochs=1", "--steps-per-epoch", "1",
                            "--validation-steps", "1", "--no-tensorboard", "--seed", "1",
                            "--output-dir", str(out))
    assert code == 0, err
    spec = json.loads((out / "run.json").read_text())
    canonical = "binary_alexnet" if model == "alexnet" else model
    assert spec["model"]["name"] == canonical and spec["hparams_set"] == set_name
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["step"] == 1 and 0 <= rows[0]["val_accuracy"] <= 1
    assert (out / f"{canonical}_weights.h5").exists()
    if set_name == "bop":  # the schedule decays over the run: one step here
        assert rows[0]["gamma"] == pytest.approx(1e-6, rel=1e-4)


def test_summary_of_imagenet_model_reads_no_data(cli):
    code, stdout, err = cli("summary", "alexnet", "--dataset", "imagenet2012", "--hparams-set",
                            "bop", "--json")
    assert code == 0, err
    assert json.loads(stdout)["total_params"] == 61_869_664
