"""Data: datasets (``datasets``), the preprocessing functions users name
(``preprocessing``) and the RandAugment they use (``randaugment``).

A dataset is read through TensorFlow Datasets from a tfds data dir, prepared from a tfds
``manual_dir`` when it needs downloaded archives, or from a folder of class subfolders of
images (``folders``). The names below are the package's public API, re-exported from
``datasets`` and ``folders``.

Example:
    >>> from bnno import data
    >>> sorted(data.DATASETS)[:2], sorted(data.preprocess_fns("cifar10"))
    (['cifar10', 'cifar100'], ['crop_flip_normalize', 'default', 'resize_and_flip'])
"""

from bnno.data.datasets import (  # noqa: F401
    DATASETS,
    LIST_HINT,
    Dataset,
    check_names,
    describe,
    load,
    preprocess_fns,
    preprocess_names,
)
from bnno.data.folders import FolderDataset, is_folder  # noqa: F401
from bnno.data.source import Source  # noqa: F401
