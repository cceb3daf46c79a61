"""A run as one typed config: planned from a model, a dataset, a set and overrides,
passed through the library, stored as ``run.json``.

What belongs here: the config itself (``run``), the keys a recipe may hold (``schema``),
the checks and completion that make a config of a recipe (``plan``), what a switched
optimizer makes give way (``switch``), the binary kernels a model gets for its optimizer
(``kernels``), the strategies and teachers a run may name (``strategy``, ``teachers``),
and the config of a stored run, of any version, with whether a new one resumes it
(``stored``).

Example:
    >>> from bnno import config
    >>> run = config.plan("binarynet", "cifar10", "bop", {"epochs": 3}, seed=1)
    >>> run.model.name, run.optimizer.name, run.trainer.epochs
    ('binarynet', 'bop', 3)
"""

from bnno.config.plan import check_init, plan  # noqa: F401
from bnno.config.run import (  # noqa: F401
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    TrainerConfig,
)
from bnno.config.stored import from_json, read, resumes  # noqa: F401
