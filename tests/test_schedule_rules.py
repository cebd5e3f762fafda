"""The scheduling rules on their own: slots and recurrences across DST transitions in
zones with 1-hour, 30-minute and no shifts (property-based), pauses, the evergreen pick."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autopostr.errors import InvalidInput
from autopostr.schedule import evergreen, recurrence, slots
from autopostr.schedule.pauses import Blackouts, Window

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]

# Days around every zone's transitions in 2026-2027 are within this span.
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))
times = st.times().map(lambda t: t.replace(second=0, microsecond=0))
zones = st.sampled_from(ZONES)


def week_of(times_per_day: list[list[time]]) -> slots.WeeklySlots:
    return slots.WeeklySlots(tuple(tuple(sorted(set(day))) for day in times_per_day))


weekly = (
    st.lists(st.lists(times, max_size=4), min_size=7, max_size=7)
    .filter(lambda d: any(d))
    .map(week_of)
)

# The transitions the tests must cross: (zone, local date of the change).
TRANSITIONS = [
    ("Europe/Berlin", date(2026, 3, 29)),
    ("Europe/Berlin", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),
    ("Australia/Lord_Howe", date(2026, 10, 4)),
]


def exists(naive: datetime, tz: ZoneInfo) -> bool:
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def check_instant(naive: datetime, at: datetime, tz: ZoneInfo) -> None:
    """The DST rule: an existing wall time is kept (first occurrence when repeated); a
    skipped one becomes the first instant after the gap."""
    local = at.astimezone(tz).replace(tzinfo=None)
    if exists(naive, tz):
        assert local == naive
        # The first occurrence: one minute earlier in UTC is not the same wall time.
        earlier = (at - timedelta(hours=1)).astimezone(tz).replace(tzinfo=None)
        assert earlier != naive
    else:
        assert local > naive
        before = (at - timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None)
        assert before < naive  # the minute before the instant is still before the gap


@settings(max_examples=300, deadline=None)
@given(
    naive=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)), zone=zones
)
def test_every_wall_time_maps_to_a_valid_instant(naive: datetime, zone: str) -> None:
    naive = naive.replace(second=0, microsecond=0)
    tz = ZoneInfo(zone)
    check_instant(naive, slots.to_instant(naive, tz), tz)


@pytest.mark.parametrize(("zone", "day"), TRANSITIONS)
def test_every_minute_of_a_transition_day(zone: str, day: date) -> None:
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time())
    for minute in range(0, 24 * 60, 5):
        naive = start + timedelta(minutes=minute)
        check_instant(naive, slots.to_instant(naive, tz), tz)


def test_the_dst_rule_by_example() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Spring: 02:30 does not exist; 03:00 CEST is the first instant after the gap.
    assert slots.to_instant(datetime(2026, 3, 29, 2, 30), berlin) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    # Autumn: 02:30 happens twice; the first (CEST, +02:00) is taken.
    assert slots.to_instant(datetime(2026, 10, 25, 2, 30), berlin) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    # Lord Howe moves by 30 minutes: 02:10 is skipped, 02:30 (+11:00) comes next.
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    at = slots.to_instant(datetime(2026, 10, 4, 2, 10), lord_howe)
    assert at.astimezone(lord_howe).isoformat() == "2026-10-04T02:30:00+11:00"


@settings(max_examples=150, deadline=None)
@given(week=weekly, zone=zones, start=days, span=st.integers(min_value=1, max_value=60))
def test_slots_keep_their_wall_clock_time_and_come_once_in_order(
    week: slots.WeeklySlots, zone: str, start: date, span: int
) -> None:
    tz = ZoneInfo(zone)
    begin = datetime.combine(start, time(), tzinfo=UTC)
    end = begin + timedelta(days=span)
    found = list(slots.instants(week, tz, begin, end))
    assert found == sorted(set(found))  # strictly increasing: nothing twice
    assert all(begin <= at < end for at in found)
    wanted = {
        (d, t)
        for n in range(-1, span + 2)
        for d in [start + timedelta(days=n)]
        for t in week.days[d.weekday()]
    }
    for at in found:
        local = at.astimezone(tz).replace(tzinfo=None)
        if (local.date(), local.time()) not in wanted:
            # Only a slot the clocks skipped lands off its wall time, just after the gap.
            assert any(
                not exists(datetime.combine(d, t), tz)
                and slots.to_instant(datetime.combine(d, t), tz) == at
                for d, t in wanted
            ), at


@pytest.mark.parametrize(("zone", "day"), TRANSITIONS)
def test_a_daily_nine_oclock_stays_nine_across_the_change(zone: str, day: date) -> None:
    tz = ZoneInfo(zone)
    nine = slots.parse("daily 09:00")
    begin = datetime.combine(day - timedelta(days=3), time(), tzinfo=UTC)
    found = list(slots.instants(nine, tz, begin, begin + timedelta(days=7)))
    assert {at.astimezone(tz).strftime("%H:%M") for at in found} == {"09:00"}
    offsets = {at.astimezone(tz).utcoffset() for at in found}
    assert len(offsets) == 2  # the UTC instant moved, the wall time did not


@settings(max_examples=100, deadline=None)
@given(
    week=weekly,
    zone=zones,
    start=days,
    pauses=st.lists(st.tuples(st.integers(0, 40 * 24), st.integers(1, 5 * 24)), max_size=4),
)
def test_nothing_is_placed_inside_a_pause(
    week: slots.WeeklySlots, zone: str, start: date, pauses: list[tuple[int, int]]
) -> None:
    from autopostr.schedule.queueing import AccountQueue

    begin = datetime.combine(start, time(), tzinfo=UTC)
    windows = [
        Window(begin + timedelta(hours=a), begin + timedelta(hours=a + b), None) for a, b in pauses
    ]
    blackouts = Blackouts(windows, 1)

    class Fake:
        id = 1

    queue = AccountQueue.__new__(AccountQueue)
    object.__setattr__(queue, "slots", week)
    object.__setattr__(queue, "schedule", type("S", (), {"timezone": zone})())
    object.__setattr__(queue, "account", Fake())
    from autopostr.schedule.queueing import open_slots

    open_ = list(open_slots(queue, blackouts, begin, begin + timedelta(days=40)))
    every = list(slots.instants(week, ZoneInfo(zone), begin, begin + timedelta(days=40)))
    assert not [at for at in open_ if any(w.start <= at < w.end for w in windows)]
    assert [at for at in every if not any(w.start <= at < w.end for w in windows)] == open_


def test_slot_specs_read_and_write_back() -> None:
    week = slots.parse("mon-fri 09:00,13:00; sat 10:30")
    assert week.per_week() == 11
    assert week.spec() == "mon-fri 09:00,13:00; sat 10:30"
    assert slots.parse(week.spec()) == week
    assert slots.parse("fri-mon 08:00").spec() == "mon,fri-sun 08:00"
    assert slots.parse("weekdays 9:05").days[0] == (time(9, 5),)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("mon 25:00", "not a time"),
        ("funday 09:00", "not a day"),
        ("mon", "needs days and times"),
        ("", "no slots"),
    ],
)
def test_bad_slot_specs_say_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        slots.parse(spec)


# ---------------------------------------------------------------- recurrences

kinds = st.sampled_from(
    [
        ("every", "1d"),
        ("every", "1w"),
        ("every", "12h"),
        ("rrule", "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=0"),
        ("rrule", "FREQ=DAILY;BYHOUR=2,3;BYMINUTE=30"),
        ("cron", "30 2 * * *"),
        ("cron", "0 9 * * MON"),
    ]
)


@settings(max_examples=150, deadline=None)
@given(kind=kinds, zone=zones, start=days, count=st.one_of(st.none(), st.integers(1, 30)))
def test_recurrences_are_valid_instants_each_once(
    kind: tuple[str, str], zone: str, start: date, count: int | None
) -> None:
    tz = ZoneInfo(zone)
    rule = recurrence.Rule(
        kind[0], kind[1], zone, datetime.combine(start, time(2, 30)), count=count
    )
    begin = datetime.combine(start, time(), tzinfo=UTC) - timedelta(days=1)
    found = list(recurrence.occurrences(rule, begin, begin + timedelta(days=90)))
    assert found == sorted(set(found))
    if count is not None:
        assert len(found) <= count
    for at in found:
        local = at.astimezone(tz).replace(tzinfo=None)
        assert exists(local, tz)
    # A window in the middle gives the same instants as the whole list cut there.
    middle = begin + timedelta(days=30)
    assert list(recurrence.occurrences(rule, middle, begin + timedelta(days=90))) == [
        at for at in found if at >= middle
    ]


def test_every_week_at_nine_keeps_nine_across_dst() -> None:
    rule = recurrence.Rule("every", "1w", "America/New_York", datetime(2026, 2, 23, 9, 0), count=4)
    found = list(
        recurrence.occurrences(
            rule, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
        )
    )
    ny = ZoneInfo("America/New_York")
    assert [at.astimezone(ny).strftime("%m-%d %H:%M") for at in found] == [
        "02-23 09:00",
        "03-02 09:00",
        "03-09 09:00",
        "03-16 09:00",
    ]
    assert found[2] - found[1] == timedelta(days=7, hours=-1)


def test_until_ends_a_series_and_monthly_is_by_month() -> None:
    rule = recurrence.Rule(
        "every",
        "1m",
        "Asia/Kolkata",
        datetime(2026, 1, 31, 9, 0),
        until=datetime(2026, 6, 1, tzinfo=UTC),
    )
    found = list(
        recurrence.occurrences(
            rule, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
        )
    )
    assert [at.date().isoformat() for at in found] == ["2026-01-31", "2026-03-31", "2026-05-31"]


@pytest.mark.parametrize(
    ("kind", "expr", "says"),
    [
        ("every", "3x", "not an interval"),
        ("cron", "61 * * * *", "not a cron expression"),
        ("rrule", "FREQ=SOMETIMES", "cannot be read"),
        ("rrule", "FREQ=DAILY;COUNT=3", "leave COUNT out"),
    ],
)
def test_bad_rules_are_refused(kind: str, expr: str, says: str) -> None:
    rule = recurrence.Rule(kind, expr, "UTC", datetime(2026, 1, 1))
    with pytest.raises(InvalidInput, match=says):
        recurrence.validate(rule, f"--{kind}")


# ---------------------------------------------------------------- the evergreen pick


def item(ident: int, text: str, last: datetime | None = None, **extra: object) -> evergreen.Item:
    return evergreen.Item(
        id=ident,
        post_id=ident,
        category=str(extra.pop("category", "default")),
        accounts=frozenset({1}),
        texts={1: text},
        last_shared_at=last,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        **extra,  # type: ignore[arg-type]
    )


def test_the_pick_is_the_one_shared_longest_ago_outside_its_interval() -> None:
    slot = datetime(2026, 6, 1, 9, tzinfo=UTC)
    pool = [
        item(1, "recent", slot - timedelta(days=5)),
        item(2, "older", slot - timedelta(days=40)),
        item(3, "oldest but too soon", slot - timedelta(days=50), min_interval=timedelta(days=60)),
    ]
    state = evergreen.AccountState("sandbox")
    choice = evergreen.pick(pool, 1, slot, state)
    assert choice is not None and choice.item.id == 2
    evergreen.shared(choice, slot, state)
    # A day later every post is within its minimum interval.
    assert evergreen.pick(pool, 1, slot + timedelta(days=1), state) is None
    # Ten days later the third one's 60 days have passed.
    later = evergreen.pick(pool, 1, slot + timedelta(days=10), state)
    assert later is not None and later.item.id == 3


def test_never_the_same_text_twice_in_a_row_on_an_account() -> None:
    slot = datetime(2026, 6, 1, 9, tzinfo=UTC)
    only = item(1, "Tip: back up", slot - timedelta(days=90))
    state = evergreen.AccountState("sandbox", last_text=evergreen.text_key("tip:  BACK up"))
    assert evergreen.pick([only], 1, slot, state) is None
    state.last_text = evergreen.text_key("something else")
    assert evergreen.pick([only], 1, slot, state) is not None


def test_cycles_until_and_categories_limit_the_pool() -> None:
    slot = datetime(2026, 6, 1, 9, tzinfo=UTC)
    done = item(1, "a", max_cycles=2, cycles=2)
    ended = item(2, "b", until=slot)
    other = item(3, "c", category="news")
    state = evergreen.AccountState("sandbox", categories=frozenset({"tips"}))
    assert evergreen.pick([done, ended, other], 1, slot, state) is None
    assert evergreen.pick([other], 1, slot, evergreen.AccountState("sandbox")) is not None


def test_a_platform_refusing_repeats_gets_a_variant_or_is_skipped_with_a_reason() -> None:
    slot = datetime(2026, 6, 1, 9, tzinfo=UTC)
    plain = item(1, "same", slot - timedelta(days=90), cycles=1)
    varied = item(2, "orig", slot - timedelta(days=80), cycles=1, variants=("v1",))
    state = evergreen.AccountState("x")
    choice = evergreen.pick([plain, varied], 1, slot, state)
    assert choice is not None and choice.item.id == 2 and choice.text == "v1"
    assert [s.item_id for s in state.skips] == [1]
    assert "refuses a repeated text" in state.skips[0].reason
