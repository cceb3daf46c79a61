"""The config of a run directory, from a ``run.json`` of any version bnno wrote, and
whether a new config may train in a directory that holds a run.

``run.json`` files written before typed configs hold the set's keys side by side
(``"hparams": {"filters": 128, "optimizer": "bop", "gamma": 1e-3, ...}``) with the
dataset, preprocessing and shortened epochs beside them; they are read into the same
config (``bnno.hparams.sectioned`` sorts the keys), with the current defaults filled in,
so older runs resume, evaluate and export as they were.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp())
    >>> runs.create(path, {"model": "binarynet", "dataset": "cifar10", "hparams_set": "bop",
    ...     "hparams": {"filters": 4, "optimizer": "bop", "threshold": 1e-6, "gamma": 1e-3,
    ...                 "learning_rate": 0.01, "epochs": 2, "batch_size": 8},
    ...     "preprocess_fn": "resize_and_flip", "seed": 3})
    >>> config = read(path)
    >>> config.optimizer.options["gamma"], config.model.hparams["dense_units"]
    (0.001, 1024)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bnno import hparams, models, optimizers, plugins, runs
from bnno.config.run import DataConfig, ModelConfig, OptimizerConfig, RunConfig, TrainerConfig
from bnno.config.schema import schema_for
from bnno.config.teachers import upgraded
from bnno.errors import BnnoError

# What may differ when a run is resumed: more epochs, other validation, another
# strategy or bnno version; a seed only when the new call gives none.
_MAY_CHANGE = ("format", "bnno_version", "seed_given", "strategy", "trainer.epochs",
               "trainer.validation_steps")


def read(path: str | Path) -> RunConfig:
    """The config of the run in ``path``.

    Raises:
        BnnoError: not a run directory, a corrupt run.json, or one naming a model,
            optimizer or key that is not registered (any more).
    """
    spec = runs.read(Path(path))
    try:
        return from_json(spec)
    except (KeyError, TypeError) as e:
        raise BnnoError(f"{Path(path) / runs.RUN_FILE} is corrupt ({e!r}); use another "
                        "--output-dir") from None


def from_json(spec: Mapping[str, Any]) -> RunConfig:
    """The config of a ``run.json`` of any version, with the current defaults filled in.

    Example:
        >>> import bnno.plugins
        >>> bnno.plugins.load()
        >>> config = from_json({"model": "sibnn_mlp", "dataset": "mnist", "hparams": {
        ...     "units": 16, "activation": "sibnn", "rho": 0.4, "optimizer": "adam",
        ...     "learning_rate": 1e-3, "epochs": 1, "batch_size": 8}})
        >>> config.model.hparams["activation"]
        {'name': 'sibnn', 'rho': 0.4}
    """
    plugins.load(light=True)
    if isinstance(spec["model"], str):
        return _from_version_1(spec)
    config = RunConfig.from_json(spec)
    entry = models.get_entry(config.model.name)
    optimizer = optimizers.get(config.optimizer.name)
    return config.replace(
        model=ModelConfig(entry.name, {**entry.defaults(), **config.model.hparams}),
        optimizer=OptimizerConfig(optimizer.name, optimizer.check(config.optimizer.options)),
        trainer=_upgraded(config.trainer))


def _upgraded(trainer: TrainerConfig) -> TrainerConfig:
    # Runs from when the bare names efficientnet_b0, ... were Keras applications.
    return dataclasses.replace(trainer, teachers=upgraded(trainer.teachers,
                                                          trainer.teacher_weights))


def _from_version_1(spec: Mapping[str, Any]) -> RunConfig:
    model = spec["model"]
    entry = models.get_entry(model)
    recipe = hparams.sectioned(spec["hparams"], schema_for(model), where=f"run of {model}")
    values = recipe.sections
    name = recipe.optimizer
    options = {k: v for k, v in values["optimizer"].items() if k != "name"}
    trainer = {**values["trainer"], "steps_per_epoch": spec.get("steps_per_epoch"),
               "validation_steps": spec.get("validation_steps")}
    data = DataConfig(spec["dataset"],
                      spec.get("preprocess_fn", values["data"].get("preprocess_fn", "default")),
                      values["data"].get("image_size"), spec.get("classes"),
                      spec.get("input_shape"))
    return RunConfig(
        model=ModelConfig(model, {**entry.defaults(), **values["model"]}),
        optimizer=OptimizerConfig(name, optimizers.get(name).check(options)),
        trainer=_upgraded(TrainerConfig(**trainer)), data=data,
        hparams_set=spec.get("hparams_set") or "", seed=spec.get("seed", 0),
        seed_given=spec.get("seed_given", False), strategy=spec.get("strategy", "default"),
        init=spec.get("init"), imported=spec.get("imported"),
        bnno_version=spec.get("bnno_version", "0.1.0"))


def resumes(path: str | Path, config: RunConfig) -> bool:
    """Can ``config`` train in ``path``? True when it resumes the run there.

    An epochs count may grow on resume; anything else that differs is refused.

    Raises:
        BnnoError: the directory is a file, holds something that is not a bnno run, or
            holds a run of another model, dataset, set or hparams.

    Example:
        >>> import tempfile
        >>> from bnno.config.plan import plan
        >>> path = Path(tempfile.mkdtemp())
        >>> config = plan("binarynet", "cifar10", "bop", seed=1)
        >>> resumes(path, config)  # an empty directory: a fresh run
        False
        >>> runs.create(path, config.to_json())
        >>> resumes(path, plan("binarynet", "cifar10", "bop", {"epochs": 200}, seed=1))
        True
        >>> resumes(path, plan("binarynet", "mnist", "bop", seed=1))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: ... holds a run with a different dataset ("cifar10" there, ...
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BnnoError(f"--output-dir {path} is a file; give a directory")
    if runs.is_unstarted(path):
        return False
    old = read(path)
    if old.imported:
        raise BnnoError(f"{path} holds an imported checkpoint; train from it with --init "
                        f"{path} and another --output-dir")
    skip = set(_MAY_CHANGE) | (set() if config.seed_given else {"seed"})
    before, now = _flat(old.to_json()), _flat(config.to_json())
    for key in sorted(set(before) | set(now)):
        if key not in skip and before.get(key) != now.get(key):
            raise BnnoError(
                f"{path} holds a run with a different {_label(key)} ({_short(before.get(key))} "
                f"there, {_short(now.get(key))} now); use another --output-dir, or the same "
                "command to resume it")
    return True


def _flat(config: dict[str, Any]) -> dict[str, Any]:
    """A serialised config as ``"section.key"`` paths (a schedule or a quantizer spec
    stays one value)."""
    found: dict[str, Any] = {}
    for key, value in config.items():
        if key in ("model", "optimizer"):
            found[f"{key}.name"] = value["name"]
            inner = value["hparams" if key == "model" else "options"]
            found.update({f"{key}.{k}": v for k, v in inner.items()})
        elif key in ("trainer", "data"):
            found.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            found[key] = value
    return found


def _label(key: str) -> str:
    parts = key.split(".")
    return parts[0] if parts[-1] == "name" else parts[-1]


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, sort_keys=True)
    return text if len(text) < 80 else text[:77] + "..."
