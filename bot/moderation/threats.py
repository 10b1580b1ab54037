"""Threats of harm, which end a conversation in a handoff to a person.

Three signals, checked per sentence after known idioms are removed ("this is killing
me", "shoot me an email", "kill my subscription"): a fixed threatening phrase ("I know
where you live"); a word of violence together with someone or somewhere to aim it at
("someone gets shot", "your branch... burn"); or a violent verb promised by the writer
("I'll burn it down").

The patterns are lower case, searched in `fold_case(text)` (bot/moderation/text.py).
"""

from __future__ import annotations

import re

from bot.moderation.text import fold_case

_IDIOMS = re.compile(
    r"\bkilling me\b|\b(?:going to|gonna|will|'ll) kill me\b|\bkill for\b|\bdying to\b"
    r"|\bkill (?:my|the|this|that|a) (?:subscription|account|card|transaction|payment|app|"
    r"order|direct debit|standing order|session|plan|membership)\b"
    r"|\bshoot (?:me|you|us|them|him|her) (?:an?|the|your|my) (?:e-?mail|text|message|line|"
    r"note|mail|dm|quick)\b"
    r"|\b(?:hurt|harm|damage)s? (?:my|our|your|the) (?:credit|score|finances|wallet|rating|"
    r"chances|feelings|pocket|record|history)"
    r"|\b(?:are|is) murder\b|\bdead (?:tired|easy|slow|serious|on time)\b"
    r"|\bblow(?:ing)? up my (?:phone|inbox)\b|\bbeat the (?:deadline|queue|rush|system)\b"
    r"|\bburn(?:ing|ed)? (?:through|a hole)\b|\bcost(?:s|ing)? (?:me )?a bomb\b"
    r"|\bkill(?:ing)? (?:time|it)\b(?! down)",
)
_VIOLENCE = re.compile(
    r"\b(?:kill(?:ed|ing)?|hurt|harm|shoot|shot|stab(?:bed|bing)?|beat (?:up|senseless|the|him|"
    r"her|them|you)|punch(?:ed)?|smash(?:ed)? up|strangle|murder|attack|assault|slap|choke|"
    r"batter|burn(?:ed)? (?:down|it down|to the ground|\w+ to the ground)|bomb|blow(?:ing)? up|"
    r"torch|slash(?:ed)? (?:the |your |his |her )?(?:tyres|tires|face|throat)|"
    r"break (?:the )?(?:\w+'s |your |his |her |some )?(?:neck|legs?|face|faces|bones?|jaw|"
    r"arms?|windows?)|brick through|baseball bat|knife|gun|dead man|in (?:the )?hospital|"
    r"bleed|deserve to die|hope (?:you|they) (?:all )?die)\b",
)
_TARGET = re.compile(
    r"\b(?:you|u|ya|y'all|your|someone|somebody|anyone|anybody|everyone|everybody|people|"
    r"staff|employees?|manager|agent|cashier|teller|clerk|ceo|boss|guy|person|whoever|him|"
    r"her|them|branch|office|place|building|headquarters|hq|window|car park|cars?)\b",
)
_PROMISE = re.compile(
    r"\b(?:i|we)\s*(?:'ll|’ll|\s+will|\s+shall|'m going to|\s+am going to|'m gonna|\s+am gonna|"
    r"\s+gonna|\s+going to)\s+(?:[\w']+\s+){0,2}?(?:kill|hurt|shoot|stab|beat|punch|smash|"
    r"strangle|murder|attack|slap|choke|burn|bomb|blow up|torch|slash)\b",
)
_PHRASES = re.compile(
    r"\bknow where (?:you|your \w+(?: \w+)?|the \w+(?: \w+)?|he|she|they) "
    r"(?:live|lives|work|works|park|parks|sleep|sleeps)\b"
    r"|\bwatch (?:your|his|her|their) back\b|\b(?:better|should) watch out\b"
    r"|\byou(?:'ll|’ll| will|'re going to| are going to| gonna)\s+(?:regret|be sorry|pay for)"
    r"|\byou(?:'re| are)(?: all)? (?:dead|going to die|going to pay)\b"
    r"|\b(?:i|we)\s*(?:'ll|\s+will|'m going to|\s+am going to|'m gonna|\s+gonna)\s+"
    r"(?:find|hunt|track|come for|come after) (?:you|u|ya|y'all)\b"
    r"|\bhunt (?:\w+ )?down\b"
    r"|\bmake (?:you|your life)\s+(?:suffer|hell|a living hell|miserable)\b"
    r"|\b(?:be )?waiting (?:for (?:you|him|her) )?(?:outside|in the car park|at your)\b",
)
_SELF_HARM = re.compile(r"\b(?:kill myself|end my life|take my own life|suicid\w*)\b")
_SENTENCE = re.compile(r"[.!?;\n]+")


def find_threat(text: str) -> str | None:
    """The rule naming the threat in `text`, or None."""
    text = fold_case(text)
    if _SELF_HARM.search(text):
        return "self_harm"
    for sentence in _SENTENCE.split(text):
        sentence = _IDIOMS.sub(" ", sentence)
        if _PHRASES.search(sentence):
            return "threat_phrase"
        if _VIOLENCE.search(sentence) and _TARGET.search(sentence):
            return "violence_at_target"
        if _PROMISE.search(sentence):
            return "promised_violence"
    return None
