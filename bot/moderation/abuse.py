"""Abusive language: profanity, insults aimed at the bot or the company, and threats.

Profanity alone never stops service: an angry customer with a real problem still gets
help. What matters is the target (an insult needs "you", "your service", "this bot")
and intent (a threat of harm). Two signals are combined: word lists (precise, easy to
review) and a trained offensive-language classifier (catches wording the lists miss).
`mode` switches one off, so the benchmark can compare them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.moderation import wordlists
from bot.moderation.offensive import OffensiveScorer, default_scorer
from bot.moderation.text import fold_case
from bot.moderation.threats import find_threat
from supportbot.config.moderation import ModerationConfig

AbuseLabel = Literal["none", "profanity", "insult", "threat"]
Mode = Literal["combined", "words", "classifier"]

_CLAUSE = re.compile(r"[.!?;,:\n]+(?:\s+|$)|\s+(?:but|and|because|so)\s+")

_YOU = r"(?:you|u|ya|y'all|you guys|you people|you lot|you all)"
_BE = r"(?:\s*(?:'re|’re)|\s+(?:are|r|re|were|have been|'ve been|seem|sound|look|must be|is))?"
_FILL = rf"(?:(?:{'|'.join(wordlists.FILLERS)})\s+){{0,4}}"
_YOUR_THING = (
    r"\byour\s+(?:[\w-]+\s+){0,2}?[\w-]+(?:\s+(?:is|are|was|were|has been|have been)|'s)\s+"
)
_AGENT = wordlists.AGENT_NOUNS
_COMPANY = wordlists.COMPANY_NOUNS

_DIRECTED = (
    r"\b(?:f+u+c?k+|f[*#@$%]+c?k|f[*#@$%]+|fck|fuk|screw|sod)\s+(?:you|u|ya|y'all|off|"
    rf"this {_AGENT}|your \w+)\b",
    r"\bshut\s+(?:the\s+\w+\s+)?up\b",
    r"\bgo (?:to hell|die|f\w+ yourself|screw yourself)\b",
    r"\b(?:stfu|gfy)\b",
    r"\bkiss my (?:ass|arse)\b",
    r"\bf\w+ yourself\b",
    r"\b(?:piss|bugger) off\b",
    r"\bsuck my\b",
    r"\bup yours\b",
)


@dataclass(frozen=True)
class AbuseFinding:
    """The abuse label of a message, the rule that decided it, and the classifier score."""

    label: AbuseLabel
    rule: str | None = None
    score: float | None = None


def _alternation(items) -> str:
    return "(?:" + "|".join(items) + ")"


class AbuseDetector:
    """Label a message none / profanity / insult / threat. Stateless; repeated insults are
    counted per sender by `bot.moderation.guards`."""

    def __init__(
        self,
        config: ModerationConfig | None = None,
        scorer: OffensiveScorer | None = None,
        mode: Mode = "combined",
    ):
        config = config or ModerationConfig()
        self.mode = mode if config.use_classifier else "words"
        self.threshold = config.offensive_threshold
        self.scorer = scorer or (default_scorer() if self.mode != "words" else None)
        insults = _alternation([*wordlists.INSULTS, *_literals(config.extra_insults)])
        profanity = _alternation([*wordlists.PROFANITY, *_literals(config.extra_profanity)])
        self._directed = re.compile("|".join(_DIRECTED))
        self._insult = re.compile(
            "|".join(
                [
                    rf"\b{_YOU}{_BE}\s+{_FILL}{insults}\b",
                    rf"{_YOUR_THING}{_FILL}{insults}\b",
                    rf"\b{insults}\s+{_AGENT}\b",
                    rf"\b{_AGENT}\s+(?:is|are|was)\s+{_FILL}{insults}\b",
                    rf"\b{insults}\b[^.!?]{{0,40}}\bthat'?s what you are\b",
                    rf"\b{insults}\b[^.!?]{{0,20}}\b(?:the lot of you|all of you|"
                    rf"every (?:single )?one of you|you lot|you people|you guys)\b",
                    rf"\b{insults}\s+(?:\w+\s+)?{_COMPANY}\b[^.!?]{{0,20}}\byou\b",
                    rf"\byour\s+{_FILL}{insults}\s+(?:\w+\s+)?{_COMPANY}\b",
                ]
            ),
        )
        self._insult_word = re.compile(rf"(?:\b|(?<=\s)){insults}")
        """Every branch of `_insult` holds an insult word starting after a space or at a
        word boundary: without one (nearly every message) the costly search is skipped."""
        self._target = re.compile(
            rf"\b{_YOU}{_BE}\s+|{_YOUR_THING}|\b{_AGENT}\b|\b(?:you|u)\s*[.!?]*$"
        )
        self._profanity = re.compile(rf"\b{profanity}(?!\w)")

    def assess(self, text: str) -> AbuseFinding:
        """The patterns are lower case and searched in the case-folded text."""
        text = fold_case(text)
        threat = find_threat(text)
        if threat:
            return AbuseFinding("threat", threat)
        words = self.mode != "classifier"
        if words and self._directed.search(text):
            return AbuseFinding("insult", "directed_abuse")
        if words and self._insult_word.search(text) and self._insult.search(text):
            return AbuseFinding("insult", "insult_words")
        score = self.scorer.score(text) if self.scorer is not None else None
        if score is not None and score >= self.threshold:
            clause_score = self._targeted_clause_score(text)
            if clause_score is not None:
                return AbuseFinding("insult", "insult_classifier", round(clause_score, 4))
        if words and self._profanity.search(text):
            return AbuseFinding("profanity", "profanity_words", _round(score))
        if score is not None and score >= self.threshold:
            return AbuseFinding("profanity", "profanity_classifier", round(score, 4))
        return AbuseFinding("none", None, _round(score))

    def _targeted_clause_score(self, text: str) -> float | None:
        """The score of the first clause that both names a target and scores as offensive."""
        if self.scorer is None:
            return None
        for clause in _CLAUSE.split(text):
            if clause and self._target.search(clause):
                score = self.scorer.score(clause)
                if score >= self.threshold:
                    return score
        return None


def _literals(words: list[str]) -> list[str]:
    """A deployment's own words as patterns for case-folded text."""
    return [re.escape(fold_case(word)) for word in words]


def _round(score: float | None) -> float | None:
    return None if score is None else round(score, 4)
