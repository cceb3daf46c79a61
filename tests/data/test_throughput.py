"""Input pipeline and training step measured apart, on tiny mock data."""

import bnno  # noqa: F401

# isort: split

import json

import pytest
import tensorflow as tf

from bnno import data
from bnno.data.throughput import Throughput, pipeline_rate, step_rate


@pytest.mark.parametrize("name, preprocess, size", [("cifar10", "resize_and_flip", None),
                                                    ("imagenet2012", "sibnn", 48)])
def test_pipeline_rate_counts_the_images_it_times(mock_tfds, name, preprocess, size):
    ds = data.load(name, mock_tfds, image_size=size)
    # 32 mock examples: batches of 8 for more than an epoch (the pipeline runs on).
    assert pipeline_rate(ds, preprocess, batch_size=8, batches=6, warmup=1) > 0


def test_step_rate_trains_the_model_on_synthetic_batches():
    model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(8, 8, 3)),
                                 tf.keras.layers.Dense(10)])
    model.compile("sgd", tf.keras.losses.CategoricalCrossentropy(from_logits=True))
    before = [w.numpy().copy() for w in model.weights]
    assert step_rate(model, (8, 8, 3), 10, batch_size=16, steps=3, warmup=1) > 0
    assert any((w.numpy() != b).any() for w, b in zip(model.weights, before, strict=True))


def test_the_slower_side_bounds_the_run():
    assert Throughput(pipeline=300.0, step=1000.0).bound == "input"
    fast = Throughput(pipeline=4000.0, step=1000.0)
    assert fast.bound == "compute" and fast.ratio == 4.0
    assert "compute-bound (the step takes 25 %" in str(fast)


@pytest.mark.slow
def test_throughput_command_times_a_planned_runs_pipeline_and_step(mock_tfds, cli):
    code, out, err = cli("throughput", "binarynet", "--dataset", "cifar10", "--hparams-set",
                         "bop", "--hparams", "filters=4,dense_units=8,batch_size=8",
                         "--data-dir", mock_tfds, "--batches", "3", "--steps", "2")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("Timing the input pipeline: 3 batches of 8 (resize_and_flip")
    assert lines[1].startswith("Timing the training step: 2 steps of 8 (binarynet, bop)")
    assert lines[2].startswith("input pipeline ") and "-bound (" in lines[2]
    code, out, err = cli("throughput", "binarynet", "--dataset", "cifar10", "--hparams",
                         "filters=4,dense_units=8,batch_size=8", "--data-dir", mock_tfds,
                         "--batches", "2", "--steps", "1", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["pipeline_images_per_s"] > 0 and found["step_images_per_s"] > 0
    assert found["bound"] == ("input" if found["pipeline_images_per_s"] <
                              found["step_images_per_s"] else "compute")


def test_throughput_refuses_a_bad_name_in_one_line(cli):
    code, _, err = cli("throughput", "binarynet", "--dataset", "cifar10", "--preprocess-fn",
                       "nope")
    assert code == 2 and err.count("\n") == 1 and "choose one of" in err
