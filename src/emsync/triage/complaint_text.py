"""Chief-complaint text model: character n-grams of the normalised complaint, TF-IDF, and a
multinomial logistic regression to KTAS probabilities. Pure (standard library and numpy) at
prediction time; `fit_text_model` uses scikit-learn only to fit the regression.

Complaints are short clinical phrases with shorthand, misspellings and word-order variants
("abd pain", "pain, abdominal", "abdomen pain"); character n-grams inside words (3-5, padded at
word edges, after `features.complaint_tokens`' synonym expansion) let such variants share
evidence where whole words cannot. The model's probabilities enter the acuity model as five
features, stacked out of fold so that the trees never see a text score fitted on the same row.
Saved as JSON (vocabulary, idf, coefficients): nothing is unpickled.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from emsync.triage.features import complaint_tokens

NGRAMS = (3, 4, 5)
MIN_DF = 2
C = 2.0  # inverse regularisation, fixed a priori (no tuning on evaluation folds)

FloatArray = npt.NDArray[np.float64]


def normalised(text: str) -> str:
    return " ".join(complaint_tokens(text)) or text.strip().lower()


def char_ngrams(text: str) -> list[str]:
    """Character n-grams of each word, padded with a space at both edges."""
    grams: list[str] = []
    for word in normalised(text).split():
        padded = f" {word} "
        for n in NGRAMS:
            grams.extend(padded[i : i + n] for i in range(max(len(padded) - n + 1, 1)))
    return grams


@dataclass(frozen=True, slots=True)
class TextModel:
    vocabulary: Mapping[str, int]
    idf: FloatArray
    coef: FloatArray  # (5, len(vocabulary))
    intercept: FloatArray  # (5,)

    def transform(self, texts: Sequence[str]) -> FloatArray:
        """L2-normalised sublinear TF-IDF rows (dense: the vocabulary is a few thousand)."""
        x = np.zeros((len(texts), len(self.vocabulary)))
        for row, text in enumerate(texts):
            for gram, count in Counter(char_ngrams(text)).items():
                j = self.vocabulary.get(gram)
                if j is not None:
                    x[row, j] = (1.0 + math.log(count)) * self.idf[j]
            norm = np.linalg.norm(x[row])
            if norm > 0:
                x[row] /= norm
        return x

    def probabilities(self, texts: Sequence[str]) -> FloatArray:
        z = self.transform(texts) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

    def to_json(self) -> dict[str, Any]:
        order = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {
            "ngrams": list(NGRAMS),
            "vocabulary": order,
            "idf": [round(float(v), 6) for v in self.idf],
            "coef": [[round(float(v), 6) for v in row] for row in self.coef],
            "intercept": [float(v) for v in self.intercept],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TextModel:
        if list(data["ngrams"]) != list(NGRAMS):
            raise ValueError("text model n-grams do not match this code version")
        return cls(
            vocabulary={g: i for i, g in enumerate(data["vocabulary"])},
            idf=np.asarray(data["idf"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=np.asarray(data["intercept"], dtype=np.float64),
        )


def fit_text_model(texts: Sequence[str], labels: npt.NDArray[np.int64]) -> TextModel:
    """Vocabulary and idf from `texts` only; labels are KTAS levels 0-4."""
    from sklearn.linear_model import LogisticRegression

    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(char_ngrams(text)))
    kept = sorted(g for g, n in df.items() if n >= MIN_DF)
    vocabulary = {g: i for i, g in enumerate(kept)}
    n = len(texts)
    idf = np.asarray([math.log((1 + n) / (1 + df[g])) + 1.0 for g in kept], dtype=np.float64)
    model = TextModel(vocabulary, idf, np.zeros((5, len(kept))), np.zeros(5))
    x = model.transform(texts)
    lr = LogisticRegression(C=C, max_iter=2000)
    lr.fit(x, labels)
    coef = np.zeros((5, len(kept)))
    intercept = np.full(5, -30.0)  # a level absent from the training rows stays improbable
    coef[lr.classes_] = lr.coef_
    intercept[lr.classes_] = lr.intercept_
    return TextModel(vocabulary, idf, coef, intercept)
