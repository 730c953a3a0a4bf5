"""Five-field cron expressions: checked once, then written in the forms systemd and Amazon EventBridge read.

A schedule is given as cron everywhere (`poe schedule-continuous-training --cron "0 3 * * *"`); each place
that runs it reads another dialect. systemd timers take `OnCalendar=` and match the day of the month *and*
the day of the week where cron matches either; EventBridge (SageMaker's scheduler) wants six fields with `?`
in one day field and numbers Sunday 1, not 0. So the expression is parsed into sets of values once and each
dialect is written from those sets, refusing what it cannot express instead of running at other times.
"""

from dataclasses import dataclass

from llm_engineering.domain.exceptions import TwinError

# Name, first and last value of each field, in cron's order.
FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
NAMES = {
    3: {name: number for number, name in enumerate(MONTHS, 1)},
    4: {n: i for i, n in enumerate(WEEKDAYS)},
}
EXAMPLE = "e.g. '0 3 * * *' (03:00 every day) or '30 2 * * 1' (02:30 on Mondays)"


class CronError(TwinError):
    """A cron expression is malformed, or a scheduler cannot express it."""


@dataclass(frozen=True)
class Cron:
    """A parsed expression: the values each field matches; Sunday is 0 (cron's 7 folds into it)."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    # Cron's rule: when both day fields are restricted (neither starts with `*`), a day matching either runs.
    days_restricted: bool
    weekdays_restricted: bool


def parse_cron(expression: str) -> Cron:
    """Check a five-field cron expression and read the values each field matches.

    >>> cron = parse_cron("*/20 3 * * mon-fri")
    >>> sorted(cron.minutes), sorted(cron.hours), sorted(cron.weekdays)
    ([0, 20, 40], [3], [1, 2, 3, 4, 5])
    >>> parse_cron("0 3 * *")
    Traceback (most recent call last):
    ...
    llm_engineering.domain.cron.CronError: The cron expression '0 3 * *' has 4 fields; it needs 5 ...
    """
    fields = expression.split()
    if len(fields) != len(FIELDS):
        raise CronError(
            f"The cron expression {expression!r} has {len(fields)} fields; it needs 5 (minute hour "
            f"day-of-month month day-of-week), {EXAMPLE}."
        )
    minutes, hours, days, months, weekdays = (
        parse_field(text, position) for position, text in enumerate(fields)
    )
    return Cron(
        expression=" ".join(fields),
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(day % 7 for day in weekdays),
        days_restricted=not fields[2].startswith("*"),
        weekdays_restricted=not fields[4].startswith("*"),
    )


def parse_field(text: str, position: int) -> frozenset[int]:
    """The values one field matches: lists of `*`, `N`, `N-M`, each with an optional `/STEP`."""
    name, first, last = FIELDS[position]
    matched: set[int] = set()
    for item in text.lower().split(","):
        base, _, step_text = item.partition("/")
        if base == "*":
            start, end = first, last
        else:
            low, _, high = base.partition("-")
            start = field_value(low, position)
            # `5/15` means from 5 to the end of the range, every 15.
            end = field_value(high, position) if high else (last if step_text else start)
        step = field_value(step_text, position, is_step=True) if step_text else 1
        if start > end:
            raise CronError(f"The {name} range {base!r} runs backwards; write it low-high, {EXAMPLE}.")
        matched.update(range(start, end + 1, step))
    return frozenset(matched)


def field_value(text: str, position: int, is_step: bool = False) -> int:
    """One number (or month or weekday name) of a field, checked against the field's range."""
    name, first, last = FIELDS[position]
    names = {} if is_step else NAMES.get(position, {})
    if text in names:
        return names[text]
    if not text.isdigit():
        choices = f" or a name ({', '.join(names)})" if names else ""
        raise CronError(f"The {name} field has {text!r}; it takes numbers{choices}, {EXAMPLE}.")
    value = int(text)
    if is_step and value < 1:
        raise CronError(f"The {name} step must be at least 1, not {value}.")
    if not is_step and not first <= value <= last:
        raise CronError(f"The {name} {value} is outside {first}-{last}, {EXAMPLE}.")
    return value


def listed(values: frozenset[int], first: int, last: int, width: int = 1) -> str:
    """`*` when a field matches its whole range, else its values joined by commas."""
    if values == frozenset(range(first, last + 1)):
        return "*"
    return ",".join(f"{value:0{width}d}" for value in sorted(values))


def to_on_calendar(cron: Cron) -> str:
    """The systemd `OnCalendar=` value that fires when the cron expression does.

    >>> to_on_calendar(parse_cron("0 3 * * *"))
    '*-*-* 03:00:00'
    >>> to_on_calendar(parse_cron("*/15 8-9 * 1,7 mon,fri"))
    'Mon,Fri *-01,07-* 08,09:00,15,30,45:00'
    """
    if cron.days_restricted and cron.weekdays_restricted:
        raise CronError(
            f"{cron.expression!r} names both a day of the month and a day of the week: cron runs on either, "
            "a systemd timer only on days that are both. Install it in the crontab (--via cron), or keep "
            "one of the two day fields `*`."
        )
    weekdays = ""
    if cron.weekdays_restricted and len(cron.weekdays) < 7:
        # Monday first, as systemd writes them.
        weekdays = ",".join(WEEKDAYS[day].title() for day in sorted(cron.weekdays, key=lambda d: (d - 1) % 7))
        weekdays += " "
    date = f"*-{listed(cron.months, 1, 12, 2)}-{listed(cron.days, 1, 31, 2)}"
    return f"{weekdays}{date} {listed(cron.hours, 0, 23, 2)}:{listed(cron.minutes, 0, 59, 2)}:00"


def to_eventbridge_cron(cron: Cron) -> str:
    """The six-field form Amazon EventBridge Scheduler reads (SageMaker's schedules): `?` in one day field.

    >>> to_eventbridge_cron(parse_cron("0 3 * * *"))
    '0 3 * * ? *'
    >>> to_eventbridge_cron(parse_cron("30 2 * * sun,wed"))
    '30 2 ? * SUN,WED *'
    """
    if cron.days_restricted and cron.weekdays_restricted:
        raise CronError(
            f"{cron.expression!r} names both a day of the month and a day of the week; EventBridge needs "
            "one of them to be `*`. Create two schedules, one per day field."
        )
    days, weekdays = listed(cron.days, 1, 31), "?"
    if cron.weekdays_restricted and len(cron.weekdays) < 7:
        days, weekdays = "?", ",".join(WEEKDAYS[day].upper() for day in sorted(cron.weekdays))
    minutes, hours, months = (
        listed(cron.minutes, 0, 59),
        listed(cron.hours, 0, 23),
        listed(cron.months, 1, 12),
    )
    return f"{minutes} {hours} {days} {months} {weekdays} *"
