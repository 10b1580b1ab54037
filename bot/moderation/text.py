"""One canonical form of inbound text, so look-alike and invisible characters cannot dodge
the rules or smuggle instructions past them."""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
_KEEP = frozenset("\t\n\r")


def _visible(char: str) -> bool:
    """Drop control (Cc) and format (Cf: zero-width, bidi overrides, soft hyphen) characters."""
    return char in _KEEP or unicodedata.category(char) not in ("Cc", "Cf")


def normalise_text(text: str) -> str:
    """NFKC, invisible and control characters removed, whitespace collapsed and trimmed."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii() or not text.isprintable():
        text = "".join(char for char in text if _visible(char))
    return _WHITESPACE.sub(" ", text).strip()
