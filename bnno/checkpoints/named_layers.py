"""PyTorch state dicts onto Keras models whose layers carry the PyTorch module names.

bnno's ReActNet and ResNet-34 models name every layer after the official module it
stands for (``feature.3.binary_3x3``, ``layer2.0.downsample.0``; the classifier ``fc`` is
``logits``). An importer describes the official model as a list of ``Module``: the kind
of layer, the module's key prefix and the shape of each of its keys. ``problem`` checks
a state dict against that list, ``assign`` writes it into the built model, converting
PyTorch's layouts: convolution kernels OIHW → HWIO, dense weights transposed,
per-channel (1, C, 1, 1) parameters flattened, batch norm's four tensors (epsilon 1e-5,
PyTorch's default, is checked on the Keras layer; ``num_batches_tracked`` is read and
ignored).

Example:
    >>> modules = [Module("dense", "fc", {"weight": (10, 4), "bias": (10,)})]
    >>> keys(modules)
    {'fc.weight': (10, 4), 'fc.bias': (10,)}
    >>> problem({"fc.weight": np.zeros((10, 4))}, keys(modules), "toy")
    "key 'fc.bias' is missing"
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnno.errors import BnnoError

BN_EPSILON = 1e-5  # nn.BatchNorm2d's default, which the official codes keep
KINDS = ("conv", "batch_norm", "prelu", "bias", "dense")


class Module(NamedTuple):
    """One official module: its ``kind`` (one of ``KINDS``), key ``prefix`` and the
    shape of each of its keys. Its Keras layer has the name ``prefix`` (``fc``:
    ``logits``).

    Example:
        >>> Module("conv", "conv1", {"weight": (64, 3, 7, 7)}).layer
        'conv1'
    """

    kind: str
    prefix: str
    shapes: dict[str, tuple[int, ...]]

    @property
    def layer(self) -> str:
        return "logits" if self.prefix == "fc" else self.prefix


def conv(prefix: str, out: int, inp: int, k: int) -> Module:
    """A convolution without bias (``weight`` OIHW).

    Example:
        >>> conv("conv1", 64, 3, 7).shapes
        {'weight': (64, 3, 7, 7)}
    """
    return Module("conv", prefix, {"weight": (out, inp, k, k)})


def batch_norm(prefix: str, c: int) -> Module:
    """An ``nn.BatchNorm2d`` of ``c`` channels.

    Example:
        >>> sorted(batch_norm("bn1", 8).shapes)
        ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
    """
    return Module("batch_norm", prefix, {"weight": (c,), "bias": (c,), "running_mean": (c,),
                                         "running_var": (c,), "num_batches_tracked": ()})


def keys(modules: list[Module]) -> dict[str, tuple[int, ...]]:
    """Key → shape of the state dict of ``modules``.

    Example:
        >>> keys([conv("conv1", 8, 3, 3)])
        {'conv1.weight': (8, 3, 3, 3)}
    """
    return {f"{m.prefix}.{k}": s for m in modules for k, s in m.shapes.items()}


def problem(state: dict[str, np.ndarray], expected: dict[str, tuple[int, ...]],
            model: str) -> str | None:
    """The first missing, mis-shaped or unexpected key of ``state`` (None: it fits).

    Example:
        >>> problem({"a": np.zeros(3)}, {"a": (2,)}, "toy")
        "key 'a' has shape (3,), toy needs (2,)"
    """
    for key, shape in expected.items():
        if key not in state:
            return f"key '{key}' is missing"
        if tuple(state[key].shape) != tuple(shape):
            return f"key '{key}' has shape {tuple(state[key].shape)}, {model} needs {shape}"
    for key in state:
        if key not in expected:
            return f"key '{key}' is unexpected"
    return None


def fit(state: dict[str, np.ndarray], expected: dict[str, tuple[int, ...]]) -> float:
    """The share of keys, over both, present in both with the same shape.

    Example:
        >>> fit({"a": np.zeros(2), "b": np.zeros(1)}, {"a": (2,), "c": (1,)})
        0.3333333333333333
    """
    same = sum(1 for k, s in expected.items()
               if k in state and tuple(state[k].shape) == tuple(s))
    return same / max(1, len(set(expected) | set(state)))


def _values(module: Module, state: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """(Keras variable attribute, value) of ``module`` in Keras' layout."""
    def get(name):
        return np.asarray(state[f"{module.prefix}.{name}"], dtype=np.float32)

    if module.kind == "conv":
        return [("kernel", get("weight").transpose(2, 3, 1, 0))]
    if module.kind == "batch_norm":
        return [("gamma", get("weight")), ("beta", get("bias")),
                ("moving_mean", get("running_mean")), ("moving_variance", get("running_var"))]
    if module.kind == "prelu":
        return [("alpha", get("weight").reshape(1, 1, -1))]
    if module.kind == "bias":
        return [("bias", get("bias").reshape(-1))]
    if module.kind == "dense":
        return [("kernel", get("weight").T), ("bias", get("bias"))]
    raise ValueError(f"unknown module kind {module.kind!r}; use one of {', '.join(KINDS)}")


def assign(net, modules: list[Module], state: dict[str, np.ndarray],
           check_only: bool = False) -> None:
    """Write ``state`` into the layers of ``net`` named after ``modules``; with
    ``check_only`` only check that every value fits its variable.

    Raises:
        BnnoError: a layer is missing, a value does not fit its variable (the model was
            built with other hparams or for other inputs), or a batch norm's epsilon is
            not PyTorch's.

    Example:
        Fill a ReActNet-A built with the hparams its importer found::

            assign(net, layout("reactnet_a", **args), state)
    """
    names = {layer.name: layer for layer in net.layers}
    for module in modules:
        layer = names.get(module.layer)
        if layer is None:
            raise BnnoError(f"{net.name} has no layer '{module.layer}' for the checkpoint's "
                            f"'{module.prefix}'; build it with the hparams the import found")
        if module.kind == "batch_norm" and abs(layer.epsilon - BN_EPSILON) > 1e-12:
            raise BnnoError(f"{layer.name} has epsilon {layer.epsilon}; the official batch "
                            f"norm uses {BN_EPSILON}")
        for attribute, value in _values(module, state):
            variable = getattr(layer, attribute)
            if tuple(variable.shape) != value.shape:
                raise BnnoError(
                    f"the checkpoint's '{module.prefix}' gives {layer.name}/{attribute} the "
                    f"shape {value.shape}; the model built here has {tuple(variable.shape)} "
                    "(other hparams, or a stem for other input sizes)")
            if not check_only:
                variable.assign(value)
