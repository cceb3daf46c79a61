"""``bnno import``: an official checkpoint as a bnno run directory.

The run is like one ``bnno train`` writes: ``run.json`` with the model, the dataset its
class count names (1000: ImageNet, 10: CIFAR-10, 100: CIFAR-100), the model's hparam
set for that dataset and the builder hparams the checkpoint implies (a narrow width,
fewer blocks), plus the final weights file. ``run.json`` also records where the weights
came from (``imported``), so that ``bnno train`` never resumes into it. ``bnno
evaluate``, ``export``, ``landscape`` and distillation (``teachers=DIR``) then read it
as any run.

Example:
    Import the official BNext-T and evaluate it on ImageNet::

        path = import_checkpoint("bnext_t", "model_best.pth.tar", "runs/bnext_t_official")
        # bnno evaluate runs/bnext_t_official --data-dir ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bnno import data, hparams, models, plugins, runs
from bnno.checkpoints.pth import load as load_pth
from bnno.checkpoints.registry import get as importer_of
from bnno.checkpoints.registry import state_dict
from bnno.config import plan
from bnno.errors import BnnoError, choices

# The dataset (and hparam set) an imported model's class count stands for.
DATASETS = {1000: ("imagenet2012", "imagenet"), 10: ("cifar10", "cifar"),
            100: ("cifar100", "cifar")}


def _about(checkpoint: Any, file: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"checkpoint": file.name}
    if isinstance(checkpoint, dict):
        for key in ("epoch", "best_top1_acc"):
            value = checkpoint.get(key)
            if isinstance(value, np.ndarray) and value.size == 1:
                value = value.item()
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                info[key] = value
    return info


def import_checkpoint(model: str, checkpoint: str | Path,
                      output_dir: str | Path | None = None) -> Path:
    """Import ``checkpoint`` as a run of ``model`` in ``output_dir`` (by default a new
    ``runs/<model>-<dataset>-<set>-<time>``) and return the run directory.

    Raises:
        BnnoError: no importer for ``model``, an unreadable or unsafe checkpoint, a
            checkpoint that does not fit the model (its first bad key), a class count
            of no known dataset, or an ``output_dir`` that is a file or not empty.
            Nothing is written then.

    Example:
        Import the official BNext-18 checkpoint into ``runs/bnext18``::

            import_checkpoint("bnext_18", "checkpoint.pth.tar", "runs/bnext18")
    """
    from bnno.training.build import build_model

    plugins.load()
    model = models.canonical(model)
    importer = importer_of(model)
    file = Path(checkpoint)
    if output_dir is not None:
        _check_empty(Path(output_dir))
    loaded = load_pth(file)
    mapping = importer(state_dict(loaded), model)
    if mapping.num_classes not in DATASETS:
        raise BnnoError(f"the checkpoint has {mapping.num_classes} classes; bnno imports "
                        f"models of {choices(str(n) for n in DATASETS)} classes (ImageNet, "
                        "CIFAR-10, CIFAR-100)")
    dataset, hparams_set = DATASETS[mapping.num_classes]
    if hparams_set not in hparams.set_names(model):
        hparams_set = hparams.set_names(model)[0]
    config = plan(model, dataset, hparams_set, mapping.hparams)
    config = config.replace(imported={**_about(loaded, file), **mapping.info})
    shape = data.describe(dataset, image_size=config.data.image_size).input_shape
    net = build_model(config.model, config.optimizer.name, shape, mapping.num_classes,
                      flip_ratio=False)
    mapping.assign(net)
    path = Path(output_dir) if output_dir is not None else runs.default_dir(
        model, dataset, hparams_set)
    _check_empty(path)
    with runs.removed_if_unstarted(path, fresh=True):
        runs.create(path, config.to_json())
        net.save_weights(str(runs.weights_file(path, model)))
    return path


def _check_empty(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise BnnoError(f"--output-dir {path} is a file; give a new or empty directory")
    if path.is_dir() and any(path.iterdir()):
        raise BnnoError(f"--output-dir {path} is not empty; give a new or empty directory "
                        "(an import never overwrites)")
