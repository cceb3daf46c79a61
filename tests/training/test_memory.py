"""The graphs of finished runs are freed (bnno.training.memory): TensorFlow's registry of
custom gradients would otherwise keep every graph a quantizer was traced in."""

import gc
import weakref

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, all_weights, train_tiny
from tensorflow.python.framework import ops

from bnno.training import memory


@tf.custom_gradient
def times_two_gradient_three(x):
    return 2 * x, lambda dy: 3 * dy


def custom_gradient_names(graph: tf.Graph) -> set:
    return {op.get_attr("_gradient_op_type").decode() for op in graph.get_operations()
            if op.type == "IdentityN"}


def test_a_released_gradient_works_while_its_graph_lives_and_goes_with_it():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2])
        y = times_two_gradient_three(x)
    [name] = custom_gradient_names(graph)
    assert memory.release_graphs() >= 1
    with graph.as_default(), tf.compat.v1.Session() as session:
        [grad] = tf.gradients(y, x)
        assert session.run(grad, {x: [1.0, -1.0]}).tolist() == [3.0, 3.0]

    freed = weakref.ref(graph)
    del graph, x, y, grad, session
    gc.collect()
    assert freed() is None
    memory.release_graphs()
    assert name not in ops.gradient_registry.list()


def live_variables() -> int:
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "ResourceVariable")


@pytest.mark.slow
def test_runs_in_one_process_leave_no_variables_behind(mock_tfds, tmp_path):
    memory.clear_session()
    gc.collect()
    before = live_variables()
    for i in range(2):
        train_tiny("binarynet", "cifar10", "bop", f"{TINY},epochs=1",
                   tmp_path / str(i), steps_per_epoch=2, validation_steps=1, seed=1)
        memory.clear_session()
        gc.collect()
        assert live_variables() == before, f"run {i + 1}"
    # The second run, seeded alike, trained exactly as the first did.
    first, second = (all_weights(tmp_path / str(i) / "binarynet_weights.h5") for i in range(2))
    assert first.keys() == second.keys()
    assert all(np.array_equal(first[k], second[k]) for k in first)
