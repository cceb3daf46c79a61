"""Tables printed to a terminal fit its width and leave long sources to the Markdown
file; figures against epochs tick whole epochs (compare, sweep, bench and run curves)."""

import pytest

from bnno.analysis import compare, jobs, plots, sweep

SOURCE = "plumerai/rethinking-bnn-optimization bnn_optimization/models/binarynet.py " * 3


def _compare_rows():
    return [{"model": "binarynet", "set": f"set{i}", "epochs": 2, "val_accuracy_final": 0.5,
             "val_accuracy_best": 0.6, "best_epoch": 2, "epoch_seconds": 3.0,
             "flip_ratio_final": 1e-3, "status": "finished", "source": SOURCE}
            for i in range(3)]


@pytest.mark.parametrize("width", [40, 80, 200])
def test_compare_tables_fit_the_terminal_without_sources(width):
    text = compare.terminal_table(_compare_rows(), width)
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert max(len(line) for line in table) <= width
    assert "plumerai" not in text
    assert ("not shown" in text) == (width < 200)
    assert "plumerai" in compare.table(_compare_rows())  # the Markdown file keeps them


def test_long_text_cells_are_cut_for_the_terminal():
    rows = [{"run": "gamma=" + "1" * 60, "epochs": 2}]
    text = sweep.terminal_table(rows, 80)
    assert "gamma=111" in text and "…" in text and "1" * 60 not in text
    assert len(jobs.fit_table(rows, [("run", "run")], 20).splitlines()[2]) <= 4 + jobs.CELL


def _ticks(draw, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    figures = []
    original = plt.close
    plt.close = lambda fig=None: figures.append(fig)  # keep the figure to read its axes
    try:
        draw(tmp_path / "f.png")
    finally:
        plt.close = original
    ticks = [list(ax.get_xticks()) for fig in figures for ax in fig.axes
             if ax.get_xlabel() == "epoch" and ax.get_visible()]
    for fig in figures:
        original(fig)
    assert set(plt.get_fignums()) <= before
    return ticks


ROWS = [{"epoch": e, "loss": 1.0 / e, "accuracy": 0.1 * e, "val_loss": 1.0 / e,
         "val_accuracy": 0.1 * e, "flip_ratio_all": 1e-3 / e, "flip_ratio/conv": 1e-3 / e,
         "flip_pi/conv": -5.0} for e in (1, 2, 3)]


@pytest.mark.parametrize("draw", [
    lambda p: plots.compare_figure({"a": ROWS}, p),
    lambda p: plots.sweep_figure({"a": ROWS}, p),
    lambda p: plots.training_curves({"a": ROWS}, p),
], ids=["compare", "sweep", "run"])
def test_figures_tick_whole_epochs(draw, tmp_path):
    ticks = _ticks(draw, tmp_path)
    assert ticks and all(t == int(t) for axis in ticks for t in axis)
