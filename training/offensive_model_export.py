"""Export alt-profanity-check's trained model into the weights supportbot serves from.

alt-profanity-check (MIT) ships a TF-IDF + linear SVM, calibrated with five sigmoid
folds, as joblib pickles that pin one scikit-learn version. Its prediction is linear
algebra over a 15k-word vocabulary, so this script writes the numbers out once
(vocabulary JSON + safetensors) and `bot.moderation.offensive` scores with them: no
pickle on the serving path, no scikit-learn pin, and ~20 µs instead of ~6 ms a message.

Run: python -m training.offensive_model_export  (needs `pip install alt-profanity-check`)
"""

from __future__ import annotations

import argparse
import json
from importlib import metadata
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parents[1] / "bot" / "moderation" / "data"


def export(out: Path = OUT) -> dict:
    """Write `offensive.safetensors` and `offensive_vocabulary.json`; return the metadata."""
    from profanity_check.profanity_check import model, vectorizer

    params = vectorizer.get_params()
    assert params["ngram_range"] == (1, 1) and params["norm"] == "l2", params
    assert not params["sublinear_tf"] and params["lowercase"], params
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    folds = model.calibrated_classifiers_
    tensors = {
        "idf": vectorizer.idf_.astype(np.float32),
        "coef": np.stack([f.estimator.coef_[0] for f in folds]).astype(np.float32),
        "intercept": np.array([f.estimator.intercept_[0] for f in folds], dtype=np.float32),
        "calibration_a": np.array([f.calibrators[0].a_ for f in folds], dtype=np.float32),
        "calibration_b": np.array([f.calibrators[0].b_ for f in folds], dtype=np.float32),
    }
    info = {
        "source": "alt-profanity-check",
        "source_version": metadata.version("alt-profanity-check"),
        "licence": "MIT",
        "token_pattern": params["token_pattern"],
        "vocabulary_size": len(vocabulary),
        "folds": len(folds),
    }
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "offensive.safetensors"), metadata={"source": info["source"]})
    payload = {**info, "vocabulary": vocabulary}
    (out / "offensive_vocabulary.json").write_text(json.dumps(payload), encoding="utf-8")
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    print(json.dumps(export(parser.parse_args().out), indent=2))


if __name__ == "__main__":
    main()
