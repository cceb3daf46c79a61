"""bnno sweep on mock data: runs, summary table, figure, and skipping on re-run."""

import csv
import struct

import pytest
from conftest import TINY

from bnno.analysis.plots import figure_size
from bnno.analysis.sweep import configurations, run_name
from bnno.errors import BnnoError


def png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_grid_is_the_product_in_order_then_listed_configs():
    found = configurations({"gamma": ["1e-2", "1e-3"], "threshold": ["0", "1e-6"]},
                           [{"gamma": "5e-4"}])
    assert [run_name(c) for c in found] == [
        "gamma=1e-2_threshold=0", "gamma=1e-2_threshold=1e-6",
        "gamma=1e-3_threshold=0", "gamma=1e-3_threshold=1e-6", "gamma=5e-4"]
    assert found[0] == {"gamma": "1e-2", "threshold": "0"}


@pytest.mark.parametrize("grid, configs, message", [
    ({"gamma": []}, [], "--grid gamma has no values"), ({"gamma": ["1", "1"]}, [], "twice"),
    ({}, [{}], "sets nothing"), ({}, [], "needs configurations")])
def test_bad_grids_are_refused(grid, configs, message):
    with pytest.raises(BnnoError, match=message):
        configurations(grid, configs)


@pytest.mark.parametrize("grid, message", [
    ("gamma", "not of the form"), ("gamma=1,2 --grid gamma=3", "twice")])
def test_bad_grid_options_are_refused_in_one_line(cli, grid, message):
    code, _, err = cli("sweep", "binarynet", "--dataset", "cifar10", *(
        a for item in grid.split(" --grid ") for a in ("--grid", item)))
    assert code == 2 and message in err and err.count("\n") == 1


def test_bad_value_in_any_configuration_fails_before_training(mock_tfds, cli, tmp_path):
    code, _, err = cli("sweep", "binarynet", "--dataset", "cifar10", "--hparams-set", "bop",
                       "--grid", "gamma=1e-3,oops", "--output-dir", str(tmp_path / "s"))
    assert code == 2 and "gamma" in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_two_by_one_sweep_writes_table_and_figure_and_skips_on_rerun(mock_tfds, cli,
                                                                     tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", "binarynet", "--dataset", "cifar10", "--hparams-set", "bop",
            "--grid", "gamma=1e-2,1e-4", "--grid", "threshold=1e-4",
            "--hparams", TINY.replace("epochs=1", "epochs=2"), "--output-dir", str(out),
            "--steps-per-epoch", "3", "--validation-steps", "1", "--seed", "3",
            "--no-tensorboard"]
    code, stdout, err = cli(*args)
    assert code == 0, err
    names = ["gamma=1e-2_threshold=1e-4", "gamma=1e-4_threshold=1e-4"]
    for name in names:
        assert (out / name / "binarynet_weights.h5").exists()
    with open(out / "summary.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == names
    for row in rows:
        assert row["status"] == "finished" and row["epochs"] == "2"
        assert 0 <= float(row["val_accuracy_final"]) <= float(row["val_accuracy_best"]) <= 1
        assert 0 <= float(row["flip_ratio_final"]) <= 1
        assert -9 <= float(row["flip_pi_last_layer_final"]) <= 0
        assert float(row["train_seconds"]) > 0
    # gamma 1e-2 moves m a hundred times faster than 1e-4: more weights pass the threshold.
    assert float(rows[0]["flip_ratio_final"]) > float(rows[1]["flip_ratio_final"])
    from bnno.runs import read_metrics

    keys = [[k for k in read_metrics(out / n)[0] if k.startswith("flip_pi/")] for n in names]
    assert keys[0] == keys[1] and len(keys[0]) == 9  # same layer names in every run
    table = (out / "summary.md").read_text()
    assert table.count("| gamma=") == 2 and "final π (last layer)" in table
    assert "| gamma=1e-2_threshold=1e-4 |" in stdout  # the table is printed too
    assert png_size(out / "curves.png") == figure_size(3, 3)

    weights = {n: (out / n / "binarynet_weights.h5").read_bytes() for n in names}
    (out / names[1] / "binarynet_weights.h5").unlink()  # as if killed before saving
    code, stdout, err = cli(*args)
    assert code == 0, err
    assert f"{'gamma=1e-2,threshold=1e-4'}: finished, skipped" in stdout
    assert "gamma=1e-4,threshold=1e-4: finished, skipped" not in stdout
    assert (out / names[0] / "binarynet_weights.h5").read_bytes() == weights[names[0]]
    assert (out / names[1] / "binarynet_weights.h5").exists()
    with open(out / "summary.csv", encoding="utf-8") as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["finished", "finished"]
