"""Run the bnno CLI with tfds mocked, for tests that need a separate process."""

import os
import sys

import tensorflow_datasets as tfds

import bnno  # noqa: F401
from bnno.cli import main

if __name__ == "__main__":
    with tfds.testing.mock_data(num_examples=32, data_dir=os.environ["BNNO_TEST_MOCK_DIR"]):
        main(sys.argv[1:])
