"""The knowledge-base abstain threshold on held-out questions: old (one threshold for
every hit) against new (help articles calibrated on their own), in the same run.

Positives: customer questions about the banking demo's help articles, written for this
benchmark and never read by training or calibration (below). Negatives: CLINC150
`oos_test` (held out: calibration reads the bot's out-of-scope examples and the bundled
off-topic list). For each question the demo model's knowledge base is searched and its
top hit judged: answered right (the expected article), answered wrong, or abstained.

    python benchmarks/kb_threshold.py --model MODEL_DIR [--project data/banking_demo]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
CLINC = ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"

ARTICLE_QUESTIONS = [
    ("what time does your support team open on sundays?", "When is support available?"),
    ("are you open on bank holidays?", "When is support available?"),
    ("can I chat with you at night?", "When is support available?"),
    ("Is my money safe if you go bust?", "Is my money protected?"),
    ("is my money insured?", "Is my money protected?"),
    ("what happens to my savings if the bank fails?", "Is my money protected?"),
    ("which phones does the app work on?", "Which phones does the app support?"),
    ("does the app run on an old android phone?", "Which phones does the app support?"),
    ("Can I use the app on a jailbroken iPhone?", "Which phones does the app support?"),
    ("do I earn interest on my balance?", "Do you pay interest?"),
    ("what interest rate do you pay?", "Do you pay interest?"),
    ("how do I put money aside in a vault?", "How savings vaults work"),
    ("I want to make a complaint about your service", "How do I make a complaint?"),
    ("how can I complain?", "How do I make a complaint?"),
    ("can I get a bank statement for my landlord?", "Statements and proof of account"),
    ("I need proof of my account for a visa application", "Statements and proof of account"),
    ("do you offer accounts for companies?", "Business accounts"),
    ("can I open an account for my small business?", "Business accounts"),
    ("how do I set up a standing order?", "Scheduled and recurring payments"),
    ("can I schedule a payment for next month?", "Scheduled and recurring payments"),
    ("I got a text asking for my card details, is it real?", "Spotting scams"),
    ("someone called saying they're from the bank and asked for my code", "Spotting scams"),
    ("how do I keep my account secure?", "Keeping your account safe"),
    ("how much can I send in one transfer?", "Transfer limits"),
]
"""Written for this benchmark from the demo's article titles; not used to choose anything."""


def judge(model, questions, expected, threshold_for):
    texts = list(questions)
    analyses = model.analyse(texts)
    right = wrong = abstained = 0
    for analysis, want in zip(analyses, expected, strict=True):
        top = analysis.hits[0] if analysis.hits else None
        if top is None or top.score < threshold_for(top.passage.kind):
            abstained += 1
        elif want is not None and top.passage.title == want:
            right += 1
        else:
            wrong += 1
    n = len(texts)
    return {"right": round(right / n, 3), "wrong": round(wrong / n, 3),
            "abstained": round(abstained / n, 3), "n": n}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from retrieval.bot_model import BotModel
    from training.loader import load_project
    from training.retrieval_calibration import calibrate_article_min_score

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--project", type=Path, default=ROOT / "data" / "banking_demo")
    parser.add_argument("--negatives", type=int, default=300)
    args = parser.parse_args(argv)
    model = BotModel.load(args.model)
    info = model.manifest.retrieval
    assert info is not None and model.index is not None
    data = load_project(args.project).data
    article = info.article_min_score
    if article is None:  # a model trained before the article threshold: calibrate it now
        article = calibrate_article_min_score(
            model.index, model.encoder.encode, data, info.min_score, info.calibration
        )
    old = info.min_score
    new_threshold = {"article": article if article is not None else old}
    oos = [text for text, _ in json.loads(CLINC.read_text())["oos_test"][: args.negatives]]
    questions = [q for q, _ in ARTICLE_QUESTIONS]
    titles = [t for _, t in ARTICLE_QUESTIONS]
    report = {"old_min_score": old, "article_min_score": article}
    for name, rule in (
        ("old", lambda kind: old),
        ("new", lambda kind: new_threshold.get(kind, old)),
    ):
        report[name] = {
            "article_questions": judge(model, questions, titles, rule),
            "clinc_oos_test": judge(model, oos, [None] * len(oos), rule),
        }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
