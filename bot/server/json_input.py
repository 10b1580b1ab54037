"""JSON and header text from clients, checked before anything acts on it.

Python's parser accepts what later stages cannot handle: a lone surrogate (`"\\ud800"`)
is a `str` the tokenizer and the log's encoder refuse, 10,000 nested brackets exhaust the
recursion limit, a 5,000-digit integer exceeds `int`'s string limit. Each is refused here
as a 400 naming the field, so nothing of it reaches a model, the log or a traceback.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeGuard

from bot.server.http_errors import RequestError

MAX_DEPTH = 32
"""Containers inside containers a body may have; the bot's own payloads use four."""
MAX_NUMBER_CHARS = 40
"""Digits (and sign, point, exponent) of one JSON number: beyond any real id or count."""
MAX_INTEGER = 2**63 - 1
"""The largest integer SQLite stores; a larger `turn_id` would overflow there."""
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_\-]{1,40}")


class _Refused(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def _number(text: str, convert: type) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"has a number longer than {MAX_NUMBER_CHARS} characters")
    return convert(text)


def _constant(name: str) -> Any:
    raise _Refused(f"has {name}, which is not JSON")


def loads_checked(raw: str | bytes, what: str = "request body") -> Any:
    """The JSON value of `raw`, or `RequestError` (400) saying what is wrong with it."""
    try:
        value = json.loads(
            raw,
            parse_int=lambda text: _number(text, int),
            parse_float=lambda text: _number(text, float),
            parse_constant=_constant,
        )
    except _Refused as refused:
        raise RequestError(f"{what} {refused.reason}") from None
    except RecursionError:
        raise RequestError(f"{what} is nested deeper than {MAX_DEPTH} levels") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError(f"{what} is not valid JSON") from None
    check_tree(value, what)
    return value


def check_tree(value: Any, what: str = "request body") -> None:
    """Every string (keys too) valid Unicode text, no deeper than `MAX_DEPTH`; for values
    parsed elsewhere (Slack's Socket Mode client)."""
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, str):
            if not is_text(item):
                raise RequestError(f"{_field(path, what)} is not valid Unicode text")
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise RequestError(f"{what} is nested deeper than {MAX_DEPTH} levels")
            pending.extend(_children(item, path, depth + 1, what))


def _children(item: dict | list, path: str, depth: int, what: str):
    if isinstance(item, list):
        return [(child, f"{path}[{index}]", depth) for index, child in enumerate(item)]
    children = []
    for key, child in item.items():
        if not is_text(key):
            raise RequestError(f"{_field(path, what)} has a key that is not valid Unicode text")
        name = key if _PLAIN_NAME.fullmatch(key) else "?"
        children.append((child, f"{path}.{name}" if path else name, depth))
    return children


def _field(path: str, what: str) -> str:
    return f'field "{path}"' if path else what


def is_text(text: str) -> bool:
    """Only Unicode scalar values: no lone surrogates (which UTF-8 cannot encode)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def header_text(headers: Any, name: str) -> str | None:
    """A header's value, or `RequestError` (400) when its bytes were not UTF-8 (aiohttp
    keeps them as surrogate escapes, which would fail where the value is hashed)."""
    value = headers.get(name)
    if value is not None and not is_text(value):
        raise RequestError(f'header "{name}" is not valid UTF-8 text')
    return value


def bounded_integer(value: Any) -> TypeGuard[int]:
    """An integer (not a bool) that fits in a SQLite column."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INTEGER
