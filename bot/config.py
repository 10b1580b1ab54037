"""The one typed configuration of a bot project (`supportbot.yml`), validated at start-up.

Unknown keys are errors (`extra="forbid"`), and every error names its key path, e.g.
`training.epochs: Input should be greater than 0`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.actions.config import ActionsConfig
from bot.channels.slack_config import SlackConfig
from bot.channels.webchat_config import WebchatSettings
from bot.dialogue_config import DialogueConfig
from bot.errors import ConfigError
from bot.forwarded import parse_networks
from bot.moderation.config import ModerationConfig, PrivacyConfig

CONFIG_FILENAME = "supportbot.yml"
FEATURE_LAYER_CHOICES = (1, 2)
"""The layer counts `training.feature_layers: auto` compares on held-out data."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSource(_Strict):
    """One data file or folder. `format` is inferred from the name when omitted."""

    path: str
    format: Literal["bot", "dialogues", "csv", "clinc", "rasa_nlu", "rasa_domain", "kb"] | None = (
        None
    )
    text_column: str | None = None
    label_column: str | None = None


class TrainingConfig(_Strict):
    seed: int = 42
    mode: Literal["auto", "frozen", "full", "lora"] = "frozen"
    """frozen: the packaged encoder as is, a trained head and the n-gram model; trains in
    a minute or two. full / lora fine-tune the encoder (ten times the training time for a
    few tenths of a point on BANKING77, docs/benchmarks.md). auto: full fine-tuning when
    there are at least `finetune_min_examples` examples, frozen below."""
    finetune_min_examples: int = Field(default=2000, ge=0)
    finetune_epochs: int = Field(default=2, gt=0)
    finetune_batch_size: int = Field(default=32, gt=0)
    finetune_learning_rate: float = Field(default=5e-5, gt=0)
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """Number format of encoder fine-tuning (intent modes full / lora, and the response
    ranker). auto: bf16 mixed precision where the CPU computes bfloat16 natively
    (AVX512-BF16 or AMX), fp32 elsewhere (training/precision.py)."""
    lora_rank: int = Field(default=16, gt=0)
    max_length: int = Field(default=64, gt=8)
    epochs: int = Field(default=30, gt=0)
    batch_size: int = Field(default=64, gt=0)
    learning_rate: float = Field(default=1e-2, gt=0)
    holdout_fraction: float = Field(default=0.1, ge=0, lt=0.5)
    min_examples_per_intent: int = Field(default=5, ge=1)
    ambiguity_margin: float = Field(default=0.1, ge=0, le=1)
    oos_recall_target: float = Field(default=0.8, gt=0, le=1)
    """Share of held-out out-of-scope examples the threshold must reject, when data has them."""
    feature_layers: Literal["auto"] | int = "auto"
    """How many of the encoder's last layers (pooled, side by side) the intent head reads.
    auto: 1 or 2, whichever is more accurate on held-out data (training/head_layers.py)."""
    lexical_features: bool = True
    """Fuse a word/character n-gram model with the vector head when held-out data says so."""
    lexical_regularisation: float = Field(default=30.0, gt=0)
    """Inverse L2 strength (scikit-learn's C) of the n-gram model's logistic regression."""
    kb_answers_as_intents: bool = True
    """Learn each knowledge-base answer given to at least `min_examples_per_intent`
    distinct questions as a class of the intent classifier (training/kb_answer_groups.py)."""
    kb_questions_as_out_of_scope: bool = True
    """Train the intent classifier with the knowledge base's questions as out-of-scope
    examples, so it leaves them to retrieval (training/kb_negatives.py)."""
    ranker_minutes: float = Field(default=20.0, ge=0)
    """Time budget for fine-tuning the response ranker on the project's dialogues; 0 trains
    no ranker (an intent's replies are then chosen among its templates at random)."""
    ranker_ngram_turns: list[Annotated[int, Field(ge=1, le=50)]] = Field(
        default=[3, 3, 6, 6], min_length=1, max_length=8
    )
    """One n-gram ranker member per entry, reading that many of the context's last turns.
    Each member's tables take memory in proportion to the dialogue log's vocabulary: by
    their shapes, 118 MB apiece on SGD's 106,301 pairs, where `[3, 3]` (the default
    before) takes 164 MB in all and scored 1.2 points lower in recall@1 (docs/benchmarks.md)."""

    @field_validator("feature_layers", mode="before")
    @classmethod
    def _layer_count(cls, value: object) -> object:
        """One message for every wrong value, not one per member of the union."""
        whole = isinstance(value, int) and not isinstance(value, bool)
        if value == "auto" or (whole and value >= 1):
            return value
        raise ValueError(f'expected "auto" or a whole number of layers from 1, got {value!r}')


class RetrievalConfig(_Strict):
    """The knowledge base: passages from help articles and resolved dialogues, searched by
    meaning (FAISS) and by words (SQLite FTS5 BM25) together."""

    min_score: float | None = Field(default=None, ge=-1, le=2)
    """Abstain from answering from retrieval below this fused score. Unset: calibrated at
    training on held-out questions (answer known) against out-of-scope ones."""
    fallback_min_score: float = Field(default=0.6, ge=-1, le=2)
    """The threshold used when the data is too thin to calibrate one."""
    top_k: int = Field(default=3, gt=0)
    include_dialogue_pairs: bool = True
    lexical_weight: float = Field(default=0.05, ge=0, le=1)
    """Weight of BM25 (relative to the best lexical match) added to the cosine score."""
    index: Literal["auto", "exact", "approximate"] = "auto"
    """auto: exact search up to `approximate_above` vectors, IVF above."""
    approximate_above: int = Field(default=10_000, gt=0)
    nprobe: int = Field(default=32, gt=0)
    """IVF lists searched per query (recall against speed)."""


class LearningConfig(_Strict):
    """The learning loop: which turns `supportbot review` picks, and when `supportbot retrain`
    may replace the current model (docs: README, "Learning loop")."""

    test_file: str | None = None
    """Frozen labelled test set (relative to the project) that the candidate and the current
    model are both scored on; required by retrain. Never used for picking or training."""
    metric: Literal["accuracy", "top_intent_accuracy", "macro_f1"] = "accuracy"
    tolerance: float = Field(default=0.005, ge=0, le=1)
    """The candidate is promoted when its metric >= current - tolerance."""
    labels_file: str = "data/reviewed.csv"
    """Where retrain writes the reviewed labels as training data (relative to the project)."""
    review_size: int = Field(default=40, gt=0)
    """Turns per `supportbot review` when --size is not given."""
    low_confidence: float = Field(default=0.5, gt=0, le=1)
    """A turn below this confidence counts as a low-confidence turn."""


class ChannelsConfig(_Strict):
    """The transports besides the REST API, each off unless configured."""

    slack: SlackConfig | None = None
    webchat: WebchatSettings = Field(default_factory=WebchatSettings)
    """The web chat widget; on unless `enabled: false` (it is what `supportbot demo` shows)."""


class ServerConfig(_Strict):
    """How `supportbot serve` sits in its network."""

    trusted_proxies: list[str] = Field(default_factory=list)
    """Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the
    client (bot/forwarded.py); empty: the connection's own address is the client's."""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        parse_networks(entries)
        return entries


class BotConfig(_Strict):
    """A bot project: what to train from and how."""

    name: str = "supportbot"
    language: str = "en"
    data: list[str | DataSource] = Field(default_factory=lambda: ["data"])
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    dialogue: DialogueConfig = Field(default_factory=DialogueConfig)
    actions: ActionsConfig | None = None
    """Custom actions (rasa-sdk): in-process from a package, or on an action server."""
    moderation: ModerationConfig = Field(default_factory=ModerationConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    learning: LearningConfig = Field(default_factory=LearningConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)

    def sources(self, root: Path) -> list[DataSource]:
        """Data sources with paths resolved against the project folder."""
        resolved = []
        for item in self.data:
            source = DataSource(path=item) if isinstance(item, str) else item
            resolved.append(source.model_copy(update={"path": str(root / source.path)}))
        return resolved


def format_validation_error(error: ValidationError, where: str) -> str:
    """One line per problem, each naming the dotted key path."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{where}: {key}: {problem['msg']}")
    return "\n".join(lines)


def load_config(path: Path) -> BotConfig:
    """Read and validate a `supportbot.yml`; raise ConfigError naming file and key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return BotConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path))) from exc
