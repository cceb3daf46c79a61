"""bnno compare on mock data: every (model, set) at one budget, table, figure, resume."""

import csv

import numpy as np
import pytest
from conftest import TINY, all_weights
from test_sweep import png_size

from bnno.analysis.plots import figure_size

SMALL = TINY.replace(",epochs=1", "")


@pytest.mark.slow
def test_two_sets_train_at_one_budget_and_rerun_skips(mock_tfds, cli, tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", "binarynet", "--dataset", "cifar10", "--sets", "default,bop",
            "--epochs", "2", "--hparams", SMALL, "--output-dir", str(out),
            "--steps-per-epoch", "2", "--validation-steps", "1", "--seed", "5",
            "--no-tensorboard", "--verbose", "0"]
    code, stdout, err = cli(*args)
    assert code == 0, err
    with open(out / "summary.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["model"], r["set"]) for r in rows] == [("binarynet", "default"),
                                                    ("binarynet", "bop")]
    from bnno import hparams, runs

    for row in rows:
        assert row["status"] == "finished" and row["epochs"] == "2"
        assert float(row["epoch_seconds"]) > 0
        assert 0 <= float(row["flip_ratio_final"]) <= 1
        assert row["source"] == hparams.metadata("binarynet", row["set"])["source"]
        spec = runs.read(out / row["run"])
        # The shared budget replaced each set's own epochs; everything else is the set's.
        assert spec["trainer"]["epochs"] == 2 and spec["seed"] == 5
        assert spec["hparams_set"] == row["set"]
    assert runs.read(out / "binarynet-default")["optimizer"]["name"] == "adam"
    assert runs.read(out / "binarynet-bop")["optimizer"]["name"] == "bop"
    table = (out / "summary.md").read_text()
    assert "| binarynet | bop | 2 |" in table and "| binarynet | bop | 2 |" in stdout
    assert png_size(out / "curves.png") == figure_size(2, 2)

    final = out / "binarynet-bop" / "binarynet_weights.h5"
    saved = all_weights(final)
    final.unlink()  # as if killed after the last checkpoint, before saving
    code, stdout, err = cli(*args)
    assert code == 0, err
    assert "binarynet-default: finished, skipped" in stdout
    restored = all_weights(final)  # from the checkpoint, without training again
    assert restored.keys() == saved.keys()
    assert all(np.array_equal(restored[k], saved[k]) for k in saved)

    code, _, err = cli(*[a if a != "5" else "6" for a in args])  # another seed, same dir
    assert code == 2 and "another seed" in err and "Traceback" not in err


def test_unknown_set_names_the_models_sets_and_writes_nothing(mock_tfds, cli, tmp_path):
    code, _, err = cli("compare", "binarynet", "xnornet", "--dataset", "cifar10",
                       "--sets", "bop,nope", "--output-dir", str(tmp_path / "c"))
    assert code == 2 and "Traceback" not in err
    assert "binarynet has no hparam set 'nope'" in err and "default" in err
    assert not (tmp_path / "c").exists()


def test_sets_must_be_named_once(cli, tmp_path):
    code, _, err = cli("compare", "binarynet", "--dataset", "cifar10", "--sets", "bop,bop")
    assert code == 2 and "twice" in err
