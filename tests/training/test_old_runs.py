"""Run directories written before quantizer specs (``rho`` and ``input_quantizer`` as
hparams of their own) still resume, evaluate and load with the same model."""

import json

import numpy as np
import pytest

import bnno.train
from bnno import hparams
from bnno import runs
from bnno.training.loading import load_trained

TINY = "units=16,batch_size=8,epochs=1"
SHORT = dict(steps_per_epoch=2, validation_steps=1, seed=3, tensorboard=False)


def test_renamed_keys_take_their_new_form():
    assert hparams.renamed({"activation": "sibnn", "rho": 0.4}) == {
        "activation": {"name": "sibnn", "rho": 0.4}}
    assert hparams.renamed({"input_quantizer": "sibnn", "rho": 0.4}) == {
        "activation": {"name": "sibnn", "rho": 0.4}}
    # rho did nothing next to another binarizer, so it goes.
    assert hparams.renamed({"activation": "ste_sign", "rho": 0.3}) == {"activation": "ste_sign"}
    assert hparams.renamed({"activation": None, "rho": 0.3}) == {"activation": None}


@pytest.mark.parametrize("old_key", ["activation", "input_quantizer"])
def test_an_old_sibnn_run_resumes_and_evaluates(mock_tfds, tmp_path, old_key):
    run_dir = bnno.train.train("sibnn_mlp", "mnist", "sibnn", TINY + ",activation.rho=0.4",
                               output_dir=tmp_path / "run", **SHORT)
    spec = runs.read(run_dir)
    assert spec["hparams"]["activation"] == {"name": "sibnn", "rho": 0.4}
    trained, _ = load_trained(run_dir, spec, (28, 28, 1), 10)
    # Rewrite run.json as bnno wrote it before quantizer specs.
    old = dict(spec["hparams"])
    del old["activation"]
    old.update({old_key: "sibnn", "rho": 0.4})
    (run_dir / runs.RUN_FILE).write_text(json.dumps({**spec, "hparams": old}))

    reloaded, _ = load_trained(run_dir, runs.read(run_dir), (28, 28, 1), 10)
    rhos = [q.rho for q in _sibnn(reloaded)]
    assert rhos and set(rhos) == {0.4}
    for a, b in zip(trained.weights, reloaded.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert "accuracy" in bnno.train.evaluate(run_dir, verbose=0)
    # The same command with one more epoch resumes the old run.
    bnno.train.train("sibnn_mlp", "mnist", "sibnn",
                     TINY.replace("epochs=1", "epochs=2") + ",activation.rho=0.4",
                     output_dir=run_dir, **SHORT)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def _sibnn(model):
    from bnno.quantizers.sibnn import quantizers

    return quantizers(model)
