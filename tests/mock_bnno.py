"""Run the bnno CLI with tfds mocked, for tests (and the image smoke test) that need a
separate process: ``python mock_bnno.py train binarynet --dataset cifar10 ...``.

``BNNO_TEST_MOCK_DIR`` names a folder for the datasets' metadata; it is written there when
missing. Only bnno and its dependencies are needed (no pytest).
"""

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import faulthandler
import json
import os
import signal
import sys

import tensorflow_datasets as tfds

from bnno.cli import main

MOCK_EXAMPLES = 32


def write_mock_metadata(root: str, name: str, num_examples: int,
                        splits: tuple[str, ...] = ("train", "test")) -> None:
    """Write tfds metadata for ``name`` under ``root`` with ``num_examples`` per split, so
    the dataset looks prepared to code that reads its info (the data itself is mocked)."""
    builder = tfds.builder(name, data_dir=root)
    path = builder.data_path
    path.mkdir(parents=True, exist_ok=True)
    builder.info.write_to_directory(path)
    info_file = path / "dataset_info.json"
    info = json.loads(info_file.read_text())
    info["splits"] = [
        {"name": split, "shardLengths": [str(num_examples)], "numBytes": "0",
         "filepathTemplate": "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"}
        for split in splits
    ]
    info_file.write_text(json.dumps(info))


if __name__ == "__main__":
    # A test that finds this process stalled asks where its threads are (tests/loopback.py).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    root = os.environ["BNNO_TEST_MOCK_DIR"]
    for dataset in ("cifar10", "mnist"):
        if not tfds.builder(dataset, data_dir=root).data_path.exists():
            write_mock_metadata(root, dataset, MOCK_EXAMPLES)
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=root):
        main(sys.argv[1:])
