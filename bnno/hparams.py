"""Hparam sets: named training recipes, stored as data in ``hparams/<model>.json``.

A file maps set names to dicts of hparams. A set may ``extend`` another set of the same
file and may carry a one-line ``description``. Every key has a type: the trainer's keys
are listed in ``TRAINER_KEYS``; a model's keys come from its builder's keyword arguments
(see ``bnno.models``). Values given on the command line are parsed against those types.

Example:
    >>> from bnno import hparams, models
    >>> hp = hparams.resolve("binarynet", "bop", "threshold=1e-7,filters=64",
    ...                      models.hparam_types("binarynet"))
    >>> hp["threshold"], hp["filters"], hp["optimizer"]
    (1e-07, 64, 'bop')
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bnno import optimizers
from bnno.errors import BnnoError, choices
from bnno.htypes import (  # noqa: F401  (the types, as callers have always used them)
    BOOL,
    FLOAT,
    INT,
    OPTIONAL_INT,
    OPTIONAL_STR,
    QUANTIZER,
    SCHEDULE,
    STR,
    HType,
    _parse_bool,
    _parse_number,
    choice,
)

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

RESERVED = ("extends", "description", "source")


# Keys every model's sets may use; what they mean is documented in README.md. The
# ``optimizer`` choice and each optimizer's own keys come from ``bnno.optimizers``'
# registry (live views: an optimizer registered later joins them).
TRAINER_KEYS: Mapping[str, HType] = ChainMap({
    "epochs": INT,
    "batch_size": INT,
    "optimizer": optimizers.OPTIMIZER,
    "l2_decay": FLOAT,
    "teachers": OPTIONAL_STR,
    "teacher_weights": OPTIONAL_STR,
    "preprocess_fn": STR,
    "image_size": OPTIONAL_INT,
}, optimizers.KEYS)

# Trainer keys a set may leave out (their default applies); a model's own keys always
# have a builder default. Either may be given with --hparams without being in the set.
TRAINER_DEFAULTS: Mapping[str, Any] = ChainMap({"l2_decay": 0.0, "image_size": None},
                                               optimizers.DEFAULTS)

# Keys that were renamed: the old name still works in hparam files, --hparams and the
# run.json of older runs. A dotted new name is now an option of a quantizer spec.
RENAMED = {"input_quantizer": "activation", "rho": "activation.rho"}


def renamed(hp: dict[str, Any]) -> dict[str, Any]:
    """``hp`` with renamed keys under their current names.

    A key that became a quantizer option joins the spec of its quantizer when that
    quantizer takes the option; otherwise it did nothing, and is dropped.

    Example:
        >>> renamed({"input_quantizer": "ste_sign"})
        {'activation': 'ste_sign'}
        >>> renamed({"activation": "sibnn", "rho": 0.2})
        {'activation': {'name': 'sibnn', 'rho': 0.2}}
        >>> renamed({"activation": "ste_sign", "rho": 0.3})
        {'activation': 'ste_sign'}
    """
    out: dict[str, Any] = {}
    moved: dict[str, Any] = {}
    for key, value in hp.items():
        new = RENAMED.get(key, key)
        (moved if "." in new else out)[new] = value
    for dotted, value in moved.items():
        base, field = dotted.split(".")
        if out.get(base) is None:
            continue
        # Only run.json files and sets written before quantizer specs get here.
        from bnno import quantizers

        name, options = quantizers.split(out[base])
        if field in quantizers.get(name).options:
            out[base] = {"name": name, **{field: value}, **options}
    return out


def sets_dir() -> Traversable:
    """The folder holding the hparam files (installed as ``bnno.hparams_data``).

    Example:
        >>> (sets_dir() / "binarynet.json").is_file()
        True
    """
    try:
        return files("bnno.hparams_data")
    except ModuleNotFoundError:  # running from a source tree that was never installed
        return Path(__file__).resolve().parents[1] / "hparams"


def load_file(model: str) -> dict[str, dict]:
    """The raw sets of ``model`` as written in its file (``extends`` not applied).

    Example:
        >>> load_file("binarynet")["bop_sec52"]["extends"]
        'bop'
    """
    path = sets_dir() / f"{model}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BnnoError(f"model '{model}' has no hparam file at {path}") from None
    except json.JSONDecodeError as e:
        raise BnnoError(f"hparam file {path} is not valid JSON: {e}") from None
    return data


def set_names(model: str) -> list[str]:
    """Names of the sets defined for ``model``, in file order.

    Example:
        >>> set_names("binarynet")[:4]
        ['default', 'bop', 'bop_sec52', 'adam_sec52']
    """
    return list(load_file(model))


def describe(model: str, name: str) -> str:
    """The one-line description of a set (empty if it has none).

    Example:
        >>> describe("binarynet", "bop_sec52").startswith("Bop paper §5.2")
        True
    """
    return metadata(model, name).get("description", "")


def metadata(model: str, name: str) -> dict[str, str]:
    """A set's ``description`` and ``source`` (where its values come from).

    Example:
        >>> metadata("binarynet", "bop")["source"].startswith("plumerai/")
        True
    """
    flat = _flatten(load_file(model), model, name)
    return {k: flat[k] for k in ("description", "source") if k in flat}


def _flatten(sets: dict[str, dict], model: str, name: str, seen: tuple = ()) -> dict:
    if name not in sets:
        raise BnnoError(
            f"unknown hparam set '{name}' for model '{model}'; choose one of: {choices(sets)}"
        )
    if name in seen:
        raise BnnoError(f"hparam set '{name}' of '{model}' extends itself")
    own = dict(sets[name])
    parent = own.pop("extends", None)
    if parent is None:
        return own
    return {**_flatten(sets, model, parent, seen + (name,)), **own}


def resolve(
    model: str, set_name: str, overrides: str | None, types: dict[str, HType],
    fixed: Mapping[str, Any] | None = None, alias: str | None = None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The set ``set_name`` of ``model`` with ``overrides`` applied, every value checked.

    When ``overrides`` switch the optimizer, the set's values that belong to its own
    optimizer give way (``bnno.optimizers.switch``): ``optimizer=bop`` is enough to
    train a latent-weight set latent-free.

    Args:
        model: model name (the file ``hparams/<model>.json``).
        set_name: name of a set in that file.
        overrides: ``"key=value,key2=value2"``; a dotted key such as
            ``gamma.decay_rate=0.5`` changes one field of a schedule.
        types: the type of every key the model accepts.
        fixed: values the model's name fixes (``bnno.models.fixed``): they replace the
            set's, and an override may not change them.
        alias: the name that fixes them, for the message.
        notes: if given, receives one line saying which of the set's values gave way.

    Raises:
        BnnoError: unknown set or key, a value of the wrong type, or an override of a
            fixed value.

    Example:
        >>> from bnno import models
        >>> types = models.hparam_types("binarynet")
        >>> resolve("binarynet", "bop_sec52", "gamma.decay_rate=0.5", types)["gamma"]["decay_rate"]
        0.5
        >>> resolve("binarynet", "bop2ndOrder", None, types, {"normalization": "batch"},
        ...         "binarynet_batch")["normalization"]
        'batch'
        >>> resolve("binarynet", "bop", "gamma=-1", types)
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: hparam 'gamma' expects a non-negative number, got -1.0
        >>> notes = []
        >>> hp = resolve("binarynet", "default", "optimizer=bop,threshold=1e-6,gamma=1e-3",
        ...              types, notes=notes)
        >>> hp["kernel_quantizer"], hp["kernel_constraint"]
        (None, None)
        >>> notes
        ["optimizer=bop trains ±1 kernels, no latent weights; replaced in set 'default': \
kernel_quantizer ste_sign -> none, kernel_constraint weight_clip -> none"]
    """
    flat = renamed(_flatten(load_file(model), model, set_name))
    for key in RESERVED:
        flat.pop(key, None)
    resolved = {}
    for key, value in flat.items():
        if key not in types:
            raise BnnoError(
                f"hparam file for '{model}', set '{set_name}', has unknown key '{key}'; "
                f"valid keys: {choices(types)}"
            )
        resolved[key] = types[key].check(key, value)
    for key, value in (fixed or {}).items():
        resolved[key] = types[key].check(key, value)
    given = set()
    for key, text in parse_overrides(overrides):
        key = RENAMED.get(key, key)
        _apply(resolved, key, text, types, model, set_name)
        given.add(key.partition(".")[0])
    for key, value in (fixed or {}).items():
        if resolved[key] != value:
            raise BnnoError(
                f"{alias or model} is {model} with {key}={value}; for "
                f"{key}={resolved[key]} train {model} --hparams {key}={resolved[key]}"
            )
    from bnno.optimizers.switch import switch

    changed = switch(resolved, given)
    if changed and notes is not None:
        why = " trains ±1 kernels, no latent weights" if optimizers.latent_free(resolved) else ""
        notes.append(f"optimizer={resolved['optimizer']}{why}; replaced in set '{set_name}': "
                     f"{', '.join(changed)}")
    return resolved


def parse_overrides(text: str | None) -> list[tuple[str, str]]:
    """Split ``key=value`` pairs.

    Example:
        >>> parse_overrides("threshold=1e-6, gamma=1e-3")
        [('threshold', '1e-6'), ('gamma', '1e-3')]
    """
    pairs = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BnnoError(f"--hparams item '{item}' is not of the form key=value")
        pairs.append((key.strip(), value.strip()))
    return pairs


def _apply(hp: dict, key: str, text: str, types: dict[str, HType], model: str, set_name: str):
    base, _, field = key.partition(".")
    # A model's keys, optional trainer keys, and every optimizer's own keys (switching
    # optimizer=... needs them) may be given without being in the set.
    optional = {k for k in types
                if k not in TRAINER_KEYS or k in TRAINER_DEFAULTS or k in optimizers.KEYS}
    if base not in types or (base not in hp and base not in optional):
        raise BnnoError(
            f"unknown hparam '{base}' for set '{set_name}' of '{model}'; "
            f"valid keys: {choices(set(hp) | optional)}"
        )
    htype = types[base]
    if not field:
        hp[key] = htype.check(key, htype.parse(text))
        return
    if htype.set_field is None:
        raise BnnoError(f"hparam '{base}' has no fields, so '{key}' cannot be set")
    if base not in hp:
        raise BnnoError(f"set '{set_name}' of '{model}' has no '{base}'; set {base}=... "
                        f"before {key}")
    hp[base] = htype.check(base, htype.set_field(base, hp[base], field, text))
