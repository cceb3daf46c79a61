"""Load a run's trained model: its final, best or last-checkpoint weights.

Training (``bnno.training.train.evaluate``), distillation from an earlier run, export and loss
landscapes all read a run's model the same way; it lives here, apart from the trainer,
so that none of them has to import the trainer (which imports distillation back).

Example:
    Evaluate or export the model of a finished (or interrupted) run in ``path``::

        net, source = load_trained(path, stored.read(path), (32, 32, 3), 10)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bnno import data, runs
from bnno.config import DataConfig, ModelConfig, RunConfig
from bnno.errors import BnnoError


def load_trained(path: Path, config: RunConfig, input_shape: tuple, num_classes: int,
                 flip_ratio: bool | None = None,
                 weights: str | None = None) -> tuple[Any, str]:
    """The compiled model of run ``path`` with its ``weights`` (one of ``runs.WEIGHTS``;
    by default the final ones, else the last checkpoint); returns ``(model, description
    of the weights used)``.

    ``flip_ratio`` attaches larq's flip-ratio metrics (default: as the run had them).

    Raises:
        BnnoError: the run has no weights yet or not the ``weights`` asked for, or its
            weights file cannot be read.

    Example:
        Load the model a run in ``path`` (a ``Path``) trained on 32×32×3 images with 10
        classes, and see which weights it got::

            net, source = load_trained(path, stored.read(path), (32, 32, 3), 10)
            # source is "binarynet_weights.h5", or "checkpoint after epoch 3" for a
            # run stopped after its third epoch; with weights="best" it is
            # "binarynet_best_weights.h5 (epoch 2, val_accuracy 0.4120)"
    """

    from bnno.training.build import build_model, compile_model

    path = Path(path)
    model = config.model.name
    choice = runs.choose_weights(path, model, weights)
    if flip_ratio is None:
        flip_ratio = config.strategy != "multi_worker"
    net = build_model(config.model, config.optimizer.name, input_shape, num_classes,
                      flip_ratio=flip_ratio)
    compile_model(net, config.optimizer, 1, 1)
    return net, load_weights(net, path, model, choice)


def load_weights(net, path: Path, model: str, choice: str) -> str:
    """Load run ``path``'s ``choice`` weights (``runs.choose_weights``) of ``model`` into
    ``net``; returns a description of the weights used.

    Raises:
        BnnoError: the weights cannot be read or do not fit ``net``.

    Example:
        Give a freshly built binarynet the final weights of the run in ``path``; the
        description is ``"binarynet_weights.h5"``::

            description = load_weights(net, path, "binarynet", "final")
    """
    import tensorflow as tf

    path = Path(path)
    if choice == "last-checkpoint":
        latest = tf.train.latest_checkpoint(str(path / runs.BACKUP_DIR / "chief"))
        if latest is None:
            raise BnnoError(f"{path} has no readable checkpoint; use --weights final or best")
        # The checkpoint also holds the optimizer's state and metric variables, which
        # this model does not need: a partial restore is expected.
        tf.train.Checkpoint(model=net).restore(latest).expect_partial()
        epochs, steps = runs.checkpoint_position(path)
        if steps:  # saved inside an epoch (--checkpoint-every, a stop signal)
            return f"checkpoint at step {steps} of epoch {epochs + 1}"
        return f"checkpoint after epoch {epochs}"
    file = (runs.weights_file if choice == "final" else runs.best_weights_file)(path, model)
    try:
        net.load_weights(str(file))
    except (OSError, ValueError) as e:
        raise BnnoError(f"cannot read {file}: {str(e).splitlines()[0]}") from None
    if choice == "best":
        best = runs.read_best(file)
        if best:
            return (f"{file.name} (epoch {best['epoch']}, "
                    f"val_accuracy {best['val_accuracy']:.4f})")
    return file.name


def init_from(net, path: str | Path, model: ModelConfig) -> str:
    """Give ``net`` (a new run's model of ``model``) the weights of run ``path``: its
    final weights, else its last checkpoint. Returns their description.

    Raises:
        BnnoError: the weights do not fit; the message names the builder hparams in which
            the two runs differ.

    Example:
        Fine-tune from an imported checkpoint (``bnno import``) in ``runs/bnext_t``::

            init_from(net, "runs/bnext_t", config.model)
    """
    from bnno.config import stored

    path = Path(path)
    try:
        return load_weights(net, path, model.name, runs.choose_weights(path, model.name))
    except BnnoError as e:
        old, new = stored.read(path).model.hparams, model.hparams
        differ = [f"{k}={old[k]}" for k in old if k in new and old[k] != new[k]
                  and k not in _QUANTIZER_KEYS]
        hint = (f"; that run has {', '.join(differ)}" if differ
                else "; train with the builder hparams of that run")
        raise BnnoError(f"--init {path}: its weights do not fit ({e}){hint}") from None


# Builder arguments that change no weight's shape, so may differ from the --init run's.
_QUANTIZER_KEYS = ("activation", "kernel_quantizer", "kernel_constraint", "input_quantizer")


def trained_shape(found: DataConfig, data_dir: str | None = None) -> tuple[tuple, int]:
    """The input shape and class count a run was trained with, from its data config (a
    folder run records them; a tfds run's come from the dataset's info).

    Example:
        >>> from bnno.config import DataConfig
        >>> folder = DataConfig("/data/shapes", classes=("a", "b", "c"), input_shape=(40, 40, 3))
        >>> trained_shape(folder)
        ((40, 40, 3), 3)
        >>> trained_shape(DataConfig("mnist"))
        ((28, 28, 1), 10)
    """
    if found.classes is not None:
        return tuple(found.input_shape), len(found.classes)
    ds = data.describe(found.dataset, data_dir, found.image_size)
    return ds.input_shape, ds.num_classes


def load_run_data(config: RunConfig, source: data.Source | None = None,
                  dataset: str | None = None):
    """The dataset of a run (or ``dataset`` instead), read as the run read it: with its
    ``image_size``, and a folder's labels in the run's class order.

    Example:
        The data a run in ``path`` was trained on, and a folder of new images to
        evaluate it on::

            ds = load_run_data(stored.read(path))
            new = load_run_data(stored.read(path), dataset="~/more_shapes")
    """
    source = source or data.Source()
    name = dataset or config.data.dataset
    image_size = config.data.image_size
    if image_size and not data.is_folder(name) and \
            not data.describe(name, source.data_dir).encoded:
        image_size = None  # fixed-size tfds images are read at their size
    return data.load(name, source.data_dir, source.manual_dir, image_size,
                     config.data.classes, source.skip_bad_images)
