"""The last partial batch of an epoch (``drop_last``): BNext's CIFAR branch and Si-BNN
train it, as PyTorch's DataLoader does by default, so their sets set ``drop_last: false``:
⌈examples / batch⌉ steps per epoch, the same (seed, epoch) order of examples, schedules
over the steps trained; every other set, and every run.json written before the field
existed, drops it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from conftest import MOCK_EXAMPLES, train_tiny

from bnno import data
from bnno.config import plan, stored
from bnno.training import train as trainer
from bnno.training.build import run_length

OLD = Path(__file__).resolve().parent.parent / "fixtures" / "runs_v1"


@pytest.mark.parametrize("model, dataset, set_name, examples, steps, length", [
    # BNext's CIFAR branch: 391 steps per epoch at batch 128; its schedule is per epoch.
    ("bnext_t", "cifar10", "cifar", 50_000, 391, 256 * 391),
    # Si-BNN: 5005 steps per epoch at batch 256, the cosine over the 500,500 steps trained.
    ("sibnn_resnet18", "imagenet2012", "sibnn_cosine", 1_281_167, 5005, 500_500),
    # TensorFlow code (the Bop paper's) drops it: epochs × examples // batch.
    ("birealnet", "imagenet2012", "bop", 1_281_167, 1251, 375_341),
])
def test_steps_per_epoch_and_run_length_follow_the_sets_source(model, dataset, set_name,
                                                                examples, steps, length):
    config = plan(model, dataset, set_name)
    ds = SimpleNamespace(train_examples=examples)
    assert trainer._steps_per_epoch(config, ds) == steps
    assert run_length(config.trainer, examples) == length


def test_only_the_pytorch_sets_train_the_partial_batch():
    assert not plan("bnext_t", "cifar10", "cifar").trainer.drop_last
    assert not plan("bnext_t", "cifar10", "bop_cifar").trainer.drop_last  # extends cifar
    assert plan("bnext_t", "imagenet2012", "imagenet").trainer.drop_last  # timm drops it
    for model in ("sibnn_resnet18", "sibnn_alexnet", "sibnn_vgg", "sibnn_mlp"):
        for set_name in ("sibnn", "sibnn_cosine", "sibnn_bop"):
            assert not plan(model, "imagenet2012" if model != "sibnn_mlp" else "mnist",
                            set_name).trainer.drop_last
    assert plan("binarynet", "cifar10", "bop").trainer.drop_last


def test_a_run_written_before_the_field_drops_the_partial_batch():
    assert stored.read(OLD / "sibnn_mlp_sibnn").trainer.drop_last


def _epoch(drop_last: bool, batch: int = 12):
    ds = data.load("cifar10")
    batches = ds.train(batch, "default", seed=5, first_epoch=0, epochs=1,
                       drop_last=drop_last)
    return [labels.numpy() for _, labels in batches]


def test_the_pipeline_adds_the_partial_batch_and_keeps_the_epochs_order(mock_tfds):
    dropped, kept = _epoch(True), _epoch(False)
    assert [len(b) for b in dropped] == [12, 12] and [len(b) for b in kept] == [12, 12, 8]
    for a, b in zip(dropped, kept, strict=False):
        np.testing.assert_array_equal(a, b)  # the same (seed, epoch) order


class _Batches(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.per_epoch: list[int] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.per_epoch.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.per_epoch[-1] += 1


@pytest.mark.slow
@pytest.mark.parametrize("drop_last, steps", [(False, 3), (True, 2)])
def test_a_run_trains_the_partial_batch_or_drops_it(mock_tfds, tmp_path, drop_last, steps):
    counted = _Batches()
    run = train_tiny("sibnn_mlp", "mnist", "sibnn",
                     f"units=16,batch_size=12,epochs=2,drop_last={drop_last}",
                     tmp_path / "run", seed=1, validation_steps=1, callbacks=[counted])
    assert stored.read(run).trainer.drop_last is drop_last
    assert MOCK_EXAMPLES == 32 and counted.per_epoch == [steps, steps]  # ⌈32 / 12⌉ or 32 // 12
