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


def reply(timeline: Timeline, now: float):
    """The model's first output, perceived at once (text shown, or audio handed straight to the speaker)."""
    turn = timeline.model_output(now)
    if turn is not None:
        timeline.perceived(turn, now)
    return turn


def test_latency_runs_from_the_end_of_speech_to_the_first_output_perceived():
    timeline = Timeline(started=0.0)
    end = speak(timeline, 0.0, 1.0)
    timeline.mic(end + 0.02, QUIET)
    turn = timeline.model_output(end + 0.4)  # e.g. a transcript that arrives before its audio
    assert turn is not None and turn.index == 1 and turn.latency_ms is None
    timeline.perceived(turn, end + 0.65)  # the first audio reaches the speaker
    assert math.isclose(turn.latency_ms, 650, abs_tol=1e-6)
    timeline.perceived(turn, end + 0.9)  # only the first counts
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
    assert reply(timeline, 1.05).latency_ms is None  # user voiced 50 ms ago: still speaking
    timeline.turn_complete(2.0)
    assert reply(timeline, 5.0).latency_ms is None  # proactive: nobody spoke since


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
        reply(timeline, t)
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
    turn = reply(timeline, end + 0.3)
    assert math.isclose(turn.latency_ms, 300, abs_tol=1e-6)
    timeline.turn_complete(2.0)
    timeline.user_typed(5.0)
    assert math.isclose(reply(timeline, 5.02).latency_ms, 20, abs_tol=1e-6)
    assert timeline.level_dbfs == LOUD  # the meter still shows what the microphone hears


def test_a_response_count_left_out_stays_unknown_and_thoughts_and_details_add_up():
    timeline = Timeline(started=0.0)
    timeline.user_typed(0.0)
    first = reply(timeline, 0.4)
    timeline.usage(300, None, 312, None, {"AUDIO": 290, "TEXT": 10})  # Gemini 3.1: no responseTokenCount
    timeline.turn_complete(1.0)
    assert first.response_tokens is None and first.total_tokens == 312
    assert first.prompt_tokens_details == {"AUDIO": 290, "TEXT": 10}
    timeline.usage(5, 7, 40, 28, {"TEXT": 5}, {"AUDIO": 7})  # before the next turn begins: it goes to the last one
    assert first.response_tokens == 7 and first.thoughts_tokens == 28
    assert first.prompt_tokens_details == {"AUDIO": 290, "TEXT": 15} and first.response_tokens_details == {"AUDIO": 7}
    summary = timeline.summary(2.0)
    assert (summary.prompt_tokens, summary.response_tokens, summary.total_tokens, summary.thoughts_tokens) == (
        305, 7, 352, 28)


def test_the_summary_s_response_count_is_unknown_if_a_turn_did_not_report_it():
    timeline = Timeline(started=0.0)
    for start, response in ((0.0, 10), (2.0, None)):
        timeline.user_typed(start)
        reply(timeline, start + 0.5)
        timeline.usage(20, response, 40)
        timeline.turn_complete(start + 1.0)
    assert timeline.summary(3.0).response_tokens is None
    assert timeline.summary(3.0).total_tokens == 80
    assert timeline.turns[0].response_tokens == 10
