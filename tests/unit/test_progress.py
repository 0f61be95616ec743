"""The progress helper's cadence: a line at every 10 % of the total or every 30 s, whichever comes first."""

from __future__ import annotations

from woohub.core.progress import Progress, format_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(total: int | None, clock: FakeClock, calls: list[int] | None = None) -> tuple[Progress, list[str]]:
    lines: list[str] = []
    counter = (lambda: calls[0]) if calls is not None else None
    return Progress("load deals", total=total, clock=clock, emit=lines.append, calls=counter), lines


def test_a_line_at_every_tenth_of_the_total_when_fast() -> None:
    clock = FakeClock()
    progress, lines = make(1000, clock)
    logged_at = []
    for done in range(1, 1001):
        clock.now += 0.01
        if progress.advance():
            logged_at.append(done)
    assert logged_at == [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    assert lines[0].startswith("load deals: 100 of 1,000 (10%)")


def test_big_steps_log_once_per_step_not_once_per_tenth_crossed() -> None:
    clock = FakeClock()
    progress, lines = make(1000, clock)
    assert progress.advance(350)  # crosses 10, 20 and 30 %: one line
    assert not progress.advance(40)  # 39 %: the next line is due at 40 %
    assert progress.advance(10)
    assert len(lines) == 2 and "400 of 1,000 (40%)" in lines[-1]


def test_a_line_every_30_seconds_when_slow() -> None:
    clock = FakeClock()
    progress, lines = make(100_000, clock)
    logged = []
    for second in range(1, 121):
        clock.now += 1
        if progress.advance(10):  # 10 records a second: 10 % takes far longer than 30 s
            logged.append(second)
    assert logged == [30, 60, 90, 120]
    assert len(lines) == 4


def test_without_a_total_only_time_counts_and_the_total_can_come_later() -> None:
    clock = FakeClock()
    progress, lines = make(None, clock)
    assert not progress.advance(500)
    clock.now += 29.9
    assert not progress.advance(1)
    clock.now += 0.1
    assert progress.advance(1)
    assert lines[-1].startswith("load deals: 502, ")
    assert "left" not in lines[-1]  # no estimate without a total
    progress.set_total(1000)  # e.g. X-WP-Total from the first page: 50.2 % done, the next line at 60 %
    assert not progress.advance(90)
    assert progress.advance(10)
    assert "602 of 1,000 (60%)" in lines[-1]


def test_the_line_names_calls_elapsed_and_time_left() -> None:
    clock = FakeClock()
    calls = [7]
    progress, lines = make(1000, clock, calls)
    calls[0] = 27
    clock.now += 40
    progress.advance(200)
    assert lines[-1] == "load deals: 200 of 1,000 (20%), 20 API calls, 40s elapsed, ~2m40s left"
    clock.now += 5
    final = progress.finish()
    assert final == "load deals: 200 of 1,000 (20%), 20 API calls, 45s elapsed, done"
    assert lines[-1] == final


def test_format_seconds() -> None:
    assert [format_seconds(s) for s in (0, 59.4, 61, 3599, 3725)] == ["0s", "59s", "1m01s", "59m59s", "1h02m"]


def test_the_heartbeat_logs_by_time_alone_while_records_wait() -> None:
    clock = FakeClock()
    calls = [0]
    progress, lines = make(10_000, clock, calls)
    progress.advance(2_500)  # one chunk done: 25 %
    assert len(lines) == 1
    clock.now += 29
    assert not progress.beat()
    calls[0] = 40  # the next chunk is in flight: calls go on, records do not
    clock.now += 1
    assert progress.beat()
    assert lines[-1] == "load deals: 2,500 of 10,000 (25%), 40 API calls, 30s elapsed, ~1m30s left"
    assert not progress.beat()  # the next beat is due 30 s after this line


def test_as_a_context_manager_it_beats_from_a_thread_and_finishes() -> None:
    import time

    lines: list[str] = []
    with Progress("validate", total=10, emit=lines.append, every_seconds=0.05) as progress:
        time.sleep(0.3)
        assert progress.lines >= 2, lines  # heartbeat lines with no record done
        progress.advance(10)
    assert lines[-1].endswith("done") and "10 of 10 (100%)" in lines[-1]
    assert progress._heartbeat is not None and not progress._heartbeat.is_alive()
