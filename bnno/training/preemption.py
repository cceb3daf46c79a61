"""Stopping a run cleanly on SIGTERM or SIGINT (preemption by a scheduler, Ctrl-C).

While a run trains, the first SIGTERM or SIGINT only sets a flag; the training step in
progress finishes, ``bnno.training.callbacks.GoodStateBackup`` checkpoints the exact
position (epoch and step), and the run ends with ``bnno.errors.Preempted`` (exit status
``bnno.errors.EXIT_REQUEUE`` from the CLI). A second signal acts as without bnno
(SIGINT interrupts at once, SIGTERM ends the process). Under ``multi_worker`` a signal on
any worker stops every worker after the same step: TensorFlow's
``PreemptionCheckpointHandler`` agrees on that step through the cluster's coordination
service (``multi_worker_handler``).

Example:
    >>> import os, signal
    >>> with stop_on_signals() as stop:
    ...     os.kill(os.getpid(), signal.SIGTERM)
    ...     stop.requested()
    'SIGTERM'
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """Whether (and by which signal) this process was asked to stop.

    Example:
        >>> stop = StopRequest()
        >>> stop.requested() is None
        True
        >>> stop.set("SIGTERM")
        >>> stop.requested()
        'SIGTERM'
    """

    def __init__(self):
        self._event = threading.Event()
        self._name: str | None = None

    def set(self, name: str) -> None:
        """Ask the run to stop after the current step; ``name`` says why."""
        self._name = self._name or name
        self._event.set()

    def requested(self) -> str | None:
        """The signal's name once a stop was asked for, else None."""
        return self._name if self._event.is_set() else None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """A ``StopRequest`` that SIGTERM and SIGINT set during the block (see the module);
    the handlers before it are back afterwards, and after the first signal. Outside the
    main thread signals cannot be caught: the request is then never set.

    Example:
        >>> with stop_on_signals() as stop:
        ...     stop.requested() is None
        True
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    before = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def restore():
        for sig, handler in before.items():
            signal.signal(sig, handler)

    def handler(signum, frame):
        stop.set(signal.Signals(signum).name)
        restore()  # a second signal acts at once

    for sig in SIGNALS:
        signal.signal(sig, handler)
    try:
        yield stop
    finally:
        restore()


def multi_worker_handler(strategy, checkpoint_manager, stop: StopRequest, save, leave):
    """TensorFlow's ``PreemptionCheckpointHandler`` for a multi-worker run: it watches
    ``stop`` (polled once a second) on every worker, agrees with the others on the step
    to stop after, then calls ``save()`` and ``leave()`` on every worker after that step.
    Call its ``save_checkpoint_if_preempted()`` after every step.

    Example:
        ``GoodStateBackup`` makes it at the start of training under ``multi_worker``::

            handler = multi_worker_handler(model.distribute_strategy, manager, stop,
                                           save=lambda: ..., leave=lambda: ...)
    """
    import tensorflow as tf

    config = tf.distribute.experimental.TerminationConfig(
        termination_watcher_fn=lambda: stop.requested() is not None,
        exit_fn=leave, save_fn=save, grace_period=0)
    return tf.distribute.experimental.PreemptionCheckpointHandler(
        strategy.cluster_resolver, checkpoint_manager, termination_config=config)
