"""Run by test_distribute.py in its own process: two logical CPU devices must be set up
before TensorFlow starts, which a pytest process that already ran TensorFlow cannot do.

``step`` compares one step on one device and on two; ``train`` trains and resumes a
run with ``--strategy mirrored``. Each needs a process of its own: a second
MirroredStrategy in one process reuses the first one's collective instance keys. Prints
one JSON object with what the test asserts.
"""

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import json
import os
import sys
import tempfile

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import tensorflow_datasets as tfds  # noqa: E402

from bnno import hparams, optimizers, runs  # noqa: E402
from bnno.config import ModelConfig, OptimizerConfig, plan  # noqa: E402
from bnno.data import Source  # noqa: E402
from bnno.errors import BnnoError  # noqa: E402
from bnno.training import distribute  # noqa: E402
from bnno.training.build import build_model, compile_model  # noqa: E402
from bnno.training.train import TrainOptions, train  # noqa: E402

# A tiny binarynet: the test is about the optimizer and batch norm under the strategy.
MODEL = ModelConfig("binarynet", {"kernel_quantizer": None, "kernel_constraint": None,
                                  "filters": 4, "dense_units": 8, "kernel_size": 3})
OPTIONS = {"threshold": 0.0, "gamma": 1e-2, "learning_rate": 1e-2}
SHAPE = (16, 16, 3)


def one_step(strategy, weights, x, y, threshold):
    with strategy.scope():
        model = build_model(MODEL, "bop", SHAPE, 10)
        compile_model(model, OptimizerConfig("bop", {**OPTIONS, "threshold": threshold}), 1, 1)
    model.set_weights(weights)
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return model


def bn_layers(model):
    return [layer for layer in model.layers
            if isinstance(layer, tf.keras.layers.BatchNormalization)]


def bn_state(model):
    return {f"{i}/{w.name.split('/')[-1].split(':')[0]}": w.numpy()
            for i, layer in enumerate(bn_layers(model)) for w in layer.weights}


def step_results():
    tf.keras.utils.set_random_seed(3)
    init = build_model(MODEL, "bop", SHAPE, 10)
    weights = init.get_weights()
    before = [k.numpy() for k in optimizers.binary_kernels(init)]
    # Before the gradient probe below: calling the model with training=True updates its
    # moving statistics.
    bn0 = bn_state(init)
    rng = np.random.RandomState(0)
    half = rng.uniform(-1, 1, (4, *SHAPE)).astype("float32")
    labels = tf.one_hot(rng.randint(0, 10, 4), 10).numpy()
    # Replica 0 gets the first half of the global batch, replica 1 the second. With the
    # same examples in both halves each replica's batch-norm statistics equal those of
    # the whole batch, so one step must give exactly what one device gives, provided the
    # optimizers apply the all-reduced gradient; a replica's own gradient is only half.
    x, y = np.concatenate([half, half]), np.concatenate([labels, labels])
    default = tf.distribute.get_strategy()
    # τ near the median |m| = γ|g| after one step, so a halved gradient would flip far
    # fewer weights; in the widest relative gap there, so rounding differences between
    # one device and two (summation order) cannot move a weight across it.
    with tf.GradientTape() as tape:
        loss = tf.keras.losses.categorical_crossentropy(y, init(x, training=True))
        loss = tf.reduce_mean(loss)
    grads = tape.gradient(loss, optimizers.binary_kernels(init))
    m = np.sort(np.concatenate([OPTIONS["gamma"] * np.abs(g.numpy()).ravel() for g in grads]))
    lo, hi = int(0.4 * len(m)), int(0.6 * len(m))
    i = lo + int(np.argmax((m[lo + 1:hi + 1] - m[lo:hi]) / np.maximum(m[lo:hi], 1e-30)))
    threshold = float((m[i] + m[i + 1]) / 2)
    single = one_step(default, weights, x, y, threshold)
    mirrored_strategy = distribute.make("mirrored")
    mirrored = one_step(mirrored_strategy, weights, x, y, threshold)

    def flips(model):
        return [(k.numpy() != b) for k, b in zip(optimizers.binary_kernels(model), before,
                                                 strict=True)]

    f1, f2 = flips(single), flips(mirrored)
    bn1, bn2 = bn_state(single), bn_state(mirrored)
    return {
        "replicas": mirrored_strategy.num_replicas_in_sync,
        "flips_single": int(sum(f.sum() for f in f1)),
        "flips_mirrored": int(sum(f.sum() for f in f2)),
        "binary_weights": int(sum(f.size for f in f1)),
        "same_flips": all(np.array_equal(a, b) for a, b in zip(f1, f2, strict=True)),
        "bn_rel_diff": {k: float(np.max(np.abs(bn1[k] - bn2[k]) / (np.abs(bn1[k]) + 1e-6)))
                        for k in bn1},
        "bn_changed": {k: float(np.abs(bn1[k] - v).max()) for k, v in bn0.items()},
        "bn_of_images": [str(i) for i, layer in enumerate(bn_layers(single))
                         if len(layer.input_shape) == 4],
    }


def train_results(root):
    out = os.path.join(root, "run")
    small = "filters=4,dense_units=8,batch_size=4"
    options = TrainOptions(tensorboard=False, verbose=0)

    def run(text, output_dir):
        config = plan("binarynet", "cifar10", "bop",
                      {**hparams.parse_overrides(text), "steps_per_epoch": 2,
                       "validation_steps": 1}, seed=1, strategy="mirrored")
        return train(config, output_dir, Source(), options)

    try:
        run(small + ",batch_size=3,epochs=1", root + "/x")
        uneven = ""
    except BnnoError as e:
        uneven = str(e)
    run(small + ",epochs=1", out)
    run(small + ",epochs=2", out)
    return {"uneven_error": uneven,
            "epochs": [r["epoch"] for r in runs.read_metrics(out)],
            "steps": [r["step"] for r in runs.read_metrics(out)],
            "strategy": runs.read(out)["strategy"],
            "weights": runs.weights_file(out, "binarynet").exists()}


if __name__ == "__main__":
    if sys.argv[1] == "step":
        results = step_results()
    else:
        with tempfile.TemporaryDirectory() as root, tfds.testing.mock_data(
                num_examples=32, data_dir=os.environ["BNNO_TEST_MOCK_DIR"]):
            results = train_results(root)
    json.dump(results, sys.stdout)
