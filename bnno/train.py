"""Train any registered model on any registered dataset with an hparam set.

The trainer knows no paper: the model file builds the network, the hparam file holds the
recipe, ``bnno.optimizers`` turns the recipe into an optimizer.

Example:
    >>> run_dir = train("binarynet", "cifar10", "bop",
    ...                 overrides="threshold=1e-6,gamma=1e-3",
    ...                 preprocess_fn="resize_and_flip")  # doctest: +SKIP
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import bnno
from bnno import data, hparams, models, optimizers, runs
from bnno.errors import BnnoError


class TrainingStopped(Exception):
    """Training ended early (NaN loss); the message says where the last good state is.

    Example:
        >>> raise TrainingStopped("loss became NaN in epoch 3, batch 17; ...")  # doctest: +SKIP
    """


def plan(
    model: str,
    dataset: str,
    hparams_set: str = "default",
    overrides: str | None = None,
    preprocess_fn: str = "default",
    seed: int | None = None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
) -> dict[str, Any]:
    """Check every name and value of a run and return its ``run.json`` content.

    Raises:
        BnnoError: unknown model, dataset, preprocess fn, set or key, or a bad value.

    Example:
        >>> plan("binarynet", "cifar10", "bop", "gamma=1e-4")["hparams"]["gamma"]  # doctest: +SKIP
        0.0001
    """
    models.get(model)
    data.check_names(dataset, preprocess_fn)
    hp = hparams.resolve(model, hparams_set, overrides, models.hparam_types(model))
    optimizers.kernel_settings(hp)  # a bad quantizer name fails here, before any output
    for name, value in (("--steps-per-epoch", steps_per_epoch),
                        ("--validation-steps", validation_steps)):
        if value is not None and value < 1:
            raise BnnoError(f"{name} must be a positive integer, got {value}")
    return {
        "model": model,
        "dataset": dataset,
        "hparams_set": hparams_set,
        "hparams": hp,
        "preprocess_fn": preprocess_fn,
        "seed": seed if seed is not None else random.randrange(2**31),
        "seed_given": seed is not None,
        "steps_per_epoch": steps_per_epoch,
        "validation_steps": validation_steps,
        "bnno_version": bnno.__version__,
    }


def train(
    model: str,
    dataset: str,
    hparams_set: str = "default",
    overrides: str | None = None,
    preprocess_fn: str = "default",
    output_dir: str | Path | None = None,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    seed: int | None = None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    tensorboard: bool = True,
    verbose: int = 1,
    callbacks: list | None = None,
) -> Path:
    """Train (or resume) a run and return its directory.

    With ``seed`` the run is deterministic on CPU: the same command gives the same
    weights, also when it was killed and resumed. The same ``output_dir`` resumes after
    the last completed epoch with the optimizer state restored. ``callbacks`` are extra
    Keras callbacks, run after bnno's own.

    Raises:
        BnnoError: bad input (see ``plan``), missing data, or an unusable output dir.
        TrainingStopped: the loss became NaN; the last good checkpoint is kept.
    """
    spec = plan(model, dataset, hparams_set, overrides, preprocess_fn, seed,
                steps_per_epoch, validation_steps)
    path = Path(output_dir) if output_dir else runs.default_dir(spec)
    resuming = runs.check(path, spec)
    if resuming and not spec["seed_given"]:
        spec["seed"] = runs.read(path)["seed"]
    ds = data.load(dataset, data_dir, manual_dir)

    import tensorflow as tf

    from bnno.build import build_model, compile_model
    from bnno.callbacks import CompactProgbar, GoodStateBackup, MetricsLog

    hp = spec["hparams"]
    steps = steps_per_epoch or ds.train_examples // hp["batch_size"]
    if steps < 1:
        raise BnnoError(
            f"batch_size {hp['batch_size']} is larger than the {ds.train_examples} "
            "training examples"
        )
    runs.create(path, spec)
    if spec["seed_given"]:
        tf.keras.utils.set_random_seed(spec["seed"])
        tf.config.experimental.enable_op_determinism()
    first_epoch = runs.completed_epochs(path) if resuming else 0
    weights = runs.weights_file(path, model)
    if first_epoch >= hp["epochs"] and weights.exists():
        print(f"{path}: all {hp['epochs']} epochs are done; nothing to train.")
        return path
    if first_epoch:
        print(f"Resuming {path} after epoch {first_epoch}.")
    else:
        print(f"Run directory: {path} (the same --output-dir resumes it)")

    net = build_model(model, hp, ds.input_shape, ds.num_classes)
    compile_model(net, hp, steps)
    train_data = ds.train(hp["batch_size"], preprocess_fn, spec["seed"], first_epoch,
                          hp["epochs"], steps)
    test_data = ds.test(hp["batch_size"], preprocess_fn, validation_steps)
    backup = GoodStateBackup(str(path / runs.BACKUP_DIR))
    own = [MetricsLog(path / runs.METRICS_FILE, first_epoch), backup]
    if tensorboard:
        own.append(tf.keras.callbacks.TensorBoard(
            str(path / runs.LOG_DIR), write_graph=False, profile_batch=0))
    if verbose:
        own.append(CompactProgbar())
    net.fit(
        train_data,
        epochs=hp["epochs"],
        steps_per_epoch=steps,
        initial_epoch=first_epoch,
        validation_data=test_data,
        callbacks=own + list(callbacks or []),
        verbose=verbose,
    )
    if backup.nan_at is not None:
        epoch, batch = backup.nan_at
        raise TrainingStopped(
            f"loss became NaN in epoch {epoch + 1}, batch {batch + 1}; training stopped. "
            f"The last good checkpoint (epoch {epoch}) is in {path / runs.BACKUP_DIR}"
        )
    net.save_weights(str(weights))
    return path


def evaluate(
    run_dir: str | Path,
    dataset: str | None = None,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    verbose: int = 1,
) -> dict[str, float]:
    """Test loss and metrics of a finished or partial run.

    Uses the final weights if the run finished, else its last checkpoint.

    Raises:
        BnnoError: not a run directory, or a run with no weights yet.

    Example:
        >>> evaluate("runs/binarynet-cifar10-bop-20261121-120000")  # doctest: +SKIP
        {'weights': 'binarynet_weights.h5', 'loss': 0.43, 'accuracy': 0.87, ...}
    """
    path = Path(run_dir)
    spec = runs.read(path)
    ds = data.load(dataset or spec["dataset"], data_dir, manual_dir)
    trained_on = data.describe(spec["dataset"], data_dir)
    if (ds.input_shape, ds.num_classes) != (trained_on.input_shape, trained_on.num_classes):
        raise BnnoError(
            f"{path} was trained on {spec['dataset']} ({trained_on.input_shape}, "
            f"{trained_on.num_classes} classes); {ds.name} has {ds.input_shape} and "
            f"{ds.num_classes} classes"
        )
    net, source = load_trained(path, spec, ds.input_shape, ds.num_classes)
    test = ds.test(spec["hparams"]["batch_size"], spec["preprocess_fn"])
    results = net.evaluate(test, verbose=verbose, return_dict=True)
    return {"weights": source, **{k: float(v) for k, v in results.items()}}


def load_trained(path: Path, spec: dict[str, Any], input_shape: tuple, num_classes: int):
    """The compiled model of run ``path`` with its final weights, or else its last
    checkpoint; returns ``(model, description of the weights used)``.

    Raises:
        BnnoError: the run has no weights yet, or its weights file cannot be read.

    Example:
        >>> net, source = load_trained(path, runs.read(path), (32, 32, 3), 10)  # doctest: +SKIP
        >>> source  # doctest: +SKIP
        'checkpoint after epoch 3'
    """
    import tensorflow as tf

    from bnno.build import build_model, compile_model

    path = Path(path)
    net = build_model(spec["model"], spec["hparams"], input_shape, num_classes)
    compile_model(net, spec["hparams"], 1)
    weights = runs.weights_file(path, spec["model"])
    if weights.exists():
        try:
            net.load_weights(str(weights))
        except (OSError, ValueError) as e:
            raise BnnoError(f"cannot read {weights}: {str(e).splitlines()[0]}") from None
        source = weights.name
    else:
        latest = tf.train.latest_checkpoint(str(path / runs.BACKUP_DIR / "chief"))
        if latest is None:
            raise BnnoError(f"{path} has no weights yet: no epoch has finished")
        tf.train.Checkpoint(model=net).restore(latest).expect_partial()
        source = f"checkpoint after epoch {runs.completed_epochs(path)}"
    return net, source
