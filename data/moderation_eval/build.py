"""Build the moderation evaluation set, data/moderation_eval/messages.jsonl (seeded).

Real customer messages (BANKING77 test, CLINC150 test, SGD dev customer turns) carry
personal data inserted the way customers write it, hard negatives (order numbers, dates,
amounts, tracking codes, failed checksums) and hand-written abuse and injection messages.
Each line: {"text", "pii": [{"start", "end", "type"}], "abuse", "source"}.

Run: python data/moderation_eval/build.py   (reads ../../shared/data or $SUPPORTBOT_DATA)
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import random
import re
import string
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import abuse_messages as handwritten  # noqa: E402
import pii_values as values  # noqa: E402

SEED = 7
SHARED = Path(os.environ.get("SUPPORTBOT_DATA", HERE.parents[2] / "shared" / "data"))
OUT = HERE / "messages.jsonl"

CONTEXTS = {
    "EMAIL": (
        [
            " My email is {v}.",
            " You can email me at {v}",
            " (registered email: {v})",
            " My login is {v}",
            " Please reply to {v} rather than here.",
            " - {v}",
            " Contact me on {v} please",
            " my old address was {v}, the new one is {v2}",
        ],
        ["Hi, it's {v} here. ", "Account email {v}: ", "{v} - "],
    ),
    "PHONE": (
        [
            " My number is {v}.",
            " Call me back on {v}",
            " you can reach me at {v} after 5pm",
            " mobile: {v}",
            " Please text {v} when it's done",
            " (tel {v})",
            " My phone number changed to {v}, can you update it?",
            " whatsapp {v}",
        ],
        ["Calling from {v}. ", "Phone {v}. ", "It's urgent, ring me on {v}. "],
    ),
    "CARD": (
        [
            " My card number is {v}.",
            " The card is {v}",
            " card no. {v} expiry 09/27",
            " the full number is {v}",
            " Charged to {v} twice",
            " ({v})",
        ],
        ["{v} is my card number. ", "Card {v}: ", "Using card {v} - "],
    ),
    "IBAN": (
        [
            " My IBAN is {v}.",
            " Please refund to {v}",
            " Transfer it back to IBAN {v} please",
            " sent from account {v}",
            " The recipient's IBAN was {v}",
        ],
        ["IBAN {v}. ", "Beneficiary {v}: "],
    ),
    "IP": (
        [
            " My IP address is {v} if that helps.",
            " I'm connecting from {v}",
            " The login came from {v}, not me!",
            " Your site blocked {v}",
        ],
        ["Someone logged in from {v}. ", "IP {v} - "],
    ),
    "NATIONAL_ID": (
        [
            " My SSN is {v}.",
            " social security number {v}",
            " My national insurance number is {v}.",
            " NI number: {v}",
        ],
        ["SSN {v}. ", "NINO {v}: "],
    ),
}
HARD_NEGATIVES = [
    " My order number is {order}.",
    " Tracking number {tracking}.",
    " Reference {ref16}.",
    " It was £{amount} on {date}.",
    " at {time} on {iso_date}",
    " transaction ID {txn}",
    " card ending in {last4}",
    " app version {version}",
    " postcode {postcode}",
    " invoice #{invoice}",
    " Order #{order} placed {date}, total ${amount}",
    " see https://www.{bank}.com/help/cards?page={page}&lang=en",
    " reference {ref_grouped}",
    " booking {booking}",
    " case number {order}",
    " ({n} payments of €{amount})",
    " tracking https://track.{bank}.com/parcel?id=PK{page}&utm_source=email",
]


def load_pools() -> dict[str, list[str]]:
    """Real customer messages, without digits runs or '@' that could be unlabelled PII."""
    with open(SHARED / "banking77" / "test.csv", newline="", encoding="utf-8") as handle:
        banking = [row["text"] for row in csv.DictReader(handle)]
    clinc = json.loads((SHARED / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    clinc_texts = [text for text, _ in clinc["test"] + clinc["oos_test"]]
    sgd = []
    with gzip.open(SHARED / "sgd" / "dev.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            sgd.extend(t["text"] for t in json.loads(line)["turns"] if t["speaker"] == "customer")

    def clean(texts: list[str]) -> list[str]:
        keep = [t.strip() for t in texts if 15 <= len(t) <= 180 and "@" not in t]
        return sorted({t for t in keep if not re.search(r"\d", t)})

    return {"banking77": clean(banking), "clinc150": clean(clinc_texts), "sgd": clean(sgd)}


class Message:
    """Text assembled piece by piece so every span's offsets are exact by construction."""

    def __init__(self) -> None:
        self.text, self.spans = "", []

    def add(self, text: str) -> None:
        self.text += text

    def add_pii(self, value: str, kind: str) -> None:
        self.spans.append(
            {"start": len(self.text), "end": len(self.text) + len(value), "type": kind}
        )
        self.text += value

    def fill(self, template: str, kind: str, rng: random.Random) -> None:
        for piece in re.split(r"(\{v2?\})", template):
            if piece in ("{v}", "{v2}"):
                self.add_pii(_value(kind, rng), kind)
            else:
                self.add(piece)


def _value(kind: str, rng: random.Random) -> str:
    if kind == "NATIONAL_ID":
        return values.us_ssn(rng) if rng.random() < 0.5 else values.uk_nino(rng)
    return {
        "EMAIL": values.email,
        "PHONE": values.phone,
        "CARD": values.card,
        "IBAN": values.iban,
        "IP": values.ip_address,
    }[kind](rng)


def _secret_url(message: Message, rng: random.Random) -> None:
    host = rng.choice(
        ["mybank.com", "secure.shopline.co.uk", "app.paywise.io", "login.fintrust.de"]
    )
    shape = rng.randrange(5)
    message.add(
        rng.choice([" I clicked ", " The reset link ", " here is the link I got: ", " Link: "])
    )
    if shape == 0:
        message.add(f"https://{host}/reset-password?token=")
        message.add_pii(values.token(rng, rng.randint(24, 40)), "SECRET")
    elif shape == 1:
        message.add(f"https://{host}/login?lang=en&session_id=")
        message.add_pii(values.token(rng, 32), "SECRET")
        message.add("&ref=mail")
    elif shape == 2:
        message.add(f"https://{host}/verify/")
        message.add_pii(values.token(rng, rng.randint(28, 48)), "SECRET")
    elif shape == 3:
        message.add("https://")
        message.add_pii(f"{rng.choice(values.FIRST)}:{values.token(rng, 10)}", "SECRET")
        message.add(f"@{host}/statements")
    else:
        message.add(f"https://api.{host}/v1/accounts?api_key=")
        message.add_pii(values.token(rng, 32), "SECRET")
    message.add(rng.choice([" and nothing happened.", " - it says expired", "", " is it safe?"]))


def pii_message(base: str, rng: random.Random) -> Message:
    message = Message()
    kinds = rng.sample([*CONTEXTS, "SECRET"], k=2 if rng.random() < 0.2 else 1)
    before = [k for k in kinds if k != "SECRET" and rng.random() < 0.3]
    for kind in before:
        message.fill(rng.choice(CONTEXTS[kind][1]), kind, rng)
    message.add(base if not before else base[0].lower() + base[1:])
    for kind in kinds:
        if kind == "SECRET":
            _secret_url(message, rng)
        elif kind not in before:
            message.fill(rng.choice(CONTEXTS[kind][0]), kind, rng)
    return message


def hard_negative(base: str, rng: random.Random) -> str:
    fields = {
        "order": str(rng.randint(10**6, 10**10)),
        "tracking": _tracking(rng),
        "ref16": values.not_luhn(rng),
        "amount": f"{rng.randint(1, 2500)}.{rng.randint(0, 99):02d}",
        "date": f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/20{rng.randint(19, 25)}",
        "iso_date": f"20{rng.randint(19, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "time": f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
        "txn": f"TXN-{rng.randint(10000, 99999)}-{_letters(rng, 1)}{rng.randint(0, 9)}",
        "last4": f"{rng.randint(0, 9999):04d}",
        "version": f"{rng.randint(3, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        "postcode": rng.choice(["SW1A 1AA", "90210", "10115", "EC2N 2DB", "75008", "M1 1AE"]),
        "invoice": f"INV{rng.randint(100000, 999999)}",
        "bank": rng.choice(["mybank", "shopline"]),
        "page": str(rng.randint(2, 9)),
        "booking": f"{rng.choice(string.ascii_uppercase)}{values.token(rng, 6).upper()}",
        "ref_grouped": _grouped(values.not_luhn(rng)),
        "n": str(rng.randint(2, 12)),
    }
    return base + rng.choice(HARD_NEGATIVES).format(**fields)


def _grouped(digits: str) -> str:
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _letters(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(count))


def _tracking(rng: random.Random) -> str:
    return rng.choice(
        [
            "1Z" + values.token(rng, 16).upper(),
            f"JD{rng.randint(10**17, 10**18 - 1)}",
            f"{_letters(rng, 2)}{rng.randint(10**8, 10**9 - 1)}GB",
        ]
    )


def profane(base: str, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return rng.choice(handwritten.PROFANE_PREFIXES) + base[0].lower() + base[1:]
    if style == 1 and re.search(r"\bmy (card|account|app|money|transfer|phone)\b", base):
        adjective = rng.choice(handwritten.PROFANE_ADJECTIVES)
        return re.sub(
            r"\bmy (card|account|app|money|transfer|phone)\b", rf"my {adjective} \1", base, count=1
        )
    return base.rstrip(".") + rng.choice(handwritten.PROFANE_SUFFIXES)


def build(seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    pools = load_pools()
    draw = _drawer(pools, rng)
    rows = []

    def row(text: str, source: str, pii=(), abuse: str = "none") -> None:
        rows.append({"text": text, "pii": list(pii), "abuse": abuse, "source": source})

    for _ in range(320):
        source, base = draw()
        message = pii_message(base, rng)
        row(message.text, source, message.spans)
    for _ in range(90):
        source, base = draw()
        row(hard_negative(base, rng), source)
    for _ in range(80):
        row(*reversed(draw()))
    for _ in range(55):
        source, base = draw("banking77")
        row(profane(base, rng), source, abuse="profanity")
    for kind, texts in (
        ("insult", handwritten.INSULTS),
        ("threat", handwritten.THREATS),
        ("injection", handwritten.INJECTIONS),
        ("none", handwritten.ANGRY_BUT_LEGITIMATE),
    ):
        for text in texts:
            row(text, "handwritten", abuse=kind)
    for text, found in handwritten.HARD_PII:
        spans = [
            {"start": text.index(v), "end": text.index(v) + len(v), "type": t} for v, t in found
        ]
        row(text, "handwritten", spans)
    for text in rng.sample(handwritten.INSULTS, 8):
        message = Message()
        message.add(text + ".")
        kind = rng.choice(["CARD", "EMAIL"])
        message.fill(rng.choice(CONTEXTS[kind][0]), kind, rng)
        row(message.text, "handwritten", message.spans, "insult")
    rng.shuffle(rows)
    return rows


def _drawer(pools: dict[str, list[str]], rng: random.Random):
    used: set[str] = set()
    weights = {"banking77": 0.5, "clinc150": 0.25, "sgd": 0.25}

    def draw(source: str | None = None) -> tuple[str, str]:
        while True:
            name = source or rng.choices(list(weights), list(weights.values()))[0]
            text = rng.choice(pools[name])
            if text not in used:
                used.add(text)
                return name, text

    return draw


def main() -> None:
    rows = build()
    with open(OUT, "w", encoding="utf-8") as handle:
        for item in rows:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} messages to {OUT}")


if __name__ == "__main__":
    main()
