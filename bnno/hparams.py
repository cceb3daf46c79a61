"""Hparam sets: named training recipes, stored as data in ``hparams/<model>.json``.

A file maps set names to sets. A set holds its values in sections, one per concern::

    "bop": {
      "description": "...", "source": "...",
      "model": {"filters": 128, "kernel_quantizer": null, ...},   # the builder's arguments
      "optimizer": {"name": "bop", "threshold": 1e-6, "gamma": 1e-3, "learning_rate": 0.01},
      "trainer": {"epochs": 100, "batch_size": 100},
      "data": {"preprocess_fn": "resize_and_flip"}
    }

An optimizer's options live under it, so two optimizers may both have a ``momentum``. A
set may ``extend`` another set of the same file (section by section; a set that names
another optimizer replaces the optimizer section) and carries a one-line
``description`` and its ``source``. Sets written before sections put every key side by
side (``"optimizer": "bop", "threshold": 1e-6, ...``); they are read the same way.

What keys each section may hold, and their types, is a ``Schema`` that the caller gives
(``bnno.config`` makes it from the registries): this module knows no model, optimizer or
quantizer. Overrides name a key flat (``threshold=1e-6``) where that is unambiguous, or
dotted by section (``optimizer.momentum=0.9``, ``model.activation.rho=0.2``); a dotted key
inside a value sets one field of a schedule (``gamma.decay_rate=0.5``) or one option of a
quantizer (``activation.rho=0.2``).

Besides bnno's own folder, plugins add folders of hparam files (``add_folder``); the sets
of one model may come from several folders.

Example:
    >>> from bnno.htypes import FLOAT, INT, SCHEDULE
    >>> schema = Schema(model={"filters": INT}, trainer={"epochs": INT},
    ...                 optimizers={"bop": {"threshold": SCHEDULE, "gamma": SCHEDULE}})
    >>> raw = {"model": {"filters": 128}, "optimizer": {"name": "bop", "threshold": 1e-8},
    ...        "trainer": {"epochs": 100}}
    >>> recipe = apply(sectioned(raw, schema), {"threshold": "1e-6", "filters": 64}, schema)
    >>> recipe.sections["optimizer"], recipe.sections["model"]
    ({'name': 'bop', 'threshold': 1e-06}, {'filters': 64})
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bnno.errors import BnnoError, choices
from bnno.htypes import HType
from bnno.registry import Registry

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

SECTIONS = ("model", "optimizer", "trainer", "data")
RESERVED = ("extends", "description", "source")

# Keys that were renamed: the old name still works in hparam files, --hparams and the
# run.json of older runs. ``rho`` became an option of the activation quantizer.
RENAMED = {"input_quantizer": "activation", "rho": "activation.rho"}


@dataclass(frozen=True)
class Schema:
    """The keys each section of a set may hold, with their types.

    ``optimizers`` maps every optimizer's name to its options; ``defaults`` maps an
    optimizer's name to the defaults of its options (a flat set of older files may hold
    another optimizer's key at its default: it is dropped). ``quantizer_options`` maps
    quantizer names to their options (where an old ``rho`` key goes).

    Example:
        >>> from bnno.htypes import INT
        >>> Schema(model={"filters": INT}).keys("model", None)
        {'filters': HType(name='a positive integer', ...)}
    """

    model: Mapping[str, HType] = field(default_factory=dict)
    trainer: Mapping[str, HType] = field(default_factory=dict)
    data: Mapping[str, HType] = field(default_factory=dict)
    optimizers: Mapping[str, Mapping[str, HType]] = field(default_factory=dict)
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    quantizer_options: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def keys(self, section: str, optimizer: str | None) -> Mapping[str, HType]:
        """The keys of ``section`` (of the optimizer ``optimizer`` for ``"optimizer"``)."""
        if section == "optimizer":
            return self.optimizers.get(optimizer, {}) if optimizer else {}
        return getattr(self, section)

    def sections_of(self, key: str, optimizer: str | None) -> list[str]:
        """The sections in which a flat ``key`` is a key."""
        return [s for s in SECTIONS if key in self.keys(s, optimizer)]


@dataclass
class Recipe:
    """A resolved set: its ``sections`` (``{"model": {...}, "optimizer": {"name": ...,
    ...}, "trainer": {...}, "data": {...}}``), the ``given`` keys the overrides set (as
    ``"section.key"``) and the options of the set's own optimizer that an overridden
    optimizer does not have (``dropped``).

    Example:
        >>> Recipe.empty().sections
        {'model': {}, 'optimizer': {}, 'trainer': {}, 'data': {}}
    """

    sections: dict[str, dict[str, Any]]
    given: set[str] = field(default_factory=set)
    dropped: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Recipe:
        return cls({s: {} for s in SECTIONS})

    @property
    def optimizer(self) -> str | None:
        """The name of the recipe's optimizer (None if it names none)."""
        return self.sections["optimizer"].get("name")


# ----- files and folders -----------------------------------------------------------------

# Folders of hparam files that plugins add, by their path.
_FOLDERS: Registry[Path | Traversable] = Registry("hparam folder")


def sets_dir() -> Traversable:
    """bnno's own folder of hparam files (installed as ``bnno.hparams_data``).

    Example:
        >>> (sets_dir() / "binarynet.json").is_file()
        True
    """
    try:
        return files("bnno.hparams_data")
    except ModuleNotFoundError:  # running from a source tree that was never installed
        return Path(__file__).resolve().parents[1] / "hparams"


def add_folder(folder: str | Path | Traversable) -> None:
    """Read hparam files from ``folder`` too (a plugin's recipes), after bnno's own.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> add_folder(folder)
        >>> folder in folders()
        True
        >>> remove_folder(folder)
    """
    if str(folder) not in _FOLDERS:
        _FOLDERS.add(str(folder), Path(folder) if isinstance(folder, str) else folder)


def remove_folder(folder: str | Path | Traversable) -> None:
    """Stop reading ``folder`` (see ``add_folder``)."""
    if str(folder) in _FOLDERS:
        _FOLDERS.remove(str(folder))


def folders() -> list[Path | Traversable]:
    """Every folder hparam files are read from: bnno's own, then the added ones."""
    return [sets_dir(), *(folder for _, folder in _FOLDERS.items())]


def has_file(model: str) -> bool:
    """Whether some folder holds hparam sets of ``model``.

    Example:
        >>> has_file("binarynet"), has_file("no_such_model")
        (True, False)
    """
    return any((folder / f"{model}.json").is_file() for folder in folders())


def load_file(model: str) -> dict[str, dict]:
    """The raw sets of ``model`` as written in its files (``extends`` not applied), from
    every folder that has a file for it.

    Raises:
        BnnoError: no file, a file that is not JSON, or a set that two files define.

    Example:
        >>> load_file("binarynet")["bop_sec52"]["extends"]
        'bop'
    """
    sets: dict[str, dict] = {}
    origin: dict[str, Any] = {}
    for folder in folders():
        path = folder / f"{model}.json"
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise BnnoError(f"hparam file {path} is not valid JSON: {e}") from None
        for name, value in data.items():
            if name in sets:
                raise BnnoError(f"hparam set '{name}' of '{model}' is defined in {origin[name]} "
                                f"and in {path}; rename one")
            sets[name], origin[name] = value, path
    if not origin:
        raise BnnoError(f"model '{model}' has no hparam file ({model}.json) in "
                        f"{', '.join(str(f) for f in folders())}")
    return sets


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
    chain = _chain(load_file(model), model, name)
    found: dict[str, str] = {}
    for level in chain:
        found.update({k: level[k] for k in ("description", "source") if k in level})
    return found


def _chain(sets: dict[str, dict], model: str, name: str) -> list[dict]:
    """The set ``name`` and the sets it extends, the root first."""
    chain: list[dict] = []
    seen: list[str] = []
    while name is not None:
        if name not in sets:
            raise BnnoError(f"unknown hparam set '{name}' for model '{model}'; choose one of: "
                            f"{choices(sets)}")
        if name in seen:
            raise BnnoError(f"hparam set '{seen[0]}' of '{model}' extends itself")
        seen.append(name)
        if not isinstance(sets[name], dict):
            raise BnnoError(f"hparam set '{name}' of '{model}' is not a JSON object")
        chain.insert(0, sets[name])
        name = sets[name].get("extends")
    return chain


# ----- from raw sets to sections --------------------------------------------------------


def is_sectioned(raw: Mapping[str, Any]) -> bool:
    """Whether a set (or a run's hparams) is written in sections rather than flat.

    Example:
        >>> is_sectioned({"optimizer": {"name": "bop"}}), is_sectioned({"optimizer": "bop"})
        (True, False)
    """
    return any(isinstance(raw.get(s), dict) for s in SECTIONS)


def sectioned(raw: Mapping[str, Any], schema: Schema, optimizer: str | None = None,
              where: str = "the set") -> Recipe:
    """A raw set (sectioned or flat; ``description`` and the like left out) as checked
    sections. ``optimizer`` is the optimizer a flat set without one falls back to (the
    set it extends names it).

    Raises:
        BnnoError: an unknown section or key, or a value of the wrong type.

    Example:
        >>> from bnno.htypes import INT, SCHEDULE
        >>> schema = Schema(model={"filters": INT}, trainer={"epochs": INT},
        ...                 optimizers={"bop": {"gamma": SCHEDULE}})
        >>> sectioned({"filters": 4, "optimizer": "bop", "gamma": 1e-3, "epochs": 2},
        ...           schema).sections
        {'model': {'filters': 4}, 'optimizer': {'name': 'bop', 'gamma': 0.001}, \
'trainer': {'epochs': 2}, 'data': {}}
    """
    raw = {k: v for k, v in raw.items() if k not in RESERVED}
    recipe = Recipe.empty()
    if is_sectioned(raw):
        for section, values in raw.items():
            if section not in SECTIONS or not isinstance(values, dict):
                raise BnnoError(f"{where} has '{section}', which is no section; its sections: "
                                f"{', '.join(SECTIONS)}")
            recipe.sections[section].update(values)
    else:
        _sort_flat(raw, schema, optimizer, recipe, where)
    _check(recipe, schema, recipe.optimizer or optimizer, where)
    return recipe


def _sort_flat(raw: dict[str, Any], schema: Schema, optimizer: str | None, recipe: Recipe,
               where: str) -> None:
    name = raw.pop("optimizer", None)
    if name is not None:
        recipe.sections["optimizer"]["name"] = name
    name = name or optimizer
    moved = {}
    for key, value in raw.items():
        key = RENAMED.get(key, key)
        if "." in key:
            moved[key] = value
            continue
        found = schema.sections_of(key, name)
        if not found and _default_of_another(schema, name, key, value):
            continue  # an older set's key of another optimizer, at its default: no effect
        if len(found) != 1:
            _refuse_flat(key, found, schema, name, where)
        recipe.sections[found[0]][key] = value
    for dotted, value in moved.items():  # "activation.rho": only where the quantizer has it
        base, option = dotted.split(".")
        spec = recipe.sections["model"].get(base)
        quantizer = spec.get("name") if isinstance(spec, dict) else spec
        if option in schema.quantizer_options.get(quantizer, ()):
            recipe.sections["model"][base] = {"name": quantizer, option: value,
                                              **(spec if isinstance(spec, dict) else {})}


def _default_of_another(schema: Schema, optimizer: str | None, key: str, value: Any) -> bool:
    return any(n != optimizer and key in d and d[key] == value
               for n, d in schema.defaults.items())


def _refuse_flat(key: str, found: list[str], schema: Schema, optimizer: str | None,
                 where: str) -> None:
    if found:
        raise BnnoError(f"'{key}' is a key of {' and of '.join(found)} in {where}; name one: "
                        f"{' or '.join(f'{s}.{key}' for s in found)}")
    owners = [n for n, keys in schema.optimizers.items() if key in keys]
    if owners:
        raise BnnoError(f"'{key}' is an option of optimizer {' and '.join(owners)}, not of "
                        f"{optimizer or 'the set, which names no optimizer'}; switch with "
                        f"optimizer={owners[0]}, or leave {key} out")
    valid = [k for s in SECTIONS for k in schema.keys(s, optimizer)]
    raise BnnoError(f"{where} has unknown key '{key}'; valid keys: {choices(valid)}")


def _check(recipe: Recipe, schema: Schema, optimizer: str | None, where: str) -> None:
    if optimizer is not None and optimizer not in schema.optimizers:
        raise BnnoError(f"{where}: hparam 'optimizer' must be one of: "
                        f"{choices(schema.optimizers)}; got {optimizer!r}")
    for section, values in recipe.sections.items():
        keys = schema.keys(section, optimizer)
        for key, value in values.items():
            if section == "optimizer" and key == "name":
                continue
            if key not in keys:
                _refuse_flat(key, [], schema, optimizer, where)
            values[key] = keys[key].check(key, value)


def merged(levels: Iterable[Recipe], schema: Schema) -> Recipe:
    """Sets that extend one another (the root first) as one, section by section. A set
    that names another optimizer keeps those of its parent's options that its optimizer
    has too (the learning rate of the real-valued weights, say) and drops the others.

    Example:
        >>> from bnno.htypes import SCHEDULE
        >>> schema = Schema(optimizers={"adam": {"learning_rate": SCHEDULE, "beta": SCHEDULE},
        ...                             "bop": {"learning_rate": SCHEDULE, "gamma": SCHEDULE}})
        >>> a, b = Recipe.empty(), Recipe.empty()
        >>> a.sections["optimizer"].update(name="adam", learning_rate=0.1, beta=0.9)
        >>> b.sections["optimizer"].update(name="bop", gamma=1e-3)
        >>> merged([a, b], schema).sections["optimizer"]
        {'name': 'bop', 'learning_rate': 0.1, 'gamma': 0.001}
    """
    out = Recipe.empty()
    for level in levels:
        for section, values in level.sections.items():
            name = values.get("name")
            if section == "optimizer" and name is not None and name != out.optimizer:
                keys = schema.optimizers.get(name, {})
                out.sections[section] = {"name": name, **{
                    k: v for k, v in out.sections[section].items() if k in keys}}
            out.sections[section].update(values)
    return out


def resolve(model: str, set_name: str, overrides: Mapping[str, Any] | None, schema: Schema,
            fixed: Mapping[str, Any] | None = None, alias: str | None = None) -> Recipe:
    """The set ``set_name`` of ``model`` with ``overrides`` applied, every value checked.

    Args:
        model: model name (the files ``hparams/<model>.json``).
        set_name: name of a set in them.
        overrides: key → value, as ``apply`` takes them.
        schema: the keys each section may hold.
        fixed: model values the model's name fixes (an alias's): they replace the set's,
            and an override may not change them.
        alias: the name that fixes them, for the message.

    Raises:
        BnnoError: unknown set or key, a value of the wrong type, or an override of a
            fixed value.

    Example:
        A set of bnno's binarynet, with its schema as ``bnno.config`` makes it::

            recipe = resolve("binarynet", "bop_sec52", {"gamma.decay_rate": "0.5"}, schema)
            recipe.sections["optimizer"]["gamma"]["decay_rate"]  # 0.5
    """
    chain = _chain(load_file(model), model, set_name)
    where = f"hparam set '{set_name}' of '{model}'"
    levels, optimizer = [], None
    for raw in chain:
        name = raw.get("optimizer")
        optimizer = (name.get("name") if isinstance(name, dict) else name) or optimizer
        levels.append(sectioned(raw, schema, optimizer, where))
    recipe = merged(levels, schema)
    for key, value in (fixed or {}).items():
        recipe.sections["model"][key] = schema.model[key].check(key, value)
    recipe = apply(recipe, overrides or {}, schema, f"set '{set_name}' of '{model}'")
    for key, value in (fixed or {}).items():
        if recipe.sections["model"][key] != value:
            now = recipe.sections["model"][key]
            raise BnnoError(f"{alias or model} is {model} with {key}={value}; for {key}={now} "
                            f"train {model} --hparams {key}={now}")
    return recipe


# ----- overrides -------------------------------------------------------------------------


def parse_overrides(text: str | None) -> dict[str, str]:
    """``"key=value,key2=value2"`` (the ``--hparams`` option) as a dict of texts.

    Example:
        >>> parse_overrides("threshold=1e-6, gamma=1e-3")
        {'threshold': '1e-6', 'gamma': '1e-3'}
    """
    pairs: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BnnoError(f"--hparams item '{item}' is not of the form key=value")
        pairs[key.strip()] = value.strip()
    return pairs


def apply(recipe: Recipe, overrides: Mapping[str, Any], schema: Schema,
          where: str = "the set") -> Recipe:
    """``recipe`` with ``overrides`` applied: key → value, the value typed or a text that
    the key's type parses (``"1e-6"``, ``"none"``, ``"true"``).

    A flat key goes to the one section that has it; the optimizer's name (``optimizer``)
    is applied first, so flat keys reach the options of the optimizer it names, and the
    set's optimizer options that the new optimizer lacks are dropped (``dropped``).

    Raises:
        BnnoError: an unknown or ambiguous key, or a bad value.

    Example:
        >>> from bnno.htypes import INT, SCHEDULE
        >>> schema = Schema(model={"filters": INT},
        ...                 optimizers={"adam": {"learning_rate": SCHEDULE},
        ...                             "bop": {"learning_rate": SCHEDULE, "gamma": SCHEDULE}})
        >>> recipe = Recipe.empty()
        >>> recipe.sections["optimizer"].update(name="adam", learning_rate=5e-3)
        >>> out = apply(recipe, {"optimizer": "bop", "gamma": "1e-3"}, schema)
        >>> out.sections["optimizer"], sorted(out.given)
        ({'name': 'bop', 'learning_rate': 0.005, 'gamma': 0.001}, ['optimizer.gamma', \
'optimizer.name'])
    """
    out = Recipe({s: dict(v) for s, v in recipe.sections.items()}, set(recipe.given),
                 dict(recipe.dropped))
    # The optimizer first: the flat keys after it belong to the optimizer it names.
    items = sorted(overrides.items(), key=lambda kv: kv[0] not in ("optimizer", "optimizer.name"))
    for key, value in items:
        key = RENAMED.get(key, key)
        section, base, option = _route(key, out, schema, where)
        if section == "optimizer" and base == "name":
            _switch_optimizer(out, value, schema)
            continue
        htype = schema.keys(section, out.optimizer)[base]
        values = out.sections[section]
        if not option:
            values[base] = htype.check(key, htype.parse(value) if isinstance(value, str)
                                       else value)
        elif htype.set_field is None:
            raise BnnoError(f"hparam '{base}' has no fields, so '{key}' cannot be set")
        elif base not in values:
            raise BnnoError(f"{where} has no '{base}'; set {base}=... before {key}")
        else:
            values[base] = htype.check(base, htype.set_field(base, values[base], option, value))
        out.given.add(f"{section}.{base}")
    return out


def _route(key: str, recipe: Recipe, schema: Schema, where: str) -> tuple[str, str, str]:
    """(section, key, field) of an override key."""
    parts = key.split(".")
    if parts[0] in SECTIONS and len(parts) > 1:
        section, rest = parts[0], parts[1:]
        if section == "optimizer" and rest == ["name"]:
            return section, "name", ""
        if rest[0] not in schema.keys(section, recipe.optimizer):
            valid = list(schema.keys(section, recipe.optimizer))
            raise BnnoError(f"unknown hparam '{key}' for {where}; valid keys of {section}: "
                            f"{choices(valid) if valid else 'none'}")
        return section, rest[0], ".".join(rest[1:])
    base, option = parts[0], ".".join(parts[1:])
    if base == "optimizer" and not option:
        return "optimizer", "name", ""
    found = schema.sections_of(base, recipe.optimizer)
    if len(found) == 1:
        return found[0], base, option
    if found:
        raise BnnoError(f"'{base}' is a key of {' and of '.join(found)}; name one: "
                        f"{' or '.join(f'{s}.{key}' for s in found)}")
    owners = [n for n, keys in schema.optimizers.items() if base in keys]
    if owners:
        raise BnnoError(f"'{base}' is an option of optimizer {' and '.join(owners)}, not of "
                        f"{recipe.optimizer}; switch with optimizer={owners[0]}, or leave "
                        f"{base} out")
    valid = sorted({k for s in SECTIONS for k in schema.keys(s, recipe.optimizer)}
                   | {"optimizer"})
    raise BnnoError(f"unknown hparam '{base}' for {where}; valid keys: {choices(valid)}")


def _switch_optimizer(recipe: Recipe, name: Any, schema: Schema) -> None:
    if name not in schema.optimizers:
        raise BnnoError(f"hparam 'optimizer' must be one of: {choices(schema.optimizers)}; "
                        f"got {name!r}")
    old = recipe.sections["optimizer"]
    keys = schema.optimizers[name]
    recipe.sections["optimizer"] = {"name": name, **{k: v for k, v in old.items()
                                                     if k != "name" and k in keys}}
    if old.get("name") != name:
        recipe.dropped.update({k: v for k, v in old.items() if k != "name" and k not in keys})
    recipe.given.add("optimizer.name")
