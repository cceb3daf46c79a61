"""The per-epoch linear decay of the ReActNet lineage equals PyTorch's
``LambdaLR(lambda e: 1 − e/E)`` as each official script steps it (values measured with
PyTorch for E = 4: stepped before each epoch 0.75, 0.5, 0.25, 0.0; after each epoch
1.0, 0.75, 0.5, 0.25)."""

import numpy as np
import pytest

from bnno.schedules.linear_epochs import LinearEpochs

MEASURED = {1: [0.75, 0.5, 0.25, 0.0], 0: [1.0, 0.75, 0.5, 0.25]}


@pytest.mark.parametrize("offset", [1, 0])
def test_every_step_of_an_epoch_has_that_epochs_value(offset):
    schedule = LinearEpochs(2.5e-3, epochs=4, steps_per_epoch=3, offset=offset)
    values = [float(schedule(step)) for step in range(12)]
    expected = np.repeat(np.array(MEASURED[offset]) * 2.5e-3, 3)
    np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-12)
    assert [schedule.epoch_value(e) for e in range(4)] == pytest.approx(expected[::3])


def test_the_config_rebuilds_the_schedule():
    schedule = LinearEpochs(1.25e-3, 128, 5004, offset=1)
    again = LinearEpochs(**schedule.get_config())
    assert float(again(5004 * 64)) == float(schedule(5004 * 64))


def test_sets_name_it_as_the_linear_epochs_schedule():
    from bnno import schedules
    from bnno.errors import BnnoError

    value = schedules.validate("learning_rate", {"schedule": "linear_epochs", "initial": 1.0,
                                                 "epochs": 4, "offset": 1})
    built = schedules.build(value, steps_per_epoch=3)
    assert [float(built(step)) for step in (0, 3, 11)] == MEASURED[1][:2] + [0.0]
    del value["offset"]
    assert float(schedules.build(value, 3)(0)) == 1.0  # offset 0 by default
    with pytest.raises(BnnoError, match="needs the field 'epochs'"):
        schedules.validate("alpha", {"schedule": "linear_epochs", "initial": 1e-4})
