"""A paper as a plugin package: the example in docs/plugin-example (a binary MLP, a sign
with a triangular gradient, SGD with Nesterov momentum, a recipe), installed with pip into
a folder of its own, lists, trains (also latent-free with Bop), evaluates and exports
fully binary; a plugin that fails to load is named in one warning line and bnno works on.

bnno runs in child processes whose path holds the installed plugin, so the registries of
this process see none of it.
"""

import json
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import PYTHON, TESTS_DIR

EXAMPLE = TESTS_DIR.parent / "docs" / "plugin-example"
SHORT = ["--steps-per-epoch", "2", "--validation-steps", "1", "--seed", "1",
         "--no-tensorboard", "--verbose", "2"]

# Runs several bnno commands in one process (one TensorFlow start) on mock data, and
# prints, per command, its exit code, stdout and stderr as one JSON line.
DRIVER = textwrap.dedent("""
    import bnno, contextlib, io, json, os, sys
    import tensorflow_datasets as tfds
    from mock_bnno import MOCK_EXAMPLES, write_mock_metadata
    from bnno.cli import main

    root = os.environ["BNNO_TEST_MOCK_DIR"]
    write_mock_metadata(root, "mnist", MOCK_EXAMPLES)
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=root):
        for args in json.loads(sys.argv[1]):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main(args)
                    code = 0
                except SystemExit as e:
                    code = e.code or 0
            print(json.dumps([code, out.getvalue(), err.getvalue()]), flush=True)
""")


def install(source, target) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """A folder the example plugin and a broken one are installed into."""
    root = tmp_path_factory.mktemp("plugins")
    install(EXAMPLE, root / "site")
    broken = root / "broken"
    shutil.copytree(EXAMPLE, broken)
    (broken / "pyproject.toml").write_text(
        (broken / "pyproject.toml").read_text().replace('name = "toy-bnn"',
                                                        'name = "broken-bnn"')
        .replace('toy = "toy_bnn"', 'broken = "broken_bnn"')
        .replace('packages = ["toy_bnn"]', 'packages = ["broken_bnn"]')
        .replace("toy_bnn = [", "broken_bnn = ["))
    (broken / "toy_bnn").rename(broken / "broken_bnn")
    (broken / "broken_bnn" / "__init__.py").write_text(
        "from bnno.models import register\n\n\n@register\n"
        "def broken_net(input_shape, num_classes, *, units=4):  # no type hint: refused\n"
        "    pass\n")
    install(broken, root / "site")
    return root / "site"


def bnno_commands(plugin_path, subprocess_env, *commands) -> list:
    env = {**subprocess_env, "PYTHONPATH": f"{plugin_path}:{subprocess_env['PYTHONPATH']}"}
    done = subprocess.run([PYTHON, "-c", DRIVER, json.dumps(commands)], env=env, check=True,
                          capture_output=True, text=True, cwd=TESTS_DIR)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]


@pytest.mark.slow
def test_a_plugin_lists_trains_evaluates_and_exports(plugin_path, subprocess_env, tmp_path):
    latent, bop = tmp_path / "latent", tmp_path / "bop"
    tiny = "units=16,epochs=1,batch_size=8"
    results = bnno_commands(
        plugin_path, subprocess_env,
        ["--version"],
        ["hparams", "list", "toy_mlp"],
        ["hparams", "show", "toy_mlp", "sgd", "--hparams", "activation.width=2"],
        ["train", "toy_mlp", "--dataset", "mnist", "--hparams", tiny,
         "--output-dir", str(latent), *SHORT],
        ["train", "toy_mlp", "--dataset", "mnist", "--hparams",
         f"{tiny},optimizer=bop,threshold=1e-6,gamma=1e-3", "--output-dir", str(bop), *SHORT],
        ["evaluate", str(latent), "--json"],
        ["export", str(bop), "-o", str(tmp_path / "toy.tflite"), "--check-examples", "8",
         "--json"],
        ["hparams", "show", "toy_mlp", "sgd", "--hparams", "activation.width=20"],
    )
    (_, version, _), (code, listed, err), (code_show, shown, _), *trained, \
        (code_eval, evaluated, _), (code_export, exported, export_err), (code_bad, _, bad) = results
    assert "plugins: broken (broken_bnn), toy (toy_bnn)" in version
    assert code == 0 and "toy_mlp\n  sgd" in listed
    # The broken plugin is named in one warning line; bnno works without it.
    warnings = [line for line in err.splitlines() if line.startswith("Warning:")]
    assert warnings == ["Warning: bnno plugin 'broken' (broken_bnn) failed to load and is left "
                        "out: BnnoError: model 'broken_net', hparam 'units' needs a default "
                        "and a type hint"]
    assert code_show == 0 and json.loads(shown)["model"]["activation"] == {
        "name": "toy_tri_sign", "width": 2.0}
    for code_train, out, err_train in trained:
        assert code_train == 0, err_train
        assert "epoch 1/1" in out
    assert "kernel_quantizer ste_sign -> none" in trained[1][1]  # latent settings gave way
    spec = json.loads((bop / "run.json").read_text())
    assert spec["optimizer"]["name"] == "bop" and spec["model"]["name"] == "toy_mlp"
    assert json.loads((latent / "run.json").read_text())["optimizer"]["options"] == {
        "learning_rate": {"schedule": "cosine_decay", "initial": 0.05}, "momentum": 0.9,
        "nesterov": True}
    assert code_eval == 0 and 0 <= json.loads(evaluated)["accuracy"] <= 1
    assert code_export == 0, export_err
    result = json.loads(exported)
    # Two hidden layers and the classifier have binary inputs and kernels.
    assert result["binary_ops"] == result["binary_layers"] == 3
    assert result["float_by_design"] == [] and result["check"]["passed"]
    assert code_bad == 2 and "option 'width' of quantizer 'toy_tri_sign' expects a number " \
        "from 0.1 to 10, got 20" in bad
