"""bnno train --init: a new run starts from another run's weights (fine-tuning)."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, all_weights

SHORT = ["--steps-per-epoch", "2", "--validation-steps", "1", "--no-tensorboard",
         "--verbose", "0", "--seed", "1"]


def train(cli, *args):
    # A fresh Keras session per run, so the weights of every run have the same names.
    tf.keras.backend.clear_session()
    return cli("train", *args)


def kernels(path):
    return {k: v for k, v in all_weights(path / "binarynet_weights.h5").items()
            if k.endswith("kernel:0")}


@pytest.mark.slow
def test_a_run_starts_from_the_init_runs_weights(mock_tfds, cli, tmp_path):
    first = tmp_path / "first"
    code, _, err = train(cli, "binarynet", "--dataset", "cifar10", "--hparams-set",
                       "default", "--hparams", TINY, "--output-dir", str(first), *SHORT)
    assert code == 0, err
    start = kernels(first)

    # Adam at learning rate 0 leaves every kernel where --init put it.
    still = tmp_path / "still"
    code, out, err = train(cli, "binarynet", "--dataset", "cifar10", "--hparams-set",
                         "default", "--hparams", f"{TINY},learning_rate=0",
                         "--output-dir", str(still), "--init", str(first), *SHORT)
    assert code == 0, err
    assert f"Starting from {first.resolve()} (binarynet_weights.h5)" in out
    assert all(np.array_equal(kernels(still)[k], start[k]) for k in start)

    # Bop from a latent run: its kernels become the signs of the latent ones; a threshold
    # no momentum reaches keeps them there.
    signs = tmp_path / "signs"
    code, _, err = train(cli, "binarynet", "--dataset", "cifar10", "--hparams-set", "bop",
                       "--hparams", f"{TINY},threshold=1e9", "--output-dir", str(signs),
                       "--init", str(first), *SHORT)
    assert code == 0, err
    binary = [k for k in start if "quant" in k]
    assert len(binary) == 9
    for k in binary:
        np.testing.assert_array_equal(kernels(signs)[k], np.where(start[k] >= 0, 1.0, -1.0))


@pytest.mark.slow
def test_an_init_that_does_not_fit_is_refused_and_nothing_is_left(mock_tfds, cli, tmp_path):
    first = tmp_path / "first"
    code, _, err = train(cli, "binarynet", "--dataset", "cifar10", "--hparams", TINY,
                       "--output-dir", str(first), *SHORT)
    assert code == 0, err
    wide = TINY.replace("filters=4", "filters=8")
    code, _, err = train(cli, "binarynet", "--dataset", "cifar10", "--hparams", wide,
                       "--output-dir", str(tmp_path / "b"), "--init", str(first), *SHORT)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "do not fit" in err and "that run has filters=4" in err
    assert not (tmp_path / "b").exists()
    code, _, err = train(cli, "xnornet", "--dataset", "cifar10", "--output-dir",
                       str(tmp_path / "c"), "--init", str(first))
    assert code == 2 and "is a run of binarynet" in err and not (tmp_path / "c").exists()
    code, _, err = train(cli, "binarynet", "--dataset", "cifar10", "--init",
                       str(tmp_path / "nothing"), "--output-dir", str(tmp_path / "d"))
    assert code == 2 and "--init" in err and not (tmp_path / "d").exists()
