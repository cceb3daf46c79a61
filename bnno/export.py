"""Export a trained run to a Larq Compute Engine flatbuffer (``.tflite``) and check it.

The trained Keras model is first made inference-ready:

* every binary kernel is replaced by its binarized value (Bop kernels already hold ±1;
  latent-weight kernels are passed through their quantizer), so the converter sees
  constant ±1 (or ±α per output channel) filters and emits ``LceBconv2d``;
* quantizer metrics (the flip ratios), which keep mutable state, are dropped;
* a binary ``QuantDense`` on binarized inputs becomes the equivalent 1×1 binary
  convolution, because LCE packs and runs binary convolutions but not binary dense layers
  (which it would keep as float32 matrices);
* a batch norm that follows a max pool moves before it when that gives the same
  function (positive scale): LCE's converter folds batch norm into the binary
  convolution's output multiplier and bias only where it directly follows one.

The flatbuffer then carries the run's description (model, hparams, input shape) as
metadata named ``bnno``, so ``bnno benchmark`` can rebuild the Keras model for comparison.

Example:
    Export a trained run; the result reports the check against Keras (here all top-1
    predictions agreed)::

        result = export_run("runs/binarynet-cifar10-bop-x", "model.tflite")
        result["check"]["top1_agreement"]  # 1.0
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import larq as lq
import numpy as np
import tensorflow as tf

from bnno import data, runs
from bnno.errors import BnnoError

# The self-check: top-1 predictions must agree on at least this share of the examples,
# and on at least that share every output must lie within OUTPUT_ATOL of Keras's.
# Binary layers compute exact integers in both runtimes; float rounding in the first
# layer and batch norm can still flip a sign that sits at ~0, which changes one example's
# outputs completely. That is why the rule is "on 99 % of the examples", not "on all".
TOP1_MIN = 0.99
OUTPUT_ATOL = 1e-4
METADATA_NAME = "bnno"
FORMATS = (".tflite",)


def lce_module():
    """The ``larq_compute_engine`` module, imported quietly.

    LCE 0.16 carries its own build of TensorFlow 2.16's runtime; loading it next to
    TensorFlow 2.19 prints lines about factories and op definitions registered twice,
    which change nothing and would bury bnno's output.

    Raises:
        BnnoError: LCE is not installed.

    Example:
        With LCE installed, ``lce_module().__version__`` is its version, e.g. ``'0.16.0'``;
        without it the call raises a ``BnnoError`` that names the pip extra to install::

            lce = lce_module()
    """
    try:
        with open(os.devnull, "w") as devnull, _stderr_to(devnull):
            import larq_compute_engine
    except ImportError as e:
        raise BnnoError(
            f"Larq Compute Engine is not installed ({e}); pip install \"bnno[lce]\""
        ) from None
    return larq_compute_engine


def _schema():
    # TFLite's flatbuffer schema, as generated Python classes, ships with LCE.
    lce_module()
    from larq_compute_engine.mlir.python import tflite_schema

    return tflite_schema


def inference_model(model: tf.keras.Model) -> tf.keras.Model:
    """A copy of ``model`` ready for LCE: binarized constant kernels, no quantizer state.

    The copy computes the same function as ``model`` at inference time.

    Example:
        >>> trained = tf.keras.Sequential([tf.keras.Input((4, 4, 1)), lq.layers.QuantConv2D(
        ...     2, 3, kernel_quantizer="ste_sign", kernel_constraint="weight_clip")])
        >>> net = inference_model(trained)
        >>> sorted(np.unique(net.layers[0].kernel.numpy()))
        [-1.0, 1.0]
        >>> x = tf.random.stateless_normal((1, 4, 4, 1), seed=(0, 1))
        >>> np.allclose(net(x), trained(x))
        True
    """
    replaced: dict[str, tuple[Any, np.ndarray | None]] = {}

    def clone(layer):
        quantizer = getattr(layer, "kernel_quantizer", None)
        if quantizer is None or not hasattr(layer, "kernel"):
            return layer.__class__.from_config(layer.get_config())
        config = layer.get_config()
        kernel = _quantize(config["kernel_quantizer"], layer.kernel)
        if _precision(quantizer) == 1:
            _check_binary(layer.name, kernel)
        config.update(kernel_quantizer=None, kernel_constraint=None,
                      input_quantizer=_without_metrics(config.get("input_quantizer")))
        replaced[layer.name] = (layer, kernel)
        if (isinstance(layer, lq.layers.QuantDense) and len(layer.input_shape) == 2
                and _precision(layer.input_quantizer) == 1 and _precision(quantizer) == 1):
            return BinaryDenseAsConv(**config)
        return layer.__class__.from_config(config)

    copy = tf.keras.models.clone_model(model, clone_function=clone)
    for old in model.layers:
        new = copy.get_layer(old.name)
        weights = old.get_weights()
        if old.name in replaced:
            index = next(i for i, w in enumerate(old.weights) if w is old.kernel)
            weights[index] = replaced[old.name][1].reshape(new.get_weights()[index].shape)
        new.set_weights(weights)
    return _norm_before_pool(copy)


def _norm_before_pool(model: tf.keras.Model) -> tf.keras.Model:
    """Swap max pooling and the batch norm after it, where that changes nothing.

    Batch norm with a positive scale on every channel is an increasing map per channel,
    so it commutes with max pooling. Placed right after the convolution, LCE folds it
    into the binary convolution, which can then write bit-packed output for a binary max
    pool. Only Sequential models are rearranged.
    """
    if not isinstance(model, tf.keras.Sequential):
        return model
    layers = list(model.layers)
    for i in range(1, len(layers) - 1):
        pool, norm = layers[i], layers[i + 1]
        if (isinstance(pool, tf.keras.layers.MaxPool2D)
                and isinstance(norm, tf.keras.layers.BatchNormalization)
                and norm.axis in ([3], [-1]) and _positive_scale(norm)):
            layers[i], layers[i + 1] = norm, pool
    if layers == list(model.layers):
        return model
    return tf.keras.Sequential([tf.keras.Input(model.input_shape[1:]), *layers],
                               name=model.name)


def _positive_scale(norm) -> bool:
    gamma = norm.gamma.numpy() if norm.scale else 1.0
    return bool(np.all(gamma / np.sqrt(norm.moving_variance.numpy() + norm.epsilon) > 0))


class BinaryDenseAsConv(tf.keras.layers.Layer):
    """A binary dense layer computed as a 1×1 binary convolution, which LCE bit-packs.

    Takes the keyword arguments of ``lq.layers.QuantDense`` (its ``get_config()``).

    Example:
        >>> layer = BinaryDenseAsConv(units=64, input_quantizer="ste_sign")
        >>> layer(tf.ones((2, 128))).shape
        TensorShape([2, 64])
    """

    def __init__(self, units: int, input_quantizer=None, use_bias: bool = True,
                 activation=None, name: str | None = None, **_ignored):
        super().__init__(name=name)
        self.units = units
        self.conv = lq.layers.QuantConv2D(
            units, 1, input_quantizer=input_quantizer, use_bias=use_bias,
            activation=activation, name="conv",
        )

    def call(self, inputs):
        features = inputs.shape[-1]
        outputs = self.conv(tf.reshape(inputs, [-1, 1, 1, features]))
        return tf.reshape(outputs, [-1, self.units])


def _precision(quantizer) -> int | None:
    if quantizer is None:
        return None
    if isinstance(quantizer, (str, dict)):
        quantizer = lq.quantizers.get(_without_metrics(quantizer))
    return getattr(quantizer, "precision", None)


def _without_metrics(config):
    # A quantizer's flip-ratio (or Si-BNN's sparsity) metric holds variables that change
    # on every call; LCE refuses mutable state, and inference does not need it.
    if isinstance(config, dict) and "metrics" in config.get("config", {}):
        config = {**config, "config": {k: v for k, v in config["config"].items()
                                       if k != "metrics"}}
    if isinstance(config, dict) and config.get("config", {}).get("sparsity"):
        config = {**config, "config": {**config["config"], "sparsity": False}}
    return config


def _quantize(config, kernel) -> np.ndarray:
    quantizer = lq.quantizers.get(_without_metrics(config))
    return np.asarray(quantizer(tf.convert_to_tensor(kernel)))


def _check_binary(name: str, kernel: np.ndarray) -> None:
    # LCE runs a kernel as binary if it is ±α with one α per output channel.
    magnitude = np.abs(kernel.reshape(-1, kernel.shape[-1]))
    if not np.all(magnitude == magnitude[:1]) or np.any(magnitude == 0):
        raise BnnoError(
            f"layer '{name}' is tagged binary but its kernel is not ±α per output channel; "
            "LCE cannot run it as a binary layer"
        )


def convert(model: tf.keras.Model, metadata: dict[str, Any] | None = None) -> bytes:
    """The LCE flatbuffer of the inference-ready ``model`` (see ``inference_model``).

    ``metadata`` is stored in the flatbuffer as JSON under the name ``bnno``.

    Raises:
        BnnoError: LCE cannot convert the model; the message names the layer.

    Example:
        Convert a trained Keras model ``trained`` and record which model it is::

            flatbuffer = convert(trained, {"model": "binarynet"})
    """
    lce = lce_module()
    net = inference_model(model)
    spec = tf.TensorSpec((None, *net.input_shape[1:]), tf.float32)
    # A module that holds only the variables and one inference function: saving the
    # Keras model itself would also trace its training and metric functions.
    module = tf.Module()
    module.weights_ = list(net.variables)
    module.serve = tf.function(lambda x: net(x, training=False), input_signature=[spec])
    with tempfile.TemporaryDirectory() as saved, tempfile.TemporaryFile("w+") as log:
        # Inference needs no gradients; tracing larq's straight-through ones costs time.
        options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
        tf.saved_model.save(module, saved, signatures={"serving_default": module.serve},
                            options=options)
        try:
            with _stderr_to(log):
                flatbuffer = lce.convert_saved_model(saved)
        except Exception as e:  # the converter raises RuntimeError/ValueError; both mean the same
            log.seek(0)
            raise BnnoError(_conversion_error(log.read(), net, e)) from None
    return add_metadata(flatbuffer, metadata) if metadata else flatbuffer


class _stderr_to:
    """Send fd 2 to a file: the converter reports the failing op there, not in the
    exception, and its diagnostics would otherwise bury bnno's one-line error."""

    def __init__(self, file):
        self.file = file

    def __enter__(self):
        self.saved = os.dup(2)
        os.dup2(self.file.fileno(), 2)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)


def _conversion_error(log: str, model: tf.keras.Model, error: Exception) -> str:
    names = {layer.name for layer in model.layers}
    for match in re.finditer(r'loc\("([^"]+)"\): error: ([^\n]+)', log):
        where, message = match.groups()
        layer = next((part for part in where.split("/") if part in names), None)
        if layer:
            kind = type(model.get_layer(layer)).__name__
            return f"LCE cannot convert layer '{layer}' ({kind}): {message}"
        return f"LCE cannot convert '{where}': {message}"
    return f"LCE cannot convert the model: {str(error).splitlines()[0] if str(error) else error!r}"


def add_metadata(flatbuffer: bytes, metadata: dict[str, Any]) -> bytes:
    """``flatbuffer`` with ``metadata`` stored as JSON under the name ``bnno``.

    Example:
        Store, then read back, the metadata of a flatbuffer ``flatbuffer`` (LCE's schema
        is needed for both); the second line gives ``{'model': 'binarynet'}``::

            tagged = add_metadata(flatbuffer, {"model": "binarynet"})
            read_metadata(tagged)
    """
    import flatbuffers
    schema = _schema()

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME.encode()]
    model.metadata.append(entry)
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read_metadata(flatbuffer: bytes) -> dict[str, Any] | None:
    """The ``bnno`` metadata of a flatbuffer, or None if it has none.

    Example:
        The model name of an exported file (``'binarynet'`` for a BinaryNet run)::

            read_metadata(Path("model.tflite").read_bytes())["model"]
    """
    schema = _schema()

    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == METADATA_NAME.encode():
            raw = model.Buffers(entry.Buffer()).DataAsNumpy()
            return json.loads(bytes(raw).decode())
    return None


def check_format(path: str | Path) -> Path:
    """``path`` if its suffix names a format bnno writes, else a ``BnnoError``.

    Example:
        >>> check_format("model.tflite").name
        'model.tflite'
    """
    path = Path(path)
    if path.suffix not in FORMATS:
        raise BnnoError(
            f"unknown format '{path.suffix or path.name}' for {path}; bnno exports "
            f"{', '.join(FORMATS)} (Larq Compute Engine flatbuffers)"
        )
    return path


def agreement(keras_outputs: np.ndarray, lce_outputs: np.ndarray) -> dict[str, Any]:
    """How closely the flatbuffer's outputs follow Keras's, and whether that passes.

    Example:
        >>> a = np.array([[0.9, 0.1], [0.2, 0.8]])
        >>> agreement(a, a + 1e-6)["passed"]
        True
    """
    diff = np.abs(np.asarray(keras_outputs, np.float64) - np.asarray(lce_outputs, np.float64))
    per_example = diff.reshape(len(diff), -1).max(axis=1)
    top1 = float(np.mean(keras_outputs.argmax(-1) == lce_outputs.argmax(-1)))
    close = float(np.mean(per_example <= OUTPUT_ATOL))
    return {
        "examples": len(diff),
        "top1_agreement": top1,
        "outputs_within_atol": close,
        "atol": OUTPUT_ATOL,
        "max_abs_diff": float(per_example.max()),
        "median_abs_diff": float(np.median(per_example)),
        "passed": top1 >= TOP1_MIN and close >= TOP1_MIN,
    }


def export_run(
    run_dir: str | Path,
    output: str | Path,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    check_examples: int = 256,
    threads: int = 2,
) -> dict[str, Any]:
    """Convert a run's weights to an LCE flatbuffer at ``output``, after checking it.

    Uses the final weights, or the last checkpoint of an unfinished run. The check runs
    ``check_examples`` test images (preprocessed as in training) through Keras and through
    LCE's interpreter; ``output`` is written only if they agree (see ``agreement``).
    ``check_examples=0`` skips the check.

    Raises:
        BnnoError: bad run dir, no weights, unknown output format, a layer LCE cannot
            convert, or a failed check.

    Example:
        Export a run and check it on 256 test images; the result is e.g. ``{'output':
        'model.tflite', 'bytes': 1402312, 'weights': 'binarynet_weights.h5',
        'binary_ops': 8, 'check': {...}}``::

            result = export_run("runs/binarynet-cifar10-bop-x", "model.tflite")
    """
    from bnno.loading import load_trained

    output = check_format(output)
    path = Path(run_dir)
    spec = runs.read(path)
    shape_of = data.describe(spec["dataset"], data_dir)
    net, source = load_trained(path, spec, shape_of.input_shape, shape_of.num_classes)
    metadata = {
        "model": spec["model"], "dataset": spec["dataset"], "hparams": spec["hparams"],
        "hparams_set": spec.get("hparams_set"), "input_shape": list(shape_of.input_shape),
        "num_classes": shape_of.num_classes, "weights": source, "run_dir": str(path),
    }
    if check_examples:
        # Read the images before converting: LCE's converter, once loaded, makes TensorFlow
        # warn about every tf.data pipeline (it registers the op definitions of the older
        # TensorFlow it was built with).
        ds = data.load(spec["dataset"], data_dir, manual_dir)
        images = _test_images(ds, spec["preprocess_fn"], check_examples)
    flatbuffer = convert(net, metadata)
    result: dict[str, Any] = {"weights": source, "binary_ops": count_binary_ops(flatbuffer)}
    if check_examples:
        check = agreement(net.predict(images, verbose=0), lce_predict(flatbuffer, images, threads))
        result["check"] = check
        if not check["passed"]:
            raise BnnoError(
                f"the exported model does not agree with Keras on {check['examples']} test "
                f"images (top-1 {check['top1_agreement']:.2%}, outputs within {OUTPUT_ATOL} "
                f"on {check['outputs_within_atol']:.2%}; both must be >= {TOP1_MIN:.0%}); "
                f"{output} was not written"
            )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(flatbuffer)
    except OSError as e:
        raise BnnoError(f"cannot write {output}: {e.strerror}") from None
    return {"output": str(output), "bytes": len(flatbuffer), **result}


def _test_images(ds, preprocess_fn: str, count: int) -> np.ndarray:
    batches = [images.numpy() for images, _ in ds.test(min(count, 256), preprocess_fn)
               .take(-(-count // 256))]
    return np.concatenate(batches)[:count]


def lce_predict(flatbuffer: bytes, images: np.ndarray, threads: int = 2) -> np.ndarray:
    """Outputs of the flatbuffer for ``images`` in LCE's interpreter, one image at a time.

    Example:
        The outputs of four CIFAR-10 images, shape ``(4, 10)``::

            outputs = lce_predict(flatbuffer, images[:4])
    """
    interpreter = lce_module().testing.Interpreter(flatbuffer, num_threads=threads,
                                          use_indirect_bgemm=True)
    return np.asarray(interpreter.predict(images.astype(np.float32)))


def count_binary_ops(flatbuffer: bytes) -> int:
    """How many binary convolutions (``LceBconv2d``) the flatbuffer runs.

    Example:
        An exported BinaryNet gives 8: its 5 convolutions and 3 dense layers (run as 1×1
        convolutions) on binary inputs; the first convolution sees the real image::

            count_binary_ops(Path("model.tflite").read_bytes())
    """
    schema = _schema()

    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    codes = [model.OperatorCodes(i).CustomCode() for i in range(model.OperatorCodesLength())]
    graph = model.Subgraphs(0)
    return sum(codes[graph.Operators(i).OpcodeIndex()] == b"LceBconv2d"
               for i in range(graph.OperatorsLength()))
