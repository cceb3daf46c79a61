"""bnno's Python entry points: ``plan`` a run, ``train`` it, ``evaluate`` it.

They live in ``bnno.config`` and ``bnno.training.train``; this module keeps the names the
README documents in one short import.

Example:
    Train BinaryNet on CIFAR-10 with the Bop set for 10 epochs, then evaluate the run::

        import bnno.train

        config = bnno.train.plan("binarynet", "cifar10", "bop", {"epochs": 10})
        run_dir = bnno.train.train(config)
        print(bnno.train.evaluate(run_dir))
"""

from bnno.config import plan  # noqa: F401
from bnno.data import Source  # noqa: F401
from bnno.training.train import (  # noqa: F401
    TrainingStopped,
    TrainOptions,
    evaluate,
    load_trained,
    train,
)
