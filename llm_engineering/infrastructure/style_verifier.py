"""An authorship verifier from character n-grams of the text and of its topic-masked form, with scikit-learn.

Character n-grams of the text catch spelling, vocabulary and punctuation habits. The same n-grams taken
after `mask_content_words` (Stamatatos's text distortion: content words become runs of "*") keep only
function words, punctuation and the lengths of words and sentences, so they say how a text is written
whatever it is about. That matters here: the author, the base model and the contestants all answer
the same questions, and a different writer on the author's topics must not pass for her.

Probabilities are calibrated on held-out folds (Platt scaling with balanced classes), so 0.5 is where an
unseen text of the author's and an unseen text of the others' are equally likely. Uncalibrated, a
model fitted on every text is more sure of its training texts than of new ones, and a 0.5 cut-off
turns away much of the author's own unseen writing.
"""

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.stylometry import mask_content_words

MIN_TEXTS_PER_SIDE = 2
AUTHOR, OTHER = 1, 0


class CharNgramVerifier:
    """Logistic regression on raw and topic-masked character n-grams, calibrated on held-out folds.

    `fit` returns a new fitted verifier and leaves the one it is called on untouched, so an unfitted
    verifier serves as the factory for every fold of a cross-fitting.
    """

    def __init__(
        self, min_df: int = 2, regularization: float = 1.0, random_state: int = 0, calibration_folds: int = 3
    ) -> None:
        self.min_df = min_df
        self.regularization = regularization
        """Inverse strength of the L2 penalty (scikit-learn's C); smaller trusts the data less."""
        self.random_state = random_state
        self.calibration_folds = calibration_folds
        """Folds whose held-out scores calibrate the probabilities (fewer when a side has fewer texts)."""
        self._model: Pipeline | None = None
        self._calibration: LogisticRegression | None = None

    def fit(self, author_texts: Sequence[str], other_texts: Sequence[str]) -> "CharNgramVerifier":
        """A new verifier trained to tell `author_texts` from `other_texts`."""
        if len(author_texts) < MIN_TEXTS_PER_SIDE or len(other_texts) < MIN_TEXTS_PER_SIDE:
            raise TwinError(
                f"An authorship verifier needs at least {MIN_TEXTS_PER_SIDE} texts on each side, got "
                f"{len(author_texts)} by the author and {len(other_texts)} others; hold out more passages."
            )
        if self.calibration_folds < 2:
            raise TwinError(f"Calibration needs at least 2 folds, got {self.calibration_folds}.")
        texts = [*author_texts, *other_texts]
        labels = np.array([AUTHOR] * len(author_texts) + [OTHER] * len(other_texts))
        folds = min(self.calibration_folds, len(author_texts), len(other_texts))
        split = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
        held_out = cross_val_predict(self._pipeline(), texts, labels, cv=split, method="decision_function")
        fitted = CharNgramVerifier(
            self.min_df, self.regularization, self.random_state, self.calibration_folds
        )
        fitted._calibration = LogisticRegression(class_weight="balanced").fit(held_out[:, None], labels)
        fitted._model = self._pipeline().fit(texts, labels)
        return fitted

    def author_probability(self, texts: Sequence[str]) -> list[float]:
        """Per text, the calibrated probability the author wrote it."""
        if self._model is None or self._calibration is None:
            raise TwinError("This verifier has not been fitted; call fit(author_texts, other_texts) first.")
        if not texts:
            return []
        scores = self._model.decision_function(list(texts))
        column = list(self._calibration.classes_).index(AUTHOR)
        return [float(row[column]) for row in self._calibration.predict_proba(scores[:, None])]

    def _pipeline(self) -> Pipeline:
        # Each block is normalised to unit length per text, so the masked view weighs as much as the raw one.
        features = FeatureUnion(
            [
                (
                    "char_ngrams",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=self.min_df
                    ),
                ),
                (
                    "masked_char_ngrams",
                    TfidfVectorizer(
                        analyzer="char",
                        preprocessor=mask_content_words,
                        ngram_range=(1, 3),
                        sublinear_tf=True,
                        min_df=self.min_df,
                    ),
                ),
            ]
        )
        classifier = LogisticRegression(C=self.regularization, class_weight="balanced", max_iter=2000)
        return Pipeline([("features", features), ("classifier", classifier)])
