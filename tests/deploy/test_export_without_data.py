"""``bnno export`` of a run whose dataset is not on this machine (an imported ImageNet
checkpoint, say): the self-check runs on generated images, preprocessed as the test
images would be, and the output and the flatbuffer's metadata say so; with the dataset
there, it checks on the test images as before."""

from __future__ import annotations

import importlib.util

import pytest
import tensorflow_datasets as tfds
from conftest import MOCK_EXAMPLES, TINY, train_tiny

from bnno.data import Source
from bnno.deploy import export, metadata

pytestmark = pytest.mark.skipif(importlib.util.find_spec("larq_compute_engine") is None,
                                reason="needs the [lce] extra: pip install -e '.[test,lce]'")


def _run(path, dataset: str, mock_data_dir: str):
    """A tiny run trained for two steps on mock data (ImageNet's: random JPEGs)."""
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=mock_data_dir):
        return train_tiny("binarynet", dataset, "default", TINY, output_dir=path, seed=1,
                          steps_per_epoch=2, validation_steps=1,
                          preprocess_fn="default" if dataset == "imagenet2012" else None)


@pytest.mark.slow
def test_an_imagenet_run_without_imagenet_is_checked_on_generated_images(tmp_path, cli,
                                                                         mock_data_dir):
    run = _run(tmp_path / "run", "imagenet2012", mock_data_dir)
    empty = tmp_path / "no_data"
    empty.mkdir()
    output = tmp_path / "model.tflite"
    result = export.export_run(run, output, Source(str(empty)), check_examples=4)
    assert result["check_inputs"] == "generated" and result["check"]["passed"]
    assert result["check"]["examples"] == 4
    assert metadata.read_metadata(output.read_bytes())["check_inputs"] == "generated"
    code, stdout, err = cli("export", str(run), "-o", str(tmp_path / "again.tflite"),
                            "--check-examples", "2", "--data-dir", str(empty))
    assert code == 0, err
    assert "Agrees with Keras on 2 generated images (the run's dataset is not on this " \
           "machine)" in stdout


@pytest.mark.slow
def test_with_the_dataset_there_the_check_reads_its_test_images(tmp_path, mock_tfds):
    run = _run(tmp_path / "run", "cifar10", mock_tfds)
    output = tmp_path / "model.tflite"
    result = export.export_run(run, output, Source(mock_tfds), check_examples=8)
    assert result["check_inputs"] == "dataset" and result["check"]["passed"]
    assert metadata.read_metadata(output.read_bytes())["check_inputs"] == "dataset"
