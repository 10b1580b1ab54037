"""Knowledge-base answers the intent classifier learned as classes (training/kb_answer_groups.py).

The classifier names the class; the reply comes from the live knowledge base, found by
its answer text, so an answer removed or edited with `supportbot kb` after training is
never given from the model's memory: the class is then ignored and retrieval decides.
"""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.ranker_text import reply_key
from supportbot.errors import ModelError

KB_ANSWERS_FILE = "kb_answers.json"
LABEL_PREFIX = "kb:"


class KbAnswers:
    """Class label -> answer text, and the questions the classes were trained on."""

    def __init__(self, answers: dict[str, str], questions: dict[str, str]):
        self.answers = answers
        self._questions = questions
        """Trained question (as `reply_key`: case, spacing and punctuation removed) -> the
        answer it was trained with."""

    @classmethod
    def load(cls, path: Path) -> KbAnswers:
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
            answers = {label: row["answer"] for label, row in rows.items()}
            questions = {
                reply_key(q): row["answer"] for row in rows.values() for q in row["questions"]
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ModelError(f"{path}: unreadable knowledge-base classes ({error})") from error
        return cls(answers, questions)

    def __contains__(self, label: str) -> bool:
        return label in self.answers

    def learned(self, question: str | None, answer: str) -> bool:
        """Whether the classifier learned this question with this answer: its verdict on
        such a message stands, and retrieval does not answer it from that row again. A row
        whose answer was edited with `supportbot kb` since is retrieval's to give."""
        return question is not None and self._questions.get(reply_key(question)) == answer
