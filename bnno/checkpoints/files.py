"""A checkpoint file of any form bnno reads, chosen by its content, never by its name.

* a ``.safetensors`` file (a header length, then a JSON header: Hugging Face's format, in
  which the hub publishes timm's weights) is read by ``bnno.checkpoints.safetensors``,
  which has no pickle at all;
* anything else is taken for a PyTorch file (``torch.save``'s zip archive, or the older
  run of pickles) and read by ``bnno.checkpoints.pth``, whose unpickler runs nothing from
  the file.

``state_dict`` (``bnno.checkpoints.registry``) then takes the tensors out of what was read:
the object itself, its ``state_dict`` entry (the official training scripts' checkpoints)
or its ``model`` entry (Facebook's ConvNeXt files).

Example:
    >>> import struct, tempfile
    >>> from pathlib import Path
    >>> text = b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    >>> path = Path(tempfile.mkdtemp()) / "weights.bin"  # the name does not matter
    >>> _ = path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(4))
    >>> kind(path), load(path)
    ('safetensors', {'w': array([0.], dtype=float32)})
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bnno.checkpoints.pth import load as load_pth
from bnno.checkpoints.safetensors import is_safetensors
from bnno.checkpoints.safetensors import load as load_safetensors


def kind(path: str | Path) -> str:
    """``"safetensors"`` or ``"pytorch"``: the reader ``load`` uses for ``path``.

    Example:
        >>> kind("no/such/file.safetensors")  # not a safetensors file: it does not exist
        'pytorch'
    """
    return "safetensors" if is_safetensors(path) else "pytorch"


def load(path: str | Path) -> Any:
    """What the checkpoint ``path`` holds, tensors as NumPy arrays, read by the reader of
    its content (see the module).

    Raises:
        BnnoError: a missing, unreadable or unsafe file (one line naming it).

    Example:
        >>> load("no/such/checkpoint.pth")
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: checkpoint no/such/checkpoint.pth does not exist
    """
    if kind(path) == "safetensors":
        return load_safetensors(path)
    return load_pth(path)


def torch_hub_checkpoints() -> Path:
    """The folder where PyTorch (and so timm) keeps downloaded weights:
    ``$TORCH_HOME/hub/checkpoints``, ``TORCH_HOME`` defaulting to
    ``$XDG_CACHE_HOME/torch`` (``~/.cache/torch``), as ``torch.hub.get_dir`` has it.

    Example:
        >>> torch_hub_checkpoints().parts[-2:]
        ('hub', 'checkpoints')
    """
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    home = os.environ.get("TORCH_HOME") or os.path.join(cache, "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"
