"""Reads the catalogs' package data (CSV files shipped inside the package)."""

from __future__ import annotations

import csv
import io
from importlib import resources


def read_csv(name: str) -> list[dict[str, str]]:
    """Rows of ``suanli/catalog/data/<name>`` as dictionaries of strings."""
    text = resources.files("suanli.catalog").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def data_text(name: str) -> str:
    """The text of a package data file under ``suanli/catalog/data``."""
    return resources.files("suanli.catalog").joinpath("data", name).read_text(encoding="utf-8")
