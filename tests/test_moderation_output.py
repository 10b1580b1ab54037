"""Outbound checks: template slots escaped per channel; the offensive-language model the
bot serves from matches the package it was exported from."""

from __future__ import annotations

import pytest

from bot.moderation.offensive import OffensiveScorer
from bot.moderation.output import escape, fill_template

HOSTILE = '<script>alert(1)</script> *bold* [x](http://evil) <!channel> & "q"'


def test_html_escaping():
    assert escape(HOSTILE, "html") == (
        "&lt;script&gt;alert(1)&lt;/script&gt; *bold* [x](http://evil) &lt;!channel&gt; "
        "&amp; &quot;q&quot;"
    )


def test_slack_escaping_disarms_mentions_and_links():
    assert escape("<!channel> <@U123> a&b", "slack") == "&lt;!channel&gt; &lt;@U123&gt; a&amp;b"


def test_markdown_escaping():
    assert escape("*bold* [x](y) `code`", "markdown") == r"\*bold\* \[x\]\(y\) \`code\`"


def test_plain_channels_get_the_text_as_is():
    assert escape(HOSTILE, "plain") == HOSTILE


def test_fill_template_escapes_slot_values_not_the_template():
    template = "<b>Thanks {name}</b>, we'll write to {email}."

    filled = fill_template(template, {"name": "<img src=x>", "email": "a@b.c"}, "html")

    assert filled == "<b>Thanks &lt;img src=x&gt;</b>, we'll write to a@b.c."


@pytest.mark.parametrize("template", ["{name.__class__}", "{0}", "{missing}", "{name!r}"])
def test_fill_template_refuses_anything_but_known_plain_slots(template: str):
    with pytest.raises(KeyError):
        fill_template(template, {"name": "x"}, "plain")


def test_exported_classifier_matches_alt_profanity_check():
    profanity_check = pytest.importorskip("profanity_check.profanity_check")
    texts = ["you are a useless idiot", "where is my card", "shit, my card is gone", ""]

    expected = profanity_check.predict_prob(texts)
    scorer = OffensiveScorer()

    assert [round(scorer.score(t), 5) for t in texts] == [round(float(p), 5) for p in expected]


def test_missing_classifier_weights_are_a_loud_error(tmp_path):
    from supportbot.errors import ModelError

    with pytest.raises(ModelError, match="cannot load the offensive-language model"):
        OffensiveScorer(tmp_path)
