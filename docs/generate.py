"""Write the site's generated pages from ``hparams/``: ``docs/recipes.md`` (every model's
sets, as ``bnno hparams doc -o docs/recipes.md`` writes it) and ``docs/_recipes/<model>.md``
(one model's table, which the paper pages include).

Run it after changing a recipe; a test fails while a generated page differs from the sets::

    python docs/generate.py
"""

from __future__ import annotations

from pathlib import Path

from bnno import hparams, models, plugins
from bnno.analysis.recipe_table import markdown, model_table

DOCS = Path(__file__).resolve().parent


def pages() -> dict[Path, str]:
    """Every generated page, by path, with the text it must hold."""
    plugins.load(light=True)
    out = {DOCS / "recipes.md": markdown()}
    for model in models.names():
        if hparams.has_file(model):
            # One heading level down: the paper pages put it under their "Recipes" heading.
            out[DOCS / "_recipes" / f"{model}.md"] = "#" + model_table(model)
    return out


def main() -> None:
    """Write every generated page; remove per-model pages of models that are gone."""
    wanted = pages()
    for path in (DOCS / "_recipes").glob("*.md"):
        if path not in wanted:
            path.unlink()
    for path, text in wanted.items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path.relative_to(DOCS.parent))


if __name__ == "__main__":
    main()
