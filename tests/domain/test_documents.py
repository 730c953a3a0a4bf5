import pytest

from llm_engineering.domain.documents import UserDocument, split_full_name, utc_now


@pytest.mark.parametrize(
    ("full_name", "expected"),
    [
        ("Iris Calder", ("Iris", "Calder")),
        ("  Ada   King Lovelace ", ("Ada King", "Lovelace")),
        ("Plato", ("Plato", "")),
    ],
)
def test_split_full_name(full_name: str, expected: tuple[str, str]) -> None:
    assert split_full_name(full_name) == expected


def test_blank_full_name_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match="Iris Calder"):
        split_full_name("   ")


def test_full_name_round_trips_through_split() -> None:
    user = UserDocument(first_name="Ada King", last_name="Lovelace")
    assert split_full_name(user.full_name) == ("Ada King", "Lovelace")


def test_timestamps_keep_milliseconds_like_bson() -> None:
    assert utc_now().microsecond % 1000 == 0
    assert utc_now().tzinfo is not None
