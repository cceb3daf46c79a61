"""Loss landscapes of binary networks along random directions in weight space.

After Li et al. (NeurIPS 2018, "Visualizing the Loss Landscape of Neural Nets"), as
binary-network papers apply it to latent and binary weights: draw Gaussian directions d with the
shape of every kernel, rescale each filter (a slice along the kernel's last, output
axis) of d to the norm of the same filter of the weights ("filter normalisation"), and
evaluate the loss at w + α·d₁ (+ β·d₂) on a fixed set of training batches, with the
model's binarization applied and batch norm in inference mode.

What is perturbed:

* Only kernels (convolutions, dense layers, real-valued or binary). Batch-norm
  parameters and statistics and all biases get a zero direction: they are not weights
  the binarization acts on, and Li et al. leave them out as well.
* Latent-weight models (Adam with a kernel quantizer): the real-valued latent weights,
  which are what the optimizer moves; the kernel quantizer binarizes them in the forward
  pass as in training. The landscape is thus the binary network's loss as a function
  of the latent weights: flat wherever no sign changes.
* Bop models: there are no latent weights, the kernels themselves are ±1. They are
  perturbed as real vectors (each filter's norm is √fan-in, so the direction's entries
  are about N(0, 1)) and the sign is taken again, so every point of the landscape is a
  binary network: at step α, weight i flips when its direction entry opposes it by more
  than 1/|α|.

Example:
    The 2-D landscape of a trained run, written to ``<run>/landscape``: the grid in
    ``landscape_2d.npz``, its figures in ``landscape_2d_contour.png`` and
    ``landscape_2d_surface.png``::

        out = landscape("runs/binarynet-cifar10-bop-20261122-080000",
                        Grid(value_range=1.0, points=41, two_d=True))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bnno import data, runs
from bnno.config import stored
from bnno.data import registry
from bnno.errors import BnnoError


@dataclass(frozen=True)
class Grid:
    """Where a landscape is evaluated: ``points`` steps from ``-value_range`` to
    ``value_range`` along one direction (two with ``two_d``), on ``batches`` fixed
    training batches of ``batch_size`` (default: the run's), directions and batches
    drawn with ``seed``.

    Example:
        >>> Grid(two_d=True).points
        41
    """

    value_range: float = 1.0
    points: int = 41
    two_d: bool = False
    batches: int = 4
    batch_size: int | None = None
    seed: int = 0

    def check(self) -> None:
        """Refuse a grid that cannot be drawn.

        Example:
            >>> Grid(points=4).check()
            Traceback (most recent call last):
            ...
            bnno.errors.BnnoError: --points must be odd and at least 3 (so 0 is on the grid), got 4
        """
        if self.points < 3 or self.points % 2 == 0:
            raise BnnoError(f"--points must be odd and at least 3 (so 0 is on the grid), "
                            f"got {self.points}")
        if not self.value_range > 0:
            raise BnnoError(f"--range must be positive, got {self.value_range}")
        if self.batches < 1 or (self.batch_size is not None and self.batch_size < 1):
            raise BnnoError("--batches and --batch-size must be positive")


def kernels(model) -> list:
    """The variables a landscape perturbs: every trainable kernel of ``model``.

    Example:
        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((4, 4, 1)), tf.keras.layers.Conv2D(2, 3, name="conv"),
        ...     tf.keras.layers.BatchNormalization(name="bn"), tf.keras.layers.Flatten(),
        ...     tf.keras.layers.Dense(2, name="fc")])
        >>> [v.name for v in kernels(model)]
        ['conv/kernel:0', 'fc/kernel:0']
    """
    return [v for v in model.trainable_variables
            if v.name.split("/")[-1].split(":")[0] in ("kernel", "depthwise_kernel")]


def filter_normalised_direction(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian direction whose every filter (last-axis slice) has the norm of the same
    filter of ``weights`` (Li et al. 2018).

    Example:
        >>> w = np.ones((3, 3, 2, 4), "float32")
        >>> d = filter_normalised_direction(w, np.random.default_rng(0))
        >>> np.allclose(np.linalg.norm(d.reshape(-1, 4), axis=0), 3 * np.sqrt(2))
        True
    """
    d = rng.standard_normal(weights.shape).astype(weights.dtype)
    axes = tuple(range(weights.ndim - 1))
    w_norm = np.sqrt(np.sum(weights.astype("float64") ** 2, axis=axes, keepdims=True))
    d_norm = np.sqrt(np.sum(d.astype("float64") ** 2, axis=axes, keepdims=True))
    return (d * (w_norm / (d_norm + 1e-10))).astype(weights.dtype)


def load_run_model(run_dir: str | Path, source: data.Source | None = None,
                   initial: bool = False, weights: str | None = None):
    """The compiled model of a run with its ``weights`` (``bnno.runs.WEIGHTS``;
    by default its final weights, else its last checkpoint), or with ``initial`` a fresh
    model drawn with the run's seed (the run's own start when it was trained with
    ``--seed``). Returns ``(model, config, dataset, weights used)``.

    Raises:
        BnnoError: not a run directory, no weights yet (and not ``initial``), the
            ``weights`` asked for are missing, or ``weights`` with ``initial``.

    Example:
        The trained model of a run, its config, its dataset and which weights it has
        (e.g. ``"binarynet_weights.h5"``)::

            model, config, ds, used = load_run_model("runs/binarynet-cifar10-bop-x")
    """
    path = runs.stage_dir(run_dir)  # a run in stages: its last stage
    config = stored.read(path)
    if initial and weights is not None:
        raise BnnoError("--initial and --weights exclude each other: the initial model has "
                        "no trained weights")
    if not initial:
        try:
            runs.choose_weights(path, config.model.name, weights)
        except BnnoError as e:
            if "no weights yet" not in str(e):
                raise
            raise BnnoError(f"{e} (use --initial for the initial model)") from None
    from bnno.training.loading import load_run_data, load_trained

    ds = load_run_data(config, source)
    if not initial:
        # flip counters only matter while training
        net, used = load_trained(path, config, ds.input_shape, ds.num_classes,
                                 flip_ratio=False, weights=weights)
        return net, config, ds, used
    import tensorflow as tf

    from bnno.training.build import build_model, compile_model

    tf.keras.utils.set_random_seed(config.seed)
    net = build_model(config.model, config.optimizer.name, ds.input_shape, ds.num_classes,
                      flip_ratio=False)
    compile_model(net, config.optimizer, 1, 1)
    return net, config, ds, "initial model"


def fixed_batches(ds, preprocess_fn: str, batches: int, batch_size: int, seed: int):
    """``batches`` batches of training examples, drawn once with ``seed`` and not
    augmented (the evaluation form of ``preprocess_fn``). Returns ``(x, y)`` arrays.

    Example:
        Four batches of 100 CIFAR-10 images from a loaded dataset ``ds`` (``x`` then has
        shape ``(400, 32, 32, 3)``, ``y`` one-hot labels of shape ``(400, 10)``)::

            x, y = fixed_batches(ds, "default", 4, 100, seed=0)
    """
    import tensorflow as tf

    fn = registry.get(preprocess_fn, encoded=False).fn
    n = batches * batch_size
    # Drawn with numpy from the first 10·n examples (in tfds order, which is shuffled),
    # not with a tf.data shuffle, whose order would also depend on TensorFlow's global
    # seed. A folder lists its images class by class, so there every image is a candidate.
    pool = min(10 * n, ds.train_examples or 10 * n)
    if isinstance(ds, data.FolderDataset):
        pool = ds.train_examples
    examples = ds._examples(ds.train_split).take(pool)
    images, labels = next(iter(examples.batch(pool)))
    if len(images) < n:
        raise BnnoError(f"the training split has {len(images)} examples; {batches} batches "
                        f"of {batch_size} need {n}")
    pick = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
    x = fn(tf.gather(images, pick), False, None)
    y = tf.gather(labels, pick)
    return x.numpy(), y.numpy().astype("float32")


class LossGrid:
    """Evaluates a model's loss at w + a·d₁ + b·d₂ on fixed data, restoring w after.

    ``binary`` variables (Bop's ±1 kernels) are re-binarized after the step.

    Example:
        A softmax layer with zero weights predicts 1/2 for both classes (loss ln 2); one
        step along the direction gives the logits (1, -1):

        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(
        ...     2, use_bias=False, kernel_initializer="zeros", activation="softmax")])
        >>> x, y = np.ones((2, 1), "float32"), np.eye(2, dtype="float32")
        >>> direction = [np.array([[1.0, -1.0]], "float32")]
        >>> grid = LossGrid(model, kernels(model), [direction], binary=[], x=x, y=y,
        ...                 batch_size=2)
        >>> loss, accuracy = grid(0.0)
        >>> round(loss, 4), accuracy
        (0.6931, 0.5)
        >>> loss, accuracy = grid(1.0)
        >>> round(loss, 4), accuracy
        (1.1269, 0.5)
        >>> grid.restore()
        >>> model.layers[0].kernel.numpy()
        array([[0., 0.]], dtype=float32)
    """

    def __init__(self, model, variables: list, directions: list[list[np.ndarray]],
                 binary: list, x: np.ndarray, y: np.ndarray, batch_size: int):
        import larq as lq
        import tensorflow as tf

        self.model, self.variables = model, variables
        self.base = [tf.constant(v.numpy()) for v in variables]
        dirs = [[tf.constant(d) for d in ds] for ds in directions]
        while len(dirs) < 2:  # a 1-D landscape: the second step is always 0
            dirs.append([tf.zeros_like(b) for b in self.base])
        is_binary = [any(v is b for b in binary) for v in variables]
        batches = [(tf.constant(x[i:i + batch_size]), tf.constant(y[i:i + batch_size]))
                   for i in range(0, len(x), batch_size)]
        n = float(len(x))

        @tf.function(autograph=False)  # plain Python loops over lists: nothing to convert
        def at(a, b):
            for var, base, d1, d2, sign in zip(variables, self.base, dirs[0], dirs[1],
                                                is_binary, strict=True):
                moved = base + a * d1 + b * d2
                var.assign(lq.math.sign(moved) if sign else moved)
            loss, correct = tf.constant(0.0), tf.constant(0.0)
            for xb, yb in batches:
                p = model(xb, training=False)
                # The compiled loss, summed here and divided by all examples: the same
                # mean as model.evaluate over these batches.
                loss += tf.reduce_sum(tf.keras.losses.categorical_crossentropy(yb, p))
                correct += tf.reduce_sum(tf.cast(
                    tf.equal(tf.argmax(p, -1), tf.argmax(yb, -1)), tf.float32))
            return loss / n, correct / n

        self._at = at

    def __call__(self, a: float, b: float = 0.0) -> tuple[float, float]:
        loss, acc = self._at(np.float32(a), np.float32(b))
        return float(loss), float(acc)

    def restore(self) -> None:
        """Put the original weights back."""
        for var, base in zip(self.variables, self.base, strict=True):
            var.assign(base)


def landscape(run_dir: str | Path, grid: Grid | None = None, initial: bool = False,
              weights: str | None = None, source: data.Source | None = None,
              output_dir: str | Path | None = None, verbose: int = 1) -> Path:
    """Compute, save (``.npz``) and draw (PNG) the loss landscape of a run's model.

    ``grid`` says where (``Grid``; its ``points`` must be odd so that the model itself,
    0, is on it). ``weights`` chooses the run's weights, ``initial`` the model before
    training (see ``load_run_model``); with ``verbose`` the weights used are printed
    first. ``source`` says where the data is.

    Returns:
        The output directory (default ``<run_dir>/landscape``).

    Raises:
        BnnoError: bad arguments, not a run directory, or no weights.

    Example:
        The 1-D landscape of a run from -1 to 1 in 41 steps, saved in
        ``runs/x/landscape`` (the returned path)::

            out = landscape("runs/x", Grid(value_range=1.0, points=41))
    """
    from tqdm import tqdm

    from bnno import optimizers
    from bnno.analysis import plots
    from bnno.analysis.recipe_table import value_text
    grid = grid or Grid()
    grid.check()
    model, config, ds, used = load_run_model(run_dir, source, initial, weights)
    if verbose:
        print(f"Weights: {used}", flush=True)
    batch_size = grid.batch_size or config.trainer.batch_size
    x, y = fixed_batches(ds, config.data.preprocess_fn, grid.batches, batch_size, grid.seed)
    variables = kernels(model)
    binary = optimizers.binary_kernels(model) \
        if optimizers.latent_free(config.optimizer.name) else []
    rng = np.random.default_rng(grid.seed)
    two_d, points, value_range = grid.two_d, grid.points, grid.value_range
    directions = [[filter_normalised_direction(v.numpy(), rng) for v in variables]
                  for _ in range(2 if two_d else 1)]
    losses_at = LossGrid(model, variables, directions, binary, x, y, batch_size)

    coords = np.linspace(-value_range, value_range, points)
    coords[points // 2] = 0.0  # exactly the model, whatever linspace's rounding
    shape = (points, points) if two_d else (points,)
    losses, accuracies = np.zeros(shape), np.zeros(shape)
    cells = list(np.ndindex(*shape))
    try:
        for cell in tqdm(cells, desc="landscape", unit="point", disable=not verbose):
            losses[cell], accuracies[cell] = losses_at(*(coords[i] for i in cell))
    finally:
        losses_at.restore()

    out = Path(output_dir) if output_dir else Path(run_dir) / "landscape"
    stem = ("initial_" if initial else "") + ("landscape_2d" if two_d else "landscape_1d")
    out.mkdir(parents=True, exist_ok=True)
    what = "initial" if initial else "trained"
    centre = (points // 2,) * len(shape)
    meta: dict[str, Any] = dict(
        range=value_range, points=points, batches=grid.batches, batch_size=batch_size,
        seed=grid.seed, model=config.model.name, weights=what, weights_used=used,
        loss_at_origin=losses[centre], binary_kernels_resigned=bool(binary),
        perturbed=[v.name for v in variables])
    np.savez(out / f"{stem}.npz", alphas=coords, betas=coords if two_d else np.array([]),
             loss=losses, accuracy=accuracies, **meta)
    binarizer = config.model.hparams.get("activation")
    title = (f"{config.model.name} ({config.hparams_set}"
             + (f", {value_text(binarizer)}" if binarizer else "")
             + f", {what})\nloss on {grid.batches}×{batch_size} fixed training examples")
    if two_d:
        plots.landscape_2d(coords, coords, losses, out / f"{stem}_contour.png",
                           out / f"{stem}_surface.png", title)
    else:
        plots.landscape_1d(coords, losses, out / f"{stem}.png", title)
    return out
