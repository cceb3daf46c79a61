"""``bnno bench``: a bench on mock data trains, measures, exports and tabulates its cells,
and a second run skips them; the table's arithmetic, the binarizer specs, the schedules
scaled to the budget and the corruptions against NumPy transcriptions."""

import json

import numpy as np
import pytest
import tensorflow as tf

from bnno import plugins
from bnno.analysis import bench
from bnno.errors import BnnoError

plugins.load()

TINY = ["--hparams", "filters=2,dense_units=4,batch_size=4", "--epochs", "1",
        "--steps-per-epoch", "1", "--validation-steps", "1", "--no-tensorboard",
        "--verbose", "0"]


@pytest.mark.slow
def test_bench_on_mock_data_tabulates_each_binarizer_and_resumes(mock_tfds, cli, tmp_path):
    # Two cells (the reference and XNOR, whose export needs its rewrite hook): ~30 s.
    out = tmp_path / "bench"
    args = ["bench", "binarynet", "--dataset", "cifar10", "--binarizers", "bibench_xnor",
            "--corruptions", "gaussian_noise:3", "--export-check", "4",
            "--output-dir", str(out), *TINY]
    seeded = [*args, "--seed", "2"]
    code, stdout, err = cli(*seeded)
    assert code == 0, err
    assert "| binarizer | acc |" in stdout and "Bench saved in" in stdout
    assert all(len(line) <= 80 for line in stdout.splitlines() if line.startswith("|"))
    code, stdout, err = cli(*seeded, "--json")
    assert code == 0, err
    assert err.count("finished, skipped") == 2
    fp, xnor = json.loads(stdout)
    assert (fp["binarizer"], xnor["binarizer"]) == ("fp32", "bibench_xnor")
    for row in (fp, xnor):
        assert row["status"] == "finished" and 0 <= row["acc"] <= 1
        assert 0 <= row["corrupted:gaussian_noise:3"] <= 1
        assert row["tflite_kb"] > 0 and row["params"] == fp["params"] > 0
    assert (fp["epoch_ratio"], fp["speedup"], fp["binary_params"], fp["bops"]) == (1, 1, 0, 0)
    assert xnor["epoch_ratio"] > 0 and xnor["binary_params"] > 0
    assert xnor["speedup"] == pytest.approx(fp["flops"] / (xnor["bops"] / 64 + xnor["flops"]))
    assert xnor["lce_share"] == 1.0 and xnor["speedup"] > 1
    page = (out / bench.TABLE_MD).read_text()
    for _, title in bench.columns_of([fp, xnor]):
        assert f" {title} |" in page
    assert (out / bench.FIGURE).stat().st_size > 0 and (out / bench.TABLE_CSV).exists()
    code, _, err = cli(*args, "--seed", "3")
    assert code != 0 and "holds a bench with another seed" in err


def _cell(binarizer, acc, base=True, **values):
    return dict(model="m", dataset="d", binarizer=binarizer, set="s", base=base,
                val_accuracy_final=acc, status="finished", **values)


def test_the_spread_is_over_the_set_and_the_grid():
    rows = bench.table_rows([
        _cell("fp32", 0.8, epoch_seconds=2.0, flops=1000, ops=1000.0),
        _cell("fp32", 0.6, base=False),
        _cell("bnn", 0.5, epoch_seconds=5.0, flops=100, bops=640, ops=110.0),
        _cell("bnn", 0.3, base=False), _cell("bnn", 0.4, base=False)])
    fp, bnn = rows
    assert fp["spread_std"] == pytest.approx(0.1) and fp["grid_runs"] == 2
    assert bnn["spread_std"] == pytest.approx(np.std([0.5, 0.3, 0.4]))
    assert bnn["spread_range"] == pytest.approx(0.2)
    assert bnn["acc_relative"] == pytest.approx(0.625) and bnn["epoch_ratio"] == 2.5
    assert bnn["speedup"] == pytest.approx(1000 / 110)


def test_binarizer_specs():
    found = bench.parse_binarizers("bibench_recu, ste_sign, approx_sign/magnitude_aware_sign")
    assert [(b.activation, b.kernel) for b in found] == [
        ("bibench_recu_activation", "bibench_recu_weight"), ("ste_sign", "ste_sign"),
        ("approx_sign", "magnitude_aware_sign")]
    families = {b.name for b in bench.parse_binarizers(None)}
    assert {f"bibench_{n}" for n in ("bnn", "xnor", "dorefa", "bireal", "xnorpp", "react",
                                     "recu", "fda")} <= families


@pytest.mark.parametrize("text, message", [
    ("sign", "unknown binarizer 'sign'; give a family"),
    ("ste_sign/sibnn", "unknown kernel_quantizer 'sibnn' in --binarizers"),
    ("fp32", "'fp32' is the full-precision reference"),
    ("ste_sign,ste_sign", "names a binarizer twice"),
])
def test_bad_binarizers_fail_in_one_line(text, message):
    with pytest.raises(BnnoError, match=message) as error:
        bench.parse_binarizers(text)
    assert "\n" not in str(error.value)


def test_the_cells_train_the_set_with_the_binarizer_swapped_in_at_the_budget():
    swap = bench.Binarizer("bibench_fda", "bibench_fda_activation", "bibench_fda_weight")
    job = bench._job("bibench_resnet", "cifar10", swap, "adam_1e-3_cosine", {"epochs": 4}, 7)
    hp = job.config.model.hparams
    assert (hp["activation"], hp["kernel_quantizer"]) == ("bibench_fda_activation",
                                                          "bibench_fda_weight")
    rate = job.config.optimizer.options["learning_rate"]
    assert (rate["cosine_epochs"], job.config.trainer.epochs, job.config.seed) == (4.0, 4, 7)
    fp = bench._job("binarynet", "cifar10", bench.Binarizer("fp32", None, None), "default",
                    {"epochs": 2}, 7).config.model.hparams
    assert (fp["activation"], fp["kernel_quantizer"], fp["kernel_constraint"]) == (None,) * 3


def test_bad_corruptions_fail_in_one_line():
    with pytest.raises(BnnoError, match="unknown corruption 'fog'; choose one of"):
        bench.parse_corruptions("fog:1")
    with pytest.raises(BnnoError, match="needs a severity from 1 to 5"):
        bench.parse_corruptions("gaussian_blur:9")


def _numpy_blur(image, sigma):
    """scikit-image's ``gaussian`` (scipy's ``gaussian_filter``: mode "nearest",
    truncate 4) on an (h, w, c) image in [0, 1], one axis at a time."""
    radius = int(4.0 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = image.astype(np.float64)
    for axis in (0, 1):
        padded = np.take(out, np.clip(np.arange(-radius, out.shape[axis] + radius), 0,
                                      out.shape[axis] - 1), axis=axis)
        out = sum(t * np.take(padded, np.arange(k, k + out.shape[axis]), axis=axis)
                  for k, t in enumerate(taps))
    return out


@pytest.mark.parametrize("sigma", [0.4, 0.7, 1.0])
def test_blur_equals_a_numpy_gaussian_filter(sigma):
    image = np.random.default_rng(3).integers(0, 256, (9, 7, 3)).astype(np.uint8)
    got = bench.corrupt_image(tf.constant(image), "gaussian_blur", sigma, [0, 0]).numpy()
    want = (np.clip(_numpy_blur(image / 255.0, sigma), 0, 1) * 255).astype(np.uint8)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # float32 vs float64


def test_noise_has_the_severitys_deviation_and_is_seeded():
    image = tf.fill((64, 64, 3), tf.constant(128, tf.uint8))
    a = bench.corrupt_image(image, "gaussian_noise", 0.08, [1, 2]).numpy()
    b = bench.corrupt_image(image, "gaussian_noise", 0.08, [1, 2]).numpy()
    np.testing.assert_array_equal(a, b)
    assert abs(a.astype(float).std() / 255 - 0.08) < 0.005
