"""Loss landscapes on a tiny trained run, and the PNGs of bnno plot and landscape."""

import struct

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, train_tiny

from bnno.analysis import landscape as ls
from bnno.analysis.plots import DPI, PANEL, figure_size


def png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory, mock_data_dir):
    """One Bop and one Adam (latent-weight) run of a tiny binarynet, two epochs each."""
    import tensorflow_datasets as tfds

    root = tmp_path_factory.mktemp("runs")
    found = {}
    with tfds.testing.mock_data(num_examples=32, data_dir=mock_data_dir):
        for set_name in ("bop", "default"):
            found[set_name] = train_tiny(
                "binarynet", "cifar10", set_name, TINY.replace("epochs=1", "epochs=2"),
                output_dir=root / set_name, seed=2, steps_per_epoch=2, validation_steps=1)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("set_name", ["bop", "default"])
def test_loss_at_the_origin_is_the_models_evaluated_loss(mock_tfds, tiny_runs, set_name):
    run = tiny_runs[set_name]
    out = ls.landscape(run, ls.Grid(value_range=0.5, points=3, batches=2, batch_size=8,
                                     seed=4), verbose=0)
    saved = np.load(out / "landscape_1d.npz")
    np.testing.assert_allclose(saved["alphas"], [-0.5, 0.0, 0.5])
    assert saved["loss"].shape == (3,) and np.isfinite(saved["loss"]).all()

    model, config, ds, _ = ls.load_run_model(run)
    x, y = ls.fixed_batches(ds, config.data.preprocess_fn, 2, 8, seed=4)
    evaluated = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert saved["loss"][1] == pytest.approx(evaluated["loss"], rel=1e-5)
    assert saved["accuracy"][1] == pytest.approx(evaluated["accuracy"])
    assert float(saved["loss_at_origin"]) == saved["loss"][1]
    assert bool(saved["binary_kernels_resigned"]) == (set_name == "bop")
    assert png_size(out / "landscape_1d.png") == figure_size(1, 1)


def test_fixed_batches_do_not_depend_on_tensorflows_global_seed(mock_tfds, tiny_runs):
    _, config, ds, _ = ls.load_run_model(tiny_runs["bop"])
    tf.random.set_seed(1)
    x1, y1 = ls.fixed_batches(ds, config.data.preprocess_fn, 2, 4, seed=3)
    tf.random.set_seed(5)
    x2, y2 = ls.fixed_batches(ds, config.data.preprocess_fn, 2, 4, seed=3)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == (8, 32, 32, 3) and -1 <= x1.min() and x1.max() <= 1


def test_directions_are_filter_normalised_and_leave_batch_norm_out(mock_tfds, tiny_runs):
    model, _, _, _ = ls.load_run_model(tiny_runs["bop"])
    variables = ls.kernels(model)
    assert len(variables) == 9  # 6 convolutions and 3 dense layers; no BN, no bias
    rng = np.random.default_rng(0)
    for v in variables:
        w = v.numpy()
        d = ls.filter_normalised_direction(w, rng)
        per_filter = lambda a: np.linalg.norm(a.reshape(-1, a.shape[-1]), axis=0)  # noqa: E731
        np.testing.assert_allclose(per_filter(d), per_filter(w), rtol=1e-4)
        # Bop kernels are ±1: every filter's norm is sqrt(fan-in).
        np.testing.assert_allclose(per_filter(w), np.sqrt(w[..., 0].size), rtol=1e-6)


def test_bop_points_are_binary_networks_and_weights_are_restored(mock_tfds, tiny_runs):
    from bnno import optimizers

    model, config, ds, _ = ls.load_run_model(tiny_runs["bop"])
    variables = ls.kernels(model)
    before = [v.numpy().copy() for v in model.variables]
    rng = np.random.default_rng(1)
    dirs = [[ls.filter_normalised_direction(v.numpy(), rng) for v in variables]]
    x, y = ls.fixed_batches(ds, config.data.preprocess_fn, 1, 8, seed=0)
    grid = ls.LossGrid(model, variables, dirs, optimizers.binary_kernels(model), x, y, 8)
    grid(0.7)
    flipped = 0
    start = [v.numpy() for v in ls.kernels(ls.load_run_model(tiny_runs["bop"])[0])]
    for v, w in zip(variables, start, strict=True):
        moved = v.numpy()
        assert set(np.unique(moved)) <= {-1.0, 1.0}
        flipped += int((moved != w).sum())
    assert flipped > 0
    grid.restore()
    for v, w in zip(model.variables, before, strict=True):
        np.testing.assert_array_equal(v.numpy(), w)


def test_cli_landscape_2d_and_plot(mock_tfds, cli, tiny_runs, tmp_path):
    run = tiny_runs["default"]
    code, stdout, err = cli("landscape", str(run), "--range", "1.0", "--points", "3", "--2d",
                            "--batches", "1", "--batch-size", "4",
                            "--output-dir", str(tmp_path / "l"))
    assert code == 0, err
    saved = np.load(tmp_path / "l" / "landscape_2d.npz")
    assert saved["loss"].shape == (3, 3) and np.isfinite(saved["loss"]).all()
    assert png_size(tmp_path / "l" / "landscape_2d_contour.png") == figure_size(1, 1)
    assert png_size(tmp_path / "l" / "landscape_2d_surface.png") == (
        round(PANEL[0] * DPI), round(PANEL[1] * DPI))

    code, _, err = cli("landscape", str(run), "--points", "4")
    assert code == 2 and "odd" in err

    code, stdout, err = cli("plot", str(tiny_runs["bop"]), str(run),
                            "-o", str(tmp_path / "both.png"))
    assert code == 0, err
    # loss, accuracy, and one flip-ratio panel per run: 4 panels in 2 columns
    assert png_size(tmp_path / "both.png") == figure_size(4, 2)
    code, _, err = cli("plot", str(tmp_path / "nothing"))
    assert code == 2 and "does not exist" in err


def test_plot_import_does_not_load_matplotlib_at_cli_import():
    import subprocess
    import sys

    code = ("import sys, bnno.cli; assert 'matplotlib' not in sys.modules; "
            "assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
