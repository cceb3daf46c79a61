"""How Larq Compute Engine runs each of BiBench's binarizers: LceBconv2d counts.

For every binarizer, a tiny model (a real 3×3 stem convolution and batch norm, then one
binary 3×3 convolution with the binarizer on both sides, batch norm, global pooling and a
dense classifier) is converted with bnno's export path (``bnno.deploy.convert.convert``:
inference copy, then ``lce.convert_saved_model``) and its ``LceBconv2d`` ops are counted.
Schedules are set to the end of training (``on_epochs_done(epochs, epochs)``), as a trained
model is. The rewrites of ``bnno.deploy.bibench`` (XNOR's per-sample scale after the binary
convolution, FDA's quantizers without their noise once α = 0) run where noted.

Usage::

    python benchmarks/bibench_lce_counts.py
"""

from __future__ import annotations

import bnno  # noqa: F401

# isort: split

import larq as lq
import numpy as np
import tensorflow as tf

from bnno.deploy.bibench import lce_ready
from bnno.deploy.convert import convert, convert_ready, lce_predict
from bnno.deploy.metadata import count_binary_ops
from bnno.models.bibench_layers import XnorPlusPlusConv2D

BINARIZERS = ["bnn", "xnor", "dorefa", "bireal", "xnorpp", "react", "recu", "fda"]


def tiny_model(name: str) -> tf.keras.Model:
    """Real stem, one binary convolution with BiBench's ``name`` on both sides, classifier.

    Example:
        ``tiny_model("recu").count_params()``
    """
    x = inputs = tf.keras.Input((16, 16, 3))
    x = tf.keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    conv = XnorPlusPlusConv2D if name == "xnorpp" else lq.layers.QuantConv2D
    x = conv(32, 3, padding="same", use_bias=False,
             input_quantizer=f"bibench_{name}_activation",
             kernel_quantizer=f"bibench_{name}_weight")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(x))
    for module in model.submodules:
        if hasattr(module, "on_epochs_done"):
            module.on_epochs_done(10, 10)
    return model


def counts(name: str) -> tuple[int | str, int, float]:
    """LceBconv2d count as exported by bnno today, after ``bnno.deploy.bibench``'s rewrite,
    and the largest difference between the rewritten flatbuffer's outputs and Keras'.

    Example:
        ``counts("bnn")[:2]`` is ``(1, 1)``.
    """
    model = tiny_model(name)
    try:
        plain = count_binary_ops(convert(model))
    except Exception as e:  # report what the export says, one line
        plain = f"error: {str(e).splitlines()[0]}"
    flatbuffer = convert_ready(lce_ready(model))
    images = np.random.default_rng(0).normal(size=(8, 16, 16, 3)).astype(np.float32)
    gap = np.abs(lce_predict(flatbuffer, images) - model.predict(images, verbose=0)).max()
    return plain, count_binary_ops(flatbuffer), float(gap)


if __name__ == "__main__":
    for binarizer in BINARIZERS:
        plain, rewritten, gap = counts(binarizer)
        print(f"{binarizer:8s} as is: {plain}   rewritten: {rewritten}   "
              f"max |LCE − Keras| {gap:.2e}")
