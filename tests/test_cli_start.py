"""Commands that do not train answer at once: ``--help``, ``--version``, option errors,
``bnno hparams`` and ``bnno runs`` import no TensorFlow. The recipe commands read the
registries' index (``bnno.plugins``), written by the first full load, and decide exactly
as a full load does."""

import json
import subprocess
import sys

import pytest
from conftest import PYTHON, TESTS_DIR

from bnno import hparams, models, plugins
from bnno.analysis.recipe_table import flat
from bnno.config.plan import check_set

RUNS = TESTS_DIR / "fixtures" / "runs_v1"

# Runs bnno commands in one process, then says which of the packages it imported.
DRIVER = """
import json, sys
from bnno.cli import main
codes = []
for args in json.loads(sys.argv[1]):
    try:
        main(args)
        codes.append(0)
    except SystemExit as e:
        codes.append(e.code or 0)
print(json.dumps({"codes": codes, "tensorflow": "tensorflow" in sys.modules}))
"""

LIGHT = [["--help"], ["--version"], ["train", "binarynet", "--dataset", "cifar10", "--seed", "x"],
         ["hparams", "list"], ["hparams", "show", "binarynet", "bop", "--hparams", "gamma=1e-4"],
         ["hparams", "show", "binarynet", "bop2ndOrder", "--hparams", "gamma_decay=0.1"],
         ["hparams", "show", "sibnn_mlp", "sibnn", "--hparams", "activation.widht=1"],
         ["hparams", "doc"], ["runs", str(RUNS)], ["runs", str(RUNS), "--json"]]


def run(commands, env=None) -> dict:
    done = subprocess.run([PYTHON, "-c", DRIVER, json.dumps(commands)], capture_output=True,
                          text=True, check=True, env=env)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_commands_that_do_not_train_import_no_tensorflow(tmp_path):
    env = {**__import__("os").environ, "BNNO_CACHE_DIR": str(tmp_path)}
    first = run([["hparams", "list"]], env)  # no index yet: a full load writes it
    assert first == {"codes": [0], "tensorflow": True}
    assert len(list(tmp_path.glob("index-*.json"))) == 1
    found = run(LIGHT, env)
    # Option errors, the unknown option and the impossible decay are refused in one line.
    assert found["codes"] == [0, 0, 2, 0, 0, 2, 2, 0, 0, 0]
    assert not found["tensorflow"]
    assert run([["summary", "binarynet", "--dataset", "mnist", "--hparams",
                 "filters=4,dense_units=8", "--json"]], env)["tensorflow"]


def light_sets() -> dict:
    """Every set of every model, checked in a process that loaded the registries from
    their index."""
    # The index is read before any registry package is imported, as the CLI does.
    code = ("import json, sys; from bnno import plugins; plugins.load(light=True); "
            "from bnno import hparams, models; "
            "from bnno.analysis.recipe_table import flat; from bnno.config.plan import check_set; "
            "print(json.dumps({'light': plugins._state['mode'], 'sets': {f'{m}/{s}': "
            "flat(check_set(m, s).recipe) for m in models.names() if hparams.has_file(m) "
            "for s in hparams.set_names(m)}, 'tf': 'tensorflow' in sys.modules}))")
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_recipes_check_the_same_from_the_index_as_from_the_registries():
    plugins.load()
    plugins._write_index()  # this process's full load, written down
    found = light_sets()
    assert found["light"] == "light" and not found["tf"]
    full = {f"{m}/{s}": flat(check_set(m, s).recipe) for m in models.names()
            if hparams.has_file(m) for s in hparams.set_names(m)}
    assert json.loads(json.dumps(full)) == found["sets"]


def test_the_index_follows_the_installed_code(tmp_path, monkeypatch):
    package = tmp_path / "test_only_plugin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    class Point:
        name, value = "test_only", "test_only_plugin"

    monkeypatch.setattr(plugins, "installed", lambda: [Point()])
    before = plugins.index_file()
    (package / "models.py").write_text("# a plugin's new module\n")
    assert plugins.index_file() != before
    monkeypatch.setattr(plugins, "installed", lambda: [])
    assert plugins.index_file() not in (before,)
    assert sys.modules.get("test_only_plugin") is None  # found, never imported
