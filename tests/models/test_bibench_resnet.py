"""BiBench's CIFAR ResNets (htqin/BiBench ``bibench/models/backbones/resnet.py``,
``resnet_cifar.py``): parameter counts from the official layer list, which convolutions
are binary, padded as PyTorch pads and initialised as the official code does for each
binarizer, and the full-precision reference."""

import bnno  # noqa: F401

# isort: split

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnno.errors import BnnoError
from bnno.layers.mirrored import MirroredQuantConv2D
from bnno.models.bibench_resnet import HardTanh, bibench_resnet


def official_params(depth, base, stem=64, classes=10):
    """Trainable parameters of ``ResNet_CIFAR`` + ``LinearClsHead``, layer by layer as the
    official ``__init__`` creates them (batch norms: weight and bias)."""
    stages = {18: (2, 2, 2, 2), 20: (3, 3, 3), 34: (3, 4, 6, 3)}[depth]
    total = 3 * stem * 9 + 2 * stem
    channels = stem
    for i, blocks in enumerate(stages):
        out = base * 2**i
        for b in range(blocks):
            total += channels * out * 9 + 2 * out + out * out * 9 + 2 * out
            if b == 0 and (i > 0 or channels != out):
                total += channels * out + 2 * out
            channels = out
    return total + channels * classes + classes


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.slow
@pytest.mark.parametrize("depth, filters", [(20, 16), (18, 8), (34, 4)])
def test_parameters_equal_the_official_networks(depth, filters):
    fp = bibench_resnet((32, 32, 3), 10, depth=depth, filters=filters, activation=None,
                        kernel_quantizer=None)
    assert trainable(fp) == official_params(depth, filters)
    # The binarizers add only their own variables (none for BNN).
    assert trainable(bibench_resnet((32, 32, 3), 10, depth=depth, filters=filters)) == \
        official_params(depth, filters)


def test_resnet20_has_eighteen_binary_convolutions_padded_as_pytorch_pads():
    model = bibench_resnet((32, 32, 3), 10)
    binary = [layer for layer in model.layers if isinstance(layer, lq.layers.QuantConv2D)
              and layer.input_quantizer is not None]
    assert len(binary) == 18
    assert [layer.strides for layer in binary if isinstance(layer, MirroredQuantConv2D)] == [
        (2, 2), (2, 2)]  # the first convolution of stages 2 and 3
    floats = [layer for layer in model.layers if type(layer) is tf.keras.layers.Conv2D]
    assert [layer.kernel_size for layer in floats] == [(3, 3), (1, 1), (1, 1), (1, 1)]
    assert sum(isinstance(layer, HardTanh) for layer in model.layers) == 1 + 9 * 2


@pytest.mark.parametrize("kernel_quantizer, uniform", [
    ("bibench_bnn_weight", True), ("bibench_xnorpp_weight", True),
    ("bibench_recu_weight", False), ("bibench_fda_weight", False), ("ste_sign", False)])
def test_binary_kernels_start_as_the_official_layers_do(kernel_quantizer, uniform):
    tf.keras.utils.set_random_seed(1)
    model = bibench_resnet((32, 32, 3), 10, filters=8, kernel_quantizer=kernel_quantizer)
    kernel = next(layer for layer in model.layers
                  if getattr(layer, "input_quantizer", None) is not None).kernel.numpy()
    if uniform:  # torch.rand(shape) * 0.001
        assert kernel.min() >= 0 and kernel.max() < 1e-3 and kernel.std() > 2e-4
    else:  # mmcv's Kaiming: normal, fan-out 3·3·8
        assert kernel.min() < 0 and abs(kernel.std() / np.sqrt(2 / 72) - 1) < 0.1


def test_batch_norms_and_head_start_as_the_official_ones():
    model = bibench_resnet((32, 32, 3), 10)
    norms = [layer for layer in model.layers
             if isinstance(layer, tf.keras.layers.BatchNormalization)]
    zero = [layer for layer in norms if not np.any(layer.gamma.numpy())]
    assert len(zero) == 9 and all(n.momentum == 0.9 and n.epsilon == 1e-5 for n in norms)
    kept = bibench_resnet((32, 32, 3), 10, zero_init_residual=False)
    assert all(np.all(layer.gamma.numpy() == 1) for layer in kept.layers
               if isinstance(layer, tf.keras.layers.BatchNormalization))
    head = model.layers[-1].get_weights()
    assert abs(head[0].std() - 0.01) < 0.002 and not np.any(head[1])


def test_the_full_precision_reference_uses_relu():
    model = bibench_resnet((32, 32, 3), 10, activation=None, kernel_quantizer=None)
    assert not any(isinstance(layer, HardTanh) for layer in model.layers)
    assert sum(isinstance(layer, tf.keras.layers.ReLU) for layer in model.layers) == 19


def test_an_unknown_depth_fails_in_one_line():
    with pytest.raises(BnnoError, match="no depth 50; choose one of: 18, 20, 34"):
        bibench_resnet((32, 32, 3), 10, depth=50)
