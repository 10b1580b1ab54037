"""Word and character n-gram scores for intents, fused with the sentence-vector head.

A sentence encoder hears what a message means; it under-weighs the exact words that
separate neighbouring banking intents ("top up" by card vs by transfer, "pending" vs
"declined"). A TF-IDF model over word 1-2-grams and character 2-5-grams hears those words.
Adding the two log-probabilities, weighted by a share chosen on held-out data, beats either
alone (docs/benchmarks.md). At inference the model is a fixed vocabulary, idf weights and
one dense matrix: no pickle, a fraction of a millisecond per message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import CountVectorizer

from supportbot.errors import ModelError

LEXICAL_WEIGHTS_FILE = "classifier/lexical.safetensors"
LEXICAL_VOCAB_FILE = "classifier/lexical_vocabulary.json"


@dataclass(frozen=True)
class NgramSpec:
    """How one block of features is cut from text; `analyzer` is sklearn's ("word", "char_wb")."""

    analyzer: str
    ngram_range: tuple[int, int]


WORD_NGRAMS = NgramSpec("word", (1, 2))
CHAR_NGRAMS = NgramSpec("char_wb", (2, 5))
FEATURE_BLOCKS = (WORD_NGRAMS, CHAR_NGRAMS)
WORD_MEMORY = 50_000
"""Words whose character n-grams a block remembers (a few MB at most)."""


class NgramBlock:
    """One TF-IDF block with a frozen vocabulary: sublinear term frequency, idf, unit length."""

    def __init__(self, spec: NgramSpec, vocabulary: list[str], idf: np.ndarray):
        if len(vocabulary) != len(idf):
            raise ModelError(
                f"lexical model: {spec.analyzer} vocabulary has {len(vocabulary)} entries "
                f"but {len(idf)} idf weights"
            )
        self.spec = spec
        self.vocabulary = vocabulary
        self.idf = idf.astype(np.float32)
        self._counter = CountVectorizer(
            analyzer=spec.analyzer,
            ngram_range=spec.ngram_range,
            vocabulary={term: i for i, term in enumerate(vocabulary)},
            dtype=np.float32,
        )
        self._analyse = self._counter.build_analyzer()
        self._ids = self._counter.vocabulary
        self._word_terms: dict[str, np.ndarray] = {}
        """Per lower-cased word, its char_wb n-grams' feature ids (`_word_ids`)."""

    def weighted_rows(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`transform(texts)`'s non-zero entries as (rows, feature ids, TF-IDF values),
        sorted by row, then id. Only the n-grams are cut per text in Python; counting,
        weighting and normalising run once for the batch in numpy (scipy's per-call
        overhead was most of a message's n-gram time)."""
        per_text = [self._known_ids(text) for text in texts]
        lengths = [len(ids) for ids in per_text]
        if not any(lengths):
            empty = np.zeros(0, np.int64)
            return empty, empty, np.zeros(0, np.float32)
        width = len(self.vocabulary)
        keys = np.concatenate(per_text)
        if len(texts) > 1:
            keys += np.repeat(np.arange(len(texts), dtype=np.int64), lengths) * width
        keys.sort()
        starts = run_starts(keys)
        tf = np.diff(starts, append=len(keys)).astype(np.float32)
        rows, ids = np.divmod(keys[starts], width)
        values = (np.log(tf) + 1.0) * self.idf[ids]
        squares = np.bincount(rows, weights=values * values, minlength=len(texts))
        return rows, ids, (values / np.sqrt(squares)[rows]).astype(np.float32)

    def _known_ids(self, text: str) -> np.ndarray:
        """The feature id of each of the text's n-grams in the vocabulary, repeats kept."""
        if self.spec.analyzer == "char_wb":
            words = [self._word_ids(word) for word in text.lower().split()]
            return np.concatenate(words) if words else np.zeros(0, np.int64)
        return self._vocabulary_ids(self._analyse(text))

    def _word_ids(self, word: str) -> np.ndarray:
        """One word's char_wb n-gram ids, remembered: char_wb never crosses a word's edge,
        so a message's n-grams are its words' put together, and customers reuse a small
        vocabulary. Cutting each word into its 2-5-grams and looking each one up was most
        of the n-gram model's time."""
        ids = self._word_terms.get(word)
        if ids is None:
            ids = self._vocabulary_ids(self._analyse(word))
            if len(self._word_terms) >= WORD_MEMORY:
                self._word_terms.clear()  # forget typos and one-offs; common words return
            self._word_terms[word] = ids
        return ids

    def _vocabulary_ids(self, grams: list[str]) -> np.ndarray:
        """The ids of those n-grams that are in the vocabulary, in order, repeats kept."""
        known = [i for i in map(self._ids.get, grams) if i is not None]
        return np.array(known, dtype=np.int64)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        counts = self._counter.transform(texts).tocsr()
        counts.data = np.log(counts.data) + 1.0
        weighted = counts.multiply(self.idf[None, :]).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ weighted, dtype=np.float32)


class LexicalModel:
    """Logits over the classifier's labels from the n-gram blocks of a message."""

    def __init__(self, blocks: list[NgramBlock], weight: np.ndarray, bias: np.ndarray):
        width = sum(len(block.vocabulary) for block in blocks)
        if weight.ndim != 2 or weight.shape[1] != width or bias.shape != (weight.shape[0],):
            raise ModelError(
                f"lexical model: weights of shape {weight.shape} do not fit {width} features"
            )
        self.blocks = blocks
        self.weight_t = np.ascontiguousarray(weight.T, dtype=np.float32)
        self.bias = bias.astype(np.float32)

    @property
    def n_labels(self) -> int:
        return len(self.bias)

    def features(self, texts: list[str]) -> sp.csr_matrix:
        return sp.hstack([block.transform(texts) for block in self.blocks], format="csr")

    def logits(self, texts: list[str]) -> np.ndarray:
        """`features(texts) @ weight.T + bias` without building sparse matrices: a message
        has a few hundred n-grams, so gathering their weight rows is cheaper."""
        out = np.tile(self.bias, (len(texts), 1))
        offset = 0
        for block in self.blocks:
            rows, ids, values = block.weighted_rows(texts)
            weights = self.weight_t[ids + offset]
            if len(texts) == 1:  # the lone customer's path: one product, no segments
                out[0] += values @ weights
            elif len(rows):
                starts = run_starts(rows)
                out[rows[starts]] += np.add.reduceat(weights * values[:, None], starts, axis=0)
            offset += len(block.vocabulary)
        return out

    def save(self, model_dir: Path) -> list[str]:
        tensors = {"weight": self.weight_t.T.copy(), "bias": self.bias}
        tensors.update({f"idf_{i}": block.idf for i, block in enumerate(self.blocks)})
        (model_dir / LEXICAL_WEIGHTS_FILE).parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(model_dir / LEXICAL_WEIGHTS_FILE))
        vocab = [
            {
                "analyzer": b.spec.analyzer,
                "ngram_range": list(b.spec.ngram_range),
                "vocabulary": b.vocabulary,
            }
            for b in self.blocks
        ]
        (model_dir / LEXICAL_VOCAB_FILE).write_text(
            json.dumps(vocab, ensure_ascii=False), encoding="utf-8"
        )
        return [LEXICAL_WEIGHTS_FILE, LEXICAL_VOCAB_FILE]

    @classmethod
    def load(cls, model_dir: Path) -> LexicalModel:
        tensors = load_file(str(model_dir / LEXICAL_WEIGHTS_FILE))
        try:
            entries = json.loads((model_dir / LEXICAL_VOCAB_FILE).read_text(encoding="utf-8"))
            blocks = [
                NgramBlock(
                    NgramSpec(entry["analyzer"], tuple(entry["ngram_range"])),
                    entry["vocabulary"],
                    tensors[f"idf_{i}"],
                )
                for i, entry in enumerate(entries)
            ]
            return cls(blocks, tensors["weight"], tensors["bias"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{model_dir / LEXICAL_VOCAB_FILE}: malformed ({exc})") from exc


def run_starts(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values begins in a sorted, non-empty 1-d array."""
    changes = np.empty(len(ordered), dtype=bool)
    changes[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=changes[1:])
    return np.flatnonzero(changes)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def fuse(head_logits: np.ndarray, lexical_logits: np.ndarray | None, share: float) -> np.ndarray:
    """Weighted sum of the two models' log-probabilities; `share` is the lexical model's."""
    fused = log_softmax(head_logits)
    if lexical_logits is None or share == 0:
        return fused
    return (1 - share) * fused + share * log_softmax(lexical_logits)
