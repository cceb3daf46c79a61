"""Larq Compute Engine, imported quietly; LCE is an optional dependency (``bnno[lce]``).

LCE 0.16 carries its own build of TensorFlow 2.16's runtime; loading it next to
TensorFlow 2.19 prints lines about factories and op definitions registered twice, which
change nothing and would bury bnno's output, so ``lce_module`` sends them to /dev/null.
"""

from __future__ import annotations

import os

from bnno.errors import BnnoError


def lce_module():
    """The ``larq_compute_engine`` module, imported quietly.

    Raises:
        BnnoError: LCE is not installed.

    Example:
        With LCE installed, ``lce_module().__version__`` is its version, e.g. ``'0.16.0'``;
        without it the call raises a ``BnnoError`` that names the pip extra to install::

            lce = lce_module()
    """
    try:
        with open(os.devnull, "w") as devnull, stderr_to(devnull):
            import larq_compute_engine
    except ImportError as e:
        raise BnnoError(
            f"Larq Compute Engine is not installed ({e}); pip install \"bnno[lce]\""
        ) from None
    return larq_compute_engine


class stderr_to:
    """Send fd 2 to a file: the converter reports the failing op there, not in the
    exception, and its diagnostics would otherwise bury bnno's one-line error.

    Example:
        >>> with open(os.devnull, "w") as devnull, stderr_to(devnull):
        ...     os.write(2, b"not shown")
        9
    """

    def __init__(self, file):
        self.file = file

    def __enter__(self):
        self.saved = os.dup(2)
        os.dup2(self.file.fileno(), 2)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)
