"""Cron expressions: what each field matches, the errors that say how to write them, the other dialects."""

import shutil
import subprocess

import pytest

from llm_engineering.domain.cron import CronError, parse_cron, to_eventbridge_cron, to_on_calendar


@pytest.mark.parametrize(
    ("expression", "field", "values"),
    [
        ("0 3 * * *", "hours", {3}),
        ("*/20 * * * *", "minutes", {0, 20, 40}),
        ("5/20 * * * *", "minutes", {5, 25, 45}),
        ("0 8-10,14 * * *", "hours", {8, 9, 10, 14}),
        ("0 0-12/6 * * *", "hours", {0, 6, 12}),
        ("0 0 * jan,JUL *", "months", {1, 7}),
        ("0 0 * * 7", "weekdays", {0}),
        ("0 0 * * sun-tue", "weekdays", {0, 1, 2}),
        ("0 0 1,15 * *", "days", {1, 15}),
    ],
)
def test_fields_match_what_cron_matches(expression: str, field: str, values: set[int]) -> None:
    assert getattr(parse_cron(expression), field) == values


def test_extra_spaces_are_normalised() -> None:
    assert parse_cron("  0   3 * *  * ").expression == "0 3 * * *"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 3 * *", "has 4 fields; it needs 5"),
        ("@daily", "has 1 fields; it needs 5"),
        ("0 3 * * * 2030", "has 6 fields"),
        ("61 3 * * *", "minute 61 is outside 0-59"),
        ("0 24 * * *", "hour 24 is outside 0-23"),
        ("0 3 0 * *", "day of month 0 is outside 1-31"),
        ("0 3 * 13 *", "month 13 is outside 1-12"),
        ("0 3 * * 8", "day of week 8 is outside 0-7"),
        ("0 3 * * monday", "takes numbers or a name (sun, mon"),
        ("0 3 * foo *", "takes numbers or a name (jan, feb"),
        ("x 3 * * *", "minute field has 'x'; it takes numbers,"),
        ("*/0 3 * * *", "step must be at least 1"),
        ("0 18-8 * * *", "range '18-8' runs backwards"),
    ],
)
def test_malformed_expressions_say_how_to_write_them(expression: str, message: str) -> None:
    with pytest.raises(CronError) as error:
        parse_cron(expression)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("expression", "on_calendar"),
    [
        ("0 3 * * *", "*-*-* 03:00:00"),
        ("30 2 * * 1", "Mon *-*-* 02:30:00"),
        ("0 4 * * 0,6", "Sat,Sun *-*-* 04:00:00"),
        ("0 0 1 */3 *", "*-01,04,07,10-01 00:00:00"),
        ("*/30 9-10 * * *", "*-*-* 09,10:00,30:00"),
        ("0 0 * * 0-7", "*-*-* 00:00:00"),
    ],
)
def test_systemd_calendar_fires_when_cron_does(expression: str, on_calendar: str) -> None:
    assert to_on_calendar(parse_cron(expression)) == on_calendar


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("expression", ["0 3 * * *", "*/15 8-18 * * mon-fri", "0 0 1,15 jan,jul *"])
def test_systemd_reads_the_calendar(expression: str) -> None:
    on_calendar = to_on_calendar(parse_cron(expression))
    result = subprocess.run(["systemd-analyze", "calendar", on_calendar], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("expression", "eventbridge"),
    [
        ("0 3 * * *", "0 3 * * ? *"),
        ("30 2 * * 1-5", "30 2 ? * MON,TUE,WED,THU,FRI *"),
        ("0 0 1 * *", "0 0 1 * ? *"),
        ("0 12 * 6 7", "0 12 ? 6 SUN *"),
    ],
)
def test_eventbridge_gets_six_fields_with_one_day_field_open(expression: str, eventbridge: str) -> None:
    assert to_eventbridge_cron(parse_cron(expression)) == eventbridge


def test_both_day_fields_are_refused_where_they_would_mean_something_else() -> None:
    cron = parse_cron("0 3 1 * mon")  # cron: the 1st of the month and every Monday
    with pytest.raises(CronError, match="--via cron"):
        to_on_calendar(cron)
    with pytest.raises(CronError, match="two schedules"):
        to_eventbridge_cron(cron)
