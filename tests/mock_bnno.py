"""Run the bnno CLI with tfds mocked, for tests that need a separate process."""

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import os
import sys

import tensorflow_datasets as tfds

from bnno.cli import main

if __name__ == "__main__":
    with tfds.testing.mock_data(num_examples=32, data_dir=os.environ["BNNO_TEST_MOCK_DIR"]):
        main(sys.argv[1:])
