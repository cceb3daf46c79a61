"""ReActNet-A, ReAct-ResNet-18 and the ResNet-34 teacher: parameter counts equal the
official models' (counted by running the official PyTorch classes: liuzechun/ReActNet
``reactnet()`` and ``birealnet18()`` of both steps, torchvision's ``resnet34()``), the
official layout (strides, binary layers, widths), the steps, and inputs of any size.
Their forward passes equal the official code's on the import fixtures
(tests/checkpoints/test_reactnet_import.py)."""

import bnno  # noqa: F401

# isort: split

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnno.models.reactnet_a import reactnet_a
from bnno.models.reactnet_resnet18 import reactnet_resnet18
from bnno.models.resnet34 import resnet34

OFFICIAL_PARAMETERS = {reactnet_a: 29_343_592, reactnet_resnet18: 11_704_424,
                       resnet34: 21_797_672}


def trainable(model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def binary_layers(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, lq.layers.QuantConv2D)]


@pytest.mark.slow
@pytest.mark.parametrize("builder", list(OFFICIAL_PARAMETERS), ids=lambda b: b.__name__)
def test_trainable_parameters_equal_the_official_models(builder):
    # Graph mode declares the variables without computing their initial values.
    with tf.Graph().as_default():
        model = builder((224, 224, 3), 1000)
        assert trainable(model) == OFFICIAL_PARAMETERS[builder]


@pytest.mark.slow
def test_reactnet_a_has_the_official_layout():
    with tf.Graph().as_default():
        model = reactnet_a((224, 224, 3), 1000)
        sizes = [model.get_layer(f"feature.{i}.move23").output_shape[1:]
                 for i in range(1, 14)]
        binary = binary_layers(model)
    assert sizes == [(112, 112, 64), (56, 56, 128), (56, 56, 128), (28, 28, 256),
                     (28, 28, 256), (14, 14, 512), (14, 14, 512), (14, 14, 512),
                     (14, 14, 512), (14, 14, 512), (14, 14, 512), (7, 7, 1024),
                     (7, 7, 1024)]
    assert len(binary) == 31 and sum(layer.kernel_size == (3, 3) for layer in binary) == 13
    assert {type(layer.input_quantizer).__name__ for layer in binary} == {"ReActSign"}
    assert {type(layer.kernel_quantizer).__name__ for layer in binary} == {"ReActWeight"}
    assert model.get_layer("feature.0.conv1").strides == (2, 2)


@pytest.mark.slow
def test_reactnet_resnet18_has_the_official_layout():
    with tf.Graph().as_default():
        model = reactnet_resnet18((224, 224, 3), 1000)
        sizes = [model.get_layer(f"layer{s}.{b}.move2").output_shape[1:]
                 for s in range(1, 5) for b in (0, 3)]
        binary = binary_layers(model)
        shortcuts = [layer.name for layer in model.layers if ".downsample.1" in layer.name]
    assert sizes == [(56, 56, 64)] * 2 + [(28, 28, 128)] * 2 + [(14, 14, 256)] * 2 + [
        (7, 7, 512)] * 2
    assert len(binary) == 16 and shortcuts == [f"layer{s}.0.downsample.1" for s in (2, 3, 4)]


@pytest.mark.slow
@pytest.mark.parametrize("builder", [reactnet_a, reactnet_resnet18], ids=lambda b: b.__name__)
def test_kernel_quantizer_none_is_step_one_with_pytorch_initial_kernels(builder):
    step1 = builder((32, 32, 3), 10, width_multiplier=0.125, kernel_quantizer=None)
    step2 = builder((32, 32, 3), 10, width_multiplier=0.125)
    assert all(layer.kernel_quantizer is None for layer in binary_layers(step1))
    assert trainable(step1) == trainable(step2)
    # Step 1: nn.Conv2d's U(±1/√fan_in); step 2: HardBinaryConv's rand · 0.001.
    conv = binary_layers(step1)[0]
    bound = 1 / np.sqrt(np.prod(conv.kernel.shape[:-1]))
    assert np.abs(conv.kernel.numpy()).max() <= bound and conv.kernel.numpy().min() < 0
    kernels = np.concatenate([layer.kernel.numpy().ravel() for layer in binary_layers(step2)])
    assert kernels.min() >= 0 and kernels.max() < 1e-3


@pytest.mark.slow
def test_latent_free_kernels_start_from_signs_of_cemas_draw():
    noop = {"class_name": "NoOp", "config": {"precision": 1}}
    model = reactnet_a((32, 32, 3), 10, width_multiplier=0.125, kernel_quantizer=noop)
    kernels = np.concatenate([layer.kernel.numpy().ravel() for layer in binary_layers(model)])
    # U(-1e-3, 1e-3) in float32: its bound is float32(1e-3), a hair above 1e-3.
    assert np.abs(kernels).max() <= np.float32(1e-3) and 0.4 < (kernels > 0).mean() < 0.6


@pytest.mark.slow
@pytest.mark.parametrize("builder, final", [(reactnet_a, (2, 2)), (reactnet_resnet18, (4, 4)),
                                            (resnet34, (1, 1))],
                         ids=["reactnet_a", "reactnet_resnet18", "resnet34"])
def test_small_and_odd_inputs_build(builder, final):
    for shape in ((32, 32, 3), (28, 28, 1)):
        model = builder(shape, 10, width_multiplier=0.05)
        assert model.output_shape == (None, 10)
        assert model.layers[-3].input_shape[1:3] == final  # before the global pool


@pytest.mark.slow
def test_narrow_widths_keep_the_official_ratios():
    model = reactnet_a((32, 32, 3), 10, width_multiplier=0.25)
    widths = [model.get_layer(f"feature.{i}.move23").output_shape[-1] for i in range(1, 14)]
    assert widths == [16, 32, 32, 64, 64] + [128] * 6 + [256] * 2
    assert model.get_layer("feature.0.conv1").strides == (1, 1)  # CIFAR-sized: stride 1


@pytest.mark.slow
@pytest.mark.parametrize("builder", [reactnet_a, reactnet_resnet18])
def test_the_rank4_decay_group_is_the_official_weight_parameters(builder):
    # The official step-1 scripts decay ``p.ndimension() == 4 or 'conv' in pname``
    # (liuzechun/ReActNet */1_step1/train.py:77-88): conv kernels and the learnable
    # biases, stored as (1, C, 1, 1); not batch norm, PReLU or the classifier.
    import gzip
    import json
    from pathlib import Path

    from bnno.optimizers.l2 import decayed

    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    with gzip.open(fixtures / "reactnet_layouts.json.gz", "rt", encoding="utf-8") as f:
        layout = json.load(f)[f"{builder.__name__}_step1"]
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    official = {k for k, shape in layout.items() if not k.endswith(buffers)
                and (len(shape) == 4 or "conv" in k)}
    net = builder((32, 32, 3), 10, width_multiplier=0.0625, kernel_quantizer=None)
    found = {v.name.split(":")[0].replace("/kernel", ".weight").replace("/", ".")
             for v in decayed(net, "rank4")}
    assert found == official and len(official) > 40


@pytest.mark.slow
def test_the_imagenet_command_runs_both_steps_with_its_teacher(mock_tfds, cli, tmp_path):
    """``bnno train reactnet_a --dataset imagenet2012 --hparams-set reactnet`` on mock
    JPEGs: the official augmentation, the DistributionLoss to the ResNet-34 teacher
    (untrained here: no weights file), both steps in one run directory."""
    import json

    from bnno import runs

    out = tmp_path / "run"
    code, stdout, err = cli(
        "train", "reactnet_a", "--dataset", "imagenet2012", "--hparams-set", "reactnet",
        "--hparams", "width_multiplier=0.0625,batch_size=2,epochs=1,learning_rate.epochs=1,"
        "teacher_weights=none", "--output-dir", str(out), "--steps-per-epoch", "1",
        "--validation-steps", "1", "--no-tensorboard", "--verbose", "0")
    assert code == 0, err
    assert [s["name"] for s in json.loads((out / runs.STAGES_FILE).read_text())["stages"]] == [
        "step1", "step2"]
    for step, quantizer in (("step1", None), ("step2", "react_weight")):
        spec = runs.read(out / step)
        assert spec["model"]["hparams"]["kernel_quantizer"] == quantizer
        assert spec["trainer"]["distill_loss"] == "distribution"
        assert spec["data"]["preprocess_fn"] == "reactnet"
        assert runs.read_metrics(out / step)[0]["loss"] > 0  # the distillation loss
