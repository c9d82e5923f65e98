"""Acoustic evidence on real audio: espeak-ng speech and its degraded and garbage versions (the fixture's
own generations are scored in tests/test_damage.py).

Clean = the same sentence re-spoken at another rate (a different rendering of the truth); degraded =
white noise at 20 dB and 5 dB SNR; garbage = the clip time-reversed and pure noise of the same loudness.
"""

from __future__ import annotations

import numpy as np
import pytest

from f5_parity.cases.speech import PT_BR_SENTENCES, speak
from f5_parity.scoring import acoustic as A
from f5_parity.scoring.audio import read_audio
from f5_parity.scoring.stats import interval, paired_test

N = 3


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    d = tmp_path_factory.mktemp("espeak")
    out = []
    for i, text in enumerate(PT_BR_SENTENCES[:N]):
        voices = {}
        for name, voice, wpm in (("truth", "pt-br", 130), ("rate160", "pt-br", 160), ("f3", "pt-br+f3", 130)):
            a = read_audio(speak(text, d / f"{i}_{name}.wav", voice=voice, words_per_minute=wpm))
            voices[name] = (a.samples, a.sample_rate)
        out.append(voices)
    return out


def _noisy(x, snr_db, seed):
    n = np.random.default_rng(seed).standard_normal(len(x))
    n *= np.sqrt(np.mean(x.astype(np.float64) ** 2) / 10 ** (snr_db / 10) / np.mean(n ** 2))
    return (x + n).astype(np.float32)


def _conditions(v, i):
    x, sr = v["truth"]
    noise = np.random.default_rng(100 + i).standard_normal(len(x)) * np.sqrt(np.mean(x.astype(np.float64) ** 2))
    return {"clean": v["rate160"], "snr20": (_noisy(x, 20, i), sr), "snr5": (_noisy(x, 5, 10 + i), sr),
            "reversed": (x[::-1].copy(), sr), "noise": (noise.astype(np.float32), sr)}


@pytest.fixture(scope="module")
def measured(speech):
    out = {}
    for i, v in enumerate(speech):
        x, sr = v["truth"]
        for name, (g, gsr) in _conditions(v, i).items():
            row = out.setdefault(name, {"mcd": [], "logmel": [], "sim": []})
            row["mcd"].append(A.mcd_dtw(x, sr, g, gsr).value)
            row["logmel"].append(A.logmel_dtw(x, sr, g, gsr).value)
            row["sim"].append(A.speaker_similarity(x, sr, g, gsr))
    return out


def test_identity_scores_zero_distance_and_full_similarity(speech):
    x, sr = speech[0]["truth"]
    assert A.mcd_dtw(x, sr, x, sr).value == pytest.approx(0.0, abs=1e-9)
    lm = A.logmel_dtw(x, sr, x, sr)
    assert lm.value == pytest.approx(0.0, abs=1e-9) and lm.diagonal_fraction == 1.0 and lm.length_ratio == 1.0
    assert A.speaker_similarity(x, sr, x, sr) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("metric", ["mcd", "logmel"])
def test_distance_orders_clean_degraded_garbage_per_sentence(measured, metric):
    m = {c: np.array(v[metric]) for c, v in measured.items()}
    # every sentence, not just on average: clean < 20 dB noise < 5 dB noise < pure noise
    assert np.all(m["clean"] < m["snr20"]) and np.all(m["snr20"] < m["snr5"]) and np.all(m["snr5"] < m["noise"])
    # time-reversed speech: the same spectra in the wrong order, far from a clean rendering (but DTW
    # finds the frames, so it is not always worse than heavy noise: not asserted)
    assert np.all(m["reversed"] > 3 * m["clean"]) and np.all(m["reversed"] < m["noise"])


def test_speaker_similarity_orders_clean_degraded_garbage(measured):
    s = {c: np.array(v["sim"]) for c, v in measured.items()}
    assert np.all(s["clean"] > s["snr5"]) and np.all(s["snr20"] > s["snr5"]) and np.all(s["snr5"] > s["noise"])
    assert s["clean"].min() > 0.9 and s["noise"].max() < 0.6


def test_same_voice_separates_from_another_espeak_voice(speech):
    same, other = [], []
    for i, v in enumerate(speech):
        x, sr = v["truth"]
        nxt = speech[(i + 1) % N]
        same.append(A.speaker_similarity(x, sr, *nxt["truth"]))  # same voice, another sentence
        other.append(A.speaker_similarity(x, sr, *nxt["f3"]))  # pt-br+f3, another sentence
    assert min(same) > max(other) + 0.15, (same, other)
    # the distance metrics do not separate voices on their own: that is what speaker similarity is for
    assert paired_test(other, same).mean_difference > 0.2


def test_logmel_is_f5s_own_feature(speech):
    import torch
    from f5_tts.model.modules import get_vocos_mel_spectrogram

    x, sr = speech[0]["truth"]
    assert sr == 24000
    theirs = get_vocos_mel_spectrogram(torch.from_numpy(x)[None])[0].numpy()
    np.testing.assert_allclose(A.vocos_log_mel(x, sr), theirs, rtol=0, atol=1e-4)


def test_scorer_names_every_tool_and_version(speech, tmp_path):
    from f5_parity.scoring.audio import write_wav

    x, sr = speech[0]["truth"]
    truth = write_wav(tmp_path / "truth.wav", x, sr)
    gen = write_wav(tmp_path / "gen.wav", speech[0]["rate160"][0], sr)
    s = A.AcousticScorer().score(gen, voice=truth, truth=truth, truth_name="reference")
    assert s.truth == "reference" and 0 < s.mcd < 3 and 0.9 < s.speaker_similarity <= 1 and s.length_ratio < 0.95
    assert A.AcousticScorer().score(gen, voice=truth, truth=truth, truth_name="reference") == s  # deterministic
    d = A.describe()
    assert set(d) == set(A.METRICS)
    # make venv installs resemblyzer (--no-deps): the speaker encoder must really be here, not skipped
    assert d["speaker_similarity"]["available"] and A.speaker_encoder_available()
    for metric in d.values():
        assert metric["tools"] and all(t["version"] for t in metric["tools"]), metric
    assert "sha256=" in d["speaker_similarity"]["model"]


def test_interval_and_paired_test():
    ci = interval([1.0, 2.0, 3.0])
    assert ci["mean"] == 2.0 and ci["lo"] == pytest.approx(2 - 2.4842, abs=1e-3) and ci["n"] == 3
    assert interval([5.0])["lo"] is None and interval([])["mean"] is None
    t = paired_test([1.0, 2.0, 3.0, 4.0], [2.1, 2.9, 4.2, 5.0])
    assert t.p_value < 0.01 and t.effect_size > 3 and t.significant(0.01)
    assert paired_test([1, 2, 3], [1, 2, 3]).p_value == 1.0
