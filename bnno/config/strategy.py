"""Distribution strategies by name, checked when a run is planned (the trainer makes
them: ``bnno.training.distribute``).

Example:
    >>> check_name("mirrored")
"""

from __future__ import annotations

import json
import os

from bnno.errors import BnnoError, choices

STRATEGIES = ("default", "mirrored", "multi_worker")


def check_name(name: str) -> None:
    """Raise ``BnnoError`` for an unknown strategy name, or multi_worker without TF_CONFIG.

    Example:
        >>> check_name("mirrored")
    """
    if name not in STRATEGIES:
        raise BnnoError(f"unknown strategy '{name}'; choose one of: {choices(STRATEGIES)}")
    if name == "multi_worker" and not cluster():
        raise BnnoError(
            "--strategy multi_worker reads the cluster from TF_CONFIG, which is not set; "
            'set it on every worker, e.g. {"cluster": {"worker": ["host1:port", '
            '"host2:port"]}, "task": {"type": "worker", "index": 0}}'
        )


def cluster() -> dict:
    """The parsed ``TF_CONFIG`` (empty when it is not set).

    Raises:
        BnnoError: TF_CONFIG is not valid JSON.

    Example:
        >>> cluster() if "TF_CONFIG" not in os.environ else {}
        {}
    """
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise BnnoError(f"TF_CONFIG is not valid JSON: {e}") from None
    if not isinstance(config, dict) or "cluster" not in config:
        raise BnnoError("TF_CONFIG has no 'cluster'; see the TensorFlow multi-worker guide")
    return config

