"""Runs as the benchmark scripts set them up: planned like ``bnno train`` plans them,
from a set, ``--hparams`` text and the CLI's budget options (run from the repository root).

Example:
    Three short epochs of a narrow BinaryNet with the ``bop`` set, one line per epoch::

        config = plan_run("binarynet", "cifar10", "bop", "filters=32", seed=1,
                          preprocess_fn="resize_and_flip", steps_per_epoch=100)
        path = train_run(config, "runs/bench", data_dir, callbacks=[EpochTimer()])
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

from pathlib import Path

from bnno import hparams
from bnno.config import RunConfig, plan
from bnno.data import Source
from bnno.training.build import build_model, compile_model, run_length
from bnno.training.train import TrainOptions, train


def plan_run(model: str, dataset: str, set_name: str | None = None, text: str | None = None,
             *, seed: int | None = None, preprocess_fn: str | None = None,
             steps_per_epoch: int | None = None,
             validation_steps: int | None = None) -> RunConfig:
    """The config ``bnno train MODEL --dataset DATASET --hparams-set SET --hparams TEXT``
    with these options would train."""
    given = hparams.parse_overrides(text)
    for key, value in (("data.preprocess_fn", preprocess_fn),
                       ("trainer.steps_per_epoch", steps_per_epoch),
                       ("trainer.validation_steps", validation_steps)):
        if value is not None:
            given[key] = value
    return plan(model, dataset, set_name, given, seed=seed)


def train_run(config: RunConfig, output_dir: str | Path, data_dir: str | None, *,
              verbose: int = 2, callbacks=(), tensorboard: bool = False,
              flip_log: bool = True, flip_interval: int = 50) -> Path:
    """Train ``config`` into ``output_dir`` as ``bnno train`` does; the run's directory."""
    options = TrainOptions(tensorboard, verbose, tuple(callbacks), flip_log, flip_interval)
    return train(config, output_dir, Source(data_dir), options)


def compiled(config: RunConfig, input_shape: tuple, num_classes: int, steps_per_epoch: int,
             train_examples: int | None = None, flip_ratio: bool = True):
    """The model of ``config`` built and compiled as ``train`` compiles it (without
    teachers), for ``steps_per_epoch`` steps per epoch."""
    net = build_model(config.model, config.optimizer.name, input_shape, num_classes,
                      flip_ratio=flip_ratio)
    total = (run_length(config.trainer, train_examples) if train_examples
             else config.trainer.epochs * steps_per_epoch)
    compile_model(net, config.optimizer, steps_per_epoch, total, config.trainer.l2_decay)
    return net
