"""Train any registered model on any registered dataset with an hparam set.

The trainer knows no paper: the model file builds the network, the hparam file holds the
recipe, ``bnno.optimizers`` turns the recipe into an optimizer.

Example:
    Train BinaryNet on CIFAR-10 with the Bop set and two hparams changed; the run
    directory is returned (the same ``output_dir`` resumes it)::

        run_dir = train("binarynet", "cifar10", "bop",
                        overrides="threshold=1e-6,gamma=1e-3",
                        preprocess_fn="resize_and_flip")
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any

import bnno
from bnno import data, hparams, models, optimizers, quantizers
from bnno.errors import BnnoError, choices
from bnno.training import distribute, loading, runs
from bnno.training.loading import (  # load_trained: also bnno.train.load_trained, as before
    load_run_data,
    load_trained,
    trained_shape,
)


class TrainingStopped(Exception):
    """Training ended early (NaN loss); the message says where the last good state is.

    Example:
        >>> raise TrainingStopped("loss became NaN in epoch 3, batch 17")
        Traceback (most recent call last):
        ...
        bnno.training.train.TrainingStopped: loss became NaN in epoch 3, batch 17
    """


def _check_set_fits(model: str, dataset: str, fns: dict, hparams_set: str,
                    preprocess_fn: str) -> None:
    """Name the sets made for ``dataset`` (whose preprocessing functions are ``fns``) when
    the chosen set preprocesses for another one."""
    if preprocess_fn in fns:
        return
    types = models.hparam_types(model)
    fitting = [name for name in hparams.set_names(model)
               if hparams.resolve(model, name, None, types).get("preprocess_fn", "default") in fns]
    sets = f"--hparams-set {' or '.join(fitting)}" if fitting else "a set of your own"
    raise BnnoError(
        f"hparam set '{hparams_set}' of {model} preprocesses with '{preprocess_fn}', which "
        f"{dataset} cannot use; choose {sets}, or a --preprocess-fn ({choices(fns)})"
    )


def plan(
    model: str,
    dataset: str,
    hparams_set: str | None = None,
    overrides: str | None = None,
    preprocess_fn: str | None = None,
    seed: int | None = None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    strategy: str = "default",
    skip_bad_images: bool = False,
    notes: list[str] | None = None,
    init: str | Path | None = None,
) -> dict[str, Any]:
    """Check every name and value of a run and return its ``run.json`` content.

    ``model`` may be an alias (``alexnet``); the run records the registered name, and the
    hparams an alias fixes (``binarynet_batch``: ``normalization=batch``).
    Without ``hparams_set`` the model's first set is used; without ``preprocess_fn``
    the set's ``preprocess_fn`` (else ``default``). A ``dataset`` that is a folder of
    images is recorded by its absolute path, with its classes in label order and its
    input shape. ``notes`` (if given) receives a line naming the set's values that
    gave way to an optimizer switched by ``overrides`` (``bnno.hparams.resolve``).
    ``init`` is a run to start from (``bnno.training.loading.check_init``).

    Raises:
        BnnoError: unknown model, dataset, preprocess fn, set, key or strategy, or a bad
            value.

    Example:
        >>> spec = plan("binarynet", "cifar10", "bop", "gamma=1e-4", seed=7)
        >>> spec["hparams"]["gamma"], spec["preprocess_fn"], spec["seed"]
        (0.0001, 'resize_and_flip', 7)
        >>> plan("binarynet", "cifar10", "bop", "gama=1e-4")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: unknown hparam 'gama' for set 'bop' of 'binarynet'; ...
    """
    name, model = model, models.canonical(model)
    distribute.check_name(strategy)
    hparams_set = hparams_set or hparams.set_names(model)[0]
    hp = hparams.resolve(model, hparams_set, overrides, models.hparam_types(model),
                         models.fixed(name), name, notes)
    ds = data.describe(dataset, image_size=hp.get("image_size"),
                       skip_bad_images=skip_bad_images)
    if preprocess_fn is None:
        preprocess_fn = hp.get("preprocess_fn", "default")
        _check_set_fits(model, dataset, ds.preprocess_fns, hparams_set, preprocess_fn)
    ds.preprocess_fn(preprocess_fn)
    # A bad quantizer name or option, or a key the optimizer ignores, fails here,
    # before any output.
    optimizers.check(hp)
    optimizers.kernel_settings(hp)
    quantizers.resolve(hp.get("activation"), "activation")
    if hp.get("teachers"):
        from bnno.training import distill

        distill.parse(hp["teachers"])
    if seed is not None and not 0 <= seed < 2**31:
        raise BnnoError(f"seed must be between 0 and 2147483647, got {seed}")
    for name, value in (("--steps-per-epoch", steps_per_epoch),
                        ("--validation-steps", validation_steps)):
        if value is not None and value < 1:
            raise BnnoError(f"{name} must be a positive integer, got {value}")
    folder = {"classes": ds.classes, "input_shape": list(ds.input_shape)} if isinstance(
        ds, data.FolderDataset) else {}
    start = {"init": loading.check_init(init, model)} if init else {}
    return {
        "model": model,
        "dataset": ds.name,
        **folder,
        "hparams_set": hparams_set,
        "hparams": hp,
        "preprocess_fn": preprocess_fn,
        "seed": seed if seed is not None else random.randrange(2**31),
        "seed_given": seed is not None,
        "steps_per_epoch": steps_per_epoch,
        "validation_steps": validation_steps,
        "strategy": strategy,
        "bnno_version": bnno.__version__,
        **start,
    }


def train(
    model: str,
    dataset: str,
    hparams_set: str | None = None,
    overrides: str | None = None,
    preprocess_fn: str | None = None,
    output_dir: str | Path | None = None,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    seed: int | None = None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    tensorboard: bool = True,
    verbose: int | None = None,
    callbacks: list | None = None,
    strategy: str = "default",
    flip_log: bool = True,
    flip_interval: int = 50,
    skip_bad_images: bool = False,
    init: str | Path | None = None,
) -> Path:
    """Train (or resume) a run and return its directory.

    With ``seed`` the run is deterministic on CPU: the same command gives the same
    weights, also when it was killed and resumed. The same ``output_dir`` resumes after
    the last completed epoch with the optimizer state restored. ``callbacks`` are extra
    Keras callbacks, run after bnno's own. ``strategy`` is a name from
    ``bnno.training.distribute.STRATEGIES``; with ``multi_worker`` every worker runs the same
    call with the same ``output_dir`` (a shared folder), and only the chief writes it.
    With ``flip_log`` every binary layer's flip ratio and the Bop paper's π are logged
    per epoch and every ``flip_interval`` steps (see ``bnno.training.flips``); without it no flips
    are counted at all. ``dataset`` may be a folder of images (``bnno.data.folders``); with
    ``skip_bad_images`` its unreadable images are left out (and counted) instead of refused.
    ``verbose`` is 0 (no progress output), 1 (a progress bar) or 2 (one line per epoch); by
    default the bar on a terminal, else one line per epoch. The weights of the epoch with
    the best validation accuracy are kept beside the final ones (``runs.best_weights_file``).
    With ``init`` (a run directory of the same model, e.g. an imported checkpoint) the new
    run starts from that run's final weights instead of the initialiser's: fine-tuning.

    Raises:
        BnnoError: bad input (see ``plan``), missing data, or an unusable output dir.
        TrainingStopped: the loss became NaN; the last good checkpoint is kept and the
            run directory records the stop (``runs.STOPPED_FILE``).
    """
    from bnno.training.callbacks import auto_verbose, progress

    verbose = auto_verbose() if verbose is None else verbose
    progress(verbose)  # a bad level fails before anything is written
    notes: list[str] = []
    spec = plan(model, dataset, hparams_set, overrides, preprocess_fn, seed,
                steps_per_epoch, validation_steps, strategy, skip_bad_images, notes, init)
    if flip_interval < 1:
        raise BnnoError(f"flip_interval must be a positive integer, got {flip_interval}")
    model = spec["model"]
    chief = distribute.is_chief(strategy)
    if strategy == "multi_worker" and not output_dir:
        raise BnnoError("--strategy multi_worker needs --output-dir: a folder all workers share")
    path = Path(output_dir) if output_dir else runs.default_dir(spec)
    resuming = runs.check(path, spec)
    if resuming and not spec["seed_given"]:
        spec["seed"] = runs.read(path)["seed"]
    hp = spec["hparams"]
    for note in notes if chief else []:
        print(note)
    ds = data.load(spec["dataset"], data_dir, manual_dir, hp.get("image_size"),
                   spec.get("classes"), skip_bad_images)
    if ds.skipped:
        print(f"Skipped {ds.skipped} unreadable images (--skip-bad-images).")
    steps = steps_per_epoch or ds.train_examples // hp["batch_size"]
    if steps < 1:
        raise BnnoError(
            f"batch_size {hp['batch_size']} is larger than the {ds.train_examples} "
            "training examples"
        )
    dist = distribute.make(strategy)
    distribute.per_replica_batch(dist, hp["batch_size"])
    spec["seed"] = distribute.broadcast_seed(dist, spec["seed"], chief)
    # A run that fails before its first epoch is saved (a crash in the input pipeline,
    # Ctrl-C) is removed again, so that it cannot block the next try.
    with runs.removed_if_unstarted(path, chief and not resuming, keep=(TrainingStopped,)), \
            _determinism_restored():
        if chief:
            runs.create(path, spec)
        return _fit(path, spec, ds, dist, resuming, steps, tensorboard, verbose, chief,
                    callbacks, flip_log, flip_interval)


@contextlib.contextmanager
def _determinism_restored():
    # A seeded run turns TensorFlow's op determinism on for itself; the caller's process
    # gets its own setting back, or its unseeded random ops would fail afterwards.
    from tensorflow.python.framework import config as tf_config

    before = tf_config.is_op_determinism_enabled()
    try:
        yield
    finally:
        if before:
            tf_config.enable_op_determinism()
        else:
            tf_config.disable_op_determinism()


def _fit(path: Path, spec: dict[str, Any], ds, dist, resuming: bool, steps: int,
         tensorboard: bool, verbose: int, chief: bool, callbacks: list | None,
         flip_log: bool, flip_interval: int) -> Path:
    """Build, compile and fit the run of ``spec`` in ``path`` (see ``train``)."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    from bnno.training.build import build_model, compile_model
    from bnno.training.callbacks import GoodStateBackup

    model, hp, strategy = spec["model"], spec["hparams"], spec["strategy"]
    if spec["seed_given"]:
        tf.keras.utils.set_random_seed(spec["seed"])
    if spec["seed_given"] and not ds.encoded:
        tf.config.experimental.enable_op_determinism()
    else:
        # ImageNet's crops (Larq Zoo's, BNext's) come from random ops without an op seed,
        # which op determinism refuses: such runs are seeded but not bit-for-bit
        # repeatable. Unseeded runs leave determinism off even when an earlier run in the
        # same process turned it on.
        tf_config.disable_op_determinism()
    first_epoch = runs.completed_epochs(path) if resuming else 0
    weights = runs.weights_file(path, model)
    if first_epoch >= hp["epochs"] and weights.exists():
        print(f"{path}: all {hp['epochs']} epochs are done; nothing to train.")
        return path
    if chief:
        runs.clear_stopped(path)  # training again: an earlier NaN stop no longer holds
    if first_epoch:
        print(f"Resuming {path} after epoch {first_epoch}.")
    else:
        print(f"Run directory: {path} (the same --output-dir resumes it)")

    total_steps = optimizers.run_length(hp, ds.train_examples, spec["steps_per_epoch"])
    # larq's flip-ratio metric keeps an int8 variable, which multi-worker collectives
    # cannot broadcast; such runs count no flips.
    flip_log = flip_log and strategy != "multi_worker"
    from bnno.training.temperature import TemperatureSchedule

    # Set before the other callbacks run, so checkpoints and logs see this epoch's value.
    first: list = [TemperatureSchedule(first_epoch)]
    with dist.scope():
        net = build_model(model, hp, ds.input_shape, ds.num_classes, flip_ratio=flip_log)
        if spec.get("init") and not first_epoch:
            print(f"Starting from {spec['init']} "
                  f"({loading.init_from(net, spec['init'], model, hp)}).")
            if optimizers.latent_free(hp):  # a latent run's kernels become ±1
                optimizers.binarize_kernels(net)
        if hp.get("teachers"):
            from bnno.training import distill

            net, switch = distill.distiller(
                net, hp["teachers"], hp.get("teacher_weights"), hp["epochs"],
                hp["batch_size"] // dist.num_replicas_in_sync, normalized=ds.encoded)
            first.append(switch)
        compile_model(net, hp, steps, total_steps)
    if first_epoch >= hp["epochs"]:
        # Stopped after the last checkpoint but before the weights were saved: the
        # checkpoint holds them. A fit of no steps would leave the optimizer's slots
        # unrestored, which TensorFlow warns about at exit.
        latest = tf.train.latest_checkpoint(str(path / runs.BACKUP_DIR / "chief"))
        tf.train.Checkpoint(model=net).restore(latest).expect_partial()
        _save_weights(net, weights, chief)
        return path
    train_data, test_data, val_steps = _inputs(dist, ds, spec, first_epoch, steps)
    own = first + run_callbacks(path, first_epoch, tensorboard, verbose, chief,
                                flip_interval if flip_log else None, model)
    backup = next(cb for cb in own if isinstance(cb, GoodStateBackup))
    net.fit(
        train_data,
        epochs=hp["epochs"],
        steps_per_epoch=steps,
        initial_epoch=first_epoch,
        validation_data=test_data,
        validation_steps=val_steps,
        callbacks=own + list(callbacks or []),
        # Keras adds its own progress bar to any other level; ours is in ``own``.
        verbose=1 if verbose == 1 else 0,
    )
    if backup.nan_at is not None:
        epoch, batch = backup.nan_at
        message = (f"loss became NaN in epoch {epoch + 1}, batch {batch + 1}; training "
                   f"stopped. The last good checkpoint (epoch {epoch}) is in "
                   f"{path / runs.BACKUP_DIR}")
        if chief:
            runs.mark_stopped(path, epoch + 1, batch + 1)
        raise TrainingStopped(message)
    _save_weights(net, weights, chief)
    return path


def _save_weights(net, weights: Path, chief: bool) -> None:
    if chief:
        net.save_weights(str(weights))
    else:
        # Reading the weights is a collective step every worker must join; the other
        # workers write to a scratch file that is thrown away.
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            net.save_weights(str(Path(scratch) / weights.name))


def _inputs(dist, ds, spec: dict[str, Any], first_epoch: int, steps: int):
    """Training and validation data for ``dist``, and the validation steps to run.

    On one machine Keras splits each global batch across the replicas. Across workers
    each worker builds its own pipeline that keeps only its share of every epoch before
    decoding (``DatasetCreator``), so no worker decodes images another worker trains
    on; such a pipeline yields per-replica batches, one per local replica and step.
    """
    import tensorflow as tf

    hp = spec["hparams"]
    batch, preprocess = hp["batch_size"], spec["preprocess_fn"]
    val_steps = spec["validation_steps"]
    if not dist.extended._in_multi_worker_mode():
        train = ds.train(batch, preprocess, spec["seed"], first_epoch, hp["epochs"], steps)
        return train, ds.test(batch, preprocess, val_steps), val_steps

    def per_worker(context: tf.distribute.InputContext):
        local_replicas = dist.num_replicas_in_sync // context.num_input_pipelines
        return ds.train(context.get_per_replica_batch_size(batch), preprocess, spec["seed"],
                        first_epoch, hp["epochs"], steps * local_replicas,
                        shard=(context.num_input_pipelines, context.input_pipeline_id))

    # Every worker must run the same number of full evaluation batches.
    full = ds.test_examples // batch
    val_steps = min(val_steps or full, full)
    if val_steps < 1:
        raise BnnoError(f"batch_size {batch} is larger than the {ds.test_examples} test examples")
    test = ds.test(batch, preprocess, val_steps, drop_remainder=True)
    return tf.keras.utils.experimental.DatasetCreator(per_worker), test, val_steps


def run_callbacks(path: Path, first_epoch: int, tensorboard: bool = True,
                  verbose: int = 1, chief: bool = True,
                  flip_interval: int | None = None, model: str | None = None) -> list:
    """The Keras callbacks ``train`` gives a run in ``path``, in order.

    The flip log (when ``flip_interval`` is given) comes first, as it adds π to the epoch
    logs, then the metrics log (it adds γ, τ and the learning rate to the logs the others
    see), the best weights of ``model`` (when given), the ``GoodStateBackup``, TensorBoard
    and the progress output of ``verbose`` (``bnno.training.callbacks.VERBOSE``). Workers
    other than the ``chief`` of a multi-worker run only back up and take part in saving
    the best weights (every worker must join reading the weights); their logs would only
    duplicate the chief's.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> cbs = run_callbacks(path, first_epoch=0, flip_interval=50, model="binarynet")
        >>> [type(cb).__name__ for cb in cbs]
        ['FlipLog', 'MetricsLog', 'BestWeights', 'GoodStateBackup', 'TensorBoard', \
'CompactProgbar']
        >>> [type(cb).__name__ for cb in run_callbacks(path, 0, verbose=2, chief=False)]
        ['GoodStateBackup', 'EpochLine']
    """
    import tensorflow as tf

    from bnno.training.callbacks import BestWeights, GoodStateBackup, MetricsLog, progress

    shown = progress(verbose)
    own: list = [GoodStateBackup(str(path / runs.BACKUP_DIR))]
    if model:
        own.insert(0, BestWeights(runs.best_weights_file(path, model), chief))
    if chief:
        own.insert(0, MetricsLog(path / runs.METRICS_FILE, first_epoch))
        if flip_interval:
            from bnno.training.flips import FlipLog

            own.insert(0, FlipLog(path / runs.FLIPS_FILE,
                                  path / runs.LOG_DIR / "flips" if tensorboard else None,
                                  flip_interval, first_epoch))
        if tensorboard:
            own.append(tf.keras.callbacks.TensorBoard(
                str(path / runs.LOG_DIR), write_graph=False, profile_batch=0))
    if shown:
        own.append(shown)
    return own


def evaluate(
    run_dir: str | Path,
    dataset: str | None = None,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    verbose: int = 1,
    skip_bad_images: bool = False,
    weights: str | None = None,
) -> dict[str, float]:
    """Test loss, accuracy, top-5 accuracy (more than 5 classes) and Si-BNN's
    activation sparsity of a finished or partial run.

    ``weights`` is one of ``runs.WEIGHTS``; by default the final weights if the run
    finished, else its last checkpoint. Flip ratios are not measured: weights do not
    change while evaluating. A run trained on a folder of images reads the folder's
    labels in the run's class order.

    Raises:
        BnnoError: not a run directory, a run with no weights yet, or without the
            ``weights`` asked for.

    Example:
        Evaluate a finished run's best epoch on its own dataset's test split; the result
        names the weights used and every evaluation metric, e.g. ``{'weights':
        'binarynet_best_weights.h5 (epoch 7, val_accuracy 0.8712)', 'loss': 0.43,
        'accuracy': 0.87}``::

            results = evaluate("runs/binarynet-cifar10-bop-20261121-120000", weights="best")
    """
    path = Path(run_dir)
    spec = runs.read(path)
    runs.choose_weights(path, spec["model"], weights)  # fails before any data is read
    ds = load_run_data(spec, data_dir, manual_dir, dataset, skip_bad_images)
    input_shape, num_classes = trained_shape(spec, data_dir)
    if (ds.input_shape, ds.num_classes) != (input_shape, num_classes):
        raise BnnoError(
            f"{path} was trained on {spec['dataset']} ({input_shape}, "
            f"{num_classes} classes); {ds.name} has {ds.input_shape} and "
            f"{ds.num_classes} classes"
        )
    net, source = load_trained(path, spec, ds.input_shape, ds.num_classes, flip_ratio=False,
                               weights=weights)
    test = ds.test(spec["hparams"]["batch_size"], spec["preprocess_fn"])
    results = net.evaluate(test, verbose=verbose, return_dict=True)
    skipped = {"skipped_images": ds.skipped} if ds.skipped else {}
    return {"weights": source, **skipped, **{k: float(v) for k, v in results.items()}}

