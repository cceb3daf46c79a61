"""``docs/recipes.md``: every model's hparam sets, their key values and sources, as Markdown.

The page is generated from ``hparams/`` by ``bnno hparams doc -o docs/recipes.md`` and a
test fails when the committed page differs from what the sets say, so the page cannot
drift from the recipes.

Example:
    >>> print(value_text({"schedule": "exponential_decay", "initial": 1e-3,
    ...                   "decay_epochs": 100, "decay_rate": 0.1, "staircase": True}))
    exponential_decay(initial 0.001, decay_epochs 100, decay_rate 0.1, staircase)
"""

from __future__ import annotations

from typing import Any

from bnno import hparams, models, plugins
from bnno.config.schema import schema_for

# Columns of their own, in this order; every other key goes to "other values".
COLUMNS = {
    "optimizer": "optimizer",
    "learning_rate": "learning rate",
    "batch_size": "batch",
    "epochs": "epochs",
    "preprocess_fn": "preprocessing",
}

HEADER = """# Recipes

Every hparam set of every model, with its key values and where they come from.
Generated from `hparams/` by `bnno hparams doc -o docs/recipes.md`; do not edit by hand
(a test fails when this page differs from the sets). Keys a set leaves out take the
model builder's default or the trainer's (`bnno hparams show MODEL SET` prints a whole
set). A set's description names where bnno deviates from its source.
"""


def value_text(value: Any) -> str:
    """One value as it reads in the table: numbers short, schedules and quantizers with
    options on one line.

    Example:
        >>> value_text(5e-3), value_text(None), value_text(True)
        ('0.005', 'none', 'true')
        >>> value_text({"name": "sibnn", "rho": 0.3})
        'sibnn(rho 0.3)'
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    for kind in ("schedule", "name"):  # a schedule, or a quantizer with its options
        if isinstance(value, dict) and kind in value:
            fields = [k if v is True else f"{k} {value_text(v)}"
                      for k, v in value.items() if k != kind]
            return f"{value[kind]}({', '.join(fields)})" if fields else str(value[kind])
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def model_table(model: str) -> str:
    """The Markdown section of ``model``: one row per set.

    Example:
        >>> model_table("binarynet").splitlines()[0]
        '## binarynet'
    """
    schema = schema_for(model)
    head = ["set", *COLUMNS.values(), "other values", "source"]
    lines = [f"## {model}", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for name in hparams.set_names(model):
        hp = flat(hparams.resolve(model, name, None, schema))
        meta = hparams.metadata(model, name)
        cells = [f"`{name}`"]
        cells += [value_text(hp[k]) if k in hp else "" for k in COLUMNS]
        cells.append(", ".join(f"{k} {value_text(v)}" for k, v in hp.items()
                               if k not in COLUMNS))
        cells.append(meta.get("source", ""))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines.append("")
    for alias, fixed in models.aliases(model).items():
        pinned = ", ".join(f"{k} {value_text(v)}" for k, v in fixed.items())
        lines.append(f"- also named `{alias}`" + (f" (with {pinned}, whatever the set says)"
                                                  if pinned else ""))
    for name in hparams.set_names(model):
        lines.append(f"- `{name}`: {hparams.metadata(model, name).get('description', '')}")
    return "\n".join(lines) + "\n"


def flat(recipe: hparams.Recipe) -> dict[str, Any]:
    """A resolved set's values side by side, the optimizer's name as ``optimizer``.

    Example:
        >>> recipe = hparams.Recipe.empty()
        >>> recipe.sections["optimizer"].update(name="bop", gamma=1e-3)
        >>> recipe.sections["trainer"]["epochs"] = 3
        >>> flat(recipe)
        {'optimizer': 'bop', 'gamma': 0.001, 'epochs': 3}
    """
    values: dict[str, Any] = {}
    for section in hparams.SECTIONS:
        for key, value in recipe.sections[section].items():
            values["optimizer" if (section, key) == ("optimizer", "name") else key] = value
    return values


def markdown() -> str:
    """The whole page: the header, then one section per model with hparam sets.

    Example:
        >>> markdown().startswith("# Recipes")
        True
    """
    plugins.load()
    sections = [model_table(m) for m in models.names() if hparams.has_file(m)]
    return HEADER + "\n" + "\n".join(sections)
