"""The documentation site's generated pages are what ``hparams/`` says, every model's
recipe table is shown on a page, and the README's set-up is the one CI runs."""

import importlib.util
import re

from conftest import TESTS_DIR

ROOT = TESTS_DIR.parent
DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_pages_are_up_to_date():
    wanted = _generator().pages()
    stale = [str(p.relative_to(ROOT)) for p, text in wanted.items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    gone = [str(p.relative_to(ROOT)) for p in (DOCS / "_recipes").glob("*.md")
            if p not in wanted]
    assert not stale and not gone, (
        f"stale generated pages {stale}, pages of models that are gone {gone}: "
        "run `python docs/generate.py`")


def test_every_models_recipe_table_is_on_a_page():
    pages = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md")
                      if "_recipes" not in p.parts)
    included = set(re.findall(r'--8<-- "docs/_recipes/([\w-]+)\.md"', pages))
    tables = {p.stem for p in (DOCS / "_recipes").glob("*.md")}
    assert tables <= included, (
        f"no page shows the recipes of {sorted(tables - included)}: include "
        "docs/_recipes/<model>.md in its paper's page under docs/papers/")


def test_readme_set_up_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in ('pip install -e ".[test]"', "pytest"):
        assert f"\n{command} " in readme, command
    assert re.search(r'^python -m pip install (--quiet )?-e "\.\[test\]"', ci, re.MULTILINE)
    assert re.search(r"^pytest\b", ci, re.MULTILINE)
    assert len(readme.splitlines()) <= 150
