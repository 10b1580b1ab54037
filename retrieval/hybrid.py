"""Hybrid ranking: dense cosine similarity fused with FTS5 BM25.

Fusion is a convex combination, `cosine + weight * bm25 / best_bm25`, rather than
reciprocal rank fusion: it keeps how strongly each side matched, and it beats RRF on
BANKING77 (Bruch et al. 2023 found the same; figures in docs/benchmarks.md). On top,
a passage containing the query's identifiers (error codes, order or model numbers: words
with a digit and a letter, or 4+ digits) exactly gets IDENTIFIER_WEIGHT, because a
sentence encoder hears "E-4120" and "E-4021" as nearly the same thing. The fused score is
what the abstain threshold is calibrated on.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass

LEXICAL_WEIGHT = 0.05
"""Chosen on BANKING77 `train` (leave-one-out), never on `test`; see docs/benchmarks.md."""
IDENTIFIER_WEIGHT = 0.1
MAX_QUERY_TERMS = 32
_TERM = re.compile(r"\w+(?:[-./]\w+)*")
STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be been before being below
    between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself
    yourselves hi hello please thanks thank hey im dont cant don doesn didn isn aren wasn
    won ll ve re""".split()
)


@dataclass(frozen=True)
class Fused:
    passage_id: int
    score: float
    dense: float
    lexical: float
    """BM25 relative to the query's best lexical match (1.0 for that one, 0 for no match)."""
    exact: float = 0.0
    """Share of the query's identifiers the passage contains."""


def query_terms(text: str) -> list[str]:
    terms = []
    for term in _TERM.findall(text.casefold()):
        if term in STOPWORDS or (len(term) == 1 and not term.isdigit()):
            continue
        if term not in terms:
            terms.append(term)
    return terms[:MAX_QUERY_TERMS]


def identifiers(text: str) -> list[str]:
    """Terms that name one thing exactly: a digit with a letter ("e-4012", "sku123") or
    four or more digits ("40127"); amounts like "100" are not identifiers."""
    return [
        t
        for t in query_terms(text)
        if any(c.isdigit() for c in t)
        and (any(c.isalpha() for c in t) or sum(c.isdigit() for c in t) >= 4)
    ]


def phrase(term: str) -> str:
    return f'"{term}"'


def fts_query(text: str) -> str | None:
    """An FTS5 OR-query over the message's content words, or None when it has none.

    Words joined by - . or / stay one quoted phrase ("E-4012", "v2.3"), so codes match as
    written; stopwords and single letters are dropped (they match nearly every passage and
    make BM25 slow on large collections).
    """
    terms = query_terms(text)
    return " OR ".join(phrase(term) for term in terms) if terms else None


def fuse(
    dense: dict[int, float],
    lexical: list[tuple[int, float]],
    weight: float,
    exact: dict[int, float] | None = None,
    limit: int | None = None,
) -> list[Fused]:
    """The `limit` best candidates from any side (all of them by default), best first.
    `dense` must hold a cosine for every lexical and exact candidate too (the caller
    computes those the vector search missed)."""
    best = lexical[0][1] if lexical else 0.0
    relative = {pid: score / best for pid, score in lexical} if best > 0 else {}
    exact = exact or {}
    scored = [
        (-(cosine + weight * relative.get(pid, 0.0) + IDENTIFIER_WEIGHT * exact.get(pid, 0.0)), pid)
        for pid, cosine in dense.items()
    ]
    # Only the kept candidates become objects: a search keeps 3 of about 60.
    kept = sorted(scored) if limit is None else heapq.nsmallest(limit, scored)
    return [
        Fused(pid, -negated, dense[pid], relative.get(pid, 0.0), exact.get(pid, 0.0))
        for negated, pid in kept
    ]
