from tfy_live.endrule import EndRule


def test_a_microphone_conversation_never_ends_by_itself():
    rule = EndRule()
    for t in range(5):
        rule.model_turn_started(t)
        rule.turn_complete(t + 0.5)
    assert rule.decide(100.0) == "continue"
    assert rule.deadline() is None


def test_turns_limit_ends_after_the_nth_reply_but_not_mid_turn():
    rule = EndRule(max_turns=1)
    rule.model_turn_started(1.0)
    assert rule.decide(1.1) == "continue"
    rule.turn_complete(2.0)
    assert rule.decide(2.0) == "end"


def test_file_ends_after_the_reply_in_progress():
    rule = EndRule(grace_s=3)
    rule.model_turn_started(1.0)
    rule.input_exhausted(1.5)
    assert rule.decide(10.0) == "continue"  # still replying
    rule.turn_complete(11.0)
    assert rule.decide(11.0) == "end"


def test_file_whose_reply_came_during_trailing_silence_ends_after_the_grace():
    rule = EndRule(grace_s=3)
    rule.model_turn_started(1.0)
    rule.turn_complete(2.0)
    rule.input_exhausted(4.0)
    assert rule.decide(5.0) == "continue"
    assert rule.deadline() == 7.0
    assert rule.decide(7.0) == "end"


def test_file_waits_for_a_reply_the_server_has_heard_but_not_started():
    rule = EndRule(grace_s=3, reply_timeout_s=30)
    rule.model_turn_started(1.0)
    rule.turn_complete(2.0)
    rule.input_exhausted(4.0)
    rule.user_heard(4.5)
    assert rule.decide(8.0) == "continue"
    assert rule.deadline() == 34.0
    rule.model_turn_started(9.0)
    rule.turn_complete(10.0)
    assert rule.decide(10.0) == "end"


def test_file_with_no_reply_at_all_times_out():
    rule = EndRule(reply_timeout_s=30)
    rule.input_exhausted(1.0)
    assert rule.decide(30.9) == "continue"
    assert rule.decide(31.0) == "no-reply"


def test_an_interrupted_turn_is_not_in_progress_any_more():
    rule = EndRule()
    rule.model_turn_started(1.0)
    rule.turn_interrupted(1.5)
    rule.input_exhausted(2.0)
    assert not rule.in_turn
    rule.turn_complete(2.1)
    assert rule.decide(2.1) == "end"


def test_an_empty_turn_is_not_a_reply():
    """Vertex closes an empty turn after a tool response; the reply comes in the next one."""
    rule = EndRule(grace_s=2, reply_timeout_s=30)
    rule.input_exhausted(1.0)
    rule.turn_complete(1.5, replied=False)
    assert rule.decide(10.0) == "continue" and rule.deadline() == 31.0
    rule.model_turn_started(12.0)
    rule.turn_complete(13.0)
    assert rule.decide(13.0) == "end"


def test_an_empty_turn_does_not_count_towards_the_turns_limit():
    rule = EndRule(max_turns=1)
    rule.turn_complete(1.0, replied=False)
    assert rule.decide(1.0) == "continue"
