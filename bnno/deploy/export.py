"""``bnno export``: a trained run to a Larq Compute Engine flatbuffer, checked against Keras.

The run's model is rewritten for inference (``bnno.deploy.inference``), converted
(``bnno.deploy.convert``) with the run's description as metadata
(``bnno.deploy.metadata``), and its outputs compared with the Keras model's on test
images.

Example:
    Export a trained run; the result reports the check against Keras (here all top-1
    predictions agreed)::

        result = export_run("runs/binarynet-cifar10-bop-x", "model.tflite")
        result["check"]["top1_agreement"]  # 1.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bnno import atomic, data, runs
from bnno.config import stored
from bnno.deploy.convert import convert_ready, float_layers, lce_predict
from bnno.deploy.inference import expected_binary, inference_model, is_binary_layer
from bnno.deploy.metadata import add_metadata, count_binary_ops
from bnno.errors import BnnoError

# The self-check: top-1 predictions must agree on at least this share of the examples,
# and on at least that share every output must lie within OUTPUT_ATOL of Keras's.
# Binary layers compute exact integers in both runtimes; float rounding in the first
# layer and batch norm can still flip a sign that sits at ~0, which changes one example's
# outputs completely. That is why the rule is "on 99 % of the examples", not "on all".
TOP1_MIN = 0.99


OUTPUT_ATOL = 1e-4


FORMATS = (".tflite",)


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
    source: data.Source | None = None,
    check_examples: int = 256,
    threads: int = 2,
    weights: str | None = None,
    allow_float: bool = False,
) -> dict[str, Any]:
    """Convert a run's weights to an LCE flatbuffer at ``output``, after checking it.

    ``weights`` is one of ``bnno.runs.WEIGHTS``; by default the final weights,
    or the last checkpoint of an unfinished run. The check runs
    ``check_examples`` test images (preprocessed as in training) through Keras and through
    LCE's interpreter; ``output`` is written only if they agree (see ``agreement``).
    When the run's dataset is not on this machine (an imported ImageNet checkpoint,
    say), the check runs on generated images instead: random pixels, encoded as JPEG for
    datasets of encoded images, preprocessed as the test images would be
    (``check_inputs``). The result's ``check_inputs`` and the flatbuffer's metadata say
    which were used. ``check_examples=0`` skips the check.

    Every binary layer of the model (binary inputs and kernel) must become one
    ``LceBconv2d``, except those whose quantizers declare that LCE runs them in float
    (``export="float"``, ``bnno.quantizers.registry``; they are listed as
    ``float_by_design``); other binary layers LCE would run in float are named, and the
    export fails unless ``allow_float``, which writes them (and their names, in the
    metadata). ``source`` says where the test images are (``bnno.data.Source``).

    Raises:
        BnnoError: bad run dir, no weights (or not the ``weights`` asked for), unknown
            output format, a layer LCE cannot convert, a binary layer left in float
            (without ``allow_float``), or a failed check.

    Example:
        Export a run and check it on 256 test images; the result is e.g. ``{'output':
        'model.tflite', 'bytes': 1402312, 'weights': 'binarynet_weights.h5',
        'binary_ops': 8, 'binary_layers': 8, 'float_layers': [], 'check': {...}}``::

            result = export_run("runs/binarynet-cifar10-bop-x", "model.tflite")
    """
    from bnno.training.loading import load_run_data, load_trained, trained_shape

    output = check_format(output)
    source = source or data.Source()
    path = runs.stage_dir(run_dir)  # a run in stages: its last stage
    config = stored.read(path)
    runs.choose_weights(path, config.model.name, weights)  # fails before any data is read
    input_shape, num_classes = trained_shape(config.data, source.data_dir)
    net, used = load_trained(path, config, input_shape, num_classes, weights=weights)
    metadata = {
        "model": config.model.name, "dataset": config.data.dataset,
        "hparams_set": config.hparams_set, "config": config.to_json(),
        "input_shape": list(input_shape), "num_classes": num_classes, "weights": used,
        "run_dir": str(path),
        # A folder run's class names, in the order of the model's outputs.
        **({"classes": list(config.data.classes)} if config.data.classes else {}),
    }
    inputs = "none"
    if check_examples:
        # Read the images before converting: LCE's converter, once loaded, makes TensorFlow
        # warn about every tf.data pipeline (it registers the op definitions of the older
        # TensorFlow it was built with).
        images, inputs = check_inputs(config, source, check_examples, load_run_data)
    ready = inference_model(net)
    flatbuffer = convert_ready(ready)
    binary = [layer.name for layer in net.layers if is_binary_layer(layer)]
    by_design = [layer.name for layer in net.layers
                 if is_binary_layer(layer) and not expected_binary(layer)]
    expected = len(binary) - len(by_design)
    ops = count_binary_ops(flatbuffer)
    floats = [n for n in float_layers(ready, binary) if n not in by_design] \
        if ops != len(binary) else []
    if ops < expected and not allow_float:
        raise BnnoError(
            f"LCE runs {ops} of the model's {expected} binary layers as binary "
            f"convolutions; in float: {', '.join(floats) or 'layers it cannot tell'}; "
            f"pass --allow-float to write it anyway; {output} was not written")
    result: dict[str, Any] = {"weights": used, "binary_ops": ops,
                              "binary_layers": len(binary), "float_layers": floats,
                              "float_by_design": by_design, "check_inputs": inputs}
    flatbuffer = add_metadata(flatbuffer, {**metadata, **result})
    if check_examples:
        check = agreement(net.predict(images, verbose=0), lce_predict(flatbuffer, images, threads))
        result["check"] = check
        if not check["passed"]:
            kind = "generated" if inputs == "generated" else "test"
            raise BnnoError(
                f"the exported model does not agree with Keras on {check['examples']} {kind} "
                f"images (top-1 {check['top1_agreement']:.2%}, outputs within {OUTPUT_ATOL} "
                f"on {check['outputs_within_atol']:.2%}; both must be >= {TOP1_MIN:.0%}); "
                f"{output} was not written"
            )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BnnoError(f"cannot write {output}: {e.strerror}") from None
    atomic.write_bytes(output, flatbuffer)  # a kill leaves no half-written model
    return {"output": str(output), "bytes": len(flatbuffer), **result}


def check_inputs(config, source: data.Source, count: int, load) -> tuple[np.ndarray, str]:
    """``count`` images for the self-check and where they come from: ``"dataset"`` (the
    run's test images, preprocessed as in evaluation) when the run's dataset is on this
    machine (a folder, or a prepared tfds dataset), else ``"generated"`` (seeded random
    pixels, JPEG-encoded for datasets of encoded images, through the run's preprocessing
    for evaluation). Nothing is downloaded or prepared. ``load`` reads the run's dataset
    (``bnno.training.loading.load_run_data``).

    Raises:
        BnnoError: a folder dataset that is not there any more.

    Example:
        The check of an imported ImageNet checkpoint on a machine without ImageNet::

            images, where = check_inputs(config, data.Source(), 256, load_run_data)
            # where == "generated"
    """
    described = data.describe(config.data.dataset, source.data_dir, config.data.image_size,
                              config.data.classes)
    if _on_disk(described):
        return _test_images(load(config, source), config.data.preprocess_fn, count), "dataset"
    return _generated_images(described, config.data.preprocess_fn, count), "generated"


def _on_disk(ds) -> bool:
    builder = getattr(ds, "builder", None)
    return builder is None or builder.data_path.joinpath("dataset_info.json").exists()


def _generated_images(ds, preprocess_fn: str, count: int) -> np.ndarray:
    import tensorflow as tf

    fn = ds.preprocess_fn(preprocess_fn)
    height, width, channels = ds.input_shape
    pixels = np.random.default_rng(0).integers(
        0, 256, (count, height + 32 if ds.encoded else height,
                 width + 32 if ds.encoded else width, channels), dtype=np.uint8)
    images = []
    for image in pixels:
        value = tf.io.encode_jpeg(image) if ds.encoded else tf.constant(image)
        images.append(fn(value, False, None).numpy())
    return np.stack(images).astype(np.float32)


def _test_images(ds, preprocess_fn: str, count: int) -> np.ndarray:
    batches = [images.numpy() for images, _ in ds.test(min(count, 256), preprocess_fn)
               .take(-(-count // 256))]
    return np.concatenate(batches)[:count]
