"""binarynet has the reference architecture and exact parameter counts."""

import larq as lq
import pytest
import tensorflow as tf
from conftest import build_flat, resolved

from bnno.analysis.summary import profile


def build(set_name, input_shape=(32, 32, 3), classes=10):
    hp = resolved("binarynet", set_name, None)
    return build_flat("binarynet", hp, input_shape, classes)


@pytest.mark.slow
def test_layer_sequence_is_the_papers():
    model = build("bop")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "QuantConv2D", "BatchNormalization",
        "QuantConv2D", "MaxPooling2D", "BatchNormalization",
        "QuantConv2D", "BatchNormalization",
        "QuantConv2D", "MaxPooling2D", "BatchNormalization",
        "QuantConv2D", "BatchNormalization",
        "QuantConv2D", "MaxPooling2D", "BatchNormalization",
        "Flatten",
        "QuantDense", "BatchNormalization",
        "QuantDense", "BatchNormalization",
        "QuantDense", "BatchNormalization",
        "Activation",
    ]
    quant = [layer for layer in model.layers if isinstance(layer, lq.layers.QuantizerBase)]
    assert [getattr(q, "filters", None) or q.units for q in quant] == [
        128, 128, 256, 256, 512, 512, 1024, 1024, 10]
    assert quant[0].input_quantizer is None  # the image itself is not binarized
    assert all(isinstance(q.input_quantizer, lq.quantizers.SteSign) for q in quant[1:])
    assert all(not q.use_bias for q in quant)
    assert all(q.kernel_size == (3, 3) for q in quant[:6])
    bns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert all(not bn.scale and bn.center for bn in bns)
    assert model.layers[-1].activation is tf.keras.activations.softmax


@pytest.mark.slow
def test_bop_and_adam_kernels():
    bop, adam = build("bop"), build("default")
    assert all(isinstance(q.kernel_quantizer, lq.quantizers.NoOp) and q.kernel_constraint is None
               for q in bop.layers if isinstance(q, lq.layers.QuantizerBase))
    assert all(isinstance(q.kernel_quantizer, lq.quantizers.SteSign)
               and isinstance(q.kernel_constraint, lq.constraints.WeightClip)
               for q in adam.layers if isinstance(q, lq.layers.QuantizerBase))


@pytest.mark.slow
@pytest.mark.parametrize(
    "set_name, expected",
    [
        # 3·3·3·128 + 3·3·(128·128 + 128·256 + 256·256 + 256·512 + 512·512)
        # + 3·3·512·1024 + 1024·1024 + 1024·10 binary weights, and 3 × 3850 BN values.
        ("bop", {"total_params": 10_363_550, "trainable_params": 10_355_850,
                 "binary_params": 10_352_000, "binary_macs": 510_961_664,
                 "fp_macs": 3_110_400}),
        # The paper code's Adam baseline trains the same network, with latent kernels.
        ("default", {"total_params": 10_363_550, "trainable_params": 10_355_850,
                     "binary_params": 10_352_000, "binary_macs": 510_961_664,
                     "fp_macs": 3_110_400}),
    ],
)
def test_exact_counts(set_name, expected):
    counts = profile(build(set_name))
    assert {k: counts[k] for k in expected} == expected
    assert counts["ops"] == expected["binary_macs"] / 64 + expected["fp_macs"]
