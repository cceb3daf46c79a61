"""Hparam types: how a stored hparam value is checked and a typed one parsed.

``bnno.hparams`` checks every key of a set against its type; the types live here, apart
from the sets, so that the modules declaring keys (the optimizers, the models) can use
them without importing ``bnno.hparams``.

Example:
    >>> FLOAT.check("gamma", FLOAT.parse("1e-3"))
    0.001
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bnno import schedules
from bnno.errors import BnnoError, choices


@dataclass(frozen=True)
class HType:
    """The type of one hparam: how to check a stored value and parse a typed one.

    Example:
        >>> INT.check("epochs", INT.parse("3"))
        3
    """

    name: str
    check: Callable[[str, Any], Any]
    parse: Callable[[str], Any]


def _bad(key: str, kind: str, value: Any) -> BnnoError:
    return BnnoError(f"hparam '{key}' expects {kind}, got {value!r}")


def _check_int(key: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise _bad(key, "a positive integer", v)
    return v


def _check_float(key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise _bad(key, "a non-negative number", v)
    return float(v)


def _check_bool(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _bad(key, "true or false", v)
    return v


def _check_str(key: str, v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise _bad(key, "a name", v)
    return v


def _check_optional_str(key: str, v: Any) -> str | None:
    return None if v is None else _check_str(key, v)


def _check_schedule(key: str, v: Any) -> float | dict:
    v = schedules.validate(key, v)
    if isinstance(v, float):
        _check_float(key, v)
    return v


def _parse_number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _parse_bool(text: str) -> Any:
    return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(
        text.lower(), text
    )


def _parse_optional_str(text: str) -> str | None:
    return None if text.lower() in ("none", "null", "") else text


INT = HType("a positive integer", _check_int, _parse_number)
FLOAT = HType("a non-negative number", _check_float, _parse_number)
BOOL = HType("true or false", _check_bool, _parse_bool)
STR = HType("a name", _check_str, str)
OPTIONAL_STR = HType("a name or none", _check_optional_str, _parse_optional_str)
SCHEDULE = HType("a number or a schedule", _check_schedule, _parse_number)


def choice(*names: str) -> HType:
    """An hparam whose value is one of ``names``.

    Example:
        >>> choice("adam", "bop").check("optimizer", "bop")
        'bop'
    """

    def check(key: str, v: Any) -> str:
        if v not in names:
            raise BnnoError(f"hparam '{key}' must be one of: {choices(names)}; got {v!r}")
        return v

    return HType("one of " + choices(names), check, str)
