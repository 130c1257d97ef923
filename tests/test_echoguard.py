"""The microphone guard: the option matrix, half-duplex muting, local barge-in."""

from __future__ import annotations

import numpy as np
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
    note = plan(EchoOptions(), microphone=True, aec_installed=False, vad_installed=False,
                install=lambda extra: f"install {extra}").note
    assert "`install aec`" in note and "--half-duplex" in note


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


def test_the_canceller_gets_what_was_played_beside_each_chunk_and_cleans_what_is_sent():
    canceller, onset = Canceller(), Onset(fire_on=set())
    guard = EchoGuard(canceller=canceller, onset=onset)
    guard.mic(bytes(640), 2.0)  # captured 1.98-2.00: the speaker was silent
    played = bytes(range(256)) * 3 + bytes(192)  # 20 ms at 24 kHz
    guard.played(played, 2.0)
    guard.played(played, 2.0)  # queued behind the first: 2.02-2.04
    sent, _ = guard.mic(bytes(640), 2.02)  # captured 2.00-2.02
    assert canceller.far_in == [bytes(960), played]  # the reference for each chunk, as long as the chunk
    assert len(sent) == 320 and onset.fed == [sent]  # the detector hears the cleaned audio


class Verdict:
    def __init__(self, near):
        self.near = near


class DoubleTalk:
    """Says the user is there for the chunks numbered in ``near_on`` (counting from 1)."""

    def __init__(self, near_on):
        self.near_on, self.fed = near_on, []

    def feed(self, mic, far):
        self.fed.append((mic, far))
        return [Verdict(len(self.fed) in self.near_on)]

    def take_over_echo(self):
        """The part of the microphone over the echo: here a marker, numbered by the chunk."""
        return b"over%d" % len(self.fed)


class SpeakingOnset(Onset):
    speaking = False

    def feed(self, pcm):
        fired = super().feed(pcm)
        self.speaking = self.speaking or fired
        return fired


class Leaky:
    """A canceller that has not learnt the room: takes 20 dB out and no more."""

    def far(self, pcm):
        pass

    def near(self, pcm):
        return (np.frombuffer(pcm, "<i2") // 10).astype("<i2").tobytes()


LOUD = np.full(320, 3000, "<i2").tobytes()


def playing_guard(**kw):
    guard = EchoGuard(canceller=Leaky(), **kw)
    guard.mic(LOUD, 1.0)
    for _ in range(50):  # a second of the model, handed over at once
        guard.played(SLICE, 1.0)
    return guard


def level(pcm):
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    return 10 * np.log10(np.mean(x * x) + 1e-9)


def test_a_leak_with_no_sign_of_the_user_is_turned_down_before_it_is_sent():
    guard = playing_guard(doubletalk=DoubleTalk(near_on=set()))
    sent, _ = guard.mic(LOUD, 1.02)
    assert level(LOUD) - level(sent) == pytest.approx(40, abs=0.5)
    assert guard.held_chunks == 1
    late, _ = guard.mic(LOUD, 2.6)  # the model and its echo have died away: the microphone is the user's
    assert level(LOUD) - level(late) == pytest.approx(20, abs=0.5)


def test_with_the_user_heard_over_the_echo_the_microphone_goes_out_as_cleaned():
    guard = playing_guard(doubletalk=DoubleTalk(near_on={3}))
    first, _ = guard.mic(LOUD, 1.02)
    assert level(LOUD) - level(first) > 39  # not yet
    for t in (1.04, 1.06, 1.30):  # evidence on the second chunk keeps it open for 300 ms
        sent, _ = guard.mic(LOUD, t)
        assert level(LOUD) - level(sent) == pytest.approx(20, abs=0.5)
    sent, _ = guard.mic(LOUD, 1.40)
    assert level(LOUD) - level(sent) > 39


def test_a_voice_onset_on_the_cleaned_microphone_is_a_barge_in_only_with_evidence_of_the_user():
    onset = SpeakingOnset(fire_on={2})
    guard = playing_guard(onset=onset, doubletalk=DoubleTalk(near_on={5}))
    began = [guard.mic(LOUD, 1.0 + 0.02 * k)[1] for k in range(1, 7)]
    # the leak sounded like speech on chunk 2; the raw microphone showed more than the echo on chunk 4
    assert began == [False, False, False, True, False, False]
    assert guard.onsets == 1


def test_echo_that_sounds_like_speech_is_no_barge_in():
    onset = SpeakingOnset(fire_on={1, 2, 3})
    guard = playing_guard(onset=onset, doubletalk=DoubleTalk(near_on=set()))
    assert not any(guard.mic(LOUD, 1.0 + 0.02 * k)[1] for k in range(1, 20))


def test_the_voice_detector_hears_the_part_of_the_microphone_over_the_echo_not_the_suppressed_output():
    onset = SpeakingOnset(fire_on=set())
    guard = playing_guard(onset=onset, doubletalk=DoubleTalk(near_on=set()))
    for k in range(1, 4):
        guard.mic(LOUD, 1.0 + 0.02 * k)
    assert onset.fed == [b"over2", b"over3", b"over4"]  # chunk 1 came before the model played


def test_double_talk_sustained_over_4_of_10_frames_is_a_barge_in_without_the_voice_detector():
    onset = SpeakingOnset(fire_on=set())  # what stands out of the echo is too patchy for it
    guard = playing_guard(onset=onset, doubletalk=DoubleTalk(near_on={3, 4, 6, 8, 9}))
    began = [guard.mic(LOUD, 1.0 + 0.02 * k)[1] for k in range(1, 10)]
    # chunk 1 was before the model played; the fourth verdict of more than the echo comes with chunk 8
    assert began == [False] * 6 + [True, False, False]
    assert guard.onsets == 1


def test_three_frames_over_the_echo_are_not_enough_alone():
    onset = SpeakingOnset(fire_on=set())
    guard = playing_guard(onset=onset, doubletalk=DoubleTalk(near_on={3, 4, 5}))
    assert not any(guard.mic(LOUD, 1.0 + 0.02 * k)[1] for k in range(1, 20))
