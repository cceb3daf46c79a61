"""A run as one typed, frozen config: what ``bnno.config.plan`` returns, the library
passes around and ``run.json`` holds.

Example:
    >>> config = RunConfig(
    ...     model=ModelConfig("binarynet", {"filters": 4}),
    ...     optimizer=OptimizerConfig("adam", {"learning_rate": 1e-3}),
    ...     trainer=TrainerConfig(epochs=2, batch_size=8),
    ...     data=DataConfig("cifar10", "resize_and_flip"), hparams_set="default", seed=1)
    >>> config.trainer.epochs, config.model.hparams["filters"]
    (2, 4)
    >>> RunConfig.from_json(config.to_json()) == config
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import bnno

# The version of run.json this module writes. Runs written before typed configs have no
# "format" (their run.json is read by ``bnno.config.legacy``).
FORMAT = 2


def frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only view of a copy of ``mapping`` (an empty one for None).

    Example:
        >>> view = frozen({"a": 1})
        >>> view["a"], type(view).__name__
        (1, 'mappingproxy')
    """
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class ModelConfig:
    """The model: its registered ``name`` and every builder hparam (defaults included).

    Example:
        >>> ModelConfig("binarynet", {"filters": 4}).hparams["filters"]
        4
    """

    name: str
    hparams: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "hparams", frozen(self.hparams))


@dataclass(frozen=True)
class OptimizerConfig:
    """The optimizer: its registered ``name`` and every option (defaults included).

    Example:
        >>> OptimizerConfig("bop", {"gamma": 1e-3}).options["gamma"]
        0.001
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "options", frozen(self.options))


@dataclass(frozen=True)
class TrainerConfig:
    """How long and in what batches to train, and from whom to learn.

    ``teachers`` names the models to distil from and ``teacher_weights`` their weights
    (``bnno.training.distill``); ``l2_decay`` adds a coupled L2 term; ``steps_per_epoch``
    and ``validation_steps`` shorten epochs and validation.

    Example:
        >>> TrainerConfig(epochs=3, batch_size=64).l2_decay
        0.0
    """

    epochs: int
    batch_size: int
    l2_decay: float = 0.0
    teachers: str | None = None
    teacher_weights: str | None = None
    steps_per_epoch: int | None = None
    validation_steps: int | None = None


@dataclass(frozen=True)
class DataConfig:
    """The data: a tfds name or an image folder's path, the preprocessing, the side of
    square crops of images of any size (``image_size``), and a folder's ``classes`` (in
    label order) and ``input_shape``.

    Example:
        >>> DataConfig("cifar10").preprocess_fn
        'default'
    """

    dataset: str
    preprocess_fn: str = "default"
    image_size: int | None = None
    classes: tuple[str, ...] | None = None
    input_shape: tuple[int, ...] | None = None

    def __post_init__(self):
        for name in ("classes", "input_shape"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True)
class RunConfig:
    """One run: model, optimizer, trainer and data, the set they come from, the seed
    and the distribution strategy; ``init`` (a run to start from) and ``imported`` (where
    an imported run's weights came from) when there are. ``notes`` are lines ``plan``
    has for the user; they are not part of the run.

    Example:
        >>> config = RunConfig(ModelConfig("m"), OptimizerConfig("adam"),
        ...                    TrainerConfig(1, 8), DataConfig("mnist"), "default", seed=0)
        >>> config.replace(seed=5).seed
        5
    """

    model: ModelConfig
    optimizer: OptimizerConfig
    trainer: TrainerConfig
    data: DataConfig
    hparams_set: str
    seed: int
    seed_given: bool = False
    strategy: str = "default"
    init: str | None = None
    imported: Mapping[str, Any] | None = None
    bnno_version: str = bnno.__version__
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        if self.imported is not None:
            object.__setattr__(self, "imported", frozen(self.imported))

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The config as ``run.json`` holds it (``notes`` left out).

        Example:
            >>> config = RunConfig(ModelConfig("m", {"units": 4}), OptimizerConfig("adam"),
            ...                    TrainerConfig(1, 8), DataConfig("mnist"), "x", seed=0)
            >>> config.to_json()["model"], config.to_json()["format"]
            ({'name': 'm', 'hparams': {'units': 4}}, 2)
        """
        out: dict[str, Any] = {"format": FORMAT}
        for f in dataclasses.fields(self):
            if f.name != "notes":
                out[f.name] = _plain(getattr(self, f.name))
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunConfig:
        """The config of a ``run.json`` written by ``to_json``.

        Raises:
            KeyError, TypeError: ``data`` is not such a run.json.
        """
        sections = {"model": ModelConfig, "optimizer": OptimizerConfig,
                    "trainer": TrainerConfig, "data": DataConfig}
        kwargs = {k: v for k, v in data.items() if k != "format"}
        for key, kind in sections.items():
            kwargs[key] = kind(**data[key])
        return cls(**kwargs)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
