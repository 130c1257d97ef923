import math

from tfy_live.timeline import Timeline, percentile

LOUD, QUIET = -20.0, -70.0


def speak(timeline: Timeline, start: float, seconds: float) -> float:
    """Loud 20 ms chunks from ``start``; returns when the speech ended."""
    t = start
    while t < start + seconds - 1e-9:
        t += 0.02
        timeline.mic(t, LOUD)
    return t


def test_latency_runs_from_the_end_of_speech_to_the_first_model_audio():
    timeline = Timeline(started=0.0)
    end = speak(timeline, 0.0, 1.0)
    timeline.mic(end + 0.02, QUIET)
    turn = timeline.model_output(end + 0.65)
    assert turn is not None and turn.index == 1
    assert math.isclose(turn.latency_ms, 650, abs_tol=1e-6)
    assert timeline.model_output(end + 0.7) is None  # same turn
    timeline.usage(10, 5, 15)
    done = timeline.turn_complete(end + 2)
    assert done is turn and done.total_tokens == 15


def test_usage_after_turn_complete_goes_to_that_turn():
    timeline = Timeline(started=0.0)
    timeline.user_typed(0.0)
    timeline.model_output(0.4)
    turn = timeline.turn_complete(1.0)
    timeline.usage(3, 4, 7)
    assert (turn.prompt_tokens, turn.response_tokens, turn.total_tokens) == (3, 4, 7)
    assert timeline.summary(2.0).total_tokens == 7


def test_no_latency_when_the_model_starts_while_the_user_still_talks_or_unprompted():
    timeline = Timeline(started=0.0)
    speak(timeline, 0.0, 1.0)
    assert timeline.model_output(1.05).latency_ms is None  # user voiced 50 ms ago: still speaking
    timeline.turn_complete(2.0)
    assert timeline.model_output(5.0).latency_ms is None  # proactive: nobody spoke since


def test_states_as_a_person_sees_them():
    timeline = Timeline(started=0.0)
    assert timeline.state(0.0, playing=False) == "listening"
    end = speak(timeline, 0.0, 0.5)
    assert timeline.state(end, playing=False) == "user speaking"
    assert timeline.state(end + 0.5, playing=False) == "model thinking"
    timeline.model_output(end + 0.6)
    assert timeline.state(end + 0.7, playing=True) == "model speaking"
    timeline.turn_complete(end + 0.8)
    assert timeline.state(end + 0.9, playing=True) == "model speaking"  # still audible
    assert timeline.state(end + 3, playing=False) == "listening"
    timeline.reconnecting = True
    assert timeline.state(end + 3, playing=False) == "reconnecting"


def test_summary_median_p95_interruptions_and_duration():
    timeline = Timeline(started=10.0)
    t = 10.0
    for latency in (0.3, 0.5, 0.4, 0.9):
        t = speak(timeline, t, 0.4) + latency
        timeline.model_output(t)
        if latency == 0.9:
            timeline.interrupted(t + 0.1)
        timeline.turn_complete(t + 0.5)
        t += 1.0
    summary = timeline.summary(t)
    assert summary.turns == 4 and summary.interrupted == 1
    assert math.isclose(summary.latency_median_ms, 450, abs_tol=1e-6)
    assert math.isclose(summary.latency_p95_ms, 900 - 0.15 * 400, abs_tol=1e-6)
    assert math.isclose(summary.duration_s, t - 10.0)


def test_percentile():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0


def test_typed_line_or_push_to_talk_end_starts_the_latency_clock():
    timeline = Timeline(started=0.0)
    end = speak(timeline, 0.0, 1.0)
    timeline.user_turn_ended(end)  # the second Enter, while the microphone is still loud
    timeline.mic(1.02, LOUD, sent=False)  # not sent: not the user speaking
    assert timeline.state(1.05, playing=False) == "model thinking"
    turn = timeline.model_output(end + 0.3)
    assert math.isclose(turn.latency_ms, 300, abs_tol=1e-6)
    timeline.turn_complete(2.0)
    timeline.user_typed(5.0)
    assert math.isclose(timeline.model_output(5.02).latency_ms, 20, abs_tol=1e-6)
    assert timeline.level_dbfs == LOUD  # the meter still shows what the microphone hears
