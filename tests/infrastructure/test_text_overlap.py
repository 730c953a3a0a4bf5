import io

import pytest
from matplotlib.image import imread

from llm_engineering.domain.evaluation import ModelScores
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.plots import comparison_plot
from llm_engineering.infrastructure.text_overlap import bleu, reference_metrics, rouge_l

REFERENCE = "the cat sat on the mat"


def test_rouge_l_of_identical_texts_is_one() -> None:
    assert rouge_l([REFERENCE, "retries need a limit"], [REFERENCE, "retries need a limit"]) == 1.0


def test_rouge_l_of_disjoint_texts_is_zero() -> None:
    assert rouge_l(["dogs bark loudly"], [REFERENCE]) == 0.0


def test_rouge_l_of_a_partial_match_by_hand() -> None:
    # Longest common subsequence "the cat on mat": 4 of 7 predicted and 6 reference tokens, so
    # F = 2 * 4 / (7 + 6) = 8/13 ("sitting" stems to "sit", which still differs from "sat").
    assert rouge_l(["the cat was sitting on a mat"], [REFERENCE]) == pytest.approx(8 / 13)


def test_rouge_l_stems_words_and_averages_over_pairs() -> None:
    # "cats running" stems to "cat run", the same as "cat runs": 1.0; averaged with a disjoint pair: 0.5.
    assert rouge_l(["cats running", "dogs bark"], ["cat runs", REFERENCE]) == pytest.approx(0.5)


def test_bleu_of_identical_texts_is_one() -> None:
    assert bleu([REFERENCE, "retries need a limit here"], [REFERENCE, "retries need a limit here"]) == 1.0


def test_bleu_matches_a_known_sacrebleu_value() -> None:
    # n-gram precisions 5/7, 3/6, 2/5, 1/4 and no brevity penalty: (5/7 * 1/2 * 2/5 * 1/4) ** (1/4) =
    # (1/28) ** (1/4), which sacrebleu reports as BLEU = 43.47.
    assert bleu(["the cat sat on a mat today"], [REFERENCE]) == pytest.approx((1 / 28) ** 0.25)


def test_bleu_of_disjoint_texts_is_zero() -> None:
    assert bleu(["dogs bark loudly at night"], [REFERENCE]) == 0.0


@pytest.mark.parametrize("metric", [rouge_l, bleu])
def test_metrics_refuse_mismatched_pairs(metric: object) -> None:
    with pytest.raises(ValueError, match="one reference per prediction"):
        metric(["a"], ["a", "b"])  # type: ignore[operator]
    with pytest.raises(ValueError, match="at least one pair"):
        metric([], [])  # type: ignore[operator]


def model_scores(model: str, accuracy: float) -> ModelScores:
    return ModelScores(
        model=model,
        judge_accuracy=accuracy,
        judge_style=2.0,
        win_rate=0.6 if model == "candidate" else None,
        reference={"rouge_l": 0.31, "bleu": 0.12},
        answer_words=42.0,
        samples=12,
        judged=11,
    )


def test_comparison_plot_is_a_png_image() -> None:
    png = comparison_plot([model_scores("candidate", 2.5), model_scores("production", 2.0)])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = imread(io.BytesIO(png), format="png")
    assert pixels.shape[0] >= 300 and pixels.shape[1] >= 600
    # Not a blank canvas: bars and text put several distinct colours on it.
    assert len({tuple(p) for p in pixels.reshape(-1, pixels.shape[2])[::97]}) > 5


def test_comparison_plot_needs_a_model() -> None:
    with pytest.raises(ValueError, match="at least one model"):
        comparison_plot([])


def test_an_evaluation_config_picks_metrics_by_name_and_unknown_names_are_refused() -> None:
    assert list(reference_metrics(["bleu"])) == ["bleu"]
    assert reference_metrics(["rouge_l", "bleu"])["rouge_l"] is rouge_l
    with pytest.raises(TwinError, match=r"Unknown reference metric.*meteor.*known: rouge_l, bleu"):
        reference_metrics(["bleu", "meteor"])
