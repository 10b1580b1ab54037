"""Checksums and format rules for the numbers and codes personal-data detection accepts.

Each validator answers one question (is this a real card, IBAN, SSN...), so a detector
can match loosely and keep only candidates that pass: order numbers and tracking codes
rarely carry a valid checksum.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# ISO 13616 lengths, from the SWIFT IBAN registry.
IBAN_LENGTHS: dict[str, int] = {
    country: int(length)
    for country, length in (
        item.split(":")
        for item in (
            "AD:24 AE:23 AL:28 AT:20 AZ:28 BA:20 BE:16 BG:22 BH:22 BR:29 BY:28 CH:21 CR:22 "
            "CY:28 CZ:24 DE:22 DK:18 DO:28 EE:20 EG:29 ES:24 FI:18 FO:18 FR:27 GB:22 GE:22 "
            "GI:23 GL:18 GR:27 GT:28 HR:21 HU:28 IE:22 IL:23 IQ:23 IS:26 IT:27 JO:30 KW:30 "
            "KZ:20 LB:28 LC:32 LI:21 LT:20 LU:20 LV:21 MC:27 MD:24 ME:22 MK:19 MR:27 MT:31 "
            "MU:30 NL:18 NO:15 PK:24 PL:28 PS:29 PT:25 QA:29 RO:24 RS:22 SA:24 SC:31 SE:24 "
            "SI:19 SK:24 SM:27 ST:25 SV:28 TL:23 TN:24 TR:26 UA:29 VA:22 VG:24 XK:20"
        ).split()
    )
}

_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def luhn_valid(digits: str) -> bool:
    """The card-number checksum; keeps order numbers and the like out of the <CARD> rule."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_valid(digits: str) -> bool:
    """13-19 digits, a payment-network first digit (2-6), and the Luhn checksum."""
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def iban_valid(compact: str) -> bool:
    """ISO 7064 mod 97-10 over an upper-case IBAN without separators, with its country length."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits that make `country + digits + bban` valid (used to build test data)."""
    number = "".join(str(int(char, 36)) for char in bban + country + "00")
    return f"{98 - int(number) % 97:02d}"


def us_ssn_valid(text: str) -> bool:
    """Area not 000, 666 or 9xx; group not 00; serial not 0000 (SSA rules)."""
    digits = re.sub(r"\D", "", text)
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return (
        len(digits) == 9
        and area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
    )


def uk_nino_valid(text: str) -> bool:
    """HMRC's disallowed prefixes; the letter rules themselves are in the pattern."""
    return text[:2].upper() not in _NINO_BAD_PREFIXES


CHECKSUMS: dict[str, Callable[[str], bool]] = {
    "none": lambda text: True,
    "luhn": lambda text: luhn_valid(re.sub(r"\D", "", text)),
    "us_ssn": us_ssn_valid,
    "uk_nino": uk_nino_valid,
}
