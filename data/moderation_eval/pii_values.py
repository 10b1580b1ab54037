"""Random but valid personal-data values in the formats customers type them.

Checksums are computed here from their definitions (Luhn, ISO 7064 mod 97-10), not with
supportbot's own validators, so the evaluation does not assume the code under test is right.
"""

from __future__ import annotations

import random
import string

import phonenumbers

FIRST = [
    "jane",
    "li",
    "mohammed",
    "anna",
    "oliver",
    "sofia",
    "raj",
    "chen",
    "maria",
    "lukas",
    "fatima",
    "james",
    "aisha",
    "tom",
    "yuki",
    "carlos",
    "emma",
    "ivan",
    "noah",
    "priya",
    "olu",
    "sara",
    "pedro",
    "hannah",
    "kwame",
    "zoe",
    "mateo",
    "ingrid",
    "omar",
    "grace",
]
LAST = [
    "doe",
    "wang",
    "khan",
    "schmidt",
    "smith",
    "rossi",
    "patel",
    "garcia",
    "muller",
    "okafor",
    "brown",
    "nguyen",
    "kowalski",
    "silva",
    "tanaka",
    "johansson",
    "murphy",
    "dubois",
    "ali",
    "van-dijk",
    "obrien",
    "costa",
    "novak",
    "fischer",
    "mensah",
    "lee",
    "moreau",
    "santos",
]
DOMAINS = [
    "gmail.com",
    "outlook.com",
    "yahoo.co.uk",
    "web.de",
    "icloud.com",
    "hotmail.fr",
    "proton.me",
    "example.org",
    "company.co.uk",
    "uni-hamburg.de",
    "mail.ru",
    "gmx.net",
    "btinternet.com",
    "acme-logistics.com",
    "student.unimelb.edu.au",
    "orange.fr",
]
PHONE_REGIONS = [
    "US",
    "GB",
    "DE",
    "FR",
    "ES",
    "IT",
    "NL",
    "IN",
    "BR",
    "MX",
    "JP",
    "AU",
    "CA",
    "IE",
    "ZA",
    "NG",
    "SG",
    "CN",
    "PL",
    "SE",
    "CH",
    "AE",
    "KE",
    "PH",
    "PT",
    "BE",
    "AT",
    "NZ",
]
# (country, BBAN shape): 'n' digit, 'a' upper-case letter, 'c' letter or digit.
IBAN_SHAPES = {
    "GB": "aaaa" + "n" * 14,
    "DE": "n" * 18,
    "FR": "n" * 10 + "c" * 11 + "nn",
    "ES": "n" * 20,
    "IT": "a" + "n" * 10 + "c" * 12,
    "NL": "aaaa" + "n" * 10,
    "BE": "n" * 12,
    "IE": "aaaa" + "n" * 14,
    "CH": "n" * 5 + "c" * 12,
    "AT": "n" * 16,
    "PL": "n" * 24,
    "PT": "n" * 21,
    "SE": "n" * 20,
    "NO": "n" * 11,
    "DK": "n" * 14,
    "LT": "n" * 16,
}


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice(
        [
            f"{first}.{last}",
            f"{first}{last}",
            f"{first[0]}{last}",
            f"{first}_{last}{rng.randint(1, 99)}",
            f"{first}.{last}+bank",
            f"{last}.{first}{rng.randint(70, 99)}",
            f"{first}{rng.randint(100, 9999)}",
        ]
    )
    address = f"{local}@{rng.choice(DOMAINS)}"
    return address.upper() if rng.random() < 0.05 else address


def phone(rng: random.Random) -> str:
    """A valid number for a random country, international (+ or 00) or, for US/GB, national."""
    region = rng.choice(PHONE_REGIONS)
    number = _valid_number(rng, region)
    style = rng.random()
    if region in ("US", "GB") and style < 0.4:
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    elif style < 0.75:
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    elif style < 0.9:
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    else:
        text = (
            "00"
            + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)[1:]
        )
    if rng.random() < 0.15:
        text = text.replace(" ", rng.choice(["-", ".", " "]))
    return text


def _valid_number(rng: random.Random, region: str) -> phonenumbers.PhoneNumber:
    kind = rng.choice(
        [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
    )
    example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(
        region
    )
    digits = str(example.national_number)
    for _ in range(200):
        keep = max(2, len(digits) // 3)
        candidate = digits[:keep] + "".join(rng.choice(string.digits) for _ in digits[keep:])
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number):
            return number
    return example


def luhn_digit(payload: str) -> str:
    total = 0
    for position, char in enumerate(reversed(payload)):
        value = int(char)
        if position % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    prefix, length = rng.choice(
        [
            ("4", 16),
            ("51", 16),
            ("55", 16),
            ("2221", 16),
            ("34", 15),
            ("37", 15),
            ("6011", 16),
            ("4", 19),
            ("35", 16),
        ]
    )
    payload = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    digits = payload + luhn_digit(payload)
    style = rng.random()
    if length == 15:
        groups = [digits[:4], digits[4:10], digits[10:]]
    else:
        groups = [digits[i : i + 4] for i in range(0, length, 4)]
    if style < 0.35:
        return digits
    return (" " if style < 0.75 else "-").join(groups)


def not_luhn(rng: random.Random, length: int = 16) -> str:
    """Digits that fail the Luhn check (a reference number, not a card)."""
    payload = "".join(rng.choice(string.digits) for _ in range(length - 1))
    good = luhn_digit(payload)
    return payload + rng.choice([d for d in string.digits if d != good])


def iban(rng: random.Random) -> str:
    country = rng.choice(list(IBAN_SHAPES))
    alphabet = {
        "n": string.digits,
        "a": string.ascii_uppercase,
        "c": string.digits + string.ascii_uppercase,
    }
    bban = "".join(rng.choice(alphabet[kind]) for kind in IBAN_SHAPES[country])
    numeric = "".join(str(int(char, 36)) for char in bban + country + "00")
    compact = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    if rng.random() < 0.55:
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.75:
        first = rng.choice([rng.randint(11, 223), 192, 10, 172])
        return ".".join(str(part) for part in (first, *(rng.randint(0, 255) for _ in range(3))))
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return "2001:db8::" + ":".join(groups[:3])
    return ":".join(groups)


def token(rng: random.Random, length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
            return value


def us_ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def uk_nino(rng: random.Random) -> str:
    first, second = rng.choice("ABCEGHJKLMNPRSTWXYZ"), rng.choice("ABCEGHJKLMNPRSTWXYZ")
    while first + second in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
        second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    digits = "".join(rng.choice(string.digits) for _ in range(6))
    if rng.random() < 0.5:
        return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {rng.choice('ABCD')}"
    return f"{first}{second}{digits}{rng.choice('ABCD')}"
