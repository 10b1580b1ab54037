"""Importers: each format read into TrainingData; each kind of bad row reported with its place."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from supportbot.config import DataSource
from supportbot.testing import write_file as write
from training.importers import detect_format, load_source
from training.problems import ProblemLog
from training.schema import OUT_OF_SCOPE, Button, Example, Response, Source, TrainingData

FIXTURES = Path(__file__).parent / "fixtures" / "data"
SHARED = Path("/work/shared/data")


def load(path: Path | str, **options: str) -> tuple[TrainingData, ProblemLog]:
    problems = ProblemLog()
    data = load_source(DataSource(path=str(path), **options), problems)
    return data, problems


def messages(problems: ProblemLog) -> list[str]:
    return [str(p) for p in problems.problems]


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bot.yml", "version: 1\nintents:\n  greet: {}\n", "bot"),
        ("anything.yaml", "intents:\n  greet: {}\n", "bot"),
        ("nlu.yml", 'version: "3.1"\nnlu:\n- intent: greet\n', "rasa_nlu"),
        ("domain.yml", 'version: "3.1"\nresponses: {}\n', "rasa_domain"),
        ("rules.yml", "rules: []\n", None),
        ("config.yml", "pipeline: []\n", None),
        ("chats.jsonl", "{}\n", "dialogues"),
        ("chats.jsonl.gz", "", "dialogues"),
        ("train.csv", "text,category\nhi,greet\n", "csv"),
        ("faq.csv", "Question,Answer\nq,a\n", "kb"),
        ("data_full.json", "{}", "clinc"),
        ("categories.json", "[]", None),
        ("cards.md", "# Cards\n", "kb"),
        ("notes.txt", "text\n", "kb"),
        ("logo.png", "", None),
    ],
)
def test_detect_format_from_name_and_content(
    tmp_path: Path, name: str, content: str, expected: str | None
) -> None:
    assert detect_format(write(tmp_path, name, content)) == expected


# --- bot definition --------------------------------------------------------------------------

BOT_YML = """\
version: 1
intents:
  check_balance:
    examples:
      - What's my   balance?
      - yes
    responses:
      - text: "You can see your balance on the Accounts screen."
        buttons:
          - title: "Open the app"
            payload: "/open_app"
      - "A plain string is also a response variant."
  card_arrival:
    responses:
      - "Cards arrive within 5 working days."
out_of_scope:
  - "what's the weather like"
"""


def test_bot_definition_reads_examples_responses_and_out_of_scope(here: Path) -> None:
    write(here, "bot.yml", BOT_YML)
    data, problems = load("bot.yml")
    assert problems.problems == []
    assert data.examples == [
        Example("What's my balance?", "check_balance", Source("bot.yml", 5)),
        Example("yes", "check_balance", Source("bot.yml", 6)),
        Example("what's the weather like", OUT_OF_SCOPE, Source("bot.yml", 17)),
    ]
    assert data.responses["check_balance"] == [
        Response(
            "You can see your balance on the Accounts screen.",
            (Button("Open the app", "/open_app"),),
            Source("bot.yml", 8),
        ),
        Response("A plain string is also a response variant.", (), Source("bot.yml", 12)),
    ]
    [card_response] = data.responses["card_arrival"]
    assert card_response.text == "Cards arrive within 5 working days."
    assert data.files == ["bot.yml"]


def test_bot_definition_reports_bad_items_with_field_and_line(here: Path) -> None:
    write(
        here,
        "bot.yml",
        """\
version: 1
colour: blue
intents:
  greet:
    examples: hello
    responses:
      - text: ""
      - text: Hi!
        buttons:
          - title: Start
      - text: Hey!
        emoji: wave
""",
    )
    data, problems = load("bot.yml")
    assert messages(problems) == [
        "bot.yml:2: warning: colour: unknown field, ignored",
        'bot.yml:5: error: intents.greet.examples: expected a list of example texts, got "hello"',
        "bot.yml:7: error: intents.greet.responses[0].text: empty response text",
        "bot.yml:10: error: intents.greet.responses[1].buttons[0].payload: missing or empty",
        "bot.yml:12: warning: intents.greet.responses[2].emoji: unknown field, ignored",
    ]
    assert [r.text for r in data.responses["greet"]] == ["Hey!"]


def test_invalid_yaml_is_one_error_with_its_line(here: Path) -> None:
    write(here, "bot.yml", "intents:\n  greet:\n    examples:\n      - hi\n     - hello\n")
    data, problems = load("bot.yml")
    assert len(problems.errors) == 1
    error = problems.errors[0]
    assert error.source == Source("bot.yml", 5)
    assert error.message.startswith("not valid YAML: ")
    assert data.examples == []


def test_duplicate_yaml_keys_are_warned(here: Path) -> None:
    write(here, "bot.yml", "intents:\n  greet:\n    examples: [hi]\n  greet:\n    examples: [yo]\n")
    data, problems = load("bot.yml")
    assert messages(problems) == [
        "bot.yml:4: warning: duplicate key 'greet' (first at line 2); the later value is used"
    ]
    assert [e.text for e in data.examples] == ["yo"]


def test_non_utf8_file_is_an_error_naming_the_line(here: Path) -> None:
    write(here, "bot.yml", "intents:\n  greet:\n    examples:\n      - caf\xe9\n".encode("latin-1"))
    _, problems = load("bot.yml")
    assert messages(problems) == [
        "bot.yml:4: error: not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    ]


# --- dialogues -------------------------------------------------------------------------------


def dialogue(turns: list[dict], **extra: object) -> str:
    return json.dumps({"id": "c1", "turns": turns, **extra})


GOOD_TURNS = [
    {"speaker": "customer", "text": " my card  hasn't come ", "intent": "card_arrival"},
    {"speaker": "agent", "text": "Cards arrive within 5 working days."},
    {"speaker": "customer", "text": "and my pin?", "intents": ["pin", "card_arrival"]},
]


def test_dialogues_become_dialogues_and_single_intent_examples(here: Path) -> None:
    lines = [dialogue(GOOD_TURNS, outcome="resolved", services=["Banks"], metadata={}), ""]
    write(here, "chats.jsonl", "\n".join(lines))
    data, problems = load("chats.jsonl")
    assert problems.problems == []
    [conversation] = data.dialogues
    assert conversation.outcome == "resolved"
    assert conversation.source == Source("chats.jsonl", 1)
    assert conversation.turns[2].intents == ("pin", "card_arrival")
    assert data.examples == [
        Example("my card hasn't come", "card_arrival", Source("chats.jsonl", 1), from_dialogue=True)
    ]


def test_bad_dialogue_lines_are_reported_and_skipped(here: Path) -> None:
    bad_speaker = [*GOOD_TURNS[:2], {"speaker": "bot", "text": "hi"}]
    lines = [
        dialogue(GOOD_TURNS),
        dialogue(bad_speaker),
        '{"id": "c3", "turns": [',
        dialogue(GOOD_TURNS, outcome="solved"),
        dialogue([{"speaker": "customer", "text": "", "mood": "sad"}]),
    ]
    write(here, "dialogues.jsonl", "\n".join(lines) + "\n")
    data, problems = load("dialogues.jsonl")
    assert messages(problems) == [
        'dialogues.jsonl:2: error: turns[2].speaker: expected "customer" or "agent", got "bot"',
        "dialogues.jsonl:3: error: not valid JSON: Expecting value (column 24)",
        "dialogues.jsonl:4: error: outcome: expected one of resolved, escalated, abandoned, "
        'got "solved"',
        "dialogues.jsonl:5: warning: turns[0].mood: unknown field, ignored",
        "dialogues.jsonl:5: error: turns[0].text: empty text",
    ]
    assert len(data.dialogues) == 1


def test_non_utf8_dialogue_line_skips_only_that_line(here: Path) -> None:
    raw = dialogue(GOOD_TURNS).encode() + b"\n" + '{"id": "caf\xe9"}'.encode("latin-1") + b"\n"
    write(here, "chats.jsonl", raw + dialogue(GOOD_TURNS).encode() + b"\n")
    data, problems = load("chats.jsonl")
    assert messages(problems) == [
        "chats.jsonl:2: error: not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    ]
    assert [d.source.line for d in data.dialogues] == [1, 3]


def test_gzipped_dialogues_stream_and_truncation_is_an_error(here: Path) -> None:
    packed = gzip.compress(("\n".join([dialogue(GOOD_TURNS)] * 200) + "\n").encode())
    write(here, "chats.jsonl.gz", packed)
    data, problems = load("chats.jsonl.gz")
    assert (len(data.dialogues), problems.problems) == (200, [])
    write(here, "cut.jsonl.gz", packed[: len(packed) // 2])
    data, problems = load("cut.jsonl.gz")
    assert len(problems.errors) == 1
    assert problems.errors[0].message.startswith("cannot read file: ")
    assert 0 < len(data.dialogues) < 200


# --- labelled CSV ----------------------------------------------------------------------------


def test_labelled_csv_defaults_and_out_of_scope_labels(here: Path) -> None:
    write(here, "train.csv", "text,category\nWhere is  my card?,card_arrival\nweather?,oos\n")
    data, problems = load("train.csv")
    assert problems.problems == []
    assert data.examples == [
        Example("Where is my card?", "card_arrival", Source("train.csv", 2)),
        Example("weather?", OUT_OF_SCOPE, Source("train.csv", 3)),
    ]


def test_labelled_csv_configured_columns(here: Path) -> None:
    write(here, "log.csv", "id,utterance,tag\n1,hi,greet\n")
    data, problems = load("log.csv", text_column="utterance", label_column="tag")
    assert data.examples == [Example("hi", "greet", Source("log.csv", 2))]
    assert messages(problems) == ["log.csv:1: warning: ignoring column(s): id"]


def test_labelled_csv_row_and_column_problems(here: Path) -> None:
    write(here, "train.csv", 'text,label\nhi,greet\n"a, b",greet,extra\n,greet\nhello,\n')
    data, problems = load("train.csv")
    assert messages(problems) == [
        "train.csv:3: error: expected 2 columns (text, label), got 3",
        "train.csv:4: error: text: empty text",
        "train.csv:5: error: label: empty label",
    ]
    assert [e.text for e in data.examples] == ["hi"]
    write(here, "other.csv", "message,label\nhi,greet\n")
    _, problems = load("other.csv")
    assert messages(problems) == [
        'other.csv:1: error: no text column: expected "text" (the header has: message, label)'
    ]
    _, problems = load("other.csv", text_column="body")
    assert messages(problems) == [
        'other.csv:1: error: missing column "body" (the header has: message, label)'
    ]


# --- CLINC150 --------------------------------------------------------------------------------

CLINC = {
    "train": [["what is my balance", "balance"], ["transfer money", "transfer"]],
    "val": [["balance please", "balance"]],
    "test": [["SECRET test balance", "balance"]],
    "oos_train": [["how tall is everest", "oos"]],
    "oos_val": [["sing a song", "oos"]],
    "oos_test": [["SECRET oos test", "oos"]],
}


def test_clinc_training_import_reads_train_and_val_but_never_test(here: Path) -> None:
    write(here, "data_full.json", json.dumps(CLINC, indent=1))
    data, problems = load("data_full.json")
    assert problems.problems == []
    assert [(e.text, e.intent) for e in data.examples] == [
        ("what is my balance", "balance"),
        ("transfer money", "transfer"),
        ("how tall is everest", OUT_OF_SCOPE),
    ]
    assert [(e.text, e.intent) for e in data.validation_examples] == [
        ("balance please", "balance"),
        ("sing a song", OUT_OF_SCOPE),
    ]
    assert data.examples[1].source == Source("data_full.json", 7)
    assert not any("SECRET" in e.text for e in data.examples + data.validation_examples)


def test_clinc_malformed_item_names_its_split_and_index(here: Path) -> None:
    write(here, "data_full.json", json.dumps({"train": [["ok", "a"], ["no intent"]], "extra": []}))
    data, problems = load("data_full.json")
    assert messages(problems) == [
        "data_full.json: warning: extra: unknown split, ignored",
        "data_full.json:1: error: train[1]: expected [text, intent], got a list",
    ]
    assert len(data.examples) == 1


# --- Rasa ------------------------------------------------------------------------------------


def test_rasa_nlu_strips_entities_and_skips_synonyms(here: Path) -> None:
    data, problems = load(FIXTURES / "rasa" / "nlu.yml")
    assert problems.problems == []
    assert [(e.text, e.intent, e.source.line) for e in data.examples] == [
        ("hello there", "greet", 5),
        ("hi", "greet", 6),
        ("where is my visa card?", "card_arrival", 9),
        ("my credit card has not arrived", "card_arrival", 10),
        ("what's the weather like", OUT_OF_SCOPE, 13),
    ]


def test_rasa_domain_maps_responses_by_rules_then_naming(here: Path) -> None:
    data, problems = load(FIXTURES / "rasa" / "domain.yml")
    assert data.responses["card_arrival"] == [
        Response(
            "Cards arrive within 5 working days.",
            (Button("Track my card", "/track_card"),),
            data.responses["card_arrival"][0].source,
        ),
    ]
    assert [r.text for r in data.responses["greet"]] == ["Hello! How can I help?"]
    assert set(data.responses) == {"greet", "card_arrival"}
    [warning] = problems.problems
    assert warning.severity == "warning"
    assert warning.source.line == 14
    assert warning.message == (
        "responses.utter_ask_name: no rule or story follows an intent with it and no intent is "
        "named 'ask_name'; not attached to any intent"
    )
    assert [Path(f).name for f in data.files] == ["domain.yml", "rules.yml"]


def test_rasa_folder_walk_skips_rules_file_silently(here: Path) -> None:
    data, problems = load(FIXTURES / "rasa")
    assert len(data.examples) == 5
    assert set(data.responses) == {"greet", "card_arrival"}
    assert [p.severity for p in problems.problems] == ["warning"]


# --- knowledge base --------------------------------------------------------------------------


def test_markdown_is_split_on_headings(here: Path) -> None:
    write(
        here,
        "kb/cards.md",
        """\
Intro text before any heading.

# Cards
## Lost card
Freeze it   in the app.

Then order a new one.
```
# not a heading
```
## Empty
""",
    )
    data, problems = load("kb")
    assert [(a.title, a.source) for a in data.articles] == [
        ("cards", Source("kb/cards.md", 1)),
        ("Lost card", Source("kb/cards.md", 4)),
    ]
    assert data.articles[1].text == (
        "Freeze it   in the app.\n\nThen order a new one.\n```\n# not a heading\n```"
    )
    assert messages(problems) == ['kb/cards.md:11: warning: section "Empty" has no text; skipped']


def test_text_files_and_question_answer_csv(here: Path) -> None:
    write(here, "kb/opening_hours.txt", "We are open 9-5.\n")
    write(
        here,
        "kb/faq.csv",
        "question,answer,url\nHow do I pay?,By card.,https://x/pay\nNo answer?,,\n",
    )
    data, problems = load("kb")
    articles = {a.title: a for a in data.articles}
    assert articles["opening_hours"].text == "We are open 9-5."
    assert articles["How do I pay?"].question == "How do I pay?"
    assert articles["How do I pay?"].url == "https://x/pay"
    assert messages(problems) == ["kb/faq.csv:3: error: answer: empty answer"]


# --- folders and sources ---------------------------------------------------------------------


def test_folder_walk_ignores_readme_and_warns_on_unknown_files(here: Path) -> None:
    write(here, "data/bot.yml", BOT_YML)
    write(here, "data/README.md", "# About this data\n")
    write(here, "data/.hidden/bot.yml", "nonsense: [")
    write(here, "data/extra/train.csv", "text,label\nhi,greet\n")
    write(here, "data/categories.json", "[]")
    data, problems = load("data")
    assert data.files == ["data/bot.yml", "data/extra/train.csv"]
    assert messages(problems) == [
        "data/categories.json: warning: not a recognised data file; skipped"
    ]


def test_explicit_format_overrides_detection(here: Path) -> None:
    write(here, "faq.csv", "question,answer\nq,a\n")
    data, _ = load("faq.csv", format="kb")
    assert len(data.articles) == 1
    data, _ = load("faq.csv", format="csv", text_column="question", label_column="answer")
    assert [e.intent for e in data.examples] == ["a"]


def test_missing_and_unrecognised_sources_are_errors(here: Path) -> None:
    write(here, "notes.rtf", "x")
    _, problems = load("nowhere")
    assert messages(problems) == ["nowhere: error: no such file or directory"]
    _, problems = load("notes.rtf")
    assert messages(problems) == [
        "notes.rtf: error: cannot tell the data format of this file; set `format:` for it in "
        "supportbot.yml (one of bot, dialogues, csv, clinc, rasa_nlu, rasa_domain, kb)"
    ]


# --- the real public data sets ---------------------------------------------------------------


def real(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return path


def test_real_sgd_dev_streams_from_gzip() -> None:
    data, problems = load(real("sgd/dev.jsonl.gz"))
    assert problems.errors == []
    assert len(data.dialogues) == 2098
    assert data.dialogues[0].turns[0].intents == ("ReserveRestaurant",)
    assert len(data.examples) > 10_000


def test_real_banking77_train() -> None:
    data, problems = load(real("banking77/train.csv"))
    assert problems.problems == []
    assert len(data.examples) == 10_003
    assert len({e.intent for e in data.examples}) == 77
    assert data.examples[0].source.line == 2


def test_real_clinc150_never_contains_test_texts() -> None:
    path = real("clinc150/data_full.json")
    data, problems = load(path)
    assert problems.problems == []
    assert (len(data.examples), len(data.validation_examples)) == (15_100, 3_100)
    full = json.loads(path.read_text(encoding="utf-8"))
    training = {e.text for e in data.examples} | {e.text for e in data.validation_examples}
    test_only = {text for text, _ in full["test"] + full["oos_test"]} - {
        text for split in ("train", "val", "oos_train", "oos_val") for text, _ in full[split]
    }
    assert test_only and not test_only & training


def test_jsonl_lines_with_lone_surrogates_or_deep_nesting_are_problems_with_their_line(
    here: Path,
) -> None:
    surrogate = dialogue(GOOD_TURNS).replace("my card", "my \\ud800 card")
    lines = [dialogue(GOOD_TURNS), surrogate, "[" * 5000 + "]" * 5000]
    write(here, "chats.jsonl", "\n".join(lines) + "\n")
    data, problems = load("chats.jsonl")
    assert len(data.dialogues) == 1
    assert messages(problems) == [
        "chats.jsonl:2: error: text is not valid Unicode: a lone surrogate escape such as \\ud800",
        "chats.jsonl:3: error: not valid JSON: nested too deeply or a number too long",
    ]
