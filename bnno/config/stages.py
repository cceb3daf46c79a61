"""A run in stages: the configs of a set that trains in several runs, one after another.

A set may list ``stages`` (``bnno.hparams``), each a run of its own whose sections
override the set's: ReActNet's two steps are a stage with binary activations and real
weights, then one with both binary. How the weights of one stage reach the next is the
stage's declaration:

* ``carry``: ``all`` (every weight of the model, the default), ``all_but_binary_kernels``
  (the kernels the new stage binarizes, those with a kernel quantizer, start from its
  initialiser; everything else is carried) or ``none`` (a fresh start);
* ``carry_from``: the weights of the stage before to carry: ``final`` (its last epoch,
  the default) or ``best`` (its epoch of best validation accuracy).

The optimizer state is never carried: each stage starts its optimizer and schedules
anew, as a separate run would. The first stage starts as any run does (from ``--init``,
if given). Every stage gets the same seed. Stages change quantizers and training, not
the network: every stage builds the same layers.

Example:
    >>> staged = plan_stages("binarynet", "cifar10", "bop", seed=1)  # a set of one run
    >>> staged is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnno import hparams, models, plugins
from bnno.config.plan import plan
from bnno.config.run import RunConfig
from bnno.errors import BnnoError, choices

CARRY = ("all", "all_but_binary_kernels", "none")
CARRY_FROM = ("final", "best")


@dataclass(frozen=True)
class Stage:
    """One stage of a staged run: its ``name`` (its sub-directory of the run), its
    ``config``, and what it takes from the stage before (``carry``, ``carry_from``;
    the first stage carries ``none``).

    Example:
        >>> Stage("step1", None, "none", "final").carry
        'none'
    """

    name: str
    config: RunConfig
    carry: str
    carry_from: str

    def to_json(self) -> dict[str, str]:
        """What a staged run's ``stages.json`` records of the stage.

        Example:
            >>> Stage("step2", None, "all", "best").to_json()
            {'name': 'step2', 'carry': 'all', 'carry_from': 'best'}
        """
        return {"name": self.name, "carry": self.carry, "carry_from": self.carry_from}


def carry_of(raw: Mapping[str, Any], where: str, first: bool) -> tuple[str, str]:
    """The checked ``carry`` and ``carry_from`` of a stage as written (``raw``).

    Raises:
        BnnoError: an unknown value, or a first stage that declares a carry.

    Example:
        >>> carry_of({"carry": "all_but_binary_kernels"}, "stage step2", first=False)
        ('all_but_binary_kernels', 'final')
        >>> carry_of({"carry": "most"}, "stage step2", first=False)
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: stage step2: carry must be one of: all, \
all_but_binary_kernels, none; got 'most'
    """
    carry, carry_from = raw.get("carry", "all"), raw.get("carry_from", "final")
    if carry not in CARRY:
        raise BnnoError(f"{where}: carry must be one of: {choices(CARRY)}; got {carry!r}")
    if carry_from not in CARRY_FROM:
        raise BnnoError(f"{where}: carry_from must be one of: {choices(CARRY_FROM)}; got "
                        f"{carry_from!r}")
    if first and ("carry" in raw or "carry_from" in raw):
        raise BnnoError(f"{where} is the first stage: there is no stage before it to carry "
                        "weights from; drop carry and carry_from")
    return ("none", "final") if first else (carry, carry_from)


def plan_stages(model: str, dataset: str, hparams_set: str | None = None,
                overrides: Mapping[str, Any] | None = None, *, seed: int | None = None,
                **kwargs: Any) -> tuple[Stage, ...] | None:
    """The stages of set ``hparams_set`` of ``model`` on ``dataset``, each planned as
    ``bnno.config.plan`` plans a run (``overrides`` and ``kwargs`` apply to every stage;
    ``init`` to the first); None for a set trained in one run.

    Raises:
        BnnoError: what ``plan`` raises for any stage, or a bad ``carry``.

    Example:
        ReActNet-A's two steps on CIFAR-10, one epoch each::

            stages = plan_stages("reactnet_a", "cifar10", "reactnet",
                                 {"epochs": 1, "width_multiplier": 0.125})
            [s.name for s in stages]  # ['step1', 'step2']
    """
    plugins.load()
    canonical = models.canonical(model)
    hparams_set = hparams_set or hparams.set_names(canonical)[0]
    raw = hparams.stages(canonical, hparams_set)
    if not raw:
        return None
    found: list[Stage] = []
    for i, (name, stage) in enumerate(raw.items()):
        where = f"stage '{name}' of hparam set '{hparams_set}' of '{canonical}'"
        carry, carry_from = carry_of(stage, where, first=i == 0)
        extra = dict(kwargs) if i == 0 else {k: v for k, v in kwargs.items() if k != "init"}
        config = plan(model, dataset, hparams_set, overrides, seed=seed, stage=name, **extra)
        if found:  # one seed for every stage, drawn once when none is given
            config = config.replace(seed=found[0].config.seed)
        found.append(Stage(name, config, carry, carry_from))
    return tuple(found)


def describe(stages: tuple[Stage, ...]) -> dict[str, Any]:
    """What a staged run's ``stages.json`` holds: model, dataset, set and the stages.

    Example:
        Two stages of ReActNet-A's ``reactnet`` set give ``{"model": "reactnet_a",
        "dataset": "cifar10", "hparams_set": "reactnet", "stages": [{"name": "step1",
        ...}, {"name": "step2", "carry": "all_but_binary_kernels", ...}]}``.
    """
    first = stages[0].config
    return {"model": first.model.name, "dataset": first.data.dataset,
            "hparams_set": first.hparams_set, "stages": [s.to_json() for s in stages]}


def check_resumes(path: str | Path, stages: tuple[Stage, ...], found: Mapping[str, Any]) -> None:
    """Refuse to train ``stages`` in ``path`` whose ``stages.json`` says ``found``, unless
    they are the same staged run.

    Example:
        >>> check_resumes("runs/x", (), {"model": "m", "stages": []})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: runs/x holds a run in stages of another model, dataset, ...
    """
    if stages and found == describe(stages):
        return
    raise BnnoError(f"{path} holds a run in stages of another model, dataset, set or stages; "
                    "use another --output-dir, or the same command to resume it")
