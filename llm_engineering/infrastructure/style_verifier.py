"""An authorship verifier from character n-grams and function words, with scikit-learn.

Character n-grams catch spelling, morphology and punctuation habits; function words catch how
sentences are built. Both are largely independent of topic, which is what separates style from
subject matter when the author and the other texts answer the same questions.
"""

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.stylometry import FUNCTION_WORDS

MIN_TEXTS_PER_SIDE = 2
AUTHOR, OTHER = 1, 0


class CharNgramVerifier:
    """Logistic regression on character 2- to 4-grams and function-word rates; one instance per fitted model.

    `fit` returns a new fitted verifier and leaves the one it is called on untouched, so an unfitted
    verifier serves as the factory for every fold of a cross-fitting.
    """

    def __init__(self, min_df: int = 2, regularization: float = 1.0, random_state: int = 0) -> None:
        self.min_df = min_df
        self.regularization = regularization
        """Inverse strength of the L2 penalty (scikit-learn's C); smaller trusts the data less."""
        self.random_state = random_state
        self._model: Pipeline | None = None

    def fit(self, author_texts: Sequence[str], other_texts: Sequence[str]) -> "CharNgramVerifier":
        """A new verifier trained to tell `author_texts` from `other_texts`."""
        if len(author_texts) < MIN_TEXTS_PER_SIDE or len(other_texts) < MIN_TEXTS_PER_SIDE:
            raise TwinError(
                f"An authorship verifier needs at least {MIN_TEXTS_PER_SIDE} texts on each side, got "
                f"{len(author_texts)} by the author and {len(other_texts)} others; hold out more passages."
            )
        fitted = CharNgramVerifier(self.min_df, self.regularization, self.random_state)
        fitted._model = self._pipeline().fit(
            [*author_texts, *other_texts], [AUTHOR] * len(author_texts) + [OTHER] * len(other_texts)
        )
        return fitted

    def author_probability(self, texts: Sequence[str]) -> list[float]:
        """Per text, the probability the author wrote it."""
        if self._model is None:
            raise TwinError("This verifier has not been fitted; call fit(author_texts, other_texts) first.")
        if not texts:
            return []
        column = list(self._model.classes_).index(AUTHOR)
        return [float(row[column]) for row in self._model.predict_proba(list(texts))]

    def _pipeline(self) -> Pipeline:
        # Each block is normalised to unit length per text, so the few function words weigh as much
        # as the thousands of n-grams; single-letter words ("I", "a") need the wider token pattern.
        features = FeatureUnion(
            [
                (
                    "char_ngrams",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=self.min_df
                    ),
                ),
                (
                    "function_words",
                    TfidfVectorizer(
                        vocabulary=FUNCTION_WORDS, token_pattern=r"(?u)\b\w+\b", sublinear_tf=True
                    ),
                ),
            ]
        )
        classifier = LogisticRegression(
            C=self.regularization, class_weight="balanced", max_iter=2000, random_state=self.random_state
        )
        return Pipeline([("features", features), ("classifier", classifier)])
