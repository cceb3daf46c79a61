"""bnno: train, inspect and ship binary neural networks with TensorFlow and Larq.

larq needs the Keras 2 API, which TensorFlow >= 2.16 only provides through tf-keras
when ``TF_USE_LEGACY_KERAS`` is set before TensorFlow is first imported, so the package
sets it here, before any of its modules import TensorFlow.
"""

import os
import sys

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ImportError(
        "TensorFlow was imported before bnno without TF_USE_LEGACY_KERAS=1, so larq "
        "cannot use the Keras 2 API; import bnno first or set TF_USE_LEGACY_KERAS=1"
    )
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
