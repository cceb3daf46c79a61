"""Figures of runs, sweeps and loss landscapes, drawn with matplotlib's headless Agg
backend (no display needed). matplotlib is imported only when a figure is drawn.

Every figure has a fixed size in pixels (``DPI`` dots per inch times the inch sizes
below), titles, axis labels with units and a legend; an axis of epochs ticks whole
epochs only.

Example:
    Draw the training curves of a run from its ``metrics.jsonl`` rows::

        from bnno import runs
        training_curves({"bop": runs.read_metrics(Path("runs/x"))}, "curves.png")
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

DPI = 100
PANEL = (6.4, 4.4)  # inches per panel: 640 x 440 pixels at DPI


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: files only, also without a display
    import matplotlib.pyplot as plt

    return plt


def figure_size(panels: int, cols: int) -> tuple[int, int]:
    """Pixel size (width, height) of a figure of ``panels`` panels in ``cols`` columns.

    Example:
        >>> figure_size(3, 3)
        (1920, 440)
        >>> figure_size(3, 2)
        (1280, 880)
    """
    rows = math.ceil(panels / cols)
    return round(PANEL[0] * cols * DPI), round(PANEL[1] * rows * DPI)


def _grid(plt, panels: int, cols: int):
    cols = min(cols, panels)
    rows = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(PANEL[0] * cols, PANEL[1] * rows),
                             dpi=DPI, squeeze=False)
    flat = list(axes.flat)
    for ax in flat[panels:]:
        ax.set_visible(False)
    return fig, flat[:panels]


def _save(plt, fig, path: str | Path) -> Path:
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        if ax.get_xlabel() == "epoch":  # 1, 2, 3 …, never 1.2, 1.4
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    # No bbox "tight": the file keeps the size figure_size() promises.
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    pairs = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _layer_keys(rows: list[dict[str, Any]], prefix: str) -> list[str]:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k.startswith(prefix) and k not in keys]
    return keys


def last_layer_key(row: dict[str, Any], prefix: str = "flip_pi/") -> str | None:
    """The key of the last binary layer's value in a metrics row (rows keep layer order).

    Example:
        >>> last_layer_key({"flip_pi/conv": -5.0, "flip_pi/dense": -6.0})
        'flip_pi/dense'
    """
    keys = [k for k in row if k.startswith(prefix)]
    return keys[-1] if keys else None


def training_curves(curves: dict[str, list[dict[str, Any]]], path: str | Path) -> Path:
    """Loss, accuracy and per-layer flip ratio against epochs, for one or more runs.

    ``curves`` maps a legend label to the run's ``metrics.jsonl`` rows. Loss and
    accuracy of all runs share two panels (training solid, validation dashed, one colour
    per run); each run with binary layers gets a panel of its per-layer flip ratios on a
    log scale (an epoch without flips is left out of that scale).

    Example:
        Compare the runs in the directories ``a`` and ``b`` in one figure, written to
        (and returned as) ``curves.png``::

            training_curves({"a": runs.read_metrics(a), "b": runs.read_metrics(b)},
                            "curves.png")
    """
    plt = _pyplot()
    with_flips = [name for name, rows in curves.items() if _layer_keys(rows, "flip_ratio/")]
    fig, axes = _grid(plt, 2 + len(with_flips), 2)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, rows) in enumerate(curves.items()):
        colour = colours[i % len(colours)]
        for ax, key in zip(axes[:2], ("loss", "accuracy"), strict=True):
            ax.plot(*_series(rows, key), color=colour, marker=".", label=f"{name} (train)")
            ax.plot(*_series(rows, "val_" + key), color=colour, linestyle="--", marker=".",
                    label=f"{name} (validation)")
    axes[0].set(title="Loss", xlabel="epoch", ylabel="cross-entropy (nats)")
    axes[1].set(title="Accuracy", xlabel="epoch", ylabel="accuracy (fraction correct)")
    for ax in axes[:2]:
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax, name in zip(axes[2:], with_flips, strict=True):
        rows = curves[name]
        keys = _layer_keys(rows, "flip_ratio/")
        cmap = plt.get_cmap("viridis")
        for j, key in enumerate(keys):
            epochs, values = _series(rows, key)
            shown = [(e, v) for e, v in zip(epochs, values, strict=True) if v > 0]
            ax.plot([e for e, _ in shown], [v for _, v in shown], marker=".",
                    color=cmap(j / max(len(keys) - 1, 1)), label=key[len("flip_ratio/"):])
        ax.set_yscale("log")
        ax.set(title=f"Flip ratio per binary layer: {name}", xlabel="epoch",
               ylabel="weights flipped per step (fraction)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="x-small", ncol=2, title="layer (first to last)",
                  title_fontsize="x-small")
    return _save(plt, fig, path)


def sweep_figure(curves: dict[str, list[dict[str, Any]]], path: str | Path,
                 title: str = "") -> Path:
    """Training accuracy, validation accuracy and the last binary layer's π against
    epochs, one curve per configuration: the layout of the Bop paper's Figure 1.

    Example:
        One curve per configuration, from each run's ``metrics.jsonl`` rows (the sweep's
        own ``curves.png`` is drawn so by ``bnno.analysis.sweep.write_summary``)::

            sweep_figure({"gamma=1e-3": rows_a, "gamma=1e-4": rows_b}, "curves.png",
                         "binarynet on cifar10")
    """
    plt = _pyplot()
    fig, axes = _grid(plt, 3, 3)
    for name, rows in curves.items():
        axes[0].plot(*_series(rows, "accuracy"), marker=".", label=name)
        axes[1].plot(*_series(rows, "val_accuracy"), marker=".", label=name)
        key = last_layer_key(rows[-1]) if rows else None
        if key:
            axes[2].plot(*_series(rows, key), marker=".", label=name)
    axes[0].set(title="Training accuracy", xlabel="epoch", ylabel="accuracy (fraction correct)")
    axes[1].set(title="Validation accuracy", xlabel="epoch",
                ylabel="accuracy (fraction correct)")
    axes[2].set(title="Flips of the last binary layer", xlabel="epoch",
                ylabel="π = ln(flip ratio per step + e⁻⁹)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return _save(plt, fig, path)


def compare_figure(curves: dict[str, list[dict[str, Any]]], path: str | Path,
                   title: str = "") -> Path:
    """Validation accuracy and the flip ratio of all binary weights against epochs, one
    curve per (model, set) of a comparison (``bnno.analysis.compare``).

    The flip ratio is on a log scale; an epoch without flips is left out of it.

    Example:
        >>> import tempfile
        >>> rows = [{"epoch": 1, "val_accuracy": 0.4, "flip_ratio_all": 1e-3},
        ...         {"epoch": 2, "val_accuracy": 0.5, "flip_ratio_all": 5e-4}]
        >>> path = compare_figure({"binarynet / bop": rows},
        ...                       Path(tempfile.mkdtemp()) / "c.png", "cifar10")
        >>> from PIL import Image
        >>> Image.open(path).size == figure_size(2, 2)
        True
    """
    plt = _pyplot()
    fig, axes = _grid(plt, 2, 2)
    for name, rows in curves.items():
        axes[0].plot(*_series(rows, "val_accuracy"), marker=".", label=name)
        shown = [(e, v) for e, v in zip(*_series(rows, "flip_ratio_all"), strict=True) if v > 0]
        axes[1].plot([e for e, _ in shown], [v for _, v in shown], marker=".", label=name)
    axes[0].set(title="Validation accuracy", xlabel="epoch",
                ylabel="accuracy (fraction correct)")
    axes[1].set(title="Flip ratio, all binary weights", xlabel="epoch",
                ylabel="weights flipped per step (fraction)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return _save(plt, fig, path)


def landscape_1d(alphas, losses, path: str | Path, title: str) -> Path:
    """Loss along one direction; the trained model sits at 0.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> alphas = np.linspace(-1, 1, 5)
        >>> path = landscape_1d(alphas, alphas**2, Path(tempfile.mkdtemp()) / "l.png", "x²")
        >>> from PIL import Image
        >>> path.name, Image.open(path).size
        ('l.png', (640, 440))
    """
    plt = _pyplot()
    fig, (ax,) = _grid(plt, 1, 1)
    ax.plot(alphas, losses, marker=".", label="loss on the fixed training batches")
    ax.axvline(0.0, color="grey", linestyle=":", label="the model (α = 0)")
    ax.set(title=title, xlabel="α (step along the filter-normalised direction)",
           ylabel="cross-entropy (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(plt, fig, path)


def landscape_2d(alphas, betas, losses, contour_path: str | Path, surface_path: str | Path,
                 title: str) -> tuple[Path, Path]:
    """Contour map and 3-D surface of the loss over two directions (``losses[i, j]`` at
    ``alphas[i]``, ``betas[j]``).

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> a = np.linspace(-1, 1, 5)
        >>> out = Path(tempfile.mkdtemp())
        >>> paths = landscape_2d(a, a, np.add.outer(a**2, a**2), out / "contour.png",
        ...                      out / "surface.png", "x² + y²")
        >>> [p.name for p in paths]
        ['contour.png', 'surface.png']
    """
    import numpy as np

    plt = _pyplot()
    grid_a, grid_b = np.meshgrid(alphas, betas, indexing="ij")
    fig, (ax,) = _grid(plt, 1, 1)
    filled = ax.contourf(grid_a, grid_b, losses, levels=30, cmap="viridis")
    ax.contour(grid_a, grid_b, losses, levels=15, colors="white", linewidths=0.5)
    fig.colorbar(filled, ax=ax, label="cross-entropy (nats)")
    ax.plot([0], [0], marker="*", color="red", markersize=12, linestyle="",
            label="the model (0, 0)")
    ax.set(title=title, xlabel="α (direction 1)", ylabel="β (direction 2)")
    ax.legend(fontsize="small", loc="upper right")
    contour = _save(plt, fig, contour_path)

    fig = plt.figure(figsize=PANEL, dpi=DPI)
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(grid_a, grid_b, losses, cmap="viridis", linewidth=0, antialiased=True)
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis):  # the default ticks overlap on the slanted axes
        axis.set_major_locator(MaxNLocator(5))
    ax.set(title=title, xlabel="α (direction 1)", ylabel="β (direction 2)",
           zlabel="cross-entropy (nats)")
    surface = _save(plt, fig, surface_path)
    return contour, surface


def bench_figure(rows: list[dict[str, Any]], cells: list[dict[str, Any]], path: str | Path,
                 title: str = "") -> Path:
    """A bench's table as four panels of bars, one bar per binarizer
    (``bnno.analysis.bench``): accuracy (clean and each corruption), the final accuracy
    of every set of the grid, training seconds per epoch relative to full precision, and
    the theoretical speed-up (labelled with the exported size).

    Example:
        >>> import tempfile
        >>> rows = [{"model": "m", "dataset": "d", "binarizer": "fp32", "acc": 0.8,
        ...          "epoch_ratio": 1.0, "speedup": 1.0, "tflite_kb": 90.0},
        ...         {"model": "m", "dataset": "d", "binarizer": "bnn", "acc": 0.6,
        ...          "epoch_ratio": 1.4, "speedup": 9.5, "tflite_kb": 20.0}]
        >>> path = bench_figure(rows, [], Path(tempfile.mkdtemp()) / "b.png", "cifar10")
        >>> from PIL import Image
        >>> Image.open(path).size == figure_size(4, 2)
        True
    """
    plt = _pyplot()
    fig, axes = _grid(plt, 4, 2)
    several = len({(r["model"], r["dataset"]) for r in rows}) > 1
    labels = [f"{r['model']}/{r['dataset']}/{r['binarizer']}" if several else r["binarizer"]
              for r in rows]
    x = list(range(len(rows)))
    keys = ["acc"] + sorted({k for r in rows for k in r if k.startswith("corrupted:")})
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        axes[0].bar([v + i * width for v in x], [r.get(key) or 0.0 for r in rows], width,
                    label="clean" if key == "acc" else key.removeprefix("corrupted:"))
    axes[0].set(title="Accuracy", ylabel="top-1 accuracy (fraction correct)")
    axes[0].legend(fontsize="small")
    for j, r in enumerate(rows):
        found = [c.get("val_accuracy_final") for c in cells
                 if (c["model"], c["dataset"], c["binarizer"]) ==
                 (r["model"], r["dataset"], r["binarizer"])]
        found = [a for a in found if a is not None]
        axes[1].scatter([j] * len(found), found, marker="o", alpha=0.7)
    axes[1].set(title="Accuracy over the grid of sets", ylabel="top-1 accuracy (fraction correct)")
    axes[2].bar(x, [r.get("epoch_ratio") or 0.0 for r in rows])
    axes[2].axhline(1.0, color="grey", linewidth=1)
    axes[2].set(title="Training time per epoch", ylabel="× full precision")
    bars = axes[3].bar(x, [r.get("speedup") or 0.0 for r in rows])
    for bar, r in zip(bars, rows, strict=True):
        if r.get("tflite_kb"):
            axes[3].annotate(f"{r['tflite_kb']:.0f} KB", (bar.get_x() + bar.get_width() / 2,
                                                          bar.get_height()),
                             ha="center", va="bottom", fontsize="x-small")
    axes[3].set(title="Theoretical speed-up (labels: .tflite size)",
                ylabel="FP FLOPs / (BOPs/64 + FLOPs)")
    for ax in axes:
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize="small")
        ax.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title)
    return _save(plt, fig, path)
