"""Find personal data in text and replace it with placeholders such as `<EMAIL>`.

Detectors match loosely and keep only what passes a checksum or a parser (Luhn for cards,
mod 97 for IBANs, `phonenumbers` for phones, `ipaddress` for IPs), so order numbers,
dates and tracking codes stay readable. Spans never overlap: when two detectors claim the
same characters, the earlier one in `PRIORITY` wins.
"""

from __future__ import annotations

import ipaddress
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata

from bot.moderation.identifiers import CHECKSUMS, IBAN_LENGTHS, card_valid, iban_valid
from supportbot.config.moderation import ModerationConfig, NationalIdRule

PRIORITY = ("SECRET", "EMAIL", "IBAN", "CARD", "NATIONAL_ID", "IP", "PHONE")

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
"""Letters of any script (`\\w` is Unicode): `jürgen@müller.de` is an address too."""
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'\[\]]+", re.IGNORECASE)
_URL_USERINFO = re.compile(r"^[a-z]+://([^/@\s?#]+)@", re.IGNORECASE)
_URL_PARAM = re.compile(r"[?&#;]([^=&#;\s]+)=([^&#;\s]*)")
_URL_TOKEN_SEGMENT = re.compile(r"/([A-Za-z0-9_\-.~]{20,})(?=[/?#]|$)")
_SECRET_KEY = re.compile(
    r"token|secret|passw|pwd|pass$|auth|sig|key|session|sess|sid$|code|otp|pin$|nonce|"
    r"ticket|credential|jwt|hash",
    re.IGNORECASE,
)
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})(\d{2})")
_DIGIT_RUN = re.compile(r"(?<![A-Za-z0-9.,+])\d+(?:[ -]\d+)*(?![A-Za-z0-9])")
_CARD_RUN = re.compile(r"(?<![\d+])\d+(?:[ ./-]\d+)*(?!\d)")
_DIGIT = re.compile(r"\d")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_NOT_A_PHONE = re.compile(
    r"\b(?:order|ref|reference|tracking|invoice|transaction|txn|receipt|confirmation|ticket|"
    r"case|booking|reservation|account|acct|policy|parcel|shipment|serial|model|member|"
    r"customer|id|no)\b\W*(?:number|no|num|id|code)?\W*(?:is|was|:)?\W*$|#\s*$",
    re.IGNORECASE,
)
_PHONE_CUE = re.compile(
    r"\b(?:phone|call|text|mobile|cell|tel|telephone|reach|whatsapp|contact|sms|landline|"
    r"ring|dial|number)\b",
    re.IGNORECASE,
)
_MIN_PHONE_DIGITS = 7
CLEAN_TEXTS_REMEMBERED = 512
"""Texts found free of personal data, remembered so that a turn's later checks of the
same text (its log row, its conversation history) and the bot's recurring replies are
not searched again. Texts with personal data are never remembered."""
# A match glued to letters or digits, or after a currency sign, is part of a code or amount.
_PART_OF_SOMETHING_ELSE = re.compile(r"(?:[A-Za-z0-9]|\d[ -]|[£$€¥])$")
_CONTINUES = re.compile(r"[A-Za-z0-9]|[ -]\d")


@dataclass(frozen=True)
class PiiSpan:
    """`text[start:end]` is personal data of `type`; `rule` names the detector that found it."""

    start: int
    end: int
    type: str
    rule: str
    value: str

    @property
    def placeholder(self) -> str:
        return f"<{self.type}>"


class PiiDetector:
    """All personal-data detectors for one configuration; thread-safe. Its only state is
    the bounded memory of texts it found clean."""

    def __init__(self, config: ModerationConfig | None = None):
        config = config or ModerationConfig()
        self.phone_regions = list(config.phone_regions)
        PhoneMetadata.load_all()  # ~0.1 s once, instead of a few ms on each new country
        self.national_ids = [(rule, _compile(rule)) for rule in config.national_ids]
        self._clean: OrderedDict[str, None] = OrderedDict()

    def find(self, text: str) -> list[PiiSpan]:
        """Non-overlapping spans, ordered by position."""
        if text in self._clean:
            return []
        taken: list[PiiSpan] = []
        for found in self._detectors(text):
            for span in sorted(found, key=lambda s: s.start - s.end):  # longest first
                if not _overlaps(span, taken):
                    taken.append(span)
        if not taken:
            self._remember_clean(text)
        return sorted(taken, key=lambda span: span.start)

    def _remember_clean(self, text: str) -> None:
        self._clean[text] = None
        while len(self._clean) > CLEAN_TEXTS_REMEMBERED:
            try:
                self._clean.popitem(last=False)
            except KeyError:  # another thread emptied it meanwhile
                break

    def _detectors(self, text: str) -> list[Iterable[PiiSpan]]:
        """The detectors that could match `text`, in `PRIORITY` order. Most messages have
        no digit, `@` or link, and skipping the detectors that need one is most of the
        cost of a turn's personal-data checks (the server runs them several times a turn)."""
        digits = len(_DIGIT.findall(text))
        detectors: list[Iterable[PiiSpan]] = []
        if "://" in text or "www." in text.lower():
            detectors.append(_url_secrets(text))
        if "@" in text:
            detectors.append(_emails(text))
        if digits:
            detectors += [_ibans(text), _cards(text)]
        detectors.append(self._national_ids(text, digits))
        if digits or text.count(":") >= 2:
            detectors.append(_ips(text))
        if digits >= _MIN_PHONE_DIGITS:
            detectors.append(self._phones(text))
        return detectors

    def redact(self, text: str, spans: list[PiiSpan] | None = None) -> str:
        """`text` with every span replaced by its placeholder."""
        spans = self.find(text) if spans is None else spans
        return replace_spans(text, spans)

    def _national_ids(self, text: str, digits: int) -> Iterator[PiiSpan]:
        for rule, pattern in self.national_ids:
            if digits < rule.min_digits:
                continue
            for match in pattern.finditer(text):
                if CHECKSUMS[rule.checksum](match.group()):
                    yield PiiSpan(
                        match.start(), match.end(), "NATIONAL_ID", rule.name, match.group()
                    )

    def _phones(self, text: str) -> Iterator[PiiSpan]:
        seen: set[tuple[int, int]] = set()
        for region in self.phone_regions:
            matches = phonenumbers.PhoneNumberMatcher(
                text, region, leniency=phonenumbers.Leniency.POSSIBLE
            )
            for match in matches:
                where = (match.start, match.end)
                if where not in seen and _phone_context_ok(text, match):
                    seen.add(where)
                    yield PiiSpan(match.start, match.end, "PHONE", "phonenumbers", match.raw_string)


def _phone_context_ok(text: str, match: phonenumbers.PhoneNumberMatch) -> bool:
    """A valid number anywhere, a merely possible one only after a phone cue; never a number
    introduced as an order, reference or account number (unless it starts with +)."""
    before = text[max(0, match.start - 40) : match.start]
    if (
        _PART_OF_SOMETHING_ELSE.search(before)
        or _CONTINUES.match(text, match.end)
        or sum(c.isdigit() for c in match.raw_string) < 7
        or (not match.raw_string.startswith("+") and _NOT_A_PHONE.search(before))
    ):
        return False
    return phonenumbers.is_valid_number(match.number) or bool(_PHONE_CUE.search(before[-25:]))


def _compile(rule: NationalIdRule) -> re.Pattern[str]:
    return re.compile(rule.pattern, re.IGNORECASE if rule.ignore_case else 0)


def _overlaps(span: PiiSpan, taken: list[PiiSpan]) -> bool:
    return any(span.start < other.end and other.start < span.end for other in taken)


def _emails(text: str) -> Iterator[PiiSpan]:
    for match in _EMAIL.finditer(text):
        yield PiiSpan(match.start(), match.end(), "EMAIL", "email", match.group())


def _url_secrets(text: str) -> Iterator[PiiSpan]:
    """Credentials inside links: user:password@, token-like query values, long token paths."""
    for url in _URL.finditer(text):
        raw = url.group().rstrip(".,;:!?)")
        base = url.start()
        userinfo = _URL_USERINFO.match(raw)
        if userinfo:
            yield _secret(base + userinfo.start(1), base + userinfo.end(1), text, "url_userinfo")
        for param in _URL_PARAM.finditer(raw):
            if param.group(2) and _SECRET_KEY.search(param.group(1)):
                yield _secret(base + param.start(2), base + param.end(2), text, "url_parameter")
        path_end = min((raw.find(c) for c in "?#" if c in raw), default=len(raw))
        for segment in _URL_TOKEN_SEGMENT.finditer(raw[:path_end]):
            value = segment.group(1)
            if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
                yield _secret(
                    base + segment.start(1), base + segment.end(1), text, "url_path_token"
                )


def _secret(start: int, end: int, text: str, rule: str) -> PiiSpan:
    return PiiSpan(start, end, "SECRET", rule, text[start:end])


def _ibans(text: str) -> Iterator[PiiSpan]:
    """Walk from a country code, over single spaces or dashes, for exactly that country's length."""
    for match in _IBAN_START.finditer(text):
        country = match.group(1).upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            continue
        end = _iban_end(text, match.start(), length)
        if end is None:
            continue
        compact = re.sub(r"[ -]", "", text[match.start() : end]).upper()
        if iban_valid(compact):
            yield PiiSpan(match.start(), end, "IBAN", "iban_mod97", text[match.start() : end])


def _iban_end(text: str, start: int, length: int) -> int | None:
    count, position = 0, start
    while position < len(text) and count < length:
        char = text[position]
        if char.isascii() and char.isalnum():
            count += 1
        elif not (
            char in " -" and count > 0 and position + 1 < len(text) and text[position + 1].isalnum()
        ):
            break
        position += 1
    if count != length or (position < len(text) and text[position].isalnum()):
        return None
    return position


def _cards(text: str) -> Iterator[PiiSpan]:
    """The longest run of digit groups (spaces, dashes, dots or slashes between) that is a
    valid card, also when glued to letters (`card4111...`). A card has at most 19 digits,
    so only windows of that many are tried: a long run of numbers costs linear time."""
    for run in _CARD_RUN.finditer(text):
        groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run.group())]
        best = None
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += run.group()[groups[last][0] : groups[last][1]]
                if len(digits) > 19:
                    break
                start, end = groups[first][0], groups[last][1]
                if card_valid(digits) and (best is None or end - start > best[1] - best[0]):
                    best = (start, end)
        if best is not None:
            start, end = run.start() + best[0], run.start() + best[1]
            yield PiiSpan(start, end, "CARD", "luhn", text[start:end])


def _ips(text: str) -> Iterator[PiiSpan]:
    for pattern, parse in ((_IPV4, ipaddress.IPv4Address), (_IPV6, ipaddress.IPv6Address)):
        for match in pattern.finditer(text):
            try:
                parse(match.group())
            except ValueError:
                continue
            yield PiiSpan(match.start(), match.end(), "IP", "ip_address", match.group())


def replace_spans(text: str, spans: list[PiiSpan]) -> str:
    """Replace non-overlapping spans with their placeholders, right to left."""
    for span in sorted(spans, key=lambda s: s.start, reverse=True):
        text = text[: span.start] + span.placeholder + text[span.end :]
    return text


@cache
def default_detector() -> PiiDetector:
    return PiiDetector()


def find_pii(text: str) -> list[PiiSpan]:
    """Personal data in `text` under the default configuration."""
    return default_detector().find(text)


def redact(text: str) -> str:
    """Mask personal data before text reaches a log, an index, an export or training.

    Pass normalised text: a zero-width character inside a number would hide it from these rules.
    """
    return default_detector().redact(text)
