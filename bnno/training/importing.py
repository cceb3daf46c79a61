"""``bnno import``: an official checkpoint as a bnno run directory.

The run is like one ``bnno train`` writes: ``run.json`` with the model, the dataset its
class count names (1000: ImageNet, 10: CIFAR-10, 100: CIFAR-100), the model's hparam
set for that dataset and the builder hparams the checkpoint implies (a narrow width,
fewer blocks), plus the final weights file. ``run.json`` also records where the weights
came from (``imported``), so that ``bnno train`` never resumes into it. ``bnno
evaluate``, ``export``, ``landscape`` and distillation (``teachers=DIR``) then read it
as any run. The file is read by the reader of its content (``bnno.checkpoints.files``):
a PyTorch file (``.pth``, ``.pth.tar``; the tensors of the file, of its ``state_dict``
entry or of Facebook's ``model`` entry) or a ``.safetensors`` file (read without pickle).

Example:
    Import the official BNext-T and evaluate it on ImageNet::

        path = import_checkpoint("bnext_t", "model_best.pth.tar", "runs/bnext_t_official")
        # bnno evaluate runs/bnext_t_official --data-dir ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bnno import atomic, data, hparams, models, plugins, runs
from bnno.checkpoints.files import load as load_checkpoint
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
    loaded = load_checkpoint(file)  # by content: safetensors or a PyTorch file
    mapping = importer(state_dict(loaded), model)
    if mapping.num_classes not in DATASETS:
        raise BnnoError(f"the checkpoint has {mapping.num_classes} classes; bnno imports "
                        f"models of {choices(str(n) for n in DATASETS)} classes (ImageNet, "
                        "CIFAR-10, CIFAR-100)")
    dataset, preferred = DATASETS[mapping.num_classes]
    hparams_set, preprocess = _set_for(model, dataset, preferred)
    config = plan(model, dataset, hparams_set, {**mapping.hparams, **preprocess})
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
        with atomic.replaced(runs.weights_file(path, model)) as tmp:
            net.save_weights(str(tmp))
    return path


def _set_for(model: str, dataset: str, preferred: str) -> tuple[str, dict[str, str]]:
    """The hparam set recorded for an imported model of ``dataset``: ``preferred`` when
    the model has it, else its first set that preprocesses for ``dataset``, else its first
    set with the dataset's ``default`` preprocessing (the model's sets are all made for
    other data, such as ReActNet's ImageNet sets for a CIFAR-10 checkpoint)."""
    from bnno.config.schema import schema_for

    names = hparams.set_names(model)
    if preferred in names:
        return preferred, {}
    fits = data.preprocess_fns(dataset)
    schema = schema_for(model)
    for name in names:
        recipe = hparams.resolve(model, name, None, schema)
        if recipe.sections["data"].get("preprocess_fn", "default") in fits:
            return name, {}
    return names[0], {"data.preprocess_fn": "default"}


def _check_empty(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise BnnoError(f"--output-dir {path} is a file; give a new or empty directory")
    if path.is_dir() and any(path.iterdir()):
        raise BnnoError(f"--output-dir {path} is not empty; give a new or empty directory "
                        "(an import never overwrites)")
