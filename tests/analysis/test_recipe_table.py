"""Every set names its source, and docs/recipes.md is what the sets say."""

import json

import pytest
from conftest import TESTS_DIR

from bnno import hparams, models, plugins
from bnno.analysis.recipe_table import markdown

plugins.load()
PAGE = TESTS_DIR.parent / "docs" / "recipes.md"


@pytest.mark.parametrize("model", models.names())
def test_every_model_has_sets_and_every_set_says_where_its_values_come_from(model):
    assert hparams.has_file(model), f"model {model} has no hparam sets: add hparams/{model}.json"
    for name, own in hparams.load_file(model).items():
        assert isinstance(own.get("source"), str) and own["source"].strip(), (model, name)
        assert own.get("description"), (model, name)


def test_recipes_page_is_up_to_date():
    assert PAGE.read_text(encoding="utf-8") == markdown(), (
        "docs/recipes.md is stale: run `bnno hparams doc -o docs/recipes.md`")


def test_recipes_page_lists_every_set_with_its_values():
    text = markdown()
    for model in models.names():
        assert f"## {model}\n" in text
        for name in hparams.set_names(model):
            assert f"| `{name}` |" in text
    row = next(line for line in text.splitlines() if line.startswith("| `adam_sec52` |"))
    assert "| adam | exponential_decay(initial 0.001," in row and "| 50 | 500 |" in row


def test_hparams_show_prints_the_source_first(cli):
    code, stdout, _ = cli("hparams", "show", "binarynet", "bop_sec52")
    shown = json.loads(stdout)
    assert code == 0 and list(shown)[:2] == ["description", "source"]
    assert shown["source"] == hparams.load_file("binarynet")["bop_sec52"]["source"]
    assert shown["trainer"]["epochs"] == 500


def test_hparams_doc_writes_the_page(cli, tmp_path):
    out = tmp_path / "recipes.md"
    code, _, err = cli("hparams", "doc", "-o", str(out))
    assert code == 0, err
    assert out.read_text(encoding="utf-8") == markdown()
