"""Personal-data detection at span level, on hard cases, and the evaluation set's offsets."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.moderation import PiiDetector, find_pii, luhn_valid, redact
from bot.moderation.identifiers import iban_check_digits, iban_valid
from bot.moderation.pii import CLEAN_TEXTS_REMEMBERED
from supportbot.config import ModerationConfig
from supportbot.config.moderation import NationalIdRule

EVAL = Path(__file__).resolve().parents[1] / "data" / "moderation_eval" / "messages.jsonl"


def spans(text: str) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.type) for s in find_pii(text)]


def test_luhn():
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize(
    "iban",
    [
        "GB82WEST12345698765432",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "ES9121000418450200051332",
        "NO9386011117947",
    ],
)
def test_iban_checksum_accepts_valid_ibans(iban: str):
    assert iban_valid(iban)


@pytest.mark.parametrize(
    "iban",
    [
        "GB83WEST12345698765432",  # check digits off by one
        "DE89370400440532013001",  # last digit changed
        "GB82WEST1234569876543",  # one character short for GB
        "XX82WEST12345698765432",  # no such country
    ],
)
def test_iban_checksum_rejects_invalid_ibans(iban: str):
    assert not iban_valid(iban)


def test_iban_check_digits_round_trip():
    assert iban_check_digits("GB", "WEST12345698765432") == "82"


def test_iban_in_groups_or_lower_case_is_found_with_exact_span():
    text = "refund to gb82 west 1234 5698 7654 32 please, not DE89 3704 0044 0532 0130 01"

    ibans = [found for found in spans(text) if found[1] == "IBAN"]

    assert ibans == [("gb82 west 1234 5698 7654 32", "IBAN")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 please", [("4111 1111 1111 1111", "CARD")]),
        ("card 5500-0000-0000-0004.", [("5500-0000-0000-0004", "CARD")]),
        ("amex 3782 822463 10005 charged", [("3782 822463 10005", "CARD")]),
        ("card 4111 1111 1111 1111 2024 exp", [("4111 1111 1111 1111", "CARD")]),
        ("ref 4111 1111 1111 1112 thanks", []),
        ("tracking 1Z999AA10123456784", []),
        ("order 7992739871300000 arrived", []),
    ],
)
def test_cards_need_luhn_and_a_network_prefix(text: str, expected):
    assert spans(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +44 20 7946 0958 now", [("+44 20 7946 0958", "PHONE")]),
        ("call me on +1 415-555-0132.", [("+1 415-555-0132", "PHONE")]),
        ("text 07911 123456", [("07911 123456", "PHONE")]),
        ("whatsapp +55 11 96511-4805 today", [("+55 11 96511-4805", "PHONE")]),
        ("tel 0081 90-1547-2906", [("0081 90-1547-2906", "PHONE")]),
        ("my phone is (555) 123-4567", [("(555) 123-4567", "PHONE")]),
        ("order number 4155550132 please", []),
        ("Tracking number EP502867577GB.", []),
        ("It was £2446.50 on 08/11/2020, call me", []),
        ("I paid 25.50 on 2024-01-15, order 1234567", []),
    ],
)
def test_phones_international_and_national_but_not_order_numbers(text: str, expected):
    assert spans(text) == expected


def test_emails_ips_and_url_secrets():
    text = (
        "I'm jane.doe+bank@example.co.uk on 192.168.1.20:8080 and 2001:db8::8a2e:370:7334 at "
        "12:30:45; link https://bank.example/reset/8f3a9cd0b1e24c7aa9d1f0e2?token=abc123XYZ"
        "&utm_source=mail&page=2 and https://joe:hunter2@example.com/x"
    )

    assert spans(text) == [
        ("jane.doe+bank@example.co.uk", "EMAIL"),
        ("192.168.1.20", "IP"),
        ("2001:db8::8a2e:370:7334", "IP"),
        ("8f3a9cd0b1e24c7aa9d1f0e2", "SECRET"),
        ("abc123XYZ", "SECRET"),
        ("joe:hunter2", "SECRET"),
    ]


def test_detectors_skipped_for_want_of_a_digit_still_see_what_needs_none():
    """`find` runs only the detectors a message could match; these need no digit."""
    assert spans("from fe80::abcd, see www.bank.example/reset?token=SECRETabc") == [
        ("fe80::abcd", "IP"),
        ("SECRETabc", "SECRET"),
    ]
    assert spans("WWW.BANK.EXAMPLE/login?session=ABCdef and me@bank.example") == [
        ("ABCdef", "SECRET"),
        ("me@bank.example", "EMAIL"),
    ]


def test_versions_and_times_are_not_ip_addresses():
    assert spans("app version 10.0.19045.1234 at 12:30:45, build 1.2.3") == []


def test_default_national_ids_check_their_rules():
    assert spans("SSN 123-45-6789 and NINO AB 12 34 56 C") == [
        ("123-45-6789", "NATIONAL_ID"),
        ("AB 12 34 56 C", "NATIONAL_ID"),
    ]
    assert spans("SSN 666-45-6789 or 000-12-3456, NINO GB 12 34 56 C") == []


def test_national_id_formats_are_configurable():
    rule = NationalIdRule(name="de_tax_id", pattern=r"\b\d{2} \d{3} \d{3} \d{3}\b")
    detector = PiiDetector(ModerationConfig(national_ids=[rule]))

    [span] = detector.find("Steuer-ID 12 345 678 901 bitte")

    assert (span.type, span.rule, span.value) == ("NATIONAL_ID", "de_tax_id", "12 345 678 901")


def test_a_national_id_rule_skips_messages_with_fewer_digits_than_it_needs():
    def found(min_digits: int, text: str) -> list[str]:
        rule = NationalIdRule(name="ref", pattern=r"\bX-?\d{3}\b", min_digits=min_digits)
        return [s.value for s in PiiDetector(ModerationConfig(national_ids=[rule])).find(text)]

    assert found(0, "my id is X-123") == ["X-123"]
    assert found(3, "my id is X-123") == ["X-123"]
    assert found(4, "my id is X-123") == []  # the rule said a match holds 4 digits
    assert found(4, "my id is X-123, room 4") == ["X-123"]


def test_only_texts_without_personal_data_are_remembered_and_only_so_many():
    detector = PiiDetector()
    assert detector.find("where is my card?") == []
    assert detector.find("where is my card?") == []
    email = "write to jane.doe@example.com"
    assert [s.value for s in detector.find(email)] == ["jane.doe@example.com"]
    assert [s.value for s in detector.find(email)] == ["jane.doe@example.com"]
    assert list(detector._clean) == ["where is my card?"]
    for number in range(CLEAN_TEXTS_REMEMBERED + 5):
        detector.find(f"message {'x' * number}")
    assert len(detector._clean) == CLEAN_TEXTS_REMEMBERED
    assert "where is my card?" not in detector._clean  # the oldest went first


def test_redact_replaces_every_span_with_its_placeholder():
    text = (
        "I'm jane.doe@example.com, card 4111 1111 1111 1111 charged twice, call +1 415-555-0132, "
        "IBAN DE89 3704 0044 0532 0130 00"
    )

    assert redact(text) == ("I'm <EMAIL>, card <CARD> charged twice, call <PHONE>, IBAN <IBAN>")


def test_evaluation_set_is_large_labelled_and_its_offsets_are_exact():
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()]

    assert len(rows) >= 500
    assert {row["abuse"] for row in rows} == {"none", "profanity", "insult", "threat", "injection"}
    kinds = {"EMAIL", "PHONE", "CARD", "IBAN", "IP", "SECRET", "NATIONAL_ID"}
    for row in rows:
        for span in row["pii"]:
            value = row["text"][span["start"] : span["end"]]
            assert span["type"] in kinds
            assert value and value == value.strip(), (row["text"], span)
            assert not row["text"][span["end"] : span["end"] + 1].isalnum(), (row["text"], span)
    assert sum(len(row["pii"]) for row in rows) >= 300


def test_the_config_names_exactly_the_checksums_detection_implements():
    from bot.moderation.identifiers import CHECKSUMS
    from supportbot.config.moderation import CHECKSUM_NAMES

    assert set(CHECKSUM_NAMES) == set(CHECKSUMS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111.1111.1111.1111 ok", [("4111.1111.1111.1111", "CARD")]),
        ("card 4111/1111/1111/1111 ok", [("4111/1111/1111/1111", "CARD")]),
        ("card4111111111111111exp 12/27", [("4111111111111111", "CARD")]),
        ("write to jürgen.müller@bücher.de today", [("jürgen.müller@bücher.de", "EMAIL")]),
        ("почта иван@пример.рф", [("иван@пример.рф", "EMAIL")]),
        ("paid 1.50 on 12/05/2024 ref 4111.1111.1111.1112", []),
    ],
)
def test_cards_with_dots_slashes_or_glued_to_letters_and_non_ascii_emails(text, expected):
    assert spans(text) == expected


def test_a_long_run_of_numbers_is_checked_in_linear_time():
    started = time.perf_counter()
    assert spans("1.1 " * 500) == []  # 1000 groups, none a card (no network starts with 1)
    assert time.perf_counter() - started < 1.0
