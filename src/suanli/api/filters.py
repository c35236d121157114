"""The compact offer filter: ``gpu=H100 count>=8 price<=15 hub=west``.

Grammar (terms separated by spaces or commas; values may be double-quoted)::

    filter := term ( [","] term )*
    term   := field op value
    op     := "=" | "==" | "!=" | ">=" | "<=" | ">" | "<"

Fields: ``gpu``, ``site``, ``hub`` (a hub name, part of one, or ``east``/``west``/``metro``/
``central``), ``seller``, ``fabric``, ``status`` (text: ``=``/``!=``); ``count`` (free GPUs;
alias ``available``), ``total`` (listed GPUs), ``price`` (CNY per GPU-hour), ``node`` (GPUs
per node) (numbers: any op); ``interruptible`` (true/false). GPU and site names go through
the catalog, so ``gpu=h100`` means ``H100-SXM``. Anything else is a 422 that names the term.
"""

from __future__ import annotations

import math
import re

from suanli.errors import InvalidRequest
from suanli.placement.model import FABRICS
from suanli.store.offers import Condition, resolve_gpu, resolve_site

_TERM = re.compile(
    r'\s*(?P<field>[A-Za-z_]+)\s*(?P<op>==|!=|>=|<=|=|>|<)\s*(?P<value>"[^"]*"|[^\s,"<>=!]+)\s*,?'
)
_ALIASES = {
    "available": "count",
    "gpus": "count",
    "free": "count",
    "price_cny_per_gpu_hour": "price",
    "gpus_per_node": "node",
    "region": "hub",
}
_TEXT = ("gpu", "site", "hub", "seller", "fabric", "status")
_NUMBER = ("count", "total", "price", "node")
_BOOL = ("interruptible",)
_MAX_TERMS = 20
HINT = (
    "write terms like: gpu=H100 count>=8 price<=15 hub=west "
    "(fields: gpu site hub seller fabric status count total price node interruptible)"
)


def parse_filter(text: str) -> list[Condition]:
    """Parse a filter string into validated conditions (422 on the first bad term)."""
    conditions: list[Condition] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or match.end() == position:
            rest = text[position:].strip()
            raise InvalidRequest(
                f"cannot read the filter at {rest[:40]!r}",
                field="q",
                hint=HINT,
                context={"position": position},
            )
        conditions.append(condition(match["field"], match["op"], match["value"]))
        position = match.end()
        if len(conditions) > _MAX_TERMS:
            raise InvalidRequest(f"a filter has at most {_MAX_TERMS} terms", field="q")
    return conditions


def condition(raw_field: str, op: str, raw_value: str) -> Condition:
    """One validated term (used for query parameters too)."""
    field = _ALIASES.get(raw_field.lower(), raw_field.lower())
    op = "=" if op == "==" else op
    quoted = len(raw_value) >= 2 and raw_value.startswith('"') and raw_value.endswith('"')
    value = raw_value[1:-1] if quoted else raw_value
    term = f"{raw_field}{op}{raw_value}"
    if field in _TEXT:
        if op not in ("=", "!="):
            raise InvalidRequest(f"{field} is text; {term!r} needs = or !=", field="q", hint=HINT)
        return Condition(field, op, _text_value(field, value))
    if field in _NUMBER:
        try:
            number = float(value)
        except ValueError:
            raise InvalidRequest(
                f"{field} takes a number; got {value!r} in {term!r}", field="q", hint=HINT
            ) from None
        if not math.isfinite(number) or abs(number) > 1e9:
            raise InvalidRequest(f"{field} value out of range in {term!r}", field="q")
        return Condition(field, op, number)
    if field in _BOOL:
        if op not in ("=", "!="):
            raise InvalidRequest(f"{field} is true or false; use = or !=", field="q")
        lowered = value.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0"):
            raise InvalidRequest(f"{field} takes true or false; got {value!r}", field="q")
        return Condition(field, op, lowered in ("true", "yes", "1"))
    raise InvalidRequest(f"unknown filter field {raw_field!r}", field="q", hint=HINT)


def _text_value(field: str, value: str) -> str:
    if not value or len(value) > 200 or "\x00" in value:
        raise InvalidRequest(f"{field} needs a value of 1-200 characters", field="q")
    if field == "gpu":
        return resolve_gpu(value)
    if field == "site":
        return resolve_site(value)[0]
    if field == "fabric" and value not in FABRICS:
        raise InvalidRequest(
            f"unknown fabric {value!r}", field="q", hint="use one of: " + ", ".join(FABRICS)
        )
    if field == "status" and value not in ("open", "withdrawn"):
        raise InvalidRequest("status is open or withdrawn", field="q")
    return value
