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
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

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
    # set_field(key, current value, field, value): the value with one field changed, for
    # dotted overrides such as ``gamma.decay_rate=0.5`` (None: the value has no fields); a
    # text value is parsed by the field's type.
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


def _check_number(key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _bad(key, "a number", v)
    return v


def _check_str(key: str, v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise _bad(key, "a name", v)
    return v


def _check_optional_str(key: str, v: Any) -> str | None:
    return None if v is None else _check_str(key, v)


def _check_optional_int(key: str, v: Any) -> int | None:
    return None if v is None else _check_int(key, v)


def _check_optional_float(key: str, v: Any) -> float | None:
    return None if v is None else _check_float(key, v)


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
    if isinstance(text, str):
        text = _parse_bool(text) if typ is bool else _parse_number(text)
    return {**current, field: text}


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
    parse = field != "name" and isinstance(text, str)
    spec[field] = _parse_option(text) if parse else text
    return spec


INT = HType("a positive integer", _check_int, _parse_number)
NUMBER = HType("a number", _check_number, _parse_number)
FLOAT = HType("a non-negative number", _check_float, _parse_number)
BOOL = HType("true or false", _check_bool, _parse_bool)
STR = HType("a name", _check_str, str)
OPTIONAL_INT = HType("a positive integer or none", _check_optional_int, _parse_optional_number)
OPTIONAL_STR = HType("a name or none", _check_optional_str, _parse_optional_str)
OPTIONAL_FLOAT = HType("a non-negative number or none", _check_optional_float,
                       _parse_optional_number)
SCHEDULE = HType("a number or a schedule", _check_schedule, _parse_number, _schedule_field)
# A quantizer spec (``bnno.quantizers.registry``): a name, none, or
# ``{"name": ..., <option>: value}``; ``activation.rho=0.2`` sets one option.
QUANTIZER = HType("a quantizer", _check_quantizer, _parse_optional_str, _quantizer_field)

# The type hint of builder arguments that take a quantizer spec.
QuantizerSpec = str | dict | None


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


def between(low: float, high: float) -> HType:
    """A number from ``low`` to ``high`` (both included), for ``typing.Annotated`` hints
    of quantizer options: ``rho: Annotated[float, between(0, 1)] = 0.3``.

    Example:
        >>> between(0, 1).check("rho", 2.0)
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: hparam 'rho' expects a number from 0 to 1, got 2.0
    """
    kind = f"a number from {low:g} to {high:g}"

    def check(key: str, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
            raise _bad(key, kind, v)
        return float(v)

    return HType(kind, check, _parse_number)


_SIMPLE = {int: INT, float: FLOAT, bool: BOOL, str: STR}


def from_hint(hint: Any) -> HType:
    """The hparam type of a type hint: ``int``, ``float``, ``bool``, ``str``, ``str | None``,
    ``int | None``, ``float | None``, a ``Literal`` of names, ``QuantizerSpec``, or
    ``Annotated[..., htype]``.

    Raises:
        TypeError: any other hint; the message names the supported ones.

    Example:
        >>> from_hint(int) is INT, from_hint(Literal["batch", "layer"]).name
        (True, 'one of batch, layer')
        >>> from_hint(typing.Annotated[float, between(0, 1)]).name
        'a number from 0 to 1'
    """
    if hint in _SIMPLE:
        return _SIMPLE[hint]
    if hint == QuantizerSpec:
        return QUANTIZER
    if typing.get_origin(hint) is typing.Annotated:
        found = [m for m in hint.__metadata__ if isinstance(m, HType)]
        if found:
            return found[0]
        return from_hint(typing.get_args(hint)[0])
    args = set(typing.get_args(hint))
    if args == {str, type(None)}:
        return OPTIONAL_STR
    if args == {int, type(None)}:
        return OPTIONAL_INT
    if args == {float, type(None)}:
        return OPTIONAL_FLOAT
    if typing.get_origin(hint) is Literal:
        return choice(*typing.get_args(hint))
    raise TypeError(f"hparam hints must be int, float, bool, str, str | None, int | None, "
                    f"float | None, a Literal of names, QuantizerSpec or Annotated[..., an "
                    f"HType]; got {hint}")


def of_default(value: Any) -> HType | None:
    """The hparam type a default value implies (for options written without hints):
    a number for numbers, true/false, a name; None for anything else.

    Example:
        >>> of_default(1.5).name, of_default(True).name, of_default(None)
        ('a number', 'true or false', None)
    """
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STR
    return None
