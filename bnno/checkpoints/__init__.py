"""Foreign checkpoints in: a safe PyTorch file reader (``pth``), the importer registry
(``registry``) and one module per paper mapping its official weights onto bnno's models
(``bnext``). ``bnno import`` (``bnno.training.importing``) writes the result as a run.

Like the other registries, this package imports every module in its folder, so a
module registers its importers by being there; a plugin package registers the same way
(``bnno.plugins``).

Example:
    Import an official BNext-T checkpoint as a run, then evaluate or export it like any
    other::

        from bnno.training.importing import import_checkpoint
        path = import_checkpoint("bnext_t", "model_best.pth.tar", "runs/bnext_t_official")
"""

from bnno import import_members

import_members(__name__, __path__)
