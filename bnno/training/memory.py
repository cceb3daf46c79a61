"""Freeing the graphs of finished runs, which TensorFlow 2.19 keeps for the process's life.

Every binary quantizer has a custom gradient (``tf.custom_gradient``). Used in a graph (a
model's Keras graph, its traced ``train_function``), TensorFlow registers that gradient
under a new name in its global gradient registry, which never forgets a name; the
gradient function refers to the graph's tensors, so the whole graph, its constants and
the variables it captured stay in memory after the model is gone (tensorflow/tensorflow
issues 27492 and 97697). A process that trains several runs (``bnno sweep``,
``compare``, ``bench``, a test session) grew by about 540 MB per BinaryAlexNet run at
224×224 before ``release_graphs`` was called after each run.

``release_graphs`` changes who keeps such a gradient alive: the graph itself, not the
registry. The registry keeps a weak reference, so the gradient is there exactly as long
as a graph that can ask for it, and both go once nothing else uses the graph. It may be
called at any time; a graph still in use keeps working unchanged.
"""

from __future__ import annotations

import types
import weakref

import tensorflow as tf
from tensorflow.python.framework import ops

# The names tf.custom_gradient registers (custom_gradient.generate_name).
PREFIX = "CustomGradient-"
# Where the graph keeps the gradient functions it holds.
HELD = "_bnno_custom_gradients"


class _WeakGradient:
    """A registry entry that calls a gradient function while its graph holds it."""

    def __init__(self, fn: types.FunctionType):
        self.fn = weakref.ref(fn)

    def __call__(self, op, *grads):
        fn = self.fn()
        if fn is None:  # unreachable: an op to differentiate keeps its graph alive
            raise LookupError(f"the custom gradient of {op.name} was freed with its graph")
        return fn(op, *grads)


def release_graphs() -> int:
    """Let the graphs of custom gradients go when nothing else uses them.

    Returns the number of gradient functions handed to their graphs by this call. Entries
    of graphs already freed are dropped from the registry.

    Example:
        >>> import tensorflow as tf
        >>> @tf.custom_gradient
        ... def ste_sign(x):
        ...     return tf.sign(x), lambda dy: dy
        >>> traced = tf.function(ste_sign).get_concrete_function(tf.TensorSpec([2]))
        >>> release_graphs() >= 1
        True
        >>> release_graphs()  # each gradient is handed to its graph once
        0
    """
    registry = ops.gradient_registry._registry  # noqa: SLF001 (the only handle there is)
    handed = 0
    for name, entry in list(registry.items()):
        if not name.startswith(PREFIX):
            continue
        fn = entry["type"]
        if isinstance(fn, _WeakGradient):
            if fn.fn() is None:
                del registry[name]
            continue
        graph = _graph_of(fn)
        if graph is None:  # not a layout this TensorFlow is known to have: left as it is
            continue
        if not hasattr(graph, HELD):
            setattr(graph, HELD, [])
        getattr(graph, HELD).append(fn)
        entry["type"] = _WeakGradient(fn)
        handed += 1
    return handed


def clear_session() -> None:
    """Keras' ``clear_session``, then ``release_graphs``: a fresh Keras state (layer names
    start again), and the models built before it free to go once nothing uses them.

    Example:
        >>> import tensorflow as tf
        >>> clear_session()
        >>> tf.keras.layers.Dense(2).name
        'dense'
    """
    tf.keras.backend.clear_session()
    release_graphs()


def _graph_of(fn) -> tf.Graph | None:
    """The graph of the op whose gradient ``fn`` is: that of the custom gradient's results
    (``result`` in the closure of ``tf.custom_gradient``'s inner gradient function; an
    argument may come from an outer graph, so nothing else is taken for it)."""
    for inner in _cells(fn).values():
        if isinstance(inner, types.FunctionType):
            for item in tf.nest.flatten(_cells(inner).get("result")):
                graph = getattr(item, "graph", None)
                if isinstance(graph, tf.Graph):
                    return graph
    return None


def _cells(fn) -> dict:
    """The variables ``fn`` closes over, by name."""
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    found = {}
    for name, cell in zip(names, getattr(fn, "__closure__", None) or (), strict=True):
        try:
            found[name] = cell.cell_contents
        except ValueError:  # an empty cell
            pass
    return found
