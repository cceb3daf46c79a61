"""Shared fixtures: mock tfds datasets with real metadata, a CLI runner, tiny hparams."""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import os
import sys
import tempfile
from pathlib import Path

import pytest
import tensorflow_datasets as tfds
from mock_bnno import MOCK_EXAMPLES, write_mock_metadata

# The tests folder, home of the helper scripts (tests mirror the package in subfolders).
TESTS_DIR = Path(__file__).resolve().parent

# bnno's index of the registries (bnno.plugins) goes to a folder of the test session's,
# not to the user's cache; child processes inherit it.
os.environ["BNNO_CACHE_DIR"] = tempfile.mkdtemp(prefix="bnno-cache-")

# Keep models tiny so every test runs in seconds on 2 cores.
TINY = "filters=4,dense_units=8,batch_size=8,epochs=1"

@pytest.fixture(scope="session")
def mock_data_dir(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("tfds_metadata"))
    for name in ("cifar10", "cifar100", "mnist"):
        write_mock_metadata(root, name, MOCK_EXAMPLES)
    write_mock_metadata(root, "imagenet2012", MOCK_EXAMPLES, ("train", "validation"))
    return root

@pytest.fixture
def mock_tfds(mock_data_dir):
    """Random images and labels in place of every tfds dataset (fixed per process);
    ImageNet's images are random JPEGs of random sizes, read as bytes."""
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=mock_data_dir):
        yield mock_data_dir

@pytest.fixture
def graph_mode():
    """The test builds its models in a graph of its own: variables are declared but never
    given values, and go with the graph. A full-size model then costs its layers, not
    its weights: BNext-L's 327 M parameters take 0.2 GB instead of 1.7 GB, which the
    worker would otherwise keep (building takes up to 1.5 times as long)."""
    import tensorflow as tf

    with tf.Graph().as_default():
        yield


def pytest_collection_finish(session):
    """Python's cyclic garbage collector, tuned for a process that traces TensorFlow
    graphs: what importing TensorFlow and the test modules made is moved out of its way
    (``gc.freeze``), and the youngest generation is collected every 20,000 new objects
    instead of 700. Tracing a model makes hundreds of thousands of short-lived objects;
    with the defaults a worker spent about a tenth of its time collecting (15 s of a
    150 s run of three modules; 6.5 s tuned)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


@pytest.fixture(autouse=True)
def fresh_keras_session():
    """Each test starts with a fresh Keras state (layer names, graphs of earlier models),
    and the graphs of its models can be freed (``bnno.training.memory``)."""
    yield
    if "tensorflow" in sys.modules:
        from bnno.training import memory

        memory.clear_session()


@pytest.fixture(autouse=True, scope="module")
def collect_garbage():
    """Free what a module's models left, so that a worker's memory does not grow with
    every model the suite builds: once per module, since a collection with TensorFlow
    loaded takes about half a second. The C heap then gives its free pages back to the
    system (glibc's ``malloc_trim``), which it otherwise keeps for the process."""
    yield
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    libc = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and libc:
        ctypes.CDLL(libc).malloc_trim(0)

@pytest.fixture
def cli(capsys):
    """Run ``bnno ARGS`` in this process; returns (exit code, stdout, stderr)."""
    from bnno.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = e.code or 0
        out, err = capsys.readouterr()
        return code, out, err

    return run

@pytest.fixture
def subprocess_env(mock_data_dir) -> dict:
    """Environment for running bnno in a child process on mock data (see mock_bnno.py)."""
    env = dict(os.environ)
    env["BNNO_TEST_MOCK_DIR"] = mock_data_dir
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.dirname(__file__),
                                                      env.get("PYTHONPATH")]))
    return env

PYTHON = sys.executable


def overrides(text: str | None) -> dict:
    """``--hparams`` text as the overrides dict the library takes."""
    from bnno import hparams

    return hparams.parse_overrides(text)


def resolved(model: str, set_name: str | None = None, text: str | None = None) -> dict:
    """A set with ``--hparams`` text applied, checked as ``plan`` checks it, its values side
    by side (the optimizer's name as ``optimizer``)."""
    from bnno.analysis.recipe_table import flat
    from bnno.config.plan import check_set

    return flat(check_set(model, set_name, overrides(text)).recipe)


def flat_config(config) -> dict:
    """Every value of a planned run side by side: the model's hparams, the optimizer's
    name and options, the trainer's and the data's fields."""
    import dataclasses

    return {**config.model.hparams, "optimizer": config.optimizer.name,
            **config.optimizer.options, **dataclasses.asdict(config.trainer),
            **{k: v for k, v in dataclasses.asdict(config.data).items()}}


def optimizer_of(hp: dict):
    """The optimizer of flat hparams (the optimizer's name as ``optimizer``, its options
    beside the other keys) as an ``OptimizerConfig``."""
    from bnno import optimizers
    from bnno.config import OptimizerConfig

    keys = optimizers.get(hp["optimizer"]).options
    return OptimizerConfig(hp["optimizer"], {k: v for k, v in hp.items() if k in keys})


def build_optimizer(hp: dict, steps_per_epoch: int):
    """The optimizer of flat hparams, its schedules over ``hp["epochs"]`` (default 1)."""
    from bnno import optimizers

    config = optimizer_of(hp)
    return optimizers.build(config.name, config.options, steps_per_epoch,
                            hp.get("epochs", 1) * steps_per_epoch)


def build_flat(model: str, hp: dict, input_shape: tuple, num_classes: int, **kwargs):
    """``bnno.training.build.build_model`` from flat hparams (builder keys and the
    optimizer's name side by side)."""
    from bnno import models
    from bnno.config import ModelConfig
    from bnno.training.build import build_model

    entry = models.get_entry(model)
    config = ModelConfig(entry.name, {**entry.defaults(), **models.builder_kwargs(model, hp)})
    return build_model(config, hp.get("optimizer", "adam"), input_shape, num_classes, **kwargs)


def compile_flat(model, hp: dict, steps_per_epoch: int) -> None:
    """``bnno.training.build.compile_model`` from flat hparams."""
    from bnno.training.build import compile_model

    compile_model(model, optimizer_of(hp), steps_per_epoch,
                  hp.get("epochs", 1) * steps_per_epoch, hp.get("l2_decay", 0.0))


def plan_tiny(model: str, dataset: str, set_name: str | None = None, text: str | None = None,
              *, preprocess_fn: str | None = None, steps_per_epoch: int | None = None,
              validation_steps: int | None = None, **kwargs):
    """``bnno.config.plan`` with ``--hparams`` text and the CLI's budget options."""
    from bnno.config import plan

    given = overrides(text)
    for key, value in (("data.preprocess_fn", preprocess_fn),
                       ("trainer.steps_per_epoch", steps_per_epoch),
                       ("trainer.validation_steps", validation_steps)):
        if value is not None:
            given[key] = value
    return plan(model, dataset, set_name, given, **kwargs)


def train_tiny(model: str, dataset: str, set_name: str | None = None, text: str | None = None,
               output_dir=None, *, data_dir: str | None = None, tensorboard: bool = False,
               verbose: int = 0, callbacks=(), flip_log: bool = True, flip_interval: int = 50,
               skip_bad_images: bool = False, **kwargs):
    """Plan (``plan_tiny``) and train a run, as ``bnno train`` does; the run's directory."""
    from bnno.data import Source
    from bnno.training.train import TrainOptions, train

    config = plan_tiny(model, dataset, set_name, text, skip_bad_images=skip_bad_images,
                       **kwargs)
    return train(config, output_dir, Source(data_dir, None, skip_bad_images),
                 TrainOptions(tensorboard, verbose, tuple(callbacks), flip_log, flip_interval))


def all_weights(path) -> dict:
    """Every array of an HDF5 weights file, by its path in the file."""
    import h5py

    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return found
