"""A Griffe extension for the API reference: bnno's docstrings title their doctest section
``Example:``, which the Google-style parser reads only as ``Examples:``; this renames the
title when a docstring is loaded, so that ``>>>`` lines render as code (bnno's sources stay
as they are)."""

from __future__ import annotations

import re
from typing import Any

import griffe

_TITLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename every ``Example:`` section title to ``Examples:``."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _TITLE.sub(r"\1Examples:", obj.docstring.value)
