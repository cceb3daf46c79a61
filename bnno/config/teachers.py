"""The ``teachers`` of a recipe: which models a student learns from, checked when a run
is planned (the trainer loads them: ``bnno.training.distill``).

``teachers`` names a sequence joined by ``+`` (commas separate ``--hparams`` items); the
last entry is the main teacher, the ones before it are assistants taken in turn. A
teacher is a Keras application (``APPLICATIONS``) or the output dir of an earlier bnno
run (an imported checkpoint included).

Example:
    >>> parse("efficientnet_b0+efficientnet_b2")
    ['efficientnet_b0', 'efficientnet_b2']
"""

from __future__ import annotations

from pathlib import Path

from bnno.errors import BnnoError, choices

# Teacher names -> the Keras Applications class that builds them.
APPLICATIONS = {
    "efficientnet_b0": "EfficientNetB0",
    "efficientnet_b2": "EfficientNetB2",
    "efficientnet_b4": "EfficientNetB4",
    "convnext_tiny": "ConvNeXtTiny",
}


def parse(teachers: str) -> list[str]:
    """The teacher names of a ``teachers`` value; the last is the main teacher.

    Raises:
        BnnoError: a name that is neither a known teacher nor a run directory.

    Example:
        >>> parse("no_such_teacher")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: unknown teacher 'no_such_teacher'; use the output dir of a bnno \
run or one of: ...
    """
    names = [t.strip() for t in teachers.split("+") if t.strip()]
    for name in names:
        if name not in APPLICATIONS and not (Path(name) / "run.json").is_file():
            raise BnnoError(f"unknown teacher '{name}'; use the output dir of a bnno run or "
                            f"one of: {choices(APPLICATIONS)}")
    return names
