"""Where a run's data is read from: not part of what the run is, so not in its config.

Example:
    >>> Source(data_dir="~/tensorflow_datasets").manual_dir is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """The tfds ``data_dir`` (default: ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``),
    its ``manual_dir`` of downloaded archives, and whether an image folder's unreadable
    images are left out (``skip_bad_images``) instead of refused.

    Example:
        >>> Source().skip_bad_images
        False
    """

    data_dir: str | None = None
    manual_dir: str | None = None
    skip_bad_images: bool = False
