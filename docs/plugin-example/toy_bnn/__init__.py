"""A paper as a bnno plugin: a binary MLP (``toy_mlp``), a sign with a triangular gradient
(``toy_tri_sign``), SGD with momentum and Nesterov (``toy_sgd``) and their recipes
(``hparams/toy_mlp.json``).

bnno imports this module when it starts (the entry point ``bnno.plugins: toy = toy_bnn``
in ``pyproject.toml``); importing the modules registers what they define.
"""

from pathlib import Path

from bnno import hparams
from toy_bnn import mlp, sgd, tri_sign  # noqa: F401  (registering is importing)

hparams.add_folder(Path(__file__).parent / "hparams")
