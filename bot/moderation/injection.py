"""Instructions aimed at the bot rather than questions for it ("ignore previous
instructions", fake system tags). They are flagged, answered like any other message, and
never executed: nothing in a turn treats customer text as instructions, and flagged turns
are kept out of retraining. The patterns are lower case, searched in `fold_case(text)`."""

from __future__ import annotations

import re

from bot.moderation.text import fold_case

_RULES = {
    "ignore_instructions": (
        r"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+|every\s+)?"
        r"(?:of\s+)?(?:the\s+|your\s+|these\s+|those\s+)?"
        r"(?:previous|prior|above|earlier|preceding|original|initial|system|safety|existing)?\s*"
        r"(?:instructions?|prompts?|rules|directives|guidelines|programming|constraints|"
        r"restrictions|filters|safeguards)\b"
        r"|\b(?:ignore|disregard|forget)\s+(?:all\s+(?:of\s+)?)?(?:the above|everything above|"
        r"everything before|everything (?:you(?:'ve| have)? been|you were) told)\b"
    ),
    "fake_system_tag": (
        r"<\s*/?\s*(?:system|sys|assistant|admin|developer|instructions?|im_start|im_end)\s*>"
        r"|\[\s*/?\s*(?:system|inst|admin|developer|sys)\s*\]"
        r"|<\|[a-z_]+\|>"
        r"|(?:^|\n)\s*#{0,3}\s*(?:system|developer|assistant)\s*(?:prompt|message)?\s*:"
        r"|\bsystem (?:override|message|prompt|instructions?|notice)\s*:"
    ),
    "role_override": (
        r"\byou are now (?:an? |in |my )?(?:dan|admin|administrator|developer|unrestricted|"
        r"unfiltered|jailbroken|evil|root|different (?:ai|assistant|bot)|[\w-]+ mode)\b"
        r"|\byou are no longer (?:bound|restricted|limited|an? (?:\w+ )?(?:ai|assistant|bot))\b"
        r"|\byou (?:have|has) no (?:rules|restrictions|limits|filters|guidelines)\b"
        r"|\b(?:follow|obey) (?:my|these|the following) (?:instructions|orders|commands)\b"
        r"|\b(?:from now on|henceforth),? you (?:are|will|must)\b"
        r"|\b(?:act|behave|respond) as (?:an?\s+)?(?:admin|administrator|developer|root|"
        r"system|unrestricted|unfiltered|jailbroken|dan)\b"
        r"|\bpretend (?:to be|you are|you're) (?:an?\s+)?(?:admin|developer|different|"
        r"unrestricted|my|the)\b"
        r"|\b(?:developer|god|admin|debug|jailbreak|dan|sudo) mode\b|\bjailbreak\b"
    ),
    "prompt_extraction": (
        r"\b(?:reveal|show|print|repeat|output|display|tell me|what (?:is|are)|give me)\s+"
        r"(?:me\s+)?(?:your|the)\s+(?:system prompt|initial prompt|hidden prompt|"
        r"(?:system|hidden|secret|original|initial) instructions|instructions above|prompt)\b"
        r"|\bsystem prompt\b"
        r"|\bwhat (?:were|are|was) you (?:told|instructed|programmed)\b"
        r"|\b(?:your|the) (?:instructions|rules|guidelines|prompt)\b[^.!?]{0,40}"
        r"\b(?:verbatim|word for word|exactly)\b"
        r"|\b(?:output|print|show|reveal|dump|display)\b[^.!?]{0,30}\byour (?:configuration|"
        r"config|prompt|instructions|source code|training data)\b"
    ),
    "new_instructions": r"\bnew (?:instructions|rules|task)\s*:",
}
_PATTERNS = [(name, re.compile(pattern)) for name, pattern in _RULES.items()]


def find_injection(text: str) -> str | None:
    """The name of the first injection rule that matches, or None."""
    text = fold_case(text)
    for name, pattern in _PATTERNS:
        if pattern.search(text):
            return name
    return None
