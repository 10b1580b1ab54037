"""Checks on what the bot sends: no personal data that the customer did not give in this
turn, and template slots escaped for the channel that renders them."""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterable, Mapping
from typing import Literal

from bot.moderation.pii import PiiDetector, PiiSpan, replace_spans

ChannelFormat = Literal["plain", "html", "markdown", "slack"]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")


def _key(value: str) -> str:
    """Compare values the way a reader would: case, spaces and dashes do not matter."""
    return re.sub(r"[\s\-().]", "", value).casefold()


def foreign_pii(detector: PiiDetector, text: str, own_values: Iterable[str] = ()) -> list[PiiSpan]:
    """Personal data in a reply that is not one of the customer's own values from this turn;
    such data can only have come from another conversation (a quoted historical answer)."""
    own = {_key(value) for value in own_values}
    return [span for span in detector.find(text) if _key(span.value) not in own]


def redact_reply(
    detector: PiiDetector, text: str, own_values: Iterable[str] = ()
) -> tuple[str, list[PiiSpan]]:
    """The reply with foreign personal data replaced by placeholders, and what was replaced."""
    spans = foreign_pii(detector, text, own_values)
    return (replace_spans(text, spans) if spans else text), spans


def escape(text: str, channel_format: ChannelFormat) -> str:
    """Make customer-supplied text inert for a channel: no markup, links or mentions."""
    if channel_format == "html":
        return html.escape(text, quote=True)
    if channel_format == "slack":
        # Slack's three control characters; everything else is literal.
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if channel_format == "markdown":
        return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text


def fill_template(template: str, slots: Mapping[str, object], channel_format: ChannelFormat) -> str:
    """Fill `{name}` slots with escaped values; the template itself is trusted markup.

    Unknown or positional fields and attribute/index access are refused, so a template
    cannot reach into objects (`{slot.__class__}`).
    """
    parts = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        parts.append(literal)
        if field is None:
            continue
        if not field.isidentifier() or field not in slots or spec or conversion:
            raise KeyError(f"template slot {{{field}}} is not a plain known slot name")
        parts.append(escape(str(slots[field]), channel_format))
    return "".join(parts)
