"""`supportbot train`: from a bot project (or one data file) to a versioned model directory."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import supportbot
from retrieval.encoder import (
    BASE_MODEL_NAME,
    BASE_MODEL_PACKAGE,
    base_model_version,
)
from retrieval.intent_classifier import HEAD_FILE, IntentClassifier
from retrieval.kb_answers import KB_ANSWERS_FILE
from retrieval.lexical import LEXICAL_WEIGHTS_FILE
from retrieval.model_dir import (
    FORMAT_VERSION,
    MODEL_FORMAT,
    BaseModelInfo,
    ClassifierInfo,
    Manifest,
    RetrievalInfo,
    sha256_file,
)
from supportbot.config import TrainingConfig
from supportbot.errors import DataError
from training.button_targets import check_button_targets
from training.encoder_stage import (
    ONNX_DIR,
    PreparedEncoder,
    export_serving_encoder,
    prepare_encoder,
)
from training.index_builder import build_knowledge_base
from training.intent_trainer import train_intent_classifier
from training.kb_answer_groups import (
    AnswerGroup,
    answer_groups,
    group_examples,
    write_answer_groups,
)
from training.kb_negatives import knowledge_base_negatives
from training.loader import Project, load_project
from training.model_writer import checksum_files, staged_model_dir, write_manifest
from training.ranker_trainer import ranker_settings, train_ranker
from training.responses import collect_responses
from training.schema import Example, TrainingData
from training.validate import check_training_data, conflicting_dialogue_texts, example_key

Progress = Callable[[str], None]
RESPONSES_FILE = "responses.json"


@dataclass
class TrainResult:
    model_dir: Path
    manifest: Manifest
    warnings: list[str]


def load_checked_project(path: Path, progress: Progress) -> Project:
    """Import and validate; warnings are shown, errors stop training with file:line."""
    project = load_project(Path(path))
    check_training_data(project.data, project.config.training, project.problems)
    check_button_targets(project.data, project.config, project.problems)
    for warning in project.problems.warnings[:20]:
        progress(str(warning))
    if len(project.problems.warnings) > 20:
        progress(f"warning: ... and {len(project.problems.warnings) - 20} more warnings")
    project.problems.raise_if_errors()
    ambiguous = conflicting_dialogue_texts(project.data.examples)
    if ambiguous:
        project.data.examples = [
            e for e in project.data.examples if example_key(e.text) not in ambiguous
        ]
    if len(project.data.intents) < 2:
        raise DataError("training needs labelled examples for at least two intents", path)
    return project


@contextmanager
def training_stage(name: str, progress: Progress) -> Iterator[None]:
    """Announce a stage and say how long it took, so a user watching `supportbot train`
    sees where the time goes (and a slow stage names itself in a report)."""
    started = time.monotonic()
    progress(f"[{name}] started")
    yield
    progress(f"[{name}] done in {time.monotonic() - started:.1f}s")


def train_model(path: Path, out: Path, progress: Progress = print) -> TrainResult:
    started = time.monotonic()
    project = load_checked_project(path, progress)
    data, config = project.data, project.config
    with staged_model_dir(out) as stage:
        with training_stage("encoder", progress):
            prepared = prepare_encoder(data, config.training, stage, progress)
        encoder = prepared.encoder
        groups, examples = _knowledge_base_classes(data, config.training, progress)
        negatives = []
        if config.training.kb_questions_as_out_of_scope:
            negatives = knowledge_base_negatives(data.articles, examples, config.training.seed)
            if negatives:
                progress(f"{len(negatives)} knowledge-base questions as out-of-scope examples")
        with training_stage("intent classifier", progress):
            result = train_intent_classifier(
                [*examples, *negatives],
                data.validation_examples,
                encoder.encode_layers,
                config.training,
                progress,
            )
        files = [*result.classifier.save(stage), *prepared.files]
        if groups:
            files.append(write_answer_groups(stage, groups))
        classes = {g.label for g in groups}
        intents = [i for i in result.classifier.intents if i not in classes]
        responses, mined = collect_responses(data, intents)
        warnings = _response_warnings(intents, responses, mined)
        for warning in warnings:
            progress(f"warning: {warning}")
        if responses:
            (stage / RESPONSES_FILE).write_text(json.dumps(responses, indent=1), encoding="utf-8")
            files.append(RESPONSES_FILE)
        with training_stage("knowledge base", progress):
            retrieval = build_knowledge_base(
                data, encoder, config.retrieval, stage, config.training.seed, Path(out), progress
            )
        layers = result.classifier.settings.feature_layers
        with training_stage("ONNX export", progress):
            files += export_serving_encoder(prepared, stage, progress, layers)
        ranker = None
        if config.training.ranker_minutes > 0 and data.dialogues:
            training = config.training
            settings = ranker_settings(
                training.seed,
                training.ranker_minutes,
                training.ranker_ngram_turns,
                training.precision,
            )
            with training_stage("response ranker", progress):
                ranker = train_ranker(data.dialogues, responses, stage, settings, progress)
        files += ranker.files if ranker else []
        metrics = {
            **prepared.metrics,
            **result.metrics,
            **(ranker.metrics if ranker else {}),
            "kb_questions_as_out_of_scope": len(negatives),
            "kb_answer_classes": len(groups),
            "train_seconds": round(time.monotonic() - started, 1),
        }
        manifest = _manifest(
            project,
            prepared,
            result.classifier,
            metrics,
            retrieval=retrieval,
            has_responses=bool(responses),
        )
        manifest.ranker = ranker.info if ranker else None
        manifest.kb_answers = KB_ANSWERS_FILE if groups else None
        manifest.files = checksum_files(stage, files)
        write_manifest(stage, manifest)
    progress(f"model written to {out} ({manifest.version}) in {metrics['train_seconds']}s")
    return TrainResult(Path(out), manifest, warnings)


def _knowledge_base_classes(
    data: TrainingData, config: TrainingConfig, progress: Progress
) -> tuple[list[AnswerGroup], list[Example]]:
    """The answers learned as classes, and the examples with their questions added."""
    if not config.kb_answers_as_intents:
        return [], data.examples
    groups = answer_groups(data.articles, data.examples, config.min_examples_per_intent)
    if groups:
        questions = sum(len(g.articles) for g in groups)
        progress(f"{len(groups)} knowledge-base answers learned as classes ({questions} questions)")
    return groups, [*data.examples, *group_examples(groups)]


def _response_warnings(intents: list[str], responses: dict, mined: list[str]) -> list[str]:
    warnings = []
    if not responses:
        warnings.append("the data has no responses: this model is classifier-only")
    else:
        missing = [i for i in intents if i not in responses]
        if missing:
            warnings.append(
                f"{len(missing)} intent(s) have no response and will fall back: "
                + ", ".join(missing[:10])
            )
    if mined:
        warnings.append(
            f"{len(mined)} intent(s) use responses mined from dialogues: " + ", ".join(mined[:10])
        )
    return warnings


def data_hash(files: list[str]) -> str:
    digest = hashlib.sha256()
    for file in sorted(set(files)):
        digest.update(Path(file).name.encode() + b"\0" + sha256_file(Path(file)).encode())
    return digest.hexdigest()


def _manifest(
    project: Project,
    prepared: PreparedEncoder,
    classifier: IntentClassifier,
    metrics: dict,
    retrieval: RetrievalInfo,
    has_responses: bool,
) -> Manifest:
    config = project.config
    created = datetime.now(UTC)
    hashed = data_hash(project.data.files)
    return Manifest(
        format=MODEL_FORMAT,
        format_version=FORMAT_VERSION,
        name=config.name,
        version=f"{config.name}-{created:%Y%m%d-%H%M%S}-{hashed[:8]}",
        created_at=created.isoformat(timespec="seconds"),
        supportbot_version=supportbot.__version__,
        base_model=BaseModelInfo(
            name=BASE_MODEL_NAME,
            package=BASE_MODEL_PACKAGE,
            package_version=base_model_version(),
            dimension=prepared.encoder.dimension,
        ),
        labels=classifier.labels,
        classifier=ClassifierInfo(
            mode=prepared.mode,
            head=HEAD_FILE,
            encoder=prepared.directory,
            onnx=ONNX_DIR,
            temperature=classifier.settings.temperature,
            oos_threshold=classifier.settings.oos_threshold,
            similarity_threshold=classifier.settings.similarity_threshold,
            ambiguity_margin=classifier.settings.ambiguity_margin,
            lexical=LEXICAL_WEIGHTS_FILE if classifier.lexical is not None else None,
            lexical_share=classifier.settings.lexical_share,
            support_weight=classifier.settings.support_weight,
            feature_layers=classifier.settings.feature_layers,
        ),
        retrieval=retrieval,
        responses=RESPONSES_FILE if has_responses else None,
        data_hash=hashed,
        data_files=sorted({Path(f).name for f in project.data.files}),
        config=config.model_dump(mode="json"),
        metrics=metrics,
        files={},
    )
