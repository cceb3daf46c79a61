"""Larq Compute Engine: converting a Keras model to a flatbuffer, and running one.

LCE is an optional dependency (``pip install "bnno[lce]"``); ``lce_module`` imports it
quietly or says how to install it.
"""

from __future__ import annotations

import re
import tempfile
from typing import Any

import numpy as np
import tensorflow as tf

from bnno.deploy.inference import inference_model
from bnno.deploy.lce import lce_module, stderr_to
from bnno.deploy.metadata import add_metadata, count_binary_ops
from bnno.errors import BnnoError


def convert(model: tf.keras.Model, metadata: dict[str, Any] | None = None) -> bytes:
    """The LCE flatbuffer of the inference-ready ``model`` (see ``inference_model``).

    ``metadata`` is stored in the flatbuffer as JSON under the name ``bnno``.

    Raises:
        BnnoError: LCE cannot convert the model; the message names the layer.

    Example:
        Convert a trained Keras model ``trained`` and record which model it is::

            flatbuffer = convert(trained, {"model": "binarynet"})
    """
    flatbuffer = convert_ready(inference_model(model))
    return add_metadata(flatbuffer, metadata) if metadata else flatbuffer


def convert_ready(net: tf.keras.Model) -> bytes:
    """The LCE flatbuffer of ``net``, a model already made inference-ready.

    Raises:
        BnnoError: LCE cannot convert the model; the message names the layer.

    Example:
        Convert the inference copy that ``convert`` would make, keeping it for Keras::

            net = inference_model(trained)
            flatbuffer = convert_ready(net)
    """
    lce = lce_module()
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
            with stderr_to(log):
                flatbuffer = lce.convert_saved_model(saved)
        except Exception as e:  # the converter raises RuntimeError/ValueError; both mean the same
            log.seek(0)
            raise BnnoError(_conversion_error(log.read(), net, e)) from None
    return flatbuffer


def float_layers(net: tf.keras.Model, names: list[str]) -> list[str]:
    """Which of the layers ``names`` of the inference-ready ``net`` LCE runs in float.

    Each layer is converted on its own, on an input of its shape: the flatbuffer's
    tensor names are cut short, so they cannot tell which layer an ``LceBconv2d`` came
    from.

    Example:
        Name the binary layers of an inference copy ``net`` that stay float::

            float_layers(net, ["quant_conv2d_1", "quant_dense"])
    """
    found = []
    for name in names:
        layer = net.get_layer(name)
        single = tf.keras.Input(layer.input_shape[1:])
        alone = tf.keras.Model(single, layer(single))
        if count_binary_ops(convert_ready(alone)) == 0:
            found.append(name)
    return found


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


def lce_predict(flatbuffer: bytes, images: np.ndarray, threads: int = 2) -> np.ndarray:
    """Outputs of the flatbuffer for ``images`` in LCE's interpreter, one image at a time.

    Example:
        The outputs of four CIFAR-10 images, shape ``(4, 10)``::

            outputs = lce_predict(flatbuffer, images[:4])
    """
    interpreter = lce_module().testing.Interpreter(flatbuffer, num_threads=threads,
                                          use_indirect_bgemm=True)
    return np.asarray(interpreter.predict(images.astype(np.float32)))
