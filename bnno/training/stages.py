"""Train a set in stages (``bnno.config.stages``): each stage is an ordinary run in a
sub-directory of the staged run, started from the weights of the stage before.

The run directory::

    stages.json      the model, dataset, set and stages (name, carry, carry_from)
    step1/           the first stage: an ordinary run directory (run.json, backup/,
                     logs/, metrics.jsonl, weights, best weights)
    step2/           the next, whose first epoch starts from step1's weights

The same command resumes at any epoch of any stage: finished stages are skipped, the
stage that was interrupted resumes from its checkpoint (``bnno.training.train``), and a
stage that has not finished an epoch starts again from the stage before. Commands that
read a run (``evaluate``, ``export``, ``landscape``) take the staged run's directory for
its last stage (``bnno.runs.stage_dir``) or a stage's directory for that stage.

Example:
    ReActNet-A's two steps in one directory (the same call resumes them)::

        stages = plan_stages("reactnet_a", "cifar10", "reactnet", {"epochs": 1})
        path = train_stages(stages, "runs/reactnet-cifar10")
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import tensorflow as tf

from bnno import atomic, data, locks, runs
from bnno.config.stages import Stage, check_resumes, describe
from bnno.errors import BnnoError
from bnno.training import distribute
from bnno.training.train import TrainOptions, train


class CarryWeights(tf.keras.callbacks.Callback):
    """At the start of a stage's first epoch, give the model the weights of the stage
    before (run ``path``, whose config is ``config``): its ``carry_from`` weights
    (``final`` or ``best``), every weight with ``carry="all"``, all but the kernels the
    model binarizes (those with a kernel quantizer) with ``all_but_binary_kernels``
    (``carry_weights``).

    Example:
        Given to the second stage's ``train`` as an extra callback (``train_stages``
        does)::

            CarryWeights("runs/x/step1", step1.config, "all_but_binary_kernels", "final")
    """

    def __init__(self, path: str | Path, config, carry: str, carry_from: str):
        super().__init__()
        self.path, self.config = Path(path), config
        self.carry, self.carry_from = carry, carry_from
        self.carried: int | None = None

    def on_train_begin(self, logs=None):
        from bnno.training.loading import load_trained

        shape, classes = tuple(self.model.input_shape[1:]), self.model.output_shape[-1]
        before, _ = load_trained(self.path, self.config, shape, classes, flip_ratio=False,
                                 weights=self.carry_from)
        self.carried = carry_weights(before, self.model, self.carry)
        del before


def _is_binary_kernel(layer, variable) -> bool:
    return getattr(layer, "kernel_quantizer", None) is not None \
        and variable is getattr(layer, "kernel", None)


def carry_weights(source: tf.keras.Model, target: tf.keras.Model, carry: str) -> int:
    """Copy ``source``'s weights into ``target``'s, layer by layer (both built by the
    same builder, so their layers come in the same order) and by weight name, the binary
    layers' kernels of ``target`` left out with ``carry="all_but_binary_kernels"``;
    returns how many variables were copied.

    Raises:
        BnnoError: models of other layers, or a trainable weight of ``target`` (not left
            out) that ``source`` lacks or holds in another shape.

    Example:
        >>> def net():
        ...     x = tf.keras.Input((3,))
        ...     return tf.keras.Model(x, tf.keras.layers.Dense(2, name="fc")(x))
        >>> a, b = net(), net()
        >>> carry_weights(a, b, "all")
        2
        >>> bool((a.get_layer("fc").kernel.numpy() == b.get_layer("fc").kernel.numpy()).all())
        True
    """
    kinds = [type(layer).__name__ for layer in target.layers]
    if kinds != [type(layer).__name__ for layer in source.layers]:
        raise BnnoError("cannot carry weights between the stages: their models have other "
                        "layers; stages may change quantizers and training, not the network")
    copied = 0
    for before, layer in zip(source.layers, target.layers, strict=True):
        if not layer.weights:
            continue
        old = {_short(v): v for v in before.weights}
        trainable = {id(v) for v in layer.trainable_weights}
        for variable in layer.weights:
            if carry == "all_but_binary_kernels" and _is_binary_kernel(layer, variable):
                continue
            found = old.get(_short(variable))
            if found is None or found.shape != variable.shape:
                if id(variable) in trainable:
                    raise BnnoError(f"cannot carry weights to {variable.name}: the stage "
                                    "before has no weight of that name and shape")
                continue  # a quantizer's metric or state of the new stage
            variable.assign(found)
            copied += 1
    return copied


def _short(variable) -> str:
    """A variable's name within its layer (``bn1/gamma:0`` -> ``gamma``)."""
    return variable.name.split("/", 1)[-1].split(":")[0]


def train_stages(stages: tuple[Stage, ...], output_dir: str | Path | None = None,
                 source: data.Source | None = None, options: TrainOptions | None = None) -> Path:
    """Train (or resume) the ``stages`` of a staged run and return its directory (see the
    module docstring).

    Raises:
        BnnoError: ``output_dir`` holds something other than this staged run.
        TrainingStopped: a stage's loss became NaN (the later stages do not start).
    """
    options = options or TrainOptions()
    first = stages[0].config
    path = Path(output_dir) if output_dir else runs.default_dir(
        first.model.name, first.data.dataset, first.hparams_set)
    fresh = _open(path, stages)
    # The staged run is locked as a whole (by its chief), and each stage as it trains.
    with locks.held(path, distribute.is_chief(first.strategy)):
        _train_each(path, stages, fresh, source, options)
    return path


def _train_each(path: Path, stages: tuple[Stage, ...], fresh: bool,
                source: data.Source | None, options: TrainOptions) -> None:
    try:
        for before, stage in zip((None, *stages), stages, strict=False):
            extra = ()
            stage_path = path / stage.name
            if before is not None and stage.carry != "none" and not _started(stage_path):
                extra = (CarryWeights(path / before.name, before.config, stage.carry,
                                      stage.carry_from),)
            print(f"Stage {stage.name} of {path}")
            train(stage.config, stage_path, source,
                  dataclasses.replace(options, callbacks=(*extra, *options.callbacks)))
    except BaseException:
        if fresh and not (path / stages[0].name).exists():
            (path / runs.STAGES_FILE).unlink(missing_ok=True)  # nothing to resume
        raise


def _started(path: Path) -> bool:
    """Whether the stage in ``path`` has a checkpoint (then it resumes, and carries
    nothing)."""
    return (path / runs.RUN_FILE).is_file() and runs.has_checkpoint(path)


def _open(path: Path, stages: tuple[Stage, ...]) -> bool:
    """Check that ``path`` is new, empty or this staged run, and write its
    ``stages.json``; whether the run is new."""
    if path.exists() and not path.is_dir():
        raise BnnoError(f"--output-dir {path} is a file; give a directory")
    file = path / runs.STAGES_FILE
    if file.is_file():
        try:
            found = json.loads(file.read_text(encoding="utf-8"))
        except ValueError:
            raise BnnoError(f"{file} is corrupt; use another --output-dir") from None
        check_resumes(path, stages, found)
        return False
    if not runs.is_unstarted(path):
        raise BnnoError(f"{path} holds something other than a run in stages; use another "
                        "--output-dir")
    path.mkdir(parents=True, exist_ok=True)
    atomic.write_text(file, json.dumps(describe(stages), indent=2))
    return True
