"""bnno export and bnno benchmark on tiny runs trained on mock data."""

import importlib.util
import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import MOCK_EXAMPLES, TINY, plan_tiny, train_tiny

import bnno.training.train
from bnno import runs
from bnno.config import stored
from bnno.deploy import convert, export, inference, metadata
from bnno.errors import BnnoError

# Checked without importing it: LCE is loaded by the first test that converts.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("larq_compute_engine") is None,
                                reason="needs the [lce] extra: pip install -e '.[test,lce]'")

SHORT = dict(seed=1, steps_per_epoch=2, validation_steps=1)


def tiny_run(path, set_name, mock_data_dir):
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=mock_data_dir):
        return train_tiny("binarynet", "cifar10", set_name, TINY, output_dir=path, **SHORT)


@pytest.fixture(scope="module")
def bop_export(tmp_path_factory, mock_data_dir):
    """A Bop run and its export: (run dir, .tflite path, export result)."""
    root = tmp_path_factory.mktemp("bop")
    run_dir = tiny_run(root / "run", "bop", mock_data_dir)
    output = root / "out" / "binarynet.tflite"
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=mock_data_dir):
        result = export.export_run(run_dir, output, check_examples=MOCK_EXAMPLES)
    return run_dir, output, result


def keras_model(run_dir):
    return bnno.training.train.load_trained(run_dir, stored.read(run_dir), (32, 32, 3), 10)[0]


@pytest.mark.slow
def test_export_writes_a_binary_model_that_agrees_with_keras(bop_export):
    run_dir, output, result = bop_export
    assert result["output"] == str(output) and result["bytes"] == output.stat().st_size
    assert result["weights"] == "binarynet_weights.h5"
    # Five sign-input convolutions and three dense layers run bit-packed; the first
    # convolution sees the real-valued image and stays float.
    assert result["binary_ops"] == result["binary_layers"] == 8
    assert result["float_layers"] == [] == metadata.read_metadata(output.read_bytes())[
        "float_layers"]
    # Batch norm moved before max pooling lets LCE pool the bit-packed outputs.
    assert output.read_bytes().count(b"LceBMaxPool2d") == 1  # op code names are stored once
    check = result["check"]
    assert check["passed"] and check["examples"] == MOCK_EXAMPLES
    assert check["top1_agreement"] >= 0.99 and check["max_abs_diff"] < 1e-4
    # Independently of the built-in check: other inputs, same answers.
    flatbuffer = output.read_bytes()
    images = np.random.default_rng(3).uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)
    expected = keras_model(run_dir).predict(images, verbose=0)
    np.testing.assert_allclose(convert.lce_predict(flatbuffer, images), expected, atol=1e-5)
    meta = metadata.read_metadata(flatbuffer)
    assert meta["model"] == "binarynet" and meta["input_shape"] == [32, 32, 3]
    assert meta["config"] == runs.read(run_dir)  # the run's config, as run.json holds it


@pytest.mark.slow
def test_benchmark_json_and_table(bop_export, cli):
    _, output, _ = bop_export
    code, stdout, err = cli("benchmark", str(output), "--threads", "1", "--runs", "3",
                            "--warmup", "1", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["model"] == "binarynet" and result["runs"] == 3
    for runtime in ("lce", "keras"):
        assert 0 < result[runtime]["median_ms"] <= result[runtime]["p90_ms"]
    assert result["lce_bytes"] == output.stat().st_size
    params = keras_model(bop_export[0]).count_params()
    assert result["float32_bytes"] == 4 * params
    assert result["latency_ratio"] == pytest.approx(
        result["lce"]["median_ms"] / result["keras"]["median_ms"])

    code, stdout, err = cli("benchmark", str(output), "--threads", "1", "--runs", "3")
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[1].split() == ["runtime", "median", "ms", "p90", "ms", "size"]
    assert lines[2].startswith("LCE") and lines[3].startswith("Keras (binarynet)")
    assert lines[4].startswith("float32 weights") and "LCE / Keras latency" in lines[5]


@pytest.mark.slow
def test_latent_weight_partial_run_exports_its_checkpoint(mock_tfds, cli, tmp_path):
    run_dir = tiny_run(tmp_path / "run", "default", mock_tfds)
    (run_dir / "binarynet_weights.h5").unlink()  # as if killed after the first epoch
    output = tmp_path / "latent.tflite"
    code, stdout, err = cli("export", str(run_dir), "-o", str(output),
                            "--check-examples", "16")
    assert code == 0, err
    assert "checkpoint after epoch 1" in stdout and "top-1 100.00%" in stdout
    assert "Value in checkpoint" not in err and "Unresolved object" not in err
    assert metadata.count_binary_ops(output.read_bytes()) == 8

    best = tmp_path / "best.tflite"
    code, stdout, err = cli("export", str(run_dir), "-o", str(best), "--check-examples", "0",
                            "--weights", "best")
    assert code == 0, err
    assert "from binarynet_best_weights.h5 (epoch 1, val_accuracy " in stdout
    assert metadata.read_metadata(best.read_bytes())["weights"].startswith(
        "binarynet_best_weights.h5 (epoch 1")
    # The only epoch is the best one: the same model gives the same outputs.
    images = np.random.default_rng(5).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(convert.lce_predict(best.read_bytes(), images, 1),
                                  convert.lce_predict(output.read_bytes(), images, 1))
    code, _, err = cli("export", str(run_dir), "-o", str(tmp_path / "final.tflite"),
                       "--weights", "final")
    assert code == 2 and err.count("\n") == 1
    assert "has no final weights; it has: best, last-checkpoint" in err
    assert not (tmp_path / "final.tflite").exists()


@pytest.mark.slow
def test_inference_model_binarizes_latent_kernels():
    config = plan_tiny("binarynet", "cifar10", "default", TINY)
    from bnno.training.build import build_model

    trained = build_model(config.model, config.optimizer.name, (32, 32, 3), 10)
    for layer in trained.layers:  # latent weights as training leaves them: not ±1
        if hasattr(layer, "kernel"):
            layer.kernel.assign(tf.random.uniform(layer.kernel.shape, -0.5, 0.5))
    copy = inference.inference_model(trained)
    kernels = [w for w in copy.weights if "kernel" in w.name]
    assert len(kernels) == 9
    assert all(set(np.unique(k.numpy())) <= {-1.0, 1.0} for k in kernels)
    assert sum(isinstance(layer, inference.BinaryDenseAsConv) for layer in copy.layers) == 3
    kinds = [type(layer).__name__ for layer in copy.layers]
    assert kinds[2:5] == ["QuantConv2D", "BatchNormalization", "MaxPooling2D"]
    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(copy(images), trained(images), atol=1e-6)


class Counting(tf.keras.layers.Layer):
    """Keeps a counter that every call changes: state LCE cannot convert."""

    def build(self, input_shape):
        self.calls = self.add_weight("calls", (), initializer="zeros", trainable=False)

    def call(self, inputs):
        self.calls.assign_add(1.0)
        return inputs * self.calls


@pytest.mark.slow
def test_unconvertible_layer_is_named():
    inputs = tf.keras.Input((4, 4, 1))
    hidden = Counting(name="counting")(tf.keras.layers.Flatten()(inputs))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(2)(hidden))
    with pytest.raises(BnnoError, match=r"cannot convert layer 'counting' \(Counting\)"):
        convert.convert(model)


def test_agreement_rule():
    keras = np.eye(10)[np.arange(100) % 10] * 0.9 + 0.01
    assert export.agreement(keras, keras + 1e-6)["passed"]
    one_off = keras.copy()
    one_off[0] = np.roll(one_off[0], 1)  # 1 % of the examples disagree: still passes
    result = export.agreement(keras, one_off)
    assert result["passed"] and result["top1_agreement"] == 0.99
    two_off = one_off.copy()
    two_off[1] = np.roll(two_off[1], 1)
    assert not export.agreement(keras, two_off)["passed"]
    assert not export.agreement(keras, keras + 1e-3)["passed"]  # top-1 same, outputs not


@pytest.mark.slow
def test_failed_check_writes_nothing(bop_export, tmp_path, monkeypatch, mock_tfds):
    run_dir = bop_export[0]
    monkeypatch.setattr(export, "lce_predict",
                        lambda flatbuffer, images, threads=2: np.roll(
                            keras_model(run_dir).predict(images, verbose=0), 1, axis=1))
    output = tmp_path / "bad.tflite"
    with pytest.raises(BnnoError, match="does not agree with Keras"):
        export.export_run(run_dir, output, check_examples=16)
    assert not output.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "{empty}", "-o", "{tmp}/m.tflite"], "has no weights yet"),
        (["export", "{run}", "-o", "{tmp}/m.onnx"], "unknown format '.onnx'"),
        (["export", "{tmp}/nope", "-o", "{tmp}/m.tflite"], "does not exist"),
        (["benchmark", "{run}/run.json"], "is not a TFLite flatbuffer (unknown format)"),
        (["benchmark", "{tmp}/missing.tflite"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, bop_export, tmp_path, args, message):
    empty = tmp_path / "empty"
    config = plan_tiny("binarynet", "cifar10", "bop", TINY, seed=1)
    runs.create(empty, config.to_json())  # a run that never finished an epoch
    paths = {"empty": empty, "run": bop_export[0], "tmp": tmp_path}
    code, _, err = cli(*[a.format(**paths) for a in args])
    assert code == 2, err
    assert err.startswith("Error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.slow
def test_binary_layers_left_in_float_are_refused_or_named(bop_export, tmp_path, monkeypatch,
                                                          mock_tfds):
    run_dir = bop_export[0]
    # As if LCE ran one of the 8 binary layers in float.
    monkeypatch.setattr(export, "count_binary_ops", lambda flatbuffer: 7)
    refused = tmp_path / "refused.tflite"
    with pytest.raises(BnnoError, match="LCE runs 7 of the model's 8 binary layers"):
        export.export_run(run_dir, refused, check_examples=0)
    assert not refused.exists()
    result = export.export_run(run_dir, refused, check_examples=0, allow_float=True)
    assert result["binary_ops"] == 7 and result["binary_layers"] == 8
    assert metadata.read_metadata(refused.read_bytes())["binary_ops"] == 7
