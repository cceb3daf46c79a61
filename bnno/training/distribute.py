"""tf.distribute strategies by name: one machine, all its GPUs, or many machines.

``default`` trains on one device, ``mirrored`` on all local GPUs (the CPUs when there
are none), ``multi_worker`` on every worker listed in ``TF_CONFIG``. The global batch
(the set's ``batch_size``) is split evenly across all replicas; Keras all-reduces the
gradients, so Bop and Adam apply the gradient of the whole global batch.

Example:
    >>> strategy = make("default")
    >>> per_replica_batch(strategy, 1024)
    1024

    With ``make("mirrored")`` on a machine with two GPUs, the same call gives 512.
"""

from __future__ import annotations

from bnno.config.strategy import STRATEGIES, check_name, cluster  # noqa: F401
from bnno.errors import BnnoError


def is_chief(name: str) -> bool:
    """Does this process write the run directory? (All but one multi-worker process don't.)

    The chief is the ``chief`` task if the cluster has one, else worker 0.

    Example:
        >>> is_chief("default")
        True
    """
    if name != "multi_worker":
        return True
    config = cluster()
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if "chief" in config["cluster"]:
        return kind == "chief"
    return kind == "worker" and index == 0


def make(name: str):
    """The ``tf.distribute.Strategy`` called ``name``.

    Example:
        >>> make("default").num_replicas_in_sync
        1
    """
    import tensorflow as tf

    check_name(name)
    if name == "mirrored":
        # All local GPUs; without any, every logical CPU device (TensorFlow's default
        # would be CPU:0 alone), which is also how the strategy is tested on CPUs.
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def per_replica_batch(strategy, batch_size: int) -> int:
    """The part of the global ``batch_size`` each replica computes.

    Raises:
        BnnoError: the global batch does not split evenly across the replicas.

    Example:
        >>> per_replica_batch(make("default"), 100)
        100
    """
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise BnnoError(
            f"batch_size {batch_size} does not split evenly across {replicas} replicas; "
            f"use a multiple of {replicas} (--hparams batch_size=...)"
        )
    return batch_size // replicas


def broadcast_seed(strategy, seed: int, chief: bool) -> int:
    """The chief's ``seed``, on every worker: all must shuffle every epoch alike.

    Example:
        >>> broadcast_seed(make("default"), 7, True)
        7
    """
    import tensorflow as tf

    if strategy.extended._in_multi_worker_mode() is False:  # one machine: nothing to share
        return seed

    def contribution():
        # Only the first replica of the chief adds its seed; the sum is the chief's seed.
        first = tf.distribute.get_replica_context().replica_id_in_sync_group == 0
        return tf.where(tf.logical_and(first, chief), tf.constant(seed, tf.int64),
                        tf.constant(0, tf.int64))

    total = strategy.reduce("SUM", strategy.run(contribution), axis=None)
    return int(total.numpy())
