"""In-memory training data, the one shape every importer produces and every trainer reads.

Each item keeps where it came from (`Source`), so validation and training errors can
name the file and line of the row at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OUT_OF_SCOPE = "out_of_scope"
SPEAKERS = ("customer", "agent")
OUTCOMES = ("resolved", "escalated", "abandoned")


@dataclass(frozen=True)
class Source:
    """Where an item was read: a file path and a 1-based line (None when not line-based)."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Example:
    """One labelled customer utterance. `intent` is OUT_OF_SCOPE for negative examples."""

    text: str
    intent: str
    source: Source
    from_dialogue: bool = False
    """Taken from a labelled customer turn of a logged dialogue, not written as an example."""


TARGET_KINDS = ("intent", "form", "action", "article", "reply")
"""What a button may be declared to do, next to its payload in the bot definition."""


@dataclass(frozen=True)
class ButtonTarget:
    """What a click does: answer as an intent, start a form (by its intent), run a custom
    action, give a knowledge-base article (by title), or give a reply written here."""

    kind: str
    value: str


@dataclass(frozen=True)
class Button:
    title: str
    payload: str
    target: ButtonTarget | None = None
    """None: the payload's name says it (`/card_arrival` answers as that intent)."""
    source: Source | None = field(default=None, compare=False)
    """Where the button was written; not part of what makes two buttons the same."""


@dataclass(frozen=True)
class Response:
    """One variant of a bot reply for an intent, optionally with quick-reply buttons."""

    text: str
    buttons: tuple[Button, ...] = ()
    source: Source | None = None


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str
    intents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dialogue:
    """A historical conversation between a customer and an agent."""

    id: str
    turns: tuple[Turn, ...]
    source: Source
    outcome: str | None = None


@dataclass(frozen=True)
class Article:
    """A knowledge-base passage. `question` is set for question/answer rows."""

    title: str
    text: str
    source: Source
    question: str | None = None
    url: str | None = None


@dataclass
class TrainingData:
    """Everything a bot is trained from. Importers fill it; `merge` combines sources."""

    examples: list[Example] = field(default_factory=list)
    responses: dict[str, list[Response]] = field(default_factory=dict)
    dialogues: list[Dialogue] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    validation_examples: list[Example] = field(default_factory=list)
    """Held-out labelled examples shipped with the data (e.g. CLINC150 `val`), for tuning only."""
    files: list[str] = field(default_factory=list)

    def merge(self, other: TrainingData) -> TrainingData:
        self.examples.extend(other.examples)
        for intent, variants in other.responses.items():
            self.responses.setdefault(intent, []).extend(variants)
        self.dialogues.extend(other.dialogues)
        self.articles.extend(other.articles)
        self.validation_examples.extend(other.validation_examples)
        self.files.extend(other.files)
        return self

    @property
    def intents(self) -> list[str]:
        """In-scope intent names, sorted, from examples and responses alike."""
        names = {e.intent for e in self.examples} | set(self.responses)
        names.discard(OUT_OF_SCOPE)
        return sorted(names)

    def in_scope_examples(self) -> list[Example]:
        return [e for e in self.examples if e.intent != OUT_OF_SCOPE]

    def out_of_scope_examples(self) -> list[Example]:
        return [e for e in self.examples if e.intent == OUT_OF_SCOPE]
