"""The ``teachers`` of a recipe and their ``teacher_weights``: which models a student learns
from, checked when a run is planned (the trainer loads them: ``bnno.training.distill``).

``teachers`` names a sequence joined by ``+`` (commas separate ``--hparams`` items); the
last entry is the main teacher, the ones before it are assistants taken in turn. An entry
is

* the output dir of an earlier bnno run (trained, or a checkpoint ``bnno import`` read):
  the run's model with its weights;
* a registered bnno model (``efficientnet_b0``, ``convnext_tiny``, any other): that model,
  built with its default hparams for the student's input and classes, with the weights
  ``teacher_weights`` gives it;
* a Keras application under its own name (``KERAS``: ``keras_efficientnet_b0``, ...).

``teacher_weights`` gives the weights of the teachers named by a model, in their order:
one value for all, or one entry per teacher named by a model joined by ``+``. A value is
``none`` (random weights, for trials; also what no ``teacher_weights`` means),
``imagenet`` (Keras' ImageNet weights, Keras teachers only), the name of a weights source
the model's checkpoint module registers (``timm``: timm's ImageNet weights, the file
timm's ``pretrained=True`` downloads, in torch hub's folder; see
``bnno.checkpoints.timm``), a checkpoint file the model's importer reads (timm's ``.pth``
or ``.safetensors``: ``bnno import``'s reader) or the dir of a run of that model.
Teachers given as run dirs take no entry.

Example:
    >>> import bnno.plugins
    >>> bnno.plugins.load()
    >>> [(t.name, t.kind, t.weights) for t in resolve("efficientnet_b0+keras_convnext_tiny",
    ...                                               "b0.pth+imagenet", check_files=False)]
    [('efficientnet_b0', 'model', 'b0.pth'), ('keras_convnext_tiny', 'keras', 'imagenet')]
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from bnno import models, runs
from bnno.checkpoints.registry import sources
from bnno.errors import BnnoError, choices

# Teacher names -> the Keras Applications class that builds them.
KERAS = {
    "keras_efficientnet_b0": "EfficientNetB0",
    "keras_efficientnet_b2": "EfficientNetB2",
    "keras_efficientnet_b4": "EfficientNetB4",
    "keras_convnext_tiny": "ConvNeXtTiny",
}
class Teacher(NamedTuple):
    """One teacher: its ``name`` as given, its ``kind`` (``run``, ``model`` or ``keras``)
    and, for the last two, its ``weights`` (``none``, ``imagenet``, a weights source, a
    file or a run dir)."""

    name: str
    kind: str
    weights: str | None = None  # None for a run


def _is_run(name: str) -> bool:
    return (Path(name) / runs.RUN_FILE).is_file()


def kind_of(name: str) -> str:
    """``run``, ``keras`` or ``model``: what the teacher entry ``name`` is.

    Raises:
        BnnoError: a name that is no teacher (the message names the choices).

    Example:
        >>> import bnno.plugins
        >>> bnno.plugins.load()
        >>> kind_of("keras_efficientnet_b2"), kind_of("efficientnet_b2")
        ('keras', 'model')
        >>> kind_of("no_such_teacher")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: unknown teacher 'no_such_teacher'; use the output dir of a bnno \
run, a Keras application (keras_convnext_tiny, ...) or a bnno model (...)
    """
    if _is_run(name):
        return "run"
    if name in KERAS:
        return "keras"
    if name in models.names():
        return "model"
    raise BnnoError(f"unknown teacher '{name}'; use the output dir of a bnno run, a Keras "
                    f"application ({choices(KERAS)}) or a bnno model "
                    f"({choices(models.names())})")


def parse(teachers: str) -> list[str]:
    """The teacher entries of a ``teachers`` value, each checked; the last is the main
    teacher.

    Raises:
        BnnoError: an entry that is no teacher (see ``kind_of``).

    Example:
        >>> import bnno.plugins
        >>> bnno.plugins.load()
        >>> parse("efficientnet_b0+efficientnet_b2")
        ['efficientnet_b0', 'efficientnet_b2']
    """
    names = [t.strip() for t in teachers.split("+") if t.strip()]
    for name in names:
        kind_of(name)
    return names


def resolve(teachers: str, weights: str | None, check_files: bool = True) -> list[Teacher]:
    """Every teacher of ``teachers`` with the weights ``weights`` gives it (see the
    module), checked: the names, the number of entries, ``imagenet`` for Keras teachers
    only, and (with ``check_files``) that every file or run dir named exists, a run dir
    being a run of the teacher's model.

    Raises:
        BnnoError: the first problem, in one line.

    Example:
        >>> import bnno.plugins
        >>> bnno.plugins.load()
        >>> resolve("efficientnet_b0+efficientnet_b2", "timm")[1]
        Teacher(name='efficientnet_b2', kind='model', weights='timm')
        >>> resolve("efficientnet_b0", None)
        [Teacher(name='efficientnet_b0', kind='model', weights='none')]
        >>> resolve("efficientnet_b0", "imagenet")
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: teacher_weights=imagenet are Keras' weights, for Keras \
teachers only; efficientnet_b0 is bnno's model: give it a checkpoint file or a run dir, or none
    """
    names = parse(teachers)
    kinds = [kind_of(n) for n in names]
    entries = iter(_entries(weights, sum(k != "run" for k in kinds)))
    out = []
    for name, kind in zip(names, kinds, strict=True):
        entry = None if kind == "run" else next(entries)
        if kind != "run":
            _check(name, kind, entry, check_files)
        out.append(Teacher(name, kind, entry))
    return out


def _entries(weights: str | None, count: int) -> list[str]:
    entries = [w.strip() or "none" for w in (weights or "none").split("+")]
    if len(entries) == 1:
        return entries * count
    if len(entries) != count:
        raise BnnoError(f"teacher_weights has {len(entries)} entries; give one per teacher "
                        f"named by a model ({count}), joined by '+', or one for all")
    return entries


def _check(name: str, kind: str, weights: str, check_files: bool) -> None:
    if weights == "none" or (kind == "model" and weights in sources(name)):
        return
    if weights == "imagenet":
        if kind != "keras":
            raise BnnoError(f"teacher_weights=imagenet are Keras' weights, for Keras teachers "
                            f"only; {name} is bnno's model: give it a checkpoint file or a "
                            "run dir, or none")
        return
    if kind == "keras":
        raise BnnoError(f"teacher {name} is a Keras application: its teacher_weights are "
                        f"imagenet or none, not {weights}")
    if weights.isidentifier() and not Path(weights).exists():
        named = sources(name)
        raise BnnoError(f"{name} has no weights source '{weights}'; give it "
                        f"{' or '.join(named) + ', ' if named else ''}a checkpoint file, a "
                        "run dir, or none")
    if not check_files:
        return
    path = Path(weights)
    if _is_run(weights):
        found = runs.summary(runs.read(path))["model"]
        if models.canonical(found) != models.canonical(name):
            raise BnnoError(f"teacher_weights {weights} is a run of {found}, not of {name}")
    elif not path.is_file():
        raise BnnoError(f"teacher_weights {weights} (for {name}) is neither a checkpoint "
                        "file nor a bnno run dir")


def upgraded(teachers: str | None, weights: str | None) -> str | None:
    """``teachers`` of a run.json written when the bare names ``efficientnet_b0``, ...
    named Keras applications: with ``teacher_weights=imagenet`` (which only Keras teachers
    take) those names get their ``keras_`` prefix, so the run resumes with its teachers.

    Example:
        >>> upgraded("efficientnet_b0+runs/t", "imagenet")
        'keras_efficientnet_b0+runs/t'
        >>> upgraded("efficientnet_b0", "b0.pth")
        'efficientnet_b0'
    """
    if not teachers or weights != "imagenet":
        return teachers
    return "+".join(f"keras_{n}" if f"keras_{n}" in KERAS else n
                    for n in (t.strip() for t in teachers.split("+")))
