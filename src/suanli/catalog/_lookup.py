"""Forgiving name look-ups shared by every catalog: case, spaces, dashes and vendor words
do not matter; an unknown name gets the closest matches."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import TypeVar

from suanli.errors import NotFound

T = TypeVar("T")

_NOISE_WORDS = ("nvidia", "geforce", "huawei", "tensor core", "gpu")


def normalise(name: str) -> str:
    """Lower-case, drop vendor words and every non-alphanumeric character."""
    text = name.strip().lower()
    for word in _NOISE_WORDS:
        text = text.replace(word, " ")
    return re.sub(r"[^0-9a-z]+", "", text)


def build_index(entries: Iterable[tuple[T, Iterable[str]]]) -> dict[str, T]:
    """Map every normalised alias to its entry; an alias claimed twice is a data bug."""
    index: dict[str, T] = {}
    for value, names in entries:
        for name in names:
            key = normalise(name)
            if not key:
                continue
            if key in index and index[key] is not value:
                raise ValueError(f"alias {name!r} names two catalog entries")
            index[key] = value
    return index


def resolve(kind: str, name: str, index: Mapping[str, T], canonical: Iterable[str]) -> T:
    """Find ``name`` in ``index`` or raise :class:`NotFound` listing the closest names."""
    key = normalise(name)
    if key in index:
        return index[key]
    canonical_names = list(canonical)
    by_key = {normalise(c): c for c in canonical_names}
    close = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.4)
    suggestions = [by_key[c] for c in close]
    if not suggestions:
        suggestions = [c for c in canonical_names if key and key[:3] in normalise(c)][:3]
    raise NotFound(
        f"unknown {kind} {name!r}",
        suggestions=suggestions,
        hint=(
            "Did you mean: " + ", ".join(suggestions) + "?"
            if suggestions
            else f"See `suanli catalog {kind}s` for the known names."
        ),
        context={"kind": kind, "name": name},
    )
