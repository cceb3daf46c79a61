"""Schedules as data: a number, or a dict naming a Keras ``LearningRateSchedule``.

A schedule is written in an hparam set like this and may drive the learning rate,
Bop's ``gamma`` or its ``threshold``::

    {"schedule": "exponential_decay", "initial": 1e-4, "decay_steps": 100000,
     "decay_rate": 0.1, "staircase": true}

Lengths are given in optimizer steps (``decay_steps``, ``boundaries``) or in epochs
(``decay_epochs``, ``boundary_epochs``); epochs are turned into steps with the run's
steps per epoch. ``boundary_epochs: [40, 80]`` changes the value at the start of the
41st and 81st epoch (0-based epochs 40 and 80). A ``polynomial_decay`` or
``cosine_decay`` without a length decays over the whole run: ``epochs × examples //
batch_size`` steps, the length the Bop paper's code gives its ImageNet schedules (``epochs
× ⌈examples / batch_size⌉``, the steps trained, for a run that trains the last partial
batch of every epoch; ``epochs × steps_per_epoch`` when epochs are shortened).

The schedules are Keras' own, except ``warmup_cosine_epochs``
(``bnno.schedules.warmup_cosine``: BNext's per-epoch warm-up and cosine, which Keras
lacks) and ``linear_epochs`` (``bnno.schedules.linear_epochs``: ``initial · (1 − (e +
offset)/epochs)`` in epoch ``e``, the per-epoch ``LambdaLR`` of the ReActNet lineage).

Example:
    >>> sched = build({"schedule": "exponential_decay", "initial": 1e-4,
    ...                "decay_steps": 10, "decay_rate": 0.1, "staircase": True}, 100)
    >>> [round(float(sched(step)), 10) for step in (0, 9, 10, 25)]  # float32 values
    [0.0001, 0.0001, 1e-05, 1e-06]
"""

from __future__ import annotations

from typing import Any

from bnno.errors import BnnoError, choices

# For each schedule: its fields with their types and defaults (None = required).
# A length is either in steps or in epochs; LENGTHS says which pairs stand for one.
_FIELDS: dict[str, dict[str, tuple[type, Any]]] = {
    "exponential_decay": {
        "initial": (float, None),
        "decay_rate": (float, None),
        "decay_steps": (int, 0),
        "decay_epochs": (float, 0.0),
        "staircase": (bool, False),
    },
    "polynomial_decay": {
        "initial": (float, None),
        "end": (float, None),
        "power": (float, 1.0),
        "decay_steps": (int, 0),
        "decay_epochs": (float, 0.0),
    },
    "cosine_decay": {
        "initial": (float, None),
        "alpha": (float, 0.0),
        "decay_steps": (int, 0),
        "decay_epochs": (float, 0.0),
    },
    "warmup_cosine_epochs": {
        "initial": (float, None),
        "warmup_initial": (float, 0.0),
        "warmup_epochs": (int, 0),
        "end": (float, 0.0),
        "cosine_epochs": (float, None),
    },
    "linear_epochs": {
        "initial": (float, None),
        "epochs": (int, None),
        "offset": (int, 0),
    },
    "piecewise_constant": {
        "values": (list, None),
        "boundaries": (list, []),
        "boundary_epochs": (list, []),
    },
}
_LENGTHS = {"decay_steps": "decay_epochs", "boundaries": "boundary_epochs"}
# Schedules that may leave out their length, meaning "over the whole run".
_WHOLE_RUN = {"polynomial_decay", "cosine_decay"}

KINDS = tuple(_FIELDS)


def field_type(kind: str, field: str) -> type:
    """The type of ``field`` in a schedule of ``kind`` (for parsing overrides).

    Example:
        >>> field_type("exponential_decay", "staircase")
        <class 'bool'>
    """
    return _FIELDS[kind][field][0]


def validate(key: str, value: Any) -> float | dict:
    """Check a schedule value from a set or an override; return it normalised.

    Raises:
        BnnoError: if the value is neither a number nor a well-formed schedule dict.

    Example:
        >>> validate("gamma", 1)
        1.0
    """
    if isinstance(value, bool):
        raise BnnoError(f"hparam '{key}' expects a number or a schedule, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, dict):
        raise BnnoError(f"hparam '{key}' expects a number or a schedule, got {value!r}")
    kind = value.get("schedule")
    if kind not in _FIELDS:
        raise BnnoError(
            f"hparam '{key}' has unknown schedule {kind!r}; choose one of: {choices(KINDS)}"
        )
    fields = _FIELDS[kind]
    unknown = set(value) - set(fields) - {"schedule"}
    if unknown:
        raise BnnoError(
            f"schedule '{key}' ({kind}) has unknown field(s) {choices(unknown)}; "
            f"valid fields: {choices(fields)}"
        )
    out: dict[str, Any] = {"schedule": kind}
    for name, (typ, default) in fields.items():
        if name not in value:
            if default is None:
                raise BnnoError(f"schedule '{key}' ({kind}) needs the field '{name}'")
            continue
        out[name] = _check_field(key, name, typ, value[name])
    for steps, epochs in _LENGTHS.items():
        if steps not in fields:
            continue
        given = bool(out.get(steps)) + bool(out.get(epochs))
        if given == 2 or (given == 0 and kind not in _WHOLE_RUN):
            raise BnnoError(
                f"schedule '{key}' ({kind}) needs exactly one of '{steps}' or '{epochs}'"
                + (" (or neither, to decay over the whole run)" if kind in _WHOLE_RUN else "")
            )
    if kind == "linear_epochs" and out["epochs"] < 1:
        raise BnnoError(f"schedule '{key}' (linear_epochs) needs epochs >= 1, got "
                        f"{out['epochs']}")
    if kind == "piecewise_constant":
        n_bounds = len(out.get("boundaries") or out.get("boundary_epochs"))
        if len(out["values"]) != n_bounds + 1:
            raise BnnoError(f"schedule '{key}' needs one more value than boundaries")
    return out


def _check_field(key: str, name: str, typ: type, raw: Any) -> Any:
    if typ is float and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    if typ is list and isinstance(raw, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw
    ):
        return raw
    if isinstance(raw, typ) and not (typ is int and isinstance(raw, bool)):
        return raw
    raise BnnoError(f"schedule '{key}' field '{name}' expects {typ.__name__}, got {raw!r}")


def step_decay(key: str, value: float | dict, rate: float, every_epochs: int) -> float | dict:
    """``value`` multiplied by ``rate`` every ``every_epochs`` epochs: a staircase
    ``exponential_decay``, as the Bop code's ``ExponentialDecay(initial, epochs × steps per
    epoch, rate, staircase=True)``. A rate of 1 leaves ``value`` as it is.

    Raises:
        BnnoError: ``value`` is a schedule already (only a number can be stepped).

    Example:
        >>> step_decay("gamma", 1e-7, 0.1, 100)["decay_epochs"]
        100.0
        >>> step_decay("gamma", 1e-7, 1.0, 100)
        1e-07
    """
    if rate == 1:
        return value
    if isinstance(value, dict):
        raise BnnoError(f"hparam '{key}' is a schedule ({value['schedule']}), so "
                        f"{key}_decay={rate} cannot step it; give {key} a number or drop "
                        f"{key}_decay")
    return validate(key, {"schedule": "exponential_decay", "initial": value,
                          "decay_epochs": float(every_epochs), "decay_rate": rate,
                          "staircase": True})


def build(value: float | dict, steps_per_epoch: int, total_steps: int | None = None):
    """Turn a validated schedule value into a float or a Keras ``LearningRateSchedule``.

    Args:
        value: a number (constant) or a schedule dict (see the module docstring).
        steps_per_epoch: optimizer steps in one epoch, for lengths given in epochs.
        total_steps: length of a schedule that decays over the whole run.

    Example:
        >>> lr = build({"schedule": "polynomial_decay", "initial": 2.5e-3, "end": 5e-6},
        ...            1251, total_steps=187670)
        >>> lr.decay_steps
        187670
    """
    if not isinstance(value, dict):
        return float(value)
    import tensorflow as tf

    s = tf.keras.optimizers.schedules
    kind = value["schedule"]

    def steps(field: str) -> int:
        if not value.get(field) and not value.get(_LENGTHS[field]):
            if not total_steps:
                raise ValueError(f"schedule {kind} decays over the run; total_steps is needed")
            return int(total_steps)
        return int(value.get(field) or round(value[_LENGTHS[field]] * steps_per_epoch))

    if kind == "exponential_decay":
        return s.ExponentialDecay(
            value["initial"], steps("decay_steps"), value["decay_rate"],
            staircase=value.get("staircase", False),
        )
    if kind == "polynomial_decay":
        return s.PolynomialDecay(
            value["initial"], steps("decay_steps"), value["end"], power=value.get("power", 1.0)
        )
    if kind == "warmup_cosine_epochs":
        from bnno.schedules.warmup_cosine import WarmupCosineEpochs

        return WarmupCosineEpochs(value["initial"], value.get("warmup_initial", 0.0),
                                  value.get("warmup_epochs", 0), value.get("end", 0.0),
                                  value["cosine_epochs"], steps_per_epoch)
    if kind == "linear_epochs":
        from bnno.schedules.linear_epochs import LinearEpochs

        return LinearEpochs(value["initial"], value["epochs"], steps_per_epoch,
                            value.get("offset", 0))
    if kind == "cosine_decay":
        return s.CosineDecay(value["initial"], steps("decay_steps"), alpha=value.get("alpha", 0.0))
    # Keras switches to values[i+1] after step boundaries[i]; an epoch boundary e means
    # "from the first step of epoch e (0-based) on".
    bounds = value.get("boundaries") or [
        int(round(e * steps_per_epoch)) - 1 for e in value["boundary_epochs"]
    ]
    return s.PiecewiseConstantDecay([int(b) for b in bounds], [float(v) for v in value["values"]])
