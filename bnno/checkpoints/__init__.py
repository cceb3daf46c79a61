"""Foreign checkpoints in: a safe PyTorch file reader (``pth``), the importer registry
(``registry``), one module per paper mapping its official weights onto bnno's models
(``bnext``), and ``bnno import``, which writes the result as a run (``importer``).

Like the other registries, this package imports every module in its folder, so a
module registers its importers by being there.

Example:
    Import an official BNext-T checkpoint as a run, then evaluate or export it like any
    other::

        from bnno.checkpoints.importer import import_checkpoint
        path = import_checkpoint("bnext_t", "model_best.pth.tar", "runs/bnext_t_official")
"""

from bnno import import_members

import_members(__name__, __path__)
