"""BNext-T, -S, -M and -L (Guo et al., 2023, "Join the High Accuracy Club on ImageNet
with A Binary Neural Network Ticket"), as in the official code.

A 3×3 full-precision stem (batch norm, no activation; stride 2 on ImageNet, 1 on small
inputs such as CIFAR), then blocks of one 3×3 binary module and one or two 1×1 binary
feed-forward modules (see ``bnext_layers.binary_module``): block 1 uses a plain 3×3
module, later blocks alternate the ELM attention (even blocks, every down-sampling
block among them) and the plain module. Where the width doubles, two independent 1×1
modules run on the same input and are concatenated. The head is PReLU → global average
pool → dense (``logits``) → softmax.

Binary convolutions take ``bnext_sign`` activations (learnable bias first) and
``bnext_weight`` kernels: latent weights drawn from N(0, 1e-3²), clipped to ±1.5 and
binarized with a temperature that falls by 0.9 per epoch (``bnno.training.temperature``).
The full-precision layers (stem, SE attention, classifier) keep PyTorch's default
initialisation, as the official code does (``bnno.models.torch_init``); PReLU slopes
start at 0.25, batch norm at γ = 1, β = 0.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno import quantizers
from bnno.errors import BnnoError
from bnno.layers.common import torch_bn
from bnno.layers.padding import Pad
from bnno.models.bnext_layers import binary_module, check_halvable, prelu
from bnno.models.registry import register
from bnno.models.torch_init import torch_initializers
from bnno.quantizers import QuantizerSpec

# Widths of the stem and every block (the official lists; "large" is the code's final one).
WIDTHS = {
    "tiny": [32, 64] + [128] * 2 + [256] * 2 + [512] * 6 + [1024] * 2,
    "small": [48, 96] + [192] * 2 + [384] * 2 + [768] * 6 + [1536] * 2,
    "middle": [48, 96] + [192] * 4 + [384] * 4 + [768] * 8 + [1536] * 4,
    "large": [64, 128] + [256] * 4 + [512] * 4 + [1024] * 16 + [2048] * 4,
}


def quantizer_settings(activation: QuantizerSpec, kernel_quantizer: QuantizerSpec,
                       kernel_constraint: str | None, latent_clip: float, cutoff: float):
    """A function giving the larq arguments of one binary convolution (fresh each call).

    ``bnext_weight`` gets the model's temperature ``cutoff`` unless the spec sets one;
    ``kernel_constraint`` ``weight_clip`` clips latent weights to ``latent_clip``.

    Example:
        >>> settings = quantizer_settings("bnext_sign", "bnext_weight", "weight_clip", 1.5, 1e-5)
        >>> kwargs = settings()
        >>> kwargs["input_quantizer"]
        {'class_name': 'BNextSign', 'config': {'clip_value': 1.5}}
        >>> kwargs["kernel_quantizer"]
        {'class_name': 'BNextWeight', 'config': {'cutoff': 1e-05}}
        >>> kwargs["kernel_constraint"].clip_value, kwargs["kernel_initializer"].stddev
        (1.5, 0.001)
        >>> settings()["kernel_constraint"] is kwargs["kernel_constraint"]
        False
    """
    defaults = {"bnext_weight": {"cutoff": cutoff}}

    def settings() -> dict:
        constraint = kernel_constraint
        if constraint == "weight_clip":
            constraint = lq.constraints.WeightClip(latent_clip)
        return dict(input_quantizer=quantizers.resolve(activation, "activation"),
                    kernel_quantizer=quantizers.resolve(kernel_quantizer, "kernel",
                                                        defaults=defaults),
                    kernel_constraint=constraint,
                    kernel_initializer=tf.keras.initializers.RandomNormal(stddev=1e-3))

    return settings


def bnext(input_shape: tuple[int, ...], num_classes: int, size: str, *,
          width_multiplier: float, kernel_quantizer: QuantizerSpec,
          kernel_constraint: str | None, activation: QuantizerSpec,
          name: str, blocks: int = 0) -> tf.keras.Model:
    """BNext of ``size`` (a key of ``WIDTHS``); the registered builders call this.
    ``blocks`` > 0 keeps only the stem and the first ``blocks`` blocks (0: all).

    Example:
        BNext-T for ImageNet, as ``bnext_t`` builds it (this takes seconds, even at
        small widths)::

            model = bnext((224, 224, 3), 1000, "tiny", width_multiplier=1.0,
                          kernel_quantizer="bnext_weight", kernel_constraint="weight_clip",
                          activation="bnext_sign", name="bnext_t")
    """
    layout = WIDTHS[size]
    if not 0 <= blocks < len(layout):
        raise BnnoError(f"{name} has {len(layout) - 1} blocks; blocks must be between 1 and "
                        f"that, or 0 for all of them (got {blocks})")
    layout = layout[:blocks + 1] if blocks else layout
    widths = [max(8, int(round(w * width_multiplier))) for w in layout]
    settings = quantizer_settings(activation, kernel_quantizer, kernel_constraint, 1.5, 1e-7)
    image = tf.keras.Input(input_shape)
    small = min(input_shape[0], input_shape[1]) <= 64  # CIFAR-sized: stride-1 stem
    x = tf.keras.layers.Conv2D(widths[0], 3, strides=1 if small else 2, use_bias=False,
                               **torch_initializers(3 * 3 * input_shape[-1]))(Pad(1)(image))
    x = torch_bn(x)
    for i in range(1, len(widths)):
        inplanes, planes = widths[i - 1], widths[i]
        strides = 2 if i >= 2 and inplanes != planes else 1
        elm = i >= 2 and i % 2 == 0  # ELM attention; every down-sampling block is one

        def pool(t, strides=strides):
            return tf.keras.layers.AvgPool2D(2)(t) if strides == 2 else t

        if strides == 2:
            check_halvable(x, name, input_shape)
        # The mix always sees the raw (pooled) input; the ELM shortcut is PReLU'd first.
        pooled = pool(x)
        x = binary_module(x, 3, strides, settings, mix_input=pooled,
                          shortcut=pool(prelu(x)) if elm else pooled, elm=elm)
        if planes == inplanes:
            x = binary_module(x, 1, 1, settings)
        else:
            x = tf.keras.layers.concatenate([binary_module(x, 1, 1, settings),
                                             binary_module(x, 1, 1, settings)])
    return tf.keras.Model(image, head(x, num_classes), name=name)


def head(x, num_classes: int):
    """PReLU → global average pool → dense ``logits`` → ``softmax`` (the distillation
    code reads the logits layer by name).

    Example:
        >>> import tensorflow as tf
        >>> features = tf.keras.Input((4, 4, 8))
        >>> model = tf.keras.Model(features, head(features, 10))
        >>> model.output_shape
        (None, 10)
        >>> [layer.name for layer in model.layers[-2:]]
        ['logits', 'softmax']
    """
    x = tf.keras.layers.GlobalAvgPool2D()(prelu(x))
    x = tf.keras.layers.Dense(num_classes, name="logits", **torch_initializers(x.shape[-1]))(x)
    return tf.keras.layers.Activation("softmax", name="softmax")(x)


# The BNext README's figures (ImageNet, 224×224): its "BOPs (G)" column and the
# binarization degree. The column is numerically the total OPs under the authors' own
# convention, which counts the full-precision layers at a discount (docs/bnext.md).
def published(ops: float | None, degree: float) -> dict:
    """The BNext README's figures for one model, as ``bnno summary`` shows them.

    Example:
        >>> published(0.077e9, 0.9781)["source"]
        'BNext README'
    """
    return {"source": "BNext README", **({"ops": ops} if ops else {}),
            "binarization_degree": degree,
            "note": "its own convention, which counts full-precision layers at a discount; "
                    "see docs/bnext.md"}


PUBLISHED = {"tiny": published(0.077e9, 0.9781), "small": published(0.172e9, 0.9847),
             "middle": published(0.317e9, 0.9902), "large": published(0.819e9, 0.9949)}


def _register(size: str, name: str, description: str):
    def builder(input_shape: tuple[int, ...], num_classes: int, *,
                width_multiplier: float = 1.0,
                kernel_quantizer: QuantizerSpec = "bnext_weight",
                kernel_constraint: str | None = "weight_clip",
                activation: QuantizerSpec = "bnext_sign",
                blocks: int = 0) -> tf.keras.Model:
        return bnext(input_shape, num_classes, size, width_multiplier=width_multiplier,
                     kernel_quantizer=kernel_quantizer, kernel_constraint=kernel_constraint,
                     activation=activation, name=name, blocks=blocks)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = f"""{description}

    Example:
        The paper's model for ImageNet, and a narrow one for CIFAR-sized images (each
        takes seconds to build)::

            model = {name}((224, 224, 3), 1000)
            narrow = {name}((32, 32, 3), 10, width_multiplier=0.25)

    Args:
        input_shape: image shape (height, width, channels); 64×64 or smaller uses a
            stride-1 stem (the official code's CIFAR setting).
        num_classes: size of the softmax output.
        width_multiplier: scales every width (1.0 is the paper's model; smaller values
            give narrow models for quick experiments).
        kernel_quantizer: weight binarizer; ``bnext_weight`` is the temperature one.
        kernel_constraint: ``weight_clip`` clips latent weights to ±1.5.
        activation: activation binarizer (``bnext_sign``, or another quantizer spec of
            ``bnno.quantizers``).
        blocks: keep only the first ``blocks`` blocks (0, the default: all); with
            ``width_multiplier`` it gives the small variants of the official layout that
            test imported checkpoints.

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    return register(builder, published=PUBLISHED[size])


bnext_t = _register("tiny", "bnext_t", "BNext-T (tiny): 13 blocks, widths 64 to 1024.")
bnext_s = _register("small", "bnext_s", "BNext-S (small): 13 blocks, widths 96 to 1536.")
bnext_m = _register("middle", "bnext_m", "BNext-M (middle): 21 blocks, widths 96 to 1536.")
bnext_l = _register("large", "bnext_l", "BNext-L (large): 29 blocks, widths 128 to 2048.")
