"""bnno's Python entry points: ``train``, ``evaluate`` and ``plan`` a run.

They live in ``bnno.training.train``; this module keeps the names the README documents
(``bnno.train.train``, ``bnno.train.evaluate``) in one short import.

Example:
    Train BinaryNet on CIFAR-10 with the Bop set for 10 epochs, then evaluate the run::

        import bnno.train

        run_dir = bnno.train.train("binarynet", "cifar10", "bop", overrides="epochs=10")
        print(bnno.train.evaluate(run_dir))
"""

from bnno.training.train import (  # noqa: F401
    TrainingStopped,
    evaluate,
    load_trained,
    plan,
    train,
)
