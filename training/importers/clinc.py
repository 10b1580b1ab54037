"""CLINC150 `data_full.json`: splits train, val, test, oos_train, oos_val, oos_test of
[text, intent] pairs.

Training import keeps only train + oos_train (examples) and val + oos_val (validation
examples). The test splits are dropped while the JSON is parsed, so no Example is ever made
from them on the training path; only the evaluation loader asks for them.
"""

from __future__ import annotations

import bisect
import json
import re
from json.decoder import JSONArray
from json.scanner import py_make_scanner
from pathlib import Path

from training.problems import ProblemLog
from training.schema import OUT_OF_SCOPE, Example, Source, TrainingData

from .common import describe, intent_label, normalise_text, read_text

SPLITS = ("train", "val", "test", "oos_train", "oos_val", "oos_test")
TRAIN_SPLITS = ("train", "oos_train")
VALIDATION_SPLITS = ("val", "oos_val")
TEST_SPLITS = ("test", "oos_test")


class _PositionedList(list):
    """A JSON array that remembers the character offset of its `[`."""

    offset = 0


def load_clinc(path: Path, display: str, problems: ProblemLog) -> TrainingData:
    """Training and validation examples from data_full.json; test splits are never read."""
    splits = read_splits(path, display, problems, TRAIN_SPLITS + VALIDATION_SPLITS)
    data = TrainingData()
    for name in TRAIN_SPLITS:
        data.examples += splits.get(name, [])
    for name in VALIDATION_SPLITS:
        data.validation_examples += splits.get(name, [])
    if "train" not in splits and splits:
        problems.error('missing split "train"', Source(display, 1))
    return data


def read_splits(
    path: Path, display: str, problems: ProblemLog, wanted: tuple[str, ...]
) -> dict[str, list[Example]]:
    """Examples of the `wanted` splits only, each sourced at the line of its item."""
    text = read_text(path, display, problems)
    if text is None:
        return {}
    seen: list[str] = []
    try:
        document = _decoder(wanted, seen).decode(text)
    except json.JSONDecodeError as exc:
        problems.error(
            f"not valid JSON: {exc.msg} (column {exc.colno})", Source(display, exc.lineno)
        )
        return {}
    if not isinstance(document, dict):
        problems.error(
            f"expected a JSON object of splits ({', '.join(SPLITS)}), got {describe(document)}",
            Source(display, 1),
        )
        return {}
    for key in seen:
        if key not in SPLITS:
            problems.warning(f"{key}: unknown split, ignored", Source(display))
    newlines = [match.start() for match in re.finditer("\n", text)]
    return {
        name: _split_examples(name, items, display, newlines, problems)
        for name, items in document.items()
    }


def _decoder(wanted: tuple[str, ...], seen: list[str]) -> json.JSONDecoder:
    """A decoder that keeps only the wanted top-level splits and remembers array offsets."""

    def keep_wanted(pairs: list[tuple[str, object]]) -> dict:
        keys = [key for key, _ in pairs]
        if set(keys) & set(SPLITS):
            seen.extend(keys)
            return {key: value for key, value in pairs if key in wanted}
        return dict(pairs)

    def parse_array(state: tuple[str, int], scan_once, _parse=JSONArray):
        values, end = _parse(state, scan_once)
        result = _PositionedList(values)
        result.offset = state[1] - 1
        return result, end

    decoder = json.JSONDecoder(object_pairs_hook=keep_wanted)
    decoder.parse_array = parse_array
    decoder.scan_once = py_make_scanner(decoder)
    return decoder


def _split_examples(
    name: str, items: object, display: str, newlines: list[int], problems: ProblemLog
) -> list[Example]:
    if not isinstance(items, list):
        problems.error(
            f"{name}: expected a list of [text, intent], got {describe(items)}", Source(display)
        )
        return []
    examples = []
    for index, item in enumerate(items):
        line = bisect.bisect_right(newlines, getattr(item, "offset", -1)) + 1
        example = _item_example(item, f"{name}[{index}]", name, Source(display, line), problems)
        if example is not None:
            examples.append(example)
    return examples


def _item_example(
    item: object, where: str, split: str, source: Source, problems: ProblemLog
) -> Example | None:
    if not isinstance(item, list) or len(item) != 2 or not all(isinstance(v, str) for v in item):
        problems.error(f"{where}: expected [text, intent], got {describe(item)}", source)
        return None
    text, label = normalise_text(item[0]), item[1].strip()
    if not text or not label:
        problems.error(f"{where}: empty {'text' if not text else 'intent'}", source)
        return None
    intent = OUT_OF_SCOPE if split.startswith("oos_") else intent_label(label)
    return Example(text, intent, source)
