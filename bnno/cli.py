"""The ``bnno`` command line. It parses and dispatches; the work is done elsewhere.

TensorFlow is imported only by commands that train, build or convert a model, after their
options are parsed: ``--help``, ``--version``, option errors, ``bnno hparams``,
``bnno runs`` and ``bnno plot`` answer at once (the recipe commands read the registries'
index, ``bnno.plugins``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys

import click

from bnno import hparams, plugins
from bnno.errors import BnnoError, Preempted

# Options that train and sweep share.
_DATASET = click.option(
    "--dataset", required=True,
    help="A tfds image-classification dataset (cifar10, cifar100, mnist, imagenet2012, "
         "fashion_mnist, ...) or a folder PATH with train/ and val/ subfolders of class "
         "folders of JPEG/PNG images.")
_SKIP_BAD_IMAGES = click.option(
    "--skip-bad-images", is_flag=True,
    help="Leave out an image folder's unreadable images (and say how many) instead of "
         "stopping.")
_PREPROCESS_FN = click.option(
    "--preprocess-fn", default=None,
    help="default (scale to [-1, 1]; ImageNet: Larq Zoo's crop, flip and normalisation), "
         "resize_and_flip (pad 4, random crop, flip), crop_flip_normalize (the same, then "
         "BNext's CIFAR mean/std), bnext (ImageNet: bicubic random-resized crop, flip, "
         "RandAugment) or sibnn (ImageNet: shorter side 256, random 224 crop, flip). "
         "[default: the hparam set's preprocess_fn, else default]",
)
_STEPS_PER_EPOCH = click.option("--steps-per-epoch", type=click.IntRange(1),
                                help="Limit an epoch to this many batches.")
_VALIDATION_STEPS = click.option("--validation-steps", type=click.IntRange(1),
                                 help="Limit validation to this many batches.")
_VERBOSE = click.option("--verbose", type=click.IntRange(0, 2),
                        help="0: no progress output, 1: a progress bar, 2: one line per "
                             "epoch. [default: 1 on a terminal, else 2]")


def _tensorboard(command):
    """``--tensorboard`` (alone or ``=true``/``=false``, as the Bop2ndOrder README writes
    ``--tensorboard=True``) and ``--no-tensorboard``, given to ``command`` as one boolean."""

    @functools.wraps(command)
    def run(*args, tensorboard, no_tensorboard, **kwargs):
        if tensorboard and no_tensorboard:
            raise click.UsageError("give --tensorboard or --no-tensorboard, not both")
        return command(*args, tensorboard=not no_tensorboard and tensorboard is not False,
                       **kwargs)

    run = click.option("--no-tensorboard", is_flag=True, help="Write no TensorBoard logs.")(run)
    return click.option(
        "--tensorboard", type=click.BOOL, is_flag=False, flag_value=True, default=None,
        help="Write TensorBoard logs (the default); --tensorboard=false writes none.",
    )(run)


_TENSORBOARD = _tensorboard


def _checkpoints(command):
    """``--checkpoint-every`` and ``--checkpoint-minutes``, given to ``command`` as
    ``checkpoints``: a dict of ``TrainOptions`` fields."""

    @functools.wraps(command)
    def run(*args, checkpoint_every, checkpoint_minutes, **kwargs):
        return command(*args, checkpoints={"checkpoint_every": checkpoint_every or 0,
                                           "checkpoint_minutes": checkpoint_minutes or 0.0},
                       **kwargs)

    run = click.option(
        "--checkpoint-minutes", type=click.FloatRange(0, min_open=True), metavar="M",
        help="Also save the checkpoint every M minutes inside an epoch (one machine or "
             "mirrored). [default: after every epoch only]")(run)
    return click.option(
        "--checkpoint-every", type=click.IntRange(1), metavar="N",
        help="Also save the checkpoint every N training steps (counted over the whole "
             "run); a resumed run continues at the saved step with the same data order. "
             "[default: after every epoch only]")(run)


_CHECKPOINTS = _checkpoints
_DATA_DIR = click.option(
    "--data-dir", envvar="TFDS_DATA_DIR", type=click.Path(file_okay=False),
    help="tfds data dir (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).",
)
_MANUAL_DIR = click.option(
    "--manual-dir", type=click.Path(file_okay=False),
    help="Folder with manually downloaded dataset archives (tfds manual_dir).",
)
_HPARAMS = click.option(
    "--hparams", "overrides", default="", metavar="KEY=VALUE,...",
    help="Override keys of the set, e.g. threshold=1e-6,gamma=1e-3 or gamma.decay_rate=0.5.",
)
_WEIGHTS = click.option(
    "--weights", type=click.Choice(["final", "best", "last-checkpoint"]),
    help="The run's final weights, those of its epoch with the best validation accuracy, or "
         "its last checkpoint. [default: final if the run finished, else last-checkpoint]",
)
_HPARAMS_SET = click.option(
    "--hparams-set",
    help="Named recipe from hparams/<model>.json (see `bnno hparams list`); "
         "default: the model's first set.",
)


def _with_tensorflow(command):
    """Import TensorFlow (quietly) before ``command`` runs: after click has parsed its
    options, so ``--help`` and option errors answer at once."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        _import_tensorflow_quietly()
        return command(*args, **kwargs)

    return run


def _load_registries() -> None:
    """What recipe commands need of the registries: their index, without TensorFlow
    (the first time, or after the installed code changed, a full load writes it)."""
    if not plugins.index_file().exists():
        _import_tensorflow_quietly()
    plugins.load(light=True)


def _overrides(text: str, preprocess_fn: str | None = None, steps_per_epoch: int | None = None,
               validation_steps: int | None = None) -> dict[str, str | int]:
    """``--hparams`` parsed, with the options that set keys of the recipe too."""
    found: dict[str, str | int] = dict(hparams.parse_overrides(text))
    for key, value in (("data.preprocess_fn", preprocess_fn),
                       ("trainer.steps_per_epoch", steps_per_epoch),
                       ("trainer.validation_steps", validation_steps)):
        if value is not None:
            found[key] = value
    return found


def _grid(items: tuple[str, ...]) -> dict[str, list[str]]:
    """``--grid`` items (``key=v1,v2,...``) as key -> values, in the order given."""
    axes: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        found = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key or not found:
            raise BnnoError(f"--grid item '{item}' is not of the form key=value1,value2,...")
        if key in axes:
            raise BnnoError(f"--grid names '{key}' twice; give all its values in one --grid")
        axes[key] = found
    return axes


def _runner(data_dir: str | None, manual_dir: str | None, tensorboard: bool,
            verbose: int | None, checkpoints: dict | None = None):
    """Where a sweep's or comparison's runs find their data, and what they log."""
    from bnno.analysis.jobs import Runner
    from bnno.data import Source
    from bnno.training.train import TrainOptions

    return Runner(Source(data_dir, manual_dir),
                  TrainOptions(tensorboard, verbose, **(checkpoints or {})))


def _version(ctx: click.Context, _param, value: bool) -> None:
    """``--version``: bnno's version and the plugins installed (read from the packages'
    metadata, without loading them)."""
    if not value or ctx.resilient_parsing:
        return
    from bnno import __version__

    installed = sorted(f"{p.name} ({p.value})" for p in plugins.installed())
    click.echo(f"bnno {__version__}; plugins: {', '.join(installed) or 'none'}")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show bnno's version and the plugins installed, and exit.")
def cli() -> None:
    """Train, inspect and ship binary neural networks (TensorFlow + Larq)."""


@cli.command()
@click.argument("model")
@_DATASET
@_PREPROCESS_FN
@_HPARAMS_SET
@_HPARAMS
@click.option("--output-dir", type=click.Path(),
              help="Run directory; the same one resumes a run. Default: a new runs/... dir.")
@_DATA_DIR
@_MANUAL_DIR
@click.option("--seed", type=click.IntRange(0, 2**31 - 1),
              help="Make the run deterministic on CPU (0 to 2147483647).")
@_STEPS_PER_EPOCH
@_VALIDATION_STEPS
@_TENSORBOARD
@_CHECKPOINTS
@click.option("--strategy", default="default", show_default=True,
              help="default (one device), mirrored (all local GPUs) or multi_worker "
                   "(the cluster in TF_CONFIG).")
@_SKIP_BAD_IMAGES
@click.option("--init", "init", type=click.Path(), metavar="RUN_DIR",
              help="Start from the weights of this run of the same model (fine-tuning), "
                   "e.g. one made by bnno import.")
@_VERBOSE
@_with_tensorflow
def train(model, dataset, preprocess_fn, hparams_set, overrides, output_dir, data_dir,
          manual_dir, seed, steps_per_epoch, validation_steps, tensorboard, checkpoints, strategy,
          skip_bad_images, init, verbose) -> None:
    """Train MODEL on a dataset with an hparam set; resume with the same --output-dir.

    \b
    bnno train binarynet --dataset cifar10
    bnno train binarynet --dataset cifar10 --preprocess-fn resize_and_flip \\
         --hparams-set bop --hparams threshold=1e-6,gamma=1e-3
    bnno train birealnet --dataset imagenet2012 --hparams-set bop --strategy mirrored
    bnno train birealnet --dataset ~/imagenet --hparams-set bop
    bnno train bnext_t --dataset ~/imagenet --hparams-set bop --init runs/bnext_t_official
    bnno train bnext_t --dataset ~/imagenet --output-dir runs/b --checkpoint-minutes 20

    \b
    One process trains a run directory at a time (a second one exits with status 2).
    SIGTERM or Ctrl-C stops after the current step, saves that position and exits with
    status 75 (EX_TEMPFAIL: requeue); the same command resumes at that step.
    """
    from bnno.config import plan
    from bnno.config.stages import plan_stages
    from bnno.data import Source
    from bnno.training.train import TrainingStopped, TrainOptions
    from bnno.training.train import train as run

    given = _overrides(overrides, preprocess_fn, steps_per_epoch, validation_steps)
    settings = dict(seed=seed, strategy=strategy, init=init, skip_bad_images=skip_bad_images)
    source = Source(data_dir, manual_dir, skip_bad_images)
    train_options = TrainOptions(tensorboard=tensorboard, verbose=verbose, **checkpoints)
    stages = plan_stages(model, dataset, hparams_set, given, **settings)
    try:
        if stages:  # a set trained in stages: each in a sub-directory of the run
            from bnno.training.stages import train_stages

            path = train_stages(stages, output_dir, source, train_options)
        else:
            path = run(plan(model, dataset, hparams_set, given, **settings), output_dir,
                       source, train_options)
    except TrainingStopped as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    click.echo(f"Run saved in {path}")


@cli.command()
@click.argument("model")
@_DATASET
@_PREPROCESS_FN
@_HPARAMS_SET
@_HPARAMS
@_DATA_DIR
@_MANUAL_DIR
@_SKIP_BAD_IMAGES
@click.option("--batches", default=20, show_default=True, type=click.IntRange(1),
              help="Timed batches of the input pipeline.")
@click.option("--steps", default=10, show_default=True, type=click.IntRange(1),
              help="Timed training steps.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_with_tensorflow
def throughput(model, dataset, preprocess_fn, hparams_set, overrides, data_dir, manual_dir,
               skip_bad_images, batches, steps, as_json) -> None:
    """Input-bound or compute-bound? Images/s of a run's input pipeline and of its
    training step, each timed alone.

    \b
    bnno throughput bnext_t --dataset imagenet2012 --hparams-set imagenet
    bnno throughput binarynet --dataset cifar10 --hparams-set bop --hparams batch_size=256
    """
    from bnno.config import plan
    from bnno.data import Source
    from bnno.training.speed import measure

    config = plan(model, dataset, hparams_set, _overrides(overrides, preprocess_fn), seed=0,
                  skip_bad_images=skip_bad_images)
    found = measure(config, Source(data_dir, manual_dir, skip_bad_images), batches, steps,
                    say=(lambda _: None) if as_json else click.echo)
    if as_json:
        click.echo(json.dumps({"pipeline_images_per_s": found.pipeline,
                               "step_images_per_s": found.step, "bound": found.bound}))
        return
    click.echo(str(found))


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("--dataset", help="Evaluate on another dataset (or image folder) than the run's.")
@_WEIGHTS
@_DATA_DIR
@_MANUAL_DIR
@_SKIP_BAD_IMAGES
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_with_tensorflow
def evaluate(run_dir, dataset, weights, data_dir, manual_dir, skip_bad_images, as_json) -> None:
    """Test loss, accuracy, top-5 accuracy and sparsity of a finished or partial run."""
    from bnno.data import Source
    from bnno.training.train import evaluate as run

    # The progress bar only on a terminal: in a log file it is a wall of \r updates.
    bar = not as_json and sys.stdout.isatty()
    results = run(run_dir, dataset, Source(data_dir, manual_dir, skip_bad_images),
                  verbose=int(bar), weights=weights)
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        click.echo(f"{key:>16}: {value:.4f}" if isinstance(value, float) else f"{key:>16}: {value}")


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The .tflite file to write.")
@click.option("--check-examples", default=256, show_default=True, type=click.IntRange(min=0),
              help="Test images on which the .tflite must agree with Keras (0: no check).")
@_WEIGHTS
@_DATA_DIR
@_MANUAL_DIR
@click.option("--allow-float", is_flag=True,
              help="Write the model even if LCE runs some binary layers in float "
                   "(they are named in the output and the metadata).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_with_tensorflow
def export(run_dir, output, check_examples, weights, data_dir, manual_dir, allow_float,
           as_json) -> None:
    """Convert a run to a Larq Compute Engine .tflite model and check it against Keras.

    \b
    bnno export runs/binarynet-cifar10-bop-20261121-120000 -o binarynet.tflite
    """
    from bnno.data import Source
    from bnno.deploy.export import OUTPUT_ATOL, export_run

    result = export_run(run_dir, output, Source(data_dir, manual_dir), check_examples,
                        weights=weights, allow_float=allow_float)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"Wrote {result['output']} ({result['bytes']:,} bytes, "
               f"{result['binary_ops']} binary convolutions for {result['binary_layers']} "
               f"binary layers) from {result['weights']}")
    if result["float_by_design"]:
        click.echo(f"Binary layers whose quantizers LCE runs in float (by design): "
                   f"{', '.join(result['float_by_design'])}")
    expected = result["binary_layers"] - len(result["float_by_design"])
    if result["float_layers"] or result["binary_ops"] < expected:
        click.echo(f"WARNING: binary layers LCE runs in float: "
                   f"{', '.join(result['float_layers']) or 'unknown'}")
    check = result.get("check")
    if check:
        images = ("generated images (the run's dataset is not on this machine)"
                  if result["check_inputs"] == "generated" else "test images")
        click.echo(f"Agrees with Keras on {check['examples']} {images}: top-1 "
                   f"{check['top1_agreement']:.2%}, outputs within {OUTPUT_ATOL} on "
                   f"{check['outputs_within_atol']:.2%} (max difference "
                   f"{check['max_abs_diff']:.2g})")
    else:
        click.echo("Not checked against Keras (--check-examples 0).")


@cli.command("import")
@click.argument("model")
@click.argument("checkpoint", type=click.Path())
@click.option("--output-dir", type=click.Path(),
              help="Run directory to write (new or empty). [default: runs/<model>-<dataset>-"
                   "<set>-<time>]")
@_with_tensorflow
def import_(model, checkpoint, output_dir) -> None:
    """Import an official PyTorch checkpoint (.pth / .pth.tar) as a bnno run.

    The run then works with evaluate, export, landscape and teachers=DIR. No PyTorch
    needed; the file's pickle may only hold tensors and plain data.

    \b
    bnno import bnext_t model_best.pth.tar --output-dir runs/bnext_t_official
    """
    from bnno.training.importing import import_checkpoint

    path = import_checkpoint(model, checkpoint, output_dir)
    click.echo(f"Imported {checkpoint} as {model}: {path}")


@cli.command()
@click.argument("model_file", type=click.Path())
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1),
              help="Threads for LCE's interpreter and for TensorFlow.")
@click.option("--runs", "repeats", default=50, show_default=True, type=click.IntRange(min=1),
              help="Timed inferences of one image, per runtime.")
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(min=0),
              help="Untimed inferences first.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_with_tensorflow
def benchmark(model_file, threads, repeats, warmup, as_json) -> None:
    """Latency and size of a .tflite model in LCE against its Keras model.

    \b
    bnno benchmark binarynet.tflite --threads 2
    """
    from bnno.deploy.benchmark import format_table, run

    result = run(model_file, threads, repeats, warmup)
    click.echo(json.dumps(result, indent=2) if as_json else format_table(result))


@cli.command()
@click.argument("model")
@click.option("--dataset", required=True, help="Decides input shape and classes.")
@_HPARAMS_SET
@_HPARAMS
@_DATA_DIR
@click.option("--json", "as_json", is_flag=True,
              help="Print exact counts as JSON instead of larq's table.")
@_with_tensorflow
def summary(model, dataset, hparams_set, overrides, data_dir, as_json) -> None:
    """Larq's summary of MODEL: layers, parameters, binary and float MACs, and OPs
    (BOPs/64 + FLOPs) with the binarization degree; --json prints them as exact counts."""
    from bnno import data, models
    from bnno.analysis.summary import ops_table, profile
    from bnno.config import plan
    from bnno.training.build import build_model

    config = plan(model, dataset, hparams_set,
                  {**hparams.parse_overrides(overrides), "preprocess_fn": "default"})
    ds = data.describe(dataset, data_dir, config.data.image_size)
    net = build_model(config.model, config.optimizer.name, ds.input_shape, ds.num_classes)
    counts = profile(net)
    # The published figures are for ImageNet inputs.
    published = models.get_entry(config.model.name).published \
        if ds.name == "imagenet2012" else None
    if as_json:
        click.echo(json.dumps({**counts, **({"published": published} if published else {})},
                              indent=2))
    else:
        import larq as lq

        lq.models.summary(net)
        click.echo(ops_table(counts, published))


@cli.group("hparams")
def hparams_group() -> None:
    """List and show hparam sets."""


@hparams_group.command("list")
@click.argument("model", required=False)
def hparams_list(model) -> None:
    """The hparam sets of MODEL (or of every model)."""
    _load_registries()  # before the registries' packages are imported
    from bnno import hparams, models

    for name in [models.canonical(model)] if model else models.names():
        click.echo(name)
        for set_name in hparams.set_names(name):
            click.echo(f"  {set_name:<14} {hparams.describe(name, set_name)}")


@hparams_group.command("show")
@click.argument("model")
@click.argument("set_name")
@_HPARAMS
def hparams_show(model, set_name, overrides) -> None:
    """The resolved set SET_NAME of MODEL, with overrides applied, as JSON.

    Its description and source come first, as in a set of an hparam file; a set trained
    in stages shows each stage resolved, with how it carries weights.
    """
    _load_registries()  # before the registries' packages are imported
    from bnno.config.plan import check_set
    from bnno.config.stages import carry_of

    given = hparams.parse_overrides(overrides)
    checked = check_set(model, set_name, given)
    for note in checked.notes:
        click.echo(note, err=True)  # stdout stays valid JSON
    meta = hparams.metadata(checked.model.name, set_name)
    raw = hparams.stages(checked.model.name, set_name)
    if not raw:
        sections = {k: v for k, v in checked.recipe.sections.items() if v}
        click.echo(json.dumps({**meta, **sections}, indent=2))
        return
    shown = {}
    for i, (stage, values) in enumerate(raw.items()):
        carry, carry_from = carry_of(values, f"stage '{stage}'", first=i == 0)
        recipe = check_set(model, set_name, given, stage=stage).recipe
        shown[stage] = {**{k: v for k, v in recipe.sections.items() if v},
                        **({"carry": carry, "carry_from": carry_from} if i else {})}
    click.echo(json.dumps({**meta, "stages": shown}, indent=2))


@hparams_group.command("doc")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the page to this file (docs/recipes.md) instead of stdout.")
def hparams_doc(output) -> None:
    """Every model's sets with their key values and sources, as Markdown."""
    _load_registries()  # before the registries' packages are imported
    from bnno.analysis.recipe_table import markdown

    text = markdown()
    if output is None:
        click.echo(text, nl=False)
        return
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)


@cli.command()
@click.argument("model")
@_DATASET
@_PREPROCESS_FN
@_HPARAMS_SET
@click.option("--grid", multiple=True, metavar="KEY=V1,V2,...",
              help="Values of one key; repeat for more keys: every combination is run.")
@click.option("--config", "configs", multiple=True, metavar="KEY=VALUE,...",
              help="One configuration to run (repeatable); added to the grid's.")
@_HPARAMS
@click.option("--output-dir", type=click.Path(),
              help="Sweep directory; the same one resumes. Default: a new sweeps/... dir.")
@_DATA_DIR
@_MANUAL_DIR
@click.option("--seed", type=click.IntRange(0, 2**31 - 1),
              help="Seed of every run, 0 to 2147483647 (default: one drawn per sweep).")
@_STEPS_PER_EPOCH
@_VALIDATION_STEPS
@_TENSORBOARD
@_CHECKPOINTS
@_VERBOSE
@_with_tensorflow
def sweep(model, dataset, preprocess_fn, hparams_set, grid, configs, overrides, output_dir,
          data_dir, manual_dir, seed, steps_per_epoch, validation_steps, tensorboard, checkpoints,
          verbose) -> None:
    """Train a grid of configurations of MODEL one after another, then tabulate and plot.

    Writes summary.csv, summary.md and curves.png into the sweep directory. Run the same
    command again to skip finished runs and resume a partial one.

    \b
    The Bop paper's Figure 1 sweeps (§5.1):
    bnno sweep binarynet --dataset cifar10 --hparams-set bop \\
         --grid gamma=1e-2,1e-3,1e-4 --grid threshold=1e-6
    bnno sweep binarynet --dataset cifar10 --hparams-set bop \\
         --grid threshold=0,1e-6,1e-5 --grid gamma=1e-3
    """
    from bnno.analysis.sweep import configurations, summarize, terminal_table
    from bnno.analysis.sweep import sweep as run

    found = configurations(_grid(grid), [hparams.parse_overrides(c) for c in configs])
    path = run(model, dataset, hparams_set, found,
               _overrides(overrides, preprocess_fn, steps_per_epoch, validation_steps),
               output_dir, seed, _runner(data_dir, manual_dir, tensorboard, verbose, checkpoints))
    click.echo(terminal_table(summarize(path)))
    click.echo(f"Sweep saved in {path}")


@cli.command()
@click.argument("model_names", metavar="MODEL...", nargs=-1, required=True)
@_DATASET
@click.option("--sets", "sets", required=True, metavar="SET1,SET2,...",
              help="The hparam sets to compare; every model trains every set.")
@click.option("--epochs", type=click.IntRange(1),
              help="Epochs of every run. [default: each set's own]")
@_PREPROCESS_FN
@_HPARAMS
@click.option("--output-dir", type=click.Path(),
              help="Comparison directory; the same one resumes. Default: a new "
                   "comparisons/... dir.")
@_DATA_DIR
@_MANUAL_DIR
@click.option("--seed", type=click.IntRange(0, 2**31 - 1),
              help="Seed of every run, 0 to 2147483647 (default: one drawn per comparison).")
@_STEPS_PER_EPOCH
@_VALIDATION_STEPS
@_TENSORBOARD
@_CHECKPOINTS
@_VERBOSE
@_with_tensorflow
def compare(model_names, dataset, sets, epochs, preprocess_fn, overrides, output_dir,
            data_dir, manual_dir, seed, steps_per_epoch, validation_steps, tensorboard, checkpoints,
            verbose) -> None:
    """Train hparam sets side by side at the same budget, then tabulate and plot.

    Every MODEL trains every set of --sets with the same epochs, seed and steps; the
    table (summary.md, summary.csv: final and best validation accuracy, seconds per
    epoch, flip ratio, each set's source) and curves.png (validation accuracy and flip
    ratio per epoch) go into the comparison directory. Run the same command again to skip
    finished runs and resume a partial one.

    \b
    bnno compare binarynet --dataset cifar10 --sets default,bop,bop2ndOrder --epochs 50
    bnno compare xnornet birealnet --dataset imagenet2012 --sets bop,adam --epochs 10
    """
    from bnno.analysis.compare import compare as run
    from bnno.analysis.compare import parse_sets, summarize, terminal_table

    shared = _overrides(overrides, preprocess_fn, steps_per_epoch, validation_steps)
    if epochs:
        shared["epochs"] = epochs
    path = run(model_names, dataset, parse_sets(sets), shared, output_dir, seed,
               _runner(data_dir, manual_dir, tensorboard, verbose, checkpoints))
    click.echo(terminal_table(summarize(path)))
    click.echo(f"Comparison saved in {path}")


@cli.command()
@click.argument("model_names", metavar="[MODEL]...", nargs=-1)
@click.option("--dataset", "datasets", multiple=True, default=("cifar10",), show_default=True,
              help="A tfds dataset or an image folder (as for train); repeat for more. Every "
                   "model trains on every dataset.")
@click.option("--binarizers", metavar="B1,B2,...",
              help="Binarizers: a family (bibench_xnor: its _activation and _weight "
                   "quantizers), a quantizer of both roles (ste_sign) or ACTIVATION/KERNEL "
                   "(approx_sign/magnitude_aware_sign). [default: every family] A "
                   "full-precision reference (fp32) always trains too.")
@_HPARAMS_SET
@click.option("--grid", "grid", metavar="SET1,SET2,...|all",
              help="Also train every binarizer with these sets of the model (all: every "
                   "other set), for the spread of accuracy over training settings.")
@click.option("--epochs", type=click.IntRange(1), default=3, show_default=True,
              help="Epochs of every cell; the sets' schedules are scaled to them.")
@_PREPROCESS_FN
@_HPARAMS
@click.option("--corruptions", default="gaussian_noise:3,gaussian_blur:3", show_default=True,
              metavar="NAME:SEVERITY,...|none",
              help="Corrupted test images to evaluate on (CIFAR-10-C's gaussian_noise and "
                   "gaussian_blur, severity 1 to 5).")
@click.option("--export-check", type=click.IntRange(0), default=32, show_default=True,
              help="Test images on which each exported .tflite must agree with Keras.")
@click.option("--output-dir", type=click.Path(),
              help="Bench directory; the same one resumes. Default: a new benches/... dir.")
@_DATA_DIR
@_MANUAL_DIR
@click.option("--seed", type=click.IntRange(0, 2**31 - 1),
              help="Seed of every cell, 0 to 2147483647 (default: one drawn per bench).")
@click.option("--steps-per-epoch", type=click.IntRange(0), default=100, show_default=True,
              help="Limit an epoch to this many batches; 0: whole epochs.")
@_VALIDATION_STEPS
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@_TENSORBOARD
@_CHECKPOINTS
@_VERBOSE
@_with_tensorflow
def bench(model_names, datasets, binarizers, hparams_set, grid, epochs, preprocess_fn,
          overrides, corruptions, export_check, output_dir, data_dir, manual_dir, seed,
          steps_per_epoch, validation_steps, as_json, tensorboard, checkpoints, verbose) -> None:
    """Binarizers side by side: accuracy, spread over training settings, training cost,
    operations, speed-up and exported size, against a full-precision reference.

    Every binarizer and the reference train MODEL (default: bibench_resnet, BiBench's
    ResNet-20) with its set at one budget (default: 3 epochs of 100 batches, the whole
    test set for validation); the table goes to bench.md and bench.csv, the figure to
    bench.png, in the bench directory. Run the same command again to skip finished cells
    and resume a partial one.

    \b
    bnno bench
    bnno bench --binarizers bibench_bnn,bibench_react,ste_sign --epochs 10
    bnno bench --grid all --epochs 2 --steps-per-epoch 100
    bnno bench binarynet --hparams filters=32,dense_units=128 --dataset ~/shapes
    """
    from bnno import models as registry
    from bnno.analysis import bench as run

    names = list(model_names) or ["bibench_resnet"]
    grid_sets = []
    if grid == "all":
        grid_sets = [s for m in names for s in hparams.set_names(registry.canonical(m))]
    elif grid:
        grid_sets = [s.strip() for s in grid.split(",") if s.strip()]
    shared = _overrides(overrides, preprocess_fn, steps_per_epoch or None, validation_steps)
    shared["epochs"] = epochs
    runner = _runner(data_dir, manual_dir, tensorboard, verbose, checkpoints)
    # With --json, stdout holds the JSON only: the progress lines go to stderr.
    with contextlib.redirect_stdout(sys.stderr if as_json else sys.stdout):
        path = run.bench(names, datasets, run.parse_binarizers(binarizers), hparams_set,
                         list(dict.fromkeys(grid_sets)), shared, output_dir, seed, runner,
                         run.parse_corruptions(corruptions), export_check)
        rows = run.write_summary(path, runner.source)
    click.echo(json.dumps(rows, indent=2) if as_json else run.terminal_table(rows))
    click.echo(f"Bench saved in {path}", err=as_json)


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="PNG file. Default: RUN_DIR/curves.png for one run, else curves.png.")
def plot(run_dirs, output) -> None:
    """Training curves of one or more runs: loss, accuracy, flip ratio per layer.

    \b
    bnno plot runs/binarynet-cifar10-bop-20261121-120000
    bnno plot runs/a runs/b -o a_vs_b.png
    """
    from pathlib import Path

    from bnno import runs
    from bnno.analysis import plots
    curves = {}
    for run_dir in run_dirs:
        runs.read(Path(run_dir))  # a clear error for a path that is not a run
        rows = runs.read_metrics(Path(run_dir))
        if not rows:
            raise BnnoError(f"{run_dir} has no completed epoch to plot yet")
        label = Path(run_dir).resolve().name
        while label in curves:
            label += "'"
        curves[label] = rows
    default = Path(run_dirs[0]) / "curves.png" if len(run_dirs) == 1 else Path("curves.png")
    click.echo(f"Saved {plots.training_curves(curves, output or default)}")


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("--range", "value_range", type=float, default=1.0, show_default=True,
              help="Steps along each direction go from -RANGE to RANGE.")
@click.option("--points", type=int, default=41, show_default=True,
              help="Grid points per direction (odd, so the model itself is on the grid).")
@click.option("--2d", "two_d", is_flag=True, help="Two directions: contour and 3-D surface.")
@click.option("--batches", type=int, default=4, show_default=True,
              help="Fixed training batches the loss is evaluated on.")
@click.option("--batch-size", type=int, help="Default: the run's batch size.")
@click.option("--initial", is_flag=True, help="The model at initialisation, not trained.")
@_WEIGHTS
@click.option("--seed", type=int, default=0, show_default=True,
              help="Draws the directions and the batches.")
@_DATA_DIR
@click.option("--output-dir", type=click.Path(file_okay=False),
              help="Default: RUN_DIR/landscape.")
@_with_tensorflow
def landscape(run_dir, value_range, points, two_d, batches, batch_size, initial, weights,
              seed, data_dir, output_dir) -> None:
    """Loss of a run's model along random filter-normalised directions (.npz + PNG).

    \b
    bnno landscape runs/binarynet-cifar10-bop-20261121-120000 --range 1.0 --points 41 --2d
    """
    from bnno.analysis.landscape import Grid
    from bnno.analysis.landscape import landscape as run
    from bnno.data import Source

    grid = Grid(value_range, points, two_d, batches, batch_size, seed)
    out = run(run_dir, grid, initial, weights, Source(data_dir), output_dir)
    click.echo(f"Landscape saved in {out}")


@cli.command("runs")
@click.argument("folder", default="runs", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
def runs_command(folder, as_json) -> None:
    """The runs under FOLDER (default: runs): model, dataset, set, epochs done, best and
    last validation accuracy, status (running, finished, interrupted, stopped by NaN,
    unreadable).

    \b
    bnno runs
    bnno runs sweeps/binarynet-cifar10-bop-20261121-120000 --json
    """
    from bnno.analysis.runs_table import format_table, scan

    rows = scan(folder)
    click.echo(json.dumps(rows, indent=2) if as_json else format_table(rows))


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and larq with stderr silenced.

    TensorFlow's C++ start-up (CUDA plugin registration on machines without a GPU, absl
    initialisation) writes lines to stderr that no log level hides; they would bury the
    one-line errors and the progress bars. Later messages are not affected.
    """
    if "tensorflow" in sys.modules:
        return
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import larq  # noqa: F401
        import tensorflow

        tensorflow.config.list_physical_devices("GPU")  # device probing logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv: list[str] | None = None) -> None:
    """Entry point: bad input gets one line on stderr and exit code 2, no traceback."""
    args = sys.argv[1:] if argv is None else argv
    try:
        cli.main(args=args, prog_name="bnno", standalone_mode=False)
    except BnnoError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help())
        sys.exit(0)
    except click.ClickException as e:
        click.echo(f"Error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except Preempted as e:
        click.echo(str(e), err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted; run the same command to resume.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
