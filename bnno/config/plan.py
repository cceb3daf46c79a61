"""``plan``: every name and value of a run checked, and its typed config.

Example:
    >>> config = plan("binarynet", "cifar10", "bop", {"gamma": "1e-4"}, seed=7)
    >>> config.optimizer.options["gamma"], config.data.preprocess_fn, config.seed
    (0.0001, 'resize_and_flip', 7)
    >>> plan("binarynet", "cifar10", "bop", {"gama": "1e-4"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnno.errors.BnnoError: unknown hparam 'gama' for set 'bop' of 'binarynet'; ...
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from bnno import data, hparams, models, optimizers, plugins, quantizers, runs
from bnno.config.kernels import kernel_spec
from bnno.config.run import DataConfig, ModelConfig, OptimizerConfig, RunConfig, TrainerConfig
from bnno.config.schema import schema_for
from bnno.config.strategy import check_name as check_strategy
from bnno.config.switch import switch
from bnno.config.teachers import parse as parse_teachers
from bnno.errors import BnnoError, choices


def plan(model: str, dataset: str, hparams_set: str | None = None,
         overrides: Mapping[str, Any] | None = None, *, seed: int | None = None,
         strategy: str = "default", init: str | Path | None = None,
         skip_bad_images: bool = False) -> RunConfig:
    """Check every name and value of a run and return its config.

    ``model`` may be an alias (``alexnet``); the config records the registered name, and
    the hparams an alias fixes (``binarynet_batch``: ``normalization=batch``). Without
    ``hparams_set`` the model's first set is used. ``overrides`` (key → value or text,
    see ``bnno.hparams.apply``) change the set; ``preprocess_fn``, ``steps_per_epoch`` and
    ``validation_steps`` are keys too. Without a ``preprocess_fn`` override, a set made
    for another kind of dataset is refused with the sets that fit. A ``dataset`` that is a
    folder of images is recorded by its absolute path, with its classes in label order
    and its input shape. ``init`` is a run to start from (``check_init``). When the
    overrides switch the optimizer, ``notes`` say which of the set's values gave way
    (``bnno.config.switch``).

    Raises:
        BnnoError: unknown model, dataset, preprocess fn, set, key or strategy, or a bad
            value.

    Example:
        >>> plan("binarynet_batch", "cifar10", "bop2ndOrder").model.hparams["normalization"]
        'batch'
    """
    check_strategy(strategy)
    checked = check_set(model, hparams_set, overrides, for_dataset=True)
    model = checked.model.name
    if seed is not None and not 0 <= seed < 2**31:
        raise BnnoError(f"seed must be between 0 and 2147483647, got {seed}")
    return RunConfig(
        model=checked.model, optimizer=checked.optimizer, trainer=checked.trainer,
        data=_data(dataset, checked.recipe, checked.hparams_set, model, skip_bad_images),
        hparams_set=checked.hparams_set,
        seed=seed if seed is not None else random.randrange(2**31), seed_given=seed is not None,
        strategy=strategy, init=check_init(init, model) if init else None,
        notes=checked.notes)


class Checked(NamedTuple):
    """A set with its overrides, checked as ``plan`` checks it, before any dataset."""

    hparams_set: str
    recipe: hparams.Recipe
    model: ModelConfig
    optimizer: OptimizerConfig
    trainer: TrainerConfig
    notes: tuple[str, ...]


def check_set(model: str, hparams_set: str | None = None,
              overrides: Mapping[str, Any] | None = None, for_dataset: bool = False) -> Checked:
    """The set ``hparams_set`` (default: the model's first) of ``model`` (a name or an
    alias) with ``overrides``, every name and value checked as ``plan`` checks them:
    ``bnno hparams show`` prints a set only if a run could train it. The preprocessing
    is checked to be one of some dataset's, unless ``for_dataset`` (``plan`` checks it
    against its dataset's).

    Raises:
        BnnoError: unknown model, set or key, a bad value, a quantizer or option that
            does not exist, or settings the optimizer cannot train with.

    Example:
        >>> check_set("sibnn_mlp", "sibnn", {"activation.widht": "1"})
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: quantizer 'sibnn' has no option 'widht'; its options: rho, sparsity
    """
    plugins.load()
    name, model = model, models.canonical(model)
    hparams_set = hparams_set or hparams.set_names(model)[0]
    entry = models.get_entry(model)
    recipe = hparams.resolve(model, hparams_set, overrides, schema_for(model),
                             models.fixed(name), name)
    changed = switch(recipe, entry)
    notes = (_note(recipe.optimizer, hparams_set, changed),) if changed else ()
    model_config = ModelConfig(model, {**entry.defaults(), **recipe.sections["model"]})
    optimizer = _optimizer(recipe, hparams_set, model)
    _check_model(model_config, optimizer.name)
    trainer = _trainer(recipe.sections["trainer"], hparams_set, model)
    if trainer.teachers:
        parse_teachers(trainer.teachers)
    preprocess_fn = recipe.sections["data"].get("preprocess_fn")
    if not for_dataset and preprocess_fn is not None \
            and preprocess_fn not in data.preprocess_names():
        raise BnnoError(f"unknown preprocess fn '{preprocess_fn}'; choose one of: "
                        f"{choices(data.preprocess_names())}")
    return Checked(hparams_set, recipe, model_config, optimizer, trainer, notes)


def _note(optimizer: str, hparams_set: str, changed: list[str]) -> str:
    why = " trains ±1 kernels, no latent weights" if optimizers.latent_free(optimizer) else ""
    return f"optimizer={optimizer}{why}; replaced in set '{hparams_set}': {', '.join(changed)}"


def _optimizer(recipe: hparams.Recipe, hparams_set: str, model: str) -> OptimizerConfig:
    name = recipe.optimizer
    if name is None:
        raise BnnoError(f"hparam set '{hparams_set}' of '{model}' names no optimizer; add "
                        f"--hparams optimizer=... ({choices(optimizers.names())})")
    options = {k: v for k, v in recipe.sections["optimizer"].items() if k != "name"}
    return OptimizerConfig(name, optimizers.get(name).check(options))


def _check_model(model: ModelConfig, optimizer: str) -> None:
    """Refuse quantizers and kernel settings the model cannot be built with, before any
    output."""
    entry = models.get_entry(model.name)
    if entry.takes("activation"):
        quantizers.check(model.hparams["activation"], "activation")
    if optimizers.latent_free(optimizer) and not entry.takes("kernel_quantizer"):
        raise BnnoError(f"optimizer {optimizer} trains binary kernels as ±1, but {model.name} "
                        "takes no kernel_quantizer to make them so; use another optimizer")
    kernel_spec(model.hparams, optimizer)


def _trainer(values: dict[str, Any], hparams_set: str, model: str) -> TrainerConfig:
    missing = [k for k in ("epochs", "batch_size") if k not in values]
    if missing:
        raise BnnoError(f"hparam set '{hparams_set}' of '{model}' has no {' or '.join(missing)}; "
                        f"add --hparams {','.join(k + '=...' for k in missing)}")
    return TrainerConfig(**values)


def _data(dataset: str, recipe: hparams.Recipe, hparams_set: str, model: str,
          skip_bad_images: bool) -> DataConfig:
    values = recipe.sections["data"]
    ds = data.describe(dataset, image_size=values.get("image_size"),
                       skip_bad_images=skip_bad_images)
    preprocess_fn = values.get("preprocess_fn", "default")
    if "data.preprocess_fn" not in recipe.given:
        _check_set_fits(model, ds, hparams_set, preprocess_fn)
    ds.preprocess_fn(preprocess_fn)
    folder = isinstance(ds, data.FolderDataset)
    return DataConfig(ds.name, preprocess_fn, values.get("image_size"),
                      ds.classes if folder else None, ds.input_shape if folder else None)


def _check_set_fits(model: str, ds, hparams_set: str, preprocess_fn: str) -> None:
    """Name the sets made for dataset ``ds`` when the chosen set preprocesses for
    another kind of dataset."""
    fns = ds.preprocess_fns
    if preprocess_fn in fns:
        return
    schema = schema_for(model)
    fitting = [s for s in hparams.set_names(model) if hparams.resolve(
        model, s, None, schema).sections["data"].get("preprocess_fn", "default") in fns]
    sets = f"--hparams-set {' or '.join(fitting)}" if fitting else "a set of your own"
    raise BnnoError(
        f"hparam set '{hparams_set}' of {model} preprocesses with '{preprocess_fn}', which "
        f"{ds.name} cannot use; choose {sets}, or a --preprocess-fn ({choices(fns)})")


def check_init(path: str | Path, model: str) -> str:
    """The absolute path of run ``path``, checked as a start for a new run of ``model``
    (``bnno train --init``): a run of the same model that has weights.

    Raises:
        BnnoError: ``path`` is not a run, is a run of another model, or has no weights.

    Example:
        >>> check_init("no/such/run", "binarynet")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: --init no/such/run: ...
    """
    try:
        found = runs.summary(runs.read(Path(path)))["model"]
        runs.choose_weights(Path(path), model)
    except BnnoError as e:
        raise BnnoError(f"--init {path}: {e}") from None
    if found != model:
        raise BnnoError(f"--init {path} is a run of {found}; a run of {model} starts only "
                        f"from a run of {model}")
    return str(Path(path).resolve())
