"""Number types for `supportbot` options. argparse reports a value they refuse as a usage
error naming the option ("argument --port: 99999 is not a port (1-65535)"), where a bare
`int` let it through to fail deep inside (a traceback from the socket layer) or to give
a silently empty result (`kb search -k -3` printed "no passages in the knowledge base").
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def int_at_least(minimum: int) -> Callable[[str], int]:
    """A whole number no smaller than `minimum`."""

    def parse(text: str) -> int:
        value = _number(text, int, "a whole number")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is too small (at least {minimum})")
        return value

    return parse


def port_number(text: str) -> int:
    """A TCP port to listen on."""
    value = _number(text, int, "a port number")
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (1-65535)")
    return value


def float_between(low: float, high: float) -> Callable[[str], float]:
    """A number above `low` and at most `high`."""

    def parse(text: str) -> float:
        value = _number(text, float, "a number")
        if not (math.isfinite(value) and low < value <= high):
            raise argparse.ArgumentTypeError(
                f"{text} is out of range (above {low}, at most {high})"
            )
        return value

    return parse


def _number(text: str, kind: type, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
