""""Did you mean": the closest of the known names to a misspelt one (difflib)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(word, choices: Iterable) -> str:
    """` (did you mean 'memory'?)` for the choice closest to word, or "" when none is close.

    Choices are compared as text (list indexes, YAML keys that are numbers); a word that is
    not text (a number, None) has no suggestion.
    """
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


__all__ = ["suggest"]
