"""Train any registered model on any dataset with a run's config.

The trainer knows no paper: the model file builds the network, the recipe fills the
config (``bnno.config.plan``), ``bnno.optimizers`` turns it into an optimizer, and what a
model's quantizers need during training (a temperature falling every epoch) they do
themselves through their epoch hook.

Example:
    Train BinaryNet on CIFAR-10 with the Bop set and two hparams changed; the run
    directory is returned (the same ``output_dir`` resumes it)::

        config = plan("binarynet", "cifar10", "bop", {"threshold": 1e-6, "gamma": 1e-3})
        run_dir = train(config, "runs/binarynet-bop")
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bnno import atomic, data, locks, runs
from bnno.config import RunConfig, plan, stored
from bnno.errors import EXIT_REQUEUE, BnnoError, Preempted
from bnno.training import distribute, loading, preemption
from bnno.training.loading import (  # load_trained: also bnno.train.load_trained, as before
    load_run_data,
    load_trained,
    trained_shape,
)

__all__ = ["TrainOptions", "TrainingStopped", "evaluate", "load_trained", "plan", "train"]


class TrainingStopped(Exception):
    """Training ended early (NaN loss); the message says where the last good state is.

    Example:
        >>> raise TrainingStopped("loss became NaN in epoch 3, batch 17")
        Traceback (most recent call last):
        ...
        bnno.training.train.TrainingStopped: loss became NaN in epoch 3, batch 17
    """


@dataclass(frozen=True)
class TrainOptions:
    """How a run reports and what it logs, apart from what it trains.

    ``tensorboard`` writes TensorBoard logs; ``verbose`` is 0 (no progress output), 1 (a
    progress bar) or 2 (one line per epoch), by default the bar on a terminal, else one
    line per epoch; ``callbacks`` are extra Keras callbacks, run after bnno's own; with
    ``flip_log`` every binary layer's flip ratio and the Bop paper's π are logged per
    epoch and every ``flip_interval`` steps (``bnno.training.flips``), without it no
    flips are counted at all. The checkpoint is saved after every epoch, and with
    ``checkpoint_every`` (steps) or ``checkpoint_minutes`` also inside epochs; a run
    resumes at the step its checkpoint holds.

    Example:
        >>> TrainOptions(verbose=2).flip_interval
        50
    """

    tensorboard: bool = True
    verbose: int | None = None
    callbacks: tuple = field(default=())
    flip_log: bool = True
    flip_interval: int = 50
    checkpoint_every: int = 0
    checkpoint_minutes: float = 0.0


@dataclass
class _Run:
    """What the steps of one ``train`` call share."""

    path: Path
    config: RunConfig
    ds: Any
    dist: Any
    options: TrainOptions
    chief: bool
    first_epoch: int = 0
    steps: int = 0
    first_step: int = 0  # steps of epoch ``first_epoch`` done before a resume


def train(config: RunConfig, output_dir: str | Path | None = None,
          source: data.Source | None = None, options: TrainOptions | None = None) -> Path:
    """Train (or resume) the run of ``config`` and return its directory.

    One process trains a run directory at a time: the run is locked while it trains
    (``bnno.locks``). SIGTERM and SIGINT stop it after the current step with its exact
    position checkpointed (``bnno.training.preemption``); the same call resumes it there.

    With a given seed (``config.seed_given``) the run is deterministic on CPU: the same
    command gives the same weights, also when it was killed and resumed. The same
    ``output_dir`` resumes after the last completed epoch with the optimizer state
    restored; without one, a new ``runs/<model>-<dataset>-<set>-<time>`` is made. Under
    the ``multi_worker`` strategy every worker runs the same call with the same
    ``output_dir`` (a shared folder), and only the chief writes it. ``source`` says where
    the data is (``bnno.data.Source``). The weights of the epoch with the best validation
    accuracy are kept beside the final ones (``runs.best_weights_file``). With
    ``config.init`` (a run of the same model, e.g. an imported checkpoint) the run starts
    from that run's final weights instead of the initialiser's: fine-tuning.

    Raises:
        BnnoError: missing data, or an unusable output dir.
        TrainingStopped: the loss became NaN; the last good checkpoint is kept and the
            run directory records the stop (``runs.STOPPED_FILE``).
        Preempted: a signal stopped the run; its position is checkpointed.
    """
    from bnno.training.callbacks import auto_verbose, progress

    source = source or data.Source()
    options = options or TrainOptions()
    if options.verbose is None:
        options = dataclasses.replace(options, verbose=auto_verbose())
    progress(options.verbose)  # a bad level fails before anything is written
    _check_options(options, config)
    chief = distribute.is_chief(config.strategy)
    if config.strategy == "multi_worker" and not output_dir:
        raise BnnoError("--strategy multi_worker needs --output-dir: a folder all workers share")
    path = Path(output_dir) if output_dir else runs.default_dir(
        config.model.name, config.data.dataset, config.hparams_set)
    made = chief and not path.exists()
    try:
        with locks.held(path, chief):
            return _locked(config, path, source, options, chief)
    finally:
        if made:  # a run refused or undone before it started leaves no empty folder
            with contextlib.suppress(OSError):
                path.rmdir()
        if "tensorflow" in sys.modules:  # the run's graphs may go with its model
            from bnno.training.memory import release_graphs

            release_graphs()


def _check_options(options: TrainOptions, config: RunConfig) -> None:
    if options.flip_interval < 1:
        raise BnnoError(f"flip_interval must be a positive integer, got {options.flip_interval}")
    if options.checkpoint_every < 0 or options.checkpoint_minutes < 0:
        raise BnnoError("--checkpoint-every and --checkpoint-minutes must be 0 (off) or "
                        "positive")
    if options.checkpoint_minutes and config.strategy == "multi_worker":
        # Workers would reach the time at different steps, and a save is a step all of
        # them join.
        raise BnnoError("--checkpoint-minutes does not work with --strategy multi_worker; "
                        "use --checkpoint-every (steps)")


def _locked(config: RunConfig, path: Path, source: data.Source, options: TrainOptions,
            chief: bool) -> Path:
    """``train`` once the run's lock is held."""
    resuming = stored.resumes(path, config)
    if resuming and not config.seed_given:
        config = config.replace(seed=stored.read(path).seed)
    for note in config.notes if chief else ():
        print(note)
    ds = data.load(config.data.dataset, source.data_dir, source.manual_dir,
                   config.data.image_size, config.data.classes, source.skip_bad_images)
    if ds.skipped:
        print(f"Skipped {ds.skipped} unreadable images (--skip-bad-images).")
    run = _Run(path, config, ds, distribute.make(config.strategy), options, chief,
               steps=_steps_per_epoch(config, ds))
    distribute.per_replica_batch(run.dist, config.trainer.batch_size)
    run.config = config.replace(seed=distribute.broadcast_seed(run.dist, config.seed, chief))
    # A run that fails before its first epoch is saved (a crash in the input pipeline,
    # Ctrl-C) is removed again, so that it cannot block the next try.
    with runs.removed_if_unstarted(path, chief and not resuming,
                                   keep=(TrainingStopped, Preempted)), \
            _determinism_restored():
        if chief:
            runs.create(path, run.config.to_json())
        return _fit(run, resuming)


def _drop_last(config: RunConfig) -> bool:
    # Across workers every worker must run the same number of full batches.
    return config.trainer.drop_last or config.strategy == "multi_worker"


def _steps_per_epoch(config: RunConfig, ds) -> int:
    batch = config.trainer.batch_size
    full, partial = divmod(ds.train_examples, batch)
    steps = config.trainer.steps_per_epoch or full + (
        1 if partial and not _drop_last(config) else 0)
    if steps < 1:
        raise BnnoError(f"batch_size {batch} is larger than the {ds.train_examples} training "
                        "examples")
    return steps


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


def _seed_everything(run: _Run) -> None:
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    if run.config.seed_given:
        tf.keras.utils.set_random_seed(run.config.seed)
    if run.config.seed_given and not run.ds.encoded:
        tf.config.experimental.enable_op_determinism()
    else:
        # Datasets of encoded images are cropped by random ops without an op seed, which
        # op determinism refuses: such runs are seeded but not bit-for-bit repeatable.
        # Unseeded runs leave determinism off even when an earlier run in the same
        # process turned it on.
        tf_config.disable_op_determinism()


def _fit(run: _Run, resuming: bool) -> Path:
    """Build, compile and fit ``run`` (see ``train``)."""
    import tensorflow as tf

    from bnno.training.callbacks import GoodStateBackup

    config, path = run.config, run.path
    _seed_everything(run)
    if resuming:
        run.first_epoch, run.first_step = runs.checkpoint_position(path, run.steps)
    weights = runs.weights_file(path, config.model.name)
    if run.first_epoch >= config.trainer.epochs and weights.exists():
        print(f"{path}: all {config.trainer.epochs} epochs are done; nothing to train.")
        return path
    if run.chief:
        runs.clear_stopped(path)  # training again: an earlier NaN stop no longer holds
    if run.first_step:
        print(f"Resuming {path} at step {run.first_step} of epoch {run.first_epoch + 1}.")
    elif run.first_epoch:
        print(f"Resuming {path} after epoch {run.first_epoch}.")
    else:
        print(f"Run directory: {path} (the same --output-dir resumes it)")
    net, first = _model(run)
    if run.first_epoch >= config.trainer.epochs:
        # Stopped after the last checkpoint but before the weights were saved: the
        # checkpoint holds them. A fit of no steps would leave the optimizer's slots
        # unrestored, which TensorFlow warns about at exit.
        latest = tf.train.latest_checkpoint(str(path / runs.BACKUP_DIR / "chief"))
        tf.train.Checkpoint(model=net).restore(latest).expect_partial()
        _save_weights(net, weights, run.chief)
        return path
    train_data, test_data, val_steps = _inputs(run)
    with preemption.stop_on_signals() as stop:
        own = first + run_callbacks(path, run.first_epoch, run.options, run.chief, config,
                                    stop=stop, steps=run.steps, first_step=run.first_step)
        backup = next(cb for cb in own if isinstance(cb, GoodStateBackup))
        try:
            net.fit(train_data, epochs=config.trainer.epochs, steps_per_epoch=run.steps,
                    initial_epoch=run.first_epoch, validation_data=test_data,
                    validation_steps=val_steps, callbacks=own + list(run.options.callbacks),
                    # Keras adds its own progress bar to any other level; ours is in ``own``.
                    verbose=1 if run.options.verbose == 1 else 0)
        except Preempted as e:
            raise Preempted(_preempted_line(str(e), path)) from None
    if backup.preempted is not None:  # at the last step of an epoch: after its logs
        epoch, step = backup.preempted
        raise Preempted(_preempted_line(
            f"{stop.requested() or 'a peer'}: stopped after step {step} of epoch {epoch + 1}",
            path))
    if backup.nan_at is not None:
        epoch, batch = backup.nan_at
        if run.chief:
            runs.mark_stopped(path, epoch + 1, batch + 1)
        raise TrainingStopped(f"loss became NaN in epoch {epoch + 1}, batch {batch + 1}; "
                              f"training stopped. The last good checkpoint (epoch {epoch}) is "
                              f"in {path / runs.BACKUP_DIR}")
    _save_weights(net, weights, run.chief)
    return path


def _preempted_line(what: str, path: Path) -> str:
    return (f"{what}; checkpoint saved in {path / runs.BACKUP_DIR}. Run the same command to "
            f"resume (exit status {EXIT_REQUEUE}: requeue).")


def _model(run: _Run) -> tuple[Any, list]:
    """The compiled model of ``run`` and the callbacks that must run first (``model``)."""
    # larq's flip-ratio metric keeps an int8 variable, which multi-worker collectives
    # cannot broadcast; such runs count no flips.
    flip_log = run.options.flip_log and run.config.strategy != "multi_worker"
    return model(run.config, run.ds, run.steps, run.dist, flip_log, run.first_epoch)


def model(config: RunConfig, ds, steps_per_epoch: int, dist=None, flip_log: bool = True,
          first_epoch: int = 0) -> tuple[Any, list]:
    """The compiled model a run of ``config`` on dataset ``ds`` trains (a distiller around
    it when it has teachers), built in ``dist``'s scope (default: TensorFlow's default
    strategy), and the callbacks that must run before the others (they set what each
    epoch uses). A run from ``config.init`` starts from that run's weights unless it
    resumes (``first_epoch`` > 0).

    Example:
        The model ``bnno train binarynet --dataset cifar10 --hparams-set bop`` trains,
        500 steps per epoch, for a dataset ``ds`` (``bnno.data.load("cifar10")``)::

            net, first = model(plan("binarynet", "cifar10", "bop"), ds, 500)
    """
    import tensorflow as tf

    from bnno import optimizers
    from bnno.training.build import build_model, compile_model, run_length
    from bnno.training.callbacks import QuantizerEpochs

    dist = dist or tf.distribute.get_strategy()
    trainer = config.trainer
    first: list = [QuantizerEpochs(first_epoch, trainer.epochs)]
    with dist.scope():
        net = build_model(config.model, config.optimizer.name, ds.input_shape,
                          ds.num_classes, flip_ratio=flip_log)
        if config.init and not first_epoch:
            print(f"Starting from {config.init} "
                  f"({loading.init_from(net, config.init, config.model)}).")
            # A latent-weight run's network is that of its kernels' signs: it starts there
            # (not from its latent weights as real values, as a fresh run starts).
            if optimizers.latent_free(config.optimizer.name):
                optimizers.binarize_kernels(net)
        if trainer.teachers:
            from bnno.training import distill

            net, phases = distill.distiller(
                net, trainer.teachers, trainer.teacher_weights, trainer.epochs,
                trainer.batch_size // dist.num_replicas_in_sync, normalized=ds.encoded,
                loss=trainer.distill_loss)
            first.append(phases)
        compile_model(net, config.optimizer, steps_per_epoch,
                      run_length(trainer, ds.train_examples, _drop_last(config)),
                      trainer.l2_decay, trainer.l2_decay_group)
    return net, first


def _save_weights(net, weights: Path, chief: bool) -> None:
    if chief:
        with atomic.replaced(weights) as tmp:  # a kill leaves no half-written weights
            net.save_weights(str(tmp))
    else:
        # Reading the weights is a collective step every worker must join; the other
        # workers write to a scratch file that is thrown away.
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            net.save_weights(str(Path(scratch) / weights.name))


def _inputs(run: _Run):
    """Training and validation data for ``run``, and the validation steps to run.

    On one machine Keras splits each global batch across the replicas. Across workers
    each worker builds its own pipeline that keeps only its share of every epoch before
    decoding (``DatasetCreator``), so no worker decodes images another worker trains
    on; such a pipeline yields per-replica batches, one per local replica and step.
    """
    import tensorflow as tf

    config, ds, dist = run.config, run.ds, run.dist
    batch, preprocess = config.trainer.batch_size, config.data.preprocess_fn
    epochs, seed = config.trainer.epochs, config.seed
    val_steps = config.trainer.validation_steps
    if not dist.extended._in_multi_worker_mode():
        train = ds.train(batch, preprocess, seed, run.first_epoch, epochs, run.steps,
                         drop_last=_drop_last(config), first_step=run.first_step)
        return train, ds.test(batch, preprocess, val_steps), val_steps

    def per_worker(context: tf.distribute.InputContext):
        local_replicas = dist.num_replicas_in_sync // context.num_input_pipelines
        return ds.train(context.get_per_replica_batch_size(batch), preprocess, seed,
                        run.first_epoch, epochs, run.steps * local_replicas,
                        shard=(context.num_input_pipelines, context.input_pipeline_id),
                        first_step=run.first_step * local_replicas)

    # Every worker must run the same number of full evaluation batches.
    full = ds.test_examples // batch
    val_steps = min(val_steps or full, full)
    if val_steps < 1:
        raise BnnoError(f"batch_size {batch} is larger than the {ds.test_examples} test examples")
    test = ds.test(batch, preprocess, val_steps, drop_remainder=True)
    return tf.keras.utils.experimental.DatasetCreator(per_worker), test, val_steps


def run_callbacks(path: Path, first_epoch: int, options: TrainOptions, chief: bool = True,
                  config: RunConfig | None = None, stop=None, steps: int = 0,
                  first_step: int = 0) -> list:
    """The Keras callbacks ``train`` gives a run in ``path``, in order.

    The flip log (with ``options.flip_log``) comes first, as it adds π to the epoch logs,
    then the metrics log (it adds the optimizer's logged hyperparameters, γ, τ and the
    learning rate, to the logs the others see), the best weights of the run's model
    (with a ``config``), the ``GoodStateBackup``, TensorBoard and the progress output of
    ``options.verbose`` (``bnno.training.callbacks.VERBOSE``). The backup checkpoints
    as ``options`` say (``steps`` per epoch) and stops when ``stop`` is set
    (``bnno.training.preemption``); ``first_step`` is the step of epoch ``first_epoch``
    a resumed run starts at. Workers other than the
    ``chief`` of a multi-worker run only back up and take part in saving the best weights
    (every worker must join reading the weights); their logs would only duplicate the
    chief's.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> config = plan("binarynet", "cifar10", "bop")
        >>> cbs = run_callbacks(path, 0, TrainOptions(verbose=1), config=config)
        >>> [type(cb).__name__ for cb in cbs]
        ['FlipLog', 'MetricsLog', 'BestWeights', 'GoodStateBackup', 'TensorBoard', \
'CompactProgbar']
        >>> [type(cb).__name__ for cb in run_callbacks(path, 0, TrainOptions(verbose=2),
        ...                                            chief=False)]
        ['GoodStateBackup', 'EpochLine']
    """
    import tensorflow as tf

    from bnno import optimizers
    from bnno.training.callbacks import BestWeights, GoodStateBackup, MetricsLog, progress

    logged = optimizers.get(config.optimizer.name).logged if config else ("learning_rate",)
    shown = progress(options.verbose, logged)
    own: list = [GoodStateBackup(str(path / runs.BACKUP_DIR), chief, steps,
                                 options.checkpoint_every, options.checkpoint_minutes * 60,
                                 stop)]
    if config:
        own.insert(0, BestWeights(runs.best_weights_file(path, config.model.name), chief))
    if chief:
        own.insert(0, MetricsLog(path / runs.METRICS_FILE, first_epoch, logged))
        if options.flip_log and (config is None or config.strategy != "multi_worker"):
            from bnno.training.flips import FlipLog

            own.insert(0, FlipLog(path / runs.FLIPS_FILE,
                                  path / runs.LOG_DIR / "flips" if options.tensorboard else None,
                                  options.flip_interval, first_epoch,
                                  first_epoch * steps + first_step))
        if options.tensorboard:
            own.append(tf.keras.callbacks.TensorBoard(
                str(path / runs.LOG_DIR), write_graph=False, profile_batch=0))
    if shown:
        own.append(shown)
    return own


def evaluate(run_dir: str | Path, dataset: str | None = None,
             source: data.Source | None = None, verbose: int = 1,
             weights: str | None = None) -> dict[str, Any]:
    """Test loss, accuracy, top-5 accuracy (more than 5 classes) and the metrics the
    model's quantizers keep, of a finished or partial run.

    ``weights`` is one of ``runs.WEIGHTS``; by default the final weights if the run
    finished, else its last checkpoint. Flip ratios are not measured: weights do not
    change while evaluating. A run trained on a folder of images reads the folder's
    labels in the run's class order; ``dataset`` evaluates on another dataset or folder.

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
    source = source or data.Source()
    path = runs.stage_dir(run_dir)  # a run in stages: its last stage
    config = stored.read(path)
    runs.choose_weights(path, config.model.name, weights)  # fails before any data is read
    ds = load_run_data(config, source, dataset)
    input_shape, num_classes = trained_shape(config.data, source.data_dir)
    if (ds.input_shape, ds.num_classes) != (input_shape, num_classes):
        raise BnnoError(
            f"{path} was trained on {config.data.dataset} ({input_shape}, "
            f"{num_classes} classes); {ds.name} has {ds.input_shape} and "
            f"{ds.num_classes} classes")
    net, used = load_trained(path, config, ds.input_shape, ds.num_classes, flip_ratio=False,
                             weights=weights)
    test = ds.test(config.trainer.batch_size, config.data.preprocess_fn)
    results = net.evaluate(test, verbose=verbose, return_dict=True)
    skipped = {"skipped_images": ds.skipped} if ds.skipped else {}
    return {"weights": used, **skipped, **{k: float(v) for k, v in results.items()}}
