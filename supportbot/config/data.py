"""The `data:` section: the files and folders a bot is trained from."""

from __future__ import annotations

from typing import Literal

from supportbot.config.base import Strict


class DataSource(Strict):
    """One data file or folder. `format` is inferred from the name when omitted."""

    path: str
    format: Literal["bot", "dialogues", "csv", "clinc", "rasa_nlu", "rasa_domain", "kb"] | None = (
        None
    )
    text_column: str | None = None
    label_column: str | None = None
