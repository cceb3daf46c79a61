from pathlib import Path

from setuptools import find_packages, setup

LCE = ["larq-compute-engine>=0.16,<0.17"]

setup(
    name="bnno",
    version="0.1.0",
    description="Train, inspect and ship binary neural networks with TensorFlow and Larq.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["bnno", "bnno.*"]) + ["bnno.hparams_data"],
    # The hparam sets live in the top-level hparams/ folder; they are installed as
    # package data so a non-editable install finds them too.
    package_dir={"bnno.hparams_data": "hparams"},
    package_data={"bnno.hparams_data": ["*.json"]},
    install_requires=[
        "tensorflow>=2.19,<2.20",
        "tf-keras>=2.19,<2.20",
        "larq>=0.14,<0.15",
        "tensorflow-datasets>=4.9,<4.10",
        # protobuf's compiled runtime (upb): TensorFlow builds and traces graphs faster
        # than on the pure-Python one that protobuf 3.20 gives Python 3.11 (the test
        # suite, which mostly builds and traces, took 25 % less CPU time).
        # TensorFlow 2.19 takes protobuf < 6, and tensorflow-metadata 1.21 is generated
        # for protobuf 6, so it stays below 1.18. larq-zoo 2.4 pins protobuf < 3.21, so
        # bnno carries Larq Zoo's ImageNet preprocessing itself (bnno.data.preprocessing).
        "protobuf>=5.26,<6",
        "tensorflow-metadata>=1.16,<1.18",
        "click>=8.1",
        "numpy>=1.26,<2",
        "h5py>=3.8",
        "tqdm>=4.60",
        "matplotlib>=3.7,<4",
    ],
    extras_require={
        # Larq Compute Engine: `bnno export` and `bnno benchmark`. 0.16 is the newest
        # release; it converts and runs models from TensorFlow 2.19 (see README).
        "lce": LCE,
        # The tests cover export too, so the test set-up brings LCE along.
        # setuptools: the plugin test installs an example plugin package with pip.
        "test": ["pytest>=7", "pytest-xdist>=3.2", "dill>=0.3", "ruff>=0.5", "setuptools>=61",
                 *LCE],
        # The documentation site: `mkdocs build --strict` (see docs/index.md).
        "docs": ["mkdocs>=1.6,<2", "mkdocs-material>=9.6,<10",
                 "mkdocstrings[python]>=0.29,<2"],
    },
    entry_points={"console_scripts": ["bnno=bnno.cli:main"]},
)
