"""The model-architecture catalog: one Hugging Face ``config.json`` per model in
``data/models/``, each with a ``_source`` note, and forgiving look-ups.

``model("qwen2.5-32b")``, ``model("Qwen/Qwen2.5-32B-Instruct")`` and ``model("Qwen2.5 32B")``
are one model: organisation prefixes and fine-tune suffixes (Instruct, Chat, Base) are
ignored, since they share the base model's architecture. A path to a ``config.json`` (or a
directory holding one) is read with :func:`load_hf_config`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

from suanli.catalog._lookup import build_index, resolve
from suanli.catalog.hf_config import MlaSpec, ModelArch, MoeSpec, load_hf_config

__all__ = ["MlaSpec", "ModelArch", "MoeSpec", "load_hf_config", "model", "models"]

_SUFFIXES = re.compile(r"[-_ ]+(instruct|chat|base|hf|it)(?:[-_ ]+\d+)?$", re.IGNORECASE)


def _strip(name: str) -> str:
    """Drop an ``org/`` prefix, a ``Meta-`` prefix and fine-tune suffixes."""
    text = name.strip().rsplit("/", 1)[-1]
    text = re.sub(r"^meta[-_ ]+", "", text, flags=re.IGNORECASE)
    previous = None
    while previous != text:
        previous, text = text, _SUFFIXES.sub("", text)
    return text


@cache
def models() -> tuple[ModelArch, ...]:
    """Every catalog model, sorted by name."""
    folder = resources.files("suanli.catalog").joinpath("data", "models")
    out = []
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            import json

            out.append(load_hf_config(json.loads(entry.read_text(encoding="utf-8"))))
    return tuple(sorted(out, key=lambda m: m.name.lower()))


@cache
def _index() -> dict[str, ModelArch]:
    return build_index(
        (m, (m.name, _strip(m.name), *m.aliases, *(_strip(a) for a in m.aliases))) for m in models()
    )


def model(name_or_path: str | Path | ModelArch) -> ModelArch:
    """A catalog model by forgiving name, or the model described by a ``config.json`` path.

    Raises :class:`~suanli.errors.NotFound` listing the closest names when unknown, and
    :class:`~suanli.errors.DataFileError` for a config file in the wrong shape.
    """
    if isinstance(name_or_path, ModelArch):
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    if text.endswith(".json") or path.is_file() or (path / "config.json").is_file():
        return load_hf_config(path)
    index = _index()
    from suanli.catalog._lookup import normalise

    for candidate in (text, _strip(text)):
        key = normalise(candidate)
        if key in index:
            return index[key]
    return resolve("model", _strip(text), index, (m.name for m in models()))
