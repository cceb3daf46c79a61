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
    # set_field(key, current value, field, text): the value with one field changed, for
    # dotted overrides such as ``gamma.decay_rate=0.5`` (None: the value has no fields).
    set_field: Callable[[str, Any, str, str], Any] | None = None


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


def _check_optional_int(key: str, v: Any) -> int | None:
    return None if v is None else _check_int(key, v)


def _parse_optional_number(text: str) -> Any:
    return None if text.lower() in ("none", "null", "") else _parse_number(text)


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


def _schedule_field(key: str, current: Any, field: str, text: str) -> dict:
    if not isinstance(current, dict):
        raise BnnoError(f"hparam '{key}' is not a schedule here, so '{key}.{field}' cannot be set")
    try:
        typ = schedules.field_type(current["schedule"], field)
    except KeyError:
        raise BnnoError(
            f"schedule '{key}' has no field '{field}'; valid fields: "
            f"{choices(k for k in current if k != 'schedule')}"
        ) from None
    value = _parse_bool(text) if typ is bool else _parse_number(text)
    return {**current, field: value}


def _check_quantizer(key: str, v: Any) -> str | dict | None:
    # The structure only: names and options are checked by bnno.quantizers when the
    # model is planned, which keeps this module free of TensorFlow.
    if v is None or (isinstance(v, str) and v):
        return v
    if isinstance(v, dict) and isinstance(v.get("name"), str) and v["name"]:
        for option, value in v.items():
            if option == "metrics":
                raise BnnoError(f"hparam '{key}' cannot set metrics: the trainer attaches them")
            if not isinstance(value, (bool, int, float, str)):
                raise _bad(key, f"a plain value for option '{option}'", value)
        return dict(v)
    raise _bad(key, "a quantizer name, none, or a dict of its name and options", v)


def _parse_option(text: str) -> Any:
    value = _parse_number(text)
    if isinstance(value, str):
        value = {"true": True, "false": False}.get(text.lower(), text)
    return value


def _quantizer_field(key: str, current: Any, field: str, text: str) -> dict:
    if current is None:
        raise BnnoError(f"hparam '{key}' is none here, so '{key}.{field}' cannot be set; "
                        f"set {key}=<name> first")
    spec = {"name": current} if isinstance(current, str) else dict(current)
    spec[field] = text if field == "name" else _parse_option(text)
    return spec


INT = HType("a positive integer", _check_int, _parse_number)
FLOAT = HType("a non-negative number", _check_float, _parse_number)
BOOL = HType("true or false", _check_bool, _parse_bool)
STR = HType("a name", _check_str, str)
OPTIONAL_INT = HType("a positive integer or none", _check_optional_int, _parse_optional_number)
OPTIONAL_STR = HType("a name or none", _check_optional_str, _parse_optional_str)
SCHEDULE = HType("a number or a schedule", _check_schedule, _parse_number, _schedule_field)
# A quantizer spec (``bnno.quantizers.registry``): a name, none, or
# ``{"name": ..., <option>: value}``; ``activation.rho=0.2`` sets one option.
QUANTIZER = HType("a quantizer", _check_quantizer, _parse_optional_str, _quantizer_field)


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
