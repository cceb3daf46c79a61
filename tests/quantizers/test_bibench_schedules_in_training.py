"""ReCU's τ and FDA's α and n follow the official schedules when bnno's trainer runs them
(its quantizer epoch hook, ``bnno.training.callbacks.QuantizerEpochs``): the values each
epoch of a 2-epoch run trains with, the run stopped after its first epoch and resumed."""

import bnno  # noqa: F401

# isort: split

import pytest
import tensorflow as tf
from conftest import train_tiny

from bnno.quantizers.bibench_fda import fda_noise_scale, fda_terms
from bnno.quantizers.bibench_recu import recu_tau

TINY = ("filters=2,dense_units=4,batch_size=4,epochs=2,"
        "kernel_quantizer=bibench_recu_weight,activation=bibench_fda_activation")
BUDGET = dict(steps_per_epoch=2, validation_steps=1, seed=5)


class Stop(Exception):
    pass


class Seen(tf.keras.callbacks.Callback):
    """The schedule state every epoch starts with; stops after ``stop_after`` epochs."""

    def __init__(self, stop_after=None):
        super().__init__()
        self.epochs, self.stop_after = {}, stop_after

    def on_epoch_begin(self, epoch, logs=None):
        quantizers = [m for m in self.model.submodules if hasattr(m, "on_epochs_done")]
        self.epochs[epoch] = (
            {round(float(q.tau), 7) for q in quantizers if hasattr(q, "tau")},
            {(round(float(q.noise_scale), 9), int(q.terms)) for q in quantizers
             if hasattr(q, "terms")})

    def on_epoch_end(self, epoch, logs=None):
        if self.stop_after is not None and epoch + 1 == self.stop_after:
            raise Stop


def official(epoch, epochs=2):
    return ({round(recu_tau(epoch, epochs), 7)},
            {(round(fda_noise_scale(epoch, epochs), 9), fda_terms(epoch, epochs))})


@pytest.mark.slow
def test_schedules_follow_the_official_ones_over_a_run_stopped_and_resumed(mock_tfds,
                                                                          tmp_path):
    # Two trainings, which is what a resume needs: ~25 s.
    first = Seen(stop_after=1)
    with pytest.raises(Stop):
        train_tiny("binarynet", "cifar10", "default", TINY, tmp_path / "run",
                   callbacks=[first], **BUDGET)
    assert first.epochs == {0: official(0)}
    tf.keras.backend.clear_session()
    resumed = Seen()
    train_tiny("binarynet", "cifar10", "default", TINY, tmp_path / "run",
               callbacks=[resumed], **BUDGET)
    assert resumed.epochs == {1: official(1)}
    assert official(1)[1] == {(0.0, 13)}  # the last epoch: no noise, 9 + int(9 / 2) terms
