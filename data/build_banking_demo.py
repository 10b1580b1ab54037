"""Build the bundled banking demo (`data/banking_demo`) from the BANKING77 train split.

Every train.csv question becomes the labelled customer turn of one historical dialogue,
answered with that intent's response from RESPONSES, which is also written to bot.yml so
the two can never disagree. Stdlib only and seeded, so a rebuild is byte-identical:

    python data/build_banking_demo.py [--source DIR] [--out DIR] [--seed N]

Only train.csv is read; test.csv stays unseen for benchmarks.
"""

# ruff: noqa: E501  (the response texts below are data; one line each keeps them greppable)

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import re
import sys
from pathlib import Path

SEED = 42
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"
DEFAULT_OUT = Path(__file__).resolve().parent / "banking_demo"

GREETING_RATE = 0.15
THANKS_RATE = 0.25
ESCALATION_RATE = 0.04

# One reply per intent, written for this project (not part of BANKING77).
RESPONSES: dict[str, str] = {
    "card_arrival": "Cards usually arrive within 5 working days of ordering (up to 10 working days outside the UK and EEA). You can follow your card's progress under Cards > Track delivery; if it still hasn't arrived after that, tell us here and we'll cancel it and send a new one for free.",
    "card_linking": "To add a card you've received to the app, open Cards, tap 'Link a card' and enter the code from the letter the card came with. If you froze a card and have found it again, just unfreeze it there; a card you cancelled can't be linked again, so order a replacement instead.",
    "exchange_rate": "On weekdays we convert at the interbank rate, with a 1% markup on weekends while currency markets are closed. You can check the live rate for any currency pair under Exchange in the app before you pay or exchange.",
    "card_payment_wrong_exchange_rate": "Card payments are converted at our rate on the day the merchant collects the payment, which can differ from the rate when you paid, and a 1% markup applies on weekends. If the rate still looks wrong, send us the payment date and amount here and we'll check it against that day's rate.",
    "extra_charge_on_statement": "A small extra charge (often 1 in your account's currency) is usually a merchant checking that your card is valid, and it is released within 7 days. If it has been longer or you don't recognise it, tap the transaction in the app and choose 'Report an issue'.",
    "pending_cash_withdrawal": "A cash withdrawal shows as pending until the ATM operator confirms it, which usually takes 1-2 working days. You don't need to do anything; if it is still pending after 7 days, let us know and we'll chase the operator.",
    "fiat_currency_support": "You can hold and exchange money in over 25 currencies, including GBP, EUR, USD, CHF, AUD and JPY. The full list is shown when you tap 'Add currency' on the Accounts screen.",
    "card_delivery_estimate": "Standard delivery takes up to 5 working days within the UK and EEA and up to 10 working days elsewhere. Express delivery (usually 1-2 working days) is offered when you order, with its fee shown before you confirm; we can't deliver on a chosen date.",
    "automatic_top_up": "Set up auto top-up under Top up > Auto top-up: choose a card, the balance that triggers a top-up and the amount to add. You can change or switch it off there at any time.",
    "card_not_working": "First check in the app that the card isn't frozen, that it's activated and that you have enough balance in the payment's currency. If it still doesn't work, try a payment with the chip and PIN; if that fails too, order a free replacement under Cards > Replace card.",
    "exchange_via_app": "Open Exchange in the app, pick the currency you're exchanging from and to, enter the amount and confirm; the money moves instantly between your currency accounts. Exchanges are free up to 1,000 a month, then cost 0.5%.",
    "lost_or_stolen_card": "Freeze your card in the app straight away (Cards > Freeze) so nobody can use it, then check your recent transactions. If you don't find the card, cancel it and order a replacement; tell us about any payments you don't recognise.",
    "age_limit": "You need to be 18 or over to open an account. Parents can open a junior account for children aged 13 to 17 from their own app, under Profile > Family.",
    "pin_blocked": "After three wrong PIN attempts your PIN is blocked for your safety. Check your PIN under Cards > Show PIN, then unblock it at any ATM that offers PIN services, or tap 'Unblock PIN' on that screen if it's available for your card.",
    "contactless_not_working": "For security, a card's first payment and the occasional payment after that need chip and PIN before contactless works again. Also check that contactless is switched on under Cards > Security; there's no need to reinstall the app.",
    "top_up_by_bank_transfer_charge": "Topping up by bank transfer is free from our side. Your own bank may charge for sending the transfer, and international (SWIFT) transfers can have fees taken by intermediary banks.",
    "pending_top_up": "Card top-ups are usually instant, but some card issuers hold them for up to a few hours; bank transfer top-ups take up to 1 working day, or longer if sent internationally. If a card top-up is still pending after 24 hours, tell us here and we'll check it.",
    "cancel_transfer": "You can cancel a transfer while it's still pending: tap it in your transactions and choose 'Cancel transfer'. Once it has been sent we can't reverse it ourselves, but we can ask the receiving bank to return the money if you tell us what went wrong.",
    "top_up_limits": "Each card top-up can be up to 5,000, and card top-ups are limited to 10,000 in any rolling 30 days; bank transfer top-ups have no limit. Your current limits are shown under Profile > Limits.",
    "wrong_amount_of_cash_received": "Sorry about that. If the ATM gave you less than it showed, we will raise a claim with the ATM operator; please tell us the date, the ATM location and the amount you actually received. The claim usually takes up to 10 working days.",
    "card_payment_fee_charged": "Card payments in shops and online are free in any currency, so a fee usually comes from the merchant itself (some add a surcharge for paying by card). Tap the payment in the app to see what the fee is for, and tell us here if it still looks wrong.",
    "transfer_not_received_by_recipient": "Transfers to local accounts usually arrive within minutes, SEPA transfers within 2 working days and SWIFT transfers within 5. If the transfer shows 'Completed' but hasn't arrived, send the recipient the transfer confirmation from the app so their bank can trace it, and let us know if it still doesn't show up.",
    "supported_cards_and_currencies": "You can top up with Visa or Mastercard debit and credit cards in most major currencies; American Express isn't supported. The currencies you can add money in are listed under Top up > Card.",
    "getting_virtual_card": "Virtual cards are free: open Cards, tap '+', then 'Virtual card', and it's ready to use instantly for online payments and in Apple Pay or Google Pay.",
    "card_acceptance": "Your card works wherever Visa or Mastercard (depending on your card) is accepted, online and in shops, worldwide. A few merchants, such as some car-rental firms and petrol stations, may not accept prepaid-style debit cards.",
    "top_up_reverted": "A top-up is reverted when the card issuer or our security checks reject it after it first appeared; the money goes back to the card you used, usually within 3-5 working days. Please make sure the card is in your name and verified, then try again.",
    "balance_not_updated_after_cheque_or_cash_deposit": "Cash paid in at a partner shop usually appears within 2 hours; keep your receipt. We can't accept cheques, so a cheque paid into another bank only reaches us once that bank sends the money. If a cash top-up hasn't appeared after 24 hours, send us a photo of the receipt here.",
    "card_payment_not_recognised": "Merchants sometimes use a company name that differs from their shop name, so tap the payment to see the merchant's details first. If you still don't recognise it, freeze your card and tap 'Report an issue' on the payment so we can dispute it.",
    "edit_personal_details": "You can change your address, email and phone number under Profile > Personal details. To change your name, for example after marriage, upload a photo of your new ID or certificate there and we'll update it within 2 working days.",
    "why_verify_identity": "The law requires us to verify who our customers are, to prevent fraud and money laundering. It also protects you: nobody else can open an account or move money in your name.",
    "unable_to_verify_identity": "Verification works best with a valid passport or national ID card photographed in good light, with all four corners visible and no glare, and a selfie that matches it. If it still fails, tell us here what error you see and we'll help you finish it.",
    "get_physical_card": "Your card's PIN isn't posted separately: once the card is activated, you can see it any time under Cards > Show PIN in the app.",
    "visa_or_mastercard": "We issue both Visa and Mastercard cards depending on your country. When you order a new card, you can choose the network if both are available where you live.",
    "topping_up_by_card": "To top up by card, open Top up, choose 'Card', enter your debit or credit card details and the amount. Most top-ups are instant; if yours doesn't appear, check whether it's pending in your transactions before trying again.",
    "disposable_card_limits": "A disposable virtual card can be used for one payment, after which its details are replaced automatically. You can generate up to 5 disposable cards a day, and each payment is subject to your normal spending limits.",
    "compromised_card": "Freeze your card now under Cards > Freeze, then report any payments you don't recognise by tapping them and choosing 'Report an issue'. We'll cancel the card, send you a new one and investigate the transactions.",
    "atm_support": "You can withdraw cash at any ATM showing the Visa or Mastercard logo, worldwide. Withdrawals are free up to 200 a month, and the ATM operator may add its own fee, which the machine shows before you confirm.",
    "direct_debit_payment_not_recognised": "Tap the direct debit in your transactions to see who set it up; it may be a company you pay under a different name. If you didn't authorise it, cancel it under Payments > Direct debits and tell us here so we can claim the money back.",
    "passcode_forgotten": "On the app's login screen tap 'Forgot passcode?' and follow the steps; we'll send a code to your email and ask for a quick selfie to confirm it's you. We will never ask you for your passcode in the chat.",
    "declined_cash_withdrawal": "A cash withdrawal can be declined if your card is frozen, the PIN is wrong, you've reached your daily ATM limit or the balance in that currency is too low. Check these in the app; if everything looks fine, try a different ATM, as some don't accept foreign cards.",
    "pending_card_payment": "Pending means the merchant has authorised the payment but hasn't collected it yet. Most payments complete within 1-3 days; if the merchant never collects it, the money is released automatically within 7 days.",
    "lost_or_stolen_phone": "Log in from another device or tell us here, and we'll lock your account and freeze your cards straight away. Once you have a new phone, log in with your phone number and verify with a selfie; your cards can then be unfrozen.",
    "request_refund": "Refunds for purchases come from the merchant, so contact them first and ask for the refund to your card. If they don't respond or refuse, tap the payment in the app and choose 'Report an issue' so we can raise a dispute.",
    "declined_transfer": "A transfer can be declined if your balance is too low, the recipient's details are invalid, or our security checks need more information. Check the reason shown on the transfer in the app; if none is shown, tell us here and we'll look into it.",
    "Refund_not_showing_up": "Once a merchant issues a refund it usually appears within 5 working days, but some take up to 15. If it's been longer, ask the merchant for the refund's reference number and send it to us here so we can trace it.",
    "declined_card_payment": "A card payment can be declined if the card is frozen, a security setting (such as online or abroad payments) is turned off, or there isn't enough balance. Check Cards > Security in the app; if everything looks right, tell us the merchant and the time and we'll check.",
    "pending_transfer": "Outgoing transfers can stay pending for up to 1 working day while we process them. SEPA transfers then take up to 2 working days and SWIFT transfers up to 5; please double-check the recipient's details in the meantime.",
    "terminate_account": "Sorry to see you go. Move or withdraw your remaining balance first, then go to Profile > Close account; any pending payments must complete before the account can be closed.",
    "card_swallowed": "Freeze the card in the app straight away. ATMs usually destroy retained cards for security, so we recommend ordering a replacement under Cards > Replace card rather than trying to get it back from the bank that owns the ATM.",
    "transaction_charged_twice": "A payment that shows twice is often a pending authorisation plus the final charge; the duplicate usually disappears within 7 days. If both have completed, contact the merchant first, then tap the payment and choose 'Report an issue' if they can't fix it.",
    "verify_source_of_funds": "For larger deposits we're required to check where money comes from. When the app asks, upload a document that shows the source, such as a payslip, a bank statement or a sale contract; we usually review it within 2 working days.",
    "transfer_timing": "Local transfers usually arrive within minutes, SEPA transfers within 2 working days and SWIFT (international) transfers within 5 working days. Transfers sent at weekends or on bank holidays start processing on the next working day.",
    "reverted_card_payment?": "A card payment is reverted when the merchant cancels it or doesn't collect it, and the money goes back to your balance. If the merchant says they weren't paid, ask them to process the payment again; you haven't been charged twice.",
    "change_pin": "You can change your PIN at most ATMs that offer PIN services: insert your card, enter your current PIN and choose 'Change PIN'. You can always see your current PIN under Cards > Show PIN in the app.",
    "beneficiary_not_allowed": "A payee can be blocked if their details don't match their bank's records, their bank doesn't accept the transfer type, or our security checks flag the payment. Check the name and account details; if it's still refused, tell us here and we'll tell you what's needed.",
    "transfer_fee_charged": "Transfers in the same currency to local and SEPA accounts are free; SWIFT transfers and transfers in another currency carry a fee shown before you confirm. The recipient's or an intermediary bank may also take a fee we don't control.",
    "receiving_money": "To get paid into your account, share your account details from Accounts > Account details; they work for salary payments and transfers from friends. Money in another currency arrives in that currency's account if you hold one, otherwise it's converted to your main currency.",
    "failed_transfer": "A transfer fails when the recipient's bank rejects it, usually because the account details are wrong or the account is closed. The money is returned to your balance within 1-5 working days; please check the details before sending again.",
    "transfer_into_account": "To add money by bank transfer, open Top up > Bank transfer to see your account details, then send money to them from your other bank. Local transfers usually arrive within minutes.",
    "verify_top_up": "When we verify a new top-up card we make a small temporary charge with a 6-digit code in its description. Find the code in your card issuer's app or statement and enter it under Top up > Verify card; the charge is refunded automatically.",
    "getting_spare_card": "You can order an additional physical card for your account under Cards > Order card; each spare card has its own PIN and can be frozen separately. A small fee for spare cards is shown before you confirm.",
    "top_up_by_cash_or_cheque": "We don't accept cheques. You can add cash at partner shops: open Top up > Cash to get a barcode and show it at the till; cash top-ups usually appear within 2 hours.",
    "order_physical_card": "Order a physical card under Cards > Order card. Your first card is free with standard delivery, and we deliver to your registered address in the UK, the EEA and other supported countries.",
    "virtual_card_not_working": "Check that the virtual card isn't frozen and that online payments are allowed under Cards > Security. Disposable virtual cards can't be used for subscriptions or payments that charge you again later; use a standard virtual card for those.",
    "wrong_exchange_rate_for_cash_withdrawal": "Cash withdrawals abroad are converted at our rate at the time of withdrawal, with a 1% markup on weekends. If the ATM offered to convert the amount for you, its own rate applies instead, so always choose to be charged in the local currency.",
    "get_disposable_virtual_card": "Disposable virtual cards are for one-off online payments: their details change after each use. Create one under Cards > '+' > Disposable virtual card.",
    "top_up_failed": "A top-up can fail if the card issuer declines it, the card isn't in your name, or you've reached your top-up limit. Check with your card issuer and under Profile > Limits, then try again; any money taken for a failed top-up is returned automatically.",
    "balance_not_updated_after_bank_transfer": "Transfers from a local account usually arrive within minutes, but SEPA transfers can take up to 2 working days and international transfers up to 5. If it's been longer, ask the sending bank for the transfer reference and send it to us here so we can trace it.",
    "cash_withdrawal_not_recognised": "If you didn't make this withdrawal, freeze your card now under Cards > Freeze, then tap the withdrawal and choose 'Report an issue'. We'll cancel the card, send a new one and investigate.",
    "exchange_charge": "Exchanging currencies in the app is free up to 1,000 a month; above that we charge 0.5%. A 1% markup applies on weekends, when currency markets are closed.",
    "top_up_by_card_charge": "Topping up with a personal debit or credit card issued in the UK or EEA is free. Cards issued elsewhere and business cards carry a fee, which is shown before you confirm the top-up.",
    "activate_my_card": "To activate your new card, open Cards in the app, tap 'Activate' and enter the code from the letter the card came with. Make your first payment with chip and PIN; contactless works after that.",
    "cash_withdrawal_charge": "ATM withdrawals are free up to 200 a month; after that we charge 2% of each withdrawal. Some ATM operators also add their own fee, which the machine shows before you confirm.",
    "card_about_to_expire": "We automatically send a new card about a month before your current one expires, free of charge, to your registered address. If you've moved abroad, update your address under Profile > Personal details first; express delivery is available for a fee.",
    "apple_pay_or_google_pay": "Add your card to Apple Pay or Google Pay from Cards > Add to wallet in the app. You can top up with Apple Pay or Google Pay using a Visa or Mastercard stored in your wallet; American Express cards aren't supported.",
    "verify_my_identity": "To verify your identity, go to Profile > Verify identity and follow the steps: photograph a valid passport or national ID card, then take a short selfie. Most checks are completed within a few minutes.",
    "country_support": "We open accounts for residents of the UK and the European Economic Area. Once you have an account, your card works worldwide wherever Visa or Mastercard is accepted.",
}

FREEZE = ("Freeze my card", "/freeze_card")
HUMAN = ("Talk to an agent", "/talk_to_human")

BUTTONS: dict[str, list[tuple[str, str]]] = {
    "card_arrival": [("Track my card", "/track_card")],
    "lost_or_stolen_card": [FREEZE, ("Order a replacement", "/order_replacement_card")],
    "compromised_card": [FREEZE, HUMAN],
    "card_payment_not_recognised": [FREEZE, ("Report this payment", "/report_payment")],
    "cash_withdrawal_not_recognised": [FREEZE, ("Report this withdrawal", "/report_payment")],
    "lost_or_stolen_phone": [FREEZE, HUMAN],
    "activate_my_card": [("Activate my card", "/activate_card")],
    "pin_blocked": [("Show my PIN", "/show_pin")],
    "passcode_forgotten": [("Reset my passcode", "/reset_passcode")],
    "getting_virtual_card": [("Create a virtual card", "/create_virtual_card")],
    "order_physical_card": [("Order a card", "/order_card")],
    "terminate_account": [("Close my account", "/close_account"), HUMAN],
}

# What each payload does, written once beside it in bot.yml (on its first button): the demo
# has no banking back end, so a button walks the customer through the step it names, gives
# the help-centre article about it, or hands off. `/talk_to_human` is a handoff intent and
# needs nothing declared.
CLICKS: dict[str, tuple[str, str]] = {
    "/track_card": (
        "reply",
        "To track your card, open Cards and tap Track delivery: you'll see the date it was posted and, for express delivery, the courier's tracking link. If it's been more than 5 working days (10 outside the UK and EEA), tell me here and I'll pass you to a colleague who can cancel it and send a new one for free.",
    ),
    "/freeze_card": (
        "reply",
        'To freeze your card now, open Cards, tap the card and switch on Freeze: it works instantly, blocks payments and withdrawals, and you can unfreeze it the same way at any time. Can\'t get into the app? Say "talk to a human" and a colleague will freeze it for you.',
    ),
    "/order_replacement_card": ("article", "Replacing a card"),
    "/report_payment": (
        "reply",
        "To report it, tap the transaction in your list, choose 'Report an issue' and pick what went wrong. We'll look into it and update you in the app; if the card may be compromised, freeze it first under Cards > Freeze.",
    ),
    "/activate_card": (
        "reply",
        "To activate it, open Cards, tap the new card, choose Activate and enter the 6-digit code from the letter it came with. Your first payment then needs chip and PIN; contactless works after that.",
    ),
    "/show_pin": (
        "reply",
        "To see your PIN, open Cards, tap the card and choose Show PIN; you'll be asked for your passcode or fingerprint first. We never send PINs by post, email or chat.",
    ),
    "/reset_passcode": (
        "reply",
        "To reset your passcode, log out, tap 'Forgot passcode?' on the login screen, enter the code we email you and take a quick selfie to confirm it's you. Then choose a new passcode; nobody from our team will ever ask you for it.",
    ),
    "/create_virtual_card": (
        "reply",
        "To create a virtual card, open Cards, tap '+' and choose Virtual card, then confirm. It's free and ready at once: tap it to see the card details, or add it to Apple Pay or Google Pay.",
    ),
    "/order_card": (
        "reply",
        "To order a card, open Cards, tap '+' and choose Physical card, check your delivery address and confirm. Your first card is free with standard delivery (up to 5 working days in the UK and EEA); express delivery is offered with its fee before you confirm.",
    ),
    "/close_account": ("article", "Closing your account"),
}

OUT_OF_SCOPE: list[str] = [
    "what's the weather like tomorrow",
    "tell me a joke",
    "how do I make banana bread",
    "who won the football last night",
    "can you recommend a good film to watch tonight",
    "what time is it in Tokyo",
    "how tall is the Eiffel Tower",
    "play some music",
    "set an alarm for 7am",
    "what's the capital of Australia",
    "translate 'good morning' into Spanish",
    "are you a robot or a real person",
    "what should I cook for dinner",
    "book me a table for two on Friday",
    "how do I fix a flat bike tyre",
    "what's the score in the tennis",
    "write me a poem about cats",
    "is it going to rain this weekend",
    "how many calories are in an avocado",
    "which phone should I buy next",
    "what's the best way to learn guitar",
    "when is the next full moon",
    "recommend a hotel in Lisbon",
    "do you like pizza",
    "how far is the moon from the earth",
    "what's a good name for a dog",
]

GREETINGS = ["hi", "hello", "hi there", "hey", "good morning"]
GREETING_REPLY = "Hello! How can I help?"
THANKS = ["thanks!", "thank you", "great, thanks for your help", "ok thanks", "perfect, cheers"]
GOODBYES = [
    "You're welcome! Is there anything else I can help with?",
    "Glad I could help. Have a great day!",
    "Happy to help. Goodbye!",
]
ESCALATION_ASKS = [
    "that doesn't really answer my question",
    "can I speak to a real person please?",
    "I've already tried that, it didn't work",
]
HANDOVER = "I'm sorry that didn't solve it. I'm passing you to a member of our team, who will reply here shortly."

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_train_rows(source: Path) -> list[tuple[str, str]]:
    """(text, category) pairs from BANKING77's train.csv, in file order."""
    with (source / "train.csv").open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def build_dialogues(rows: list[tuple[str, str]], seed: int) -> list[dict]:
    """One dialogue per question; greetings, thanks and escalations make it look like real logs."""
    rng = random.Random(seed)
    dialogues = []
    for number, (text, intent) in enumerate(rows, start=1):
        turns = []
        if rng.random() < GREETING_RATE:
            turns += [_turn("customer", rng.choice(GREETINGS)), _turn("agent", GREETING_REPLY)]
        turns.append({"speaker": "customer", "text": text, "intent": intent})
        turns.append(_turn("agent", RESPONSES[intent]))
        escalated = rng.random() < ESCALATION_RATE
        if escalated:
            turns += [_turn("customer", rng.choice(ESCALATION_ASKS)), _turn("agent", HANDOVER)]
        elif rng.random() < THANKS_RATE:
            turns += [_turn("customer", rng.choice(THANKS)), _turn("agent", rng.choice(GOODBYES))]
        outcome = "escalated" if escalated else "resolved"
        dialogues.append({"id": f"b77-{number:06d}", "turns": turns, "outcome": outcome})
    return dialogues


def _turn(speaker: str, text: str) -> dict:
    return {"speaker": speaker, "text": text}


def write_dialogues(dialogues: list[dict], path: Path) -> None:
    """gzip with mtime=0 and no embedded file name, so the bytes depend only on the content."""
    payload = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dialogues)
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as packed,
    ):
        packed.write(payload.encode("utf-8"))


def render_bot_yaml() -> str:
    """The bot definition as YAML, written by hand (JSON strings are valid YAML scalars)."""
    lines = [
        "# Generated by data/build_banking_demo.py: edit RESPONSES there and rebuild.",
        "# Intent examples come from dialogues.jsonl.gz (BANKING77 train split, CC BY 4.0).",
        "version: 1",
        "intents:",
    ]
    declared: set[str] = set()
    for intent, text in RESPONSES.items():
        lines += [f"  {_yaml_key(intent)}:", "    responses:"]
        buttons = BUTTONS.get(intent)
        if not buttons:
            lines.append(f"      - {_quote(text)}")
            continue
        lines += [f"      - text: {_quote(text)}", "        buttons:"]
        for title, payload in buttons:
            lines += [
                f"          - title: {_quote(title)}",
                f"            payload: {_quote(payload)}",
            ]
            if payload in CLICKS and payload not in declared:
                kind, value = CLICKS[payload]
                lines.append(f"            {kind}: {_quote(value)}")
                declared.add(payload)
    lines.append("out_of_scope:")
    lines += [f"  - {_quote(text)}" for text in OUT_OF_SCOPE]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _yaml_key(name: str) -> str:
    return name if _PLAIN_KEY.fullmatch(name) else _quote(name)


def build(source: Path, out: Path, seed: int = SEED) -> list[Path]:
    """Write bot.yml and dialogues.jsonl.gz into `out`; return the paths written."""
    rows = read_train_rows(source)
    unknown = sorted({intent for _, intent in rows} ^ set(RESPONSES))
    if unknown:
        raise ValueError(f"train.csv and RESPONSES disagree on intents: {', '.join(unknown)}")
    out.mkdir(parents=True, exist_ok=True)
    bot_path, dialogues_path = out / "bot.yml", out / "dialogues.jsonl.gz"
    bot_path.write_text(render_bot_yaml(), encoding="utf-8")
    write_dialogues(build_dialogues(rows, seed), dialogues_path)
    return [bot_path, dialogues_path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="BANKING77 folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if not (args.source / "train.csv").is_file():
        print(f"{args.source / 'train.csv'}: not found (pass --source)", file=sys.stderr)
        return 2
    for path in build(args.source, args.out, args.seed):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
