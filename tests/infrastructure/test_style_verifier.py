import pytest

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.style_verifier import CharNgramVerifier

AUTHOR = [
    "I did not choose the chunk size. The tutorial I was following chose it, and I never asked why.",
    "I write the questions by hand. It is slow, and it is the part of the work I would keep.",
    "I split on headings first. Then I cut what is still too long, and I keep the heading with it.",
    "I added a reranker this spring. It did nothing for questions whose answer was never retrieved.",
]
OTHER = [
    "Here are some tips to help you choose the right chunk size for your application!",
    "It is important to consider your use case when you design your evaluation dataset.",
    "You can improve your retrieval results by adding a reranker to your pipeline.",
    "Make sure you test your pipeline with a variety of inputs to ensure robust behavior.",
]


def test_fit_returns_a_new_verifier_and_leaves_the_factory_unfitted() -> None:
    factory = CharNgramVerifier()
    fitted = factory.fit(AUTHOR, OTHER)
    assert fitted is not factory
    with pytest.raises(TwinError, match="not been fitted"):
        factory.author_probability(AUTHOR)


def test_probabilities_are_per_text_in_order_and_lean_the_right_way() -> None:
    fitted = CharNgramVerifier(min_df=1).fit(AUTHOR, OTHER)
    author_like = "I wrote the tests first. I did not trust the numbers until I had read every failure."
    other_like = "Here are some best practices you can follow to ensure your pipeline is reliable!"
    probabilities = fitted.author_probability([author_like, other_like])
    assert len(probabilities) == 2
    assert all(0 <= p <= 1 for p in probabilities)
    assert probabilities[0] > 0.5 > probabilities[1]
    assert fitted.author_probability([]) == []


@pytest.mark.parametrize(("author", "other"), [(AUTHOR[:1], OTHER), (AUTHOR, OTHER[:1]), ([], [])])
def test_fewer_than_two_texts_on_a_side_are_refused(author: list[str], other: list[str]) -> None:
    with pytest.raises(TwinError, match="at least 2 texts on each side"):
        CharNgramVerifier().fit(author, other)


def test_a_side_with_fewer_texts_than_calibration_folds_still_fits() -> None:
    fitted = CharNgramVerifier(calibration_folds=3).fit(AUTHOR[:2], OTHER)
    assert len(fitted.author_probability(AUTHOR[2:])) == 2


def test_fewer_than_two_calibration_folds_are_refused() -> None:
    with pytest.raises(TwinError, match="at least 2 folds"):
        CharNgramVerifier(calibration_folds=1).fit(AUTHOR, OTHER)
