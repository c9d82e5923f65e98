"""Benchmark: what the acoustic metrics add, in seconds of compute per second of generated audio.

Not a timed test: it measures and records (reports/bench/acoustic.json). Same process, same audio
(espeak-ng pt-br sentences, each scored against a re-spoken rendering of itself), after one warm-up
call per metric (the first DTW call compiles with numba; that one-off cost is recorded apart), with
the ASR that full mode already runs timed beside them so the ratio compares. Load average is
recorded because this machine is shared.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from f5_parity.cases.speech import PT_BR_SENTENCES, speak
from f5_parity.scoring import acoustic as A
from f5_parity.scoring.audio import read_audio

REPORT = Path(__file__).resolve().parents[2] / "reports" / "bench" / "acoustic.json"
SENTENCES = 6
REPEATS = 3


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


@pytest.mark.bench
def test_bench_acoustic_seconds_per_audio_second(tmp_path, monkeypatch):
    from test_bench_asr import _machine

    from f5_parity.scoring import asr as ASR

    monkeypatch.setenv("F5_PARITY_CACHE", str(tmp_path / "cache"))
    machine = _machine()
    pairs = []
    for i, text in enumerate(PT_BR_SENTENCES[:SENTENCES]):
        truth = read_audio(speak(text, tmp_path / f"{i}_truth.wav"))
        gen = read_audio(speak(text, tmp_path / f"{i}_gen.wav", words_per_minute=160))
        pairs.append((truth, gen))
    audio_seconds = sum(g.seconds for _, g in pairs)

    t0 = time.perf_counter()
    A.mcd_dtw(pairs[0][0].samples, 24000, pairs[0][1].samples, 24000)
    first_dtw_s = time.perf_counter() - t0  # numba compile (or its cache load) + one pair
    t0 = time.perf_counter()
    A.speaker_similarity(pairs[0][0].samples, 24000, pairs[0][1].samples, 24000)
    first_encoder_s = time.perf_counter() - t0  # GE2E weights load + one pair

    metrics = {
        "mcd_dtw": lambda t, g: A.mcd_dtw(t.samples, t.sample_rate, g.samples, g.sample_rate),
        "logmel_dtw": lambda t, g: A.logmel_dtw(t.samples, t.sample_rate, g.samples, g.sample_rate),
        "speaker_similarity": lambda t, g: A.speaker_similarity(t.samples, t.sample_rate, g.samples, g.sample_rate),
    }
    asr = ASR.load_asr(None)
    asr.transcribe(ASR.audio_for_asr(pairs[0][1]).samples)  # warm-up
    timed = dict(metrics, asr_faster_whisper_int8=lambda t, g: asr.transcribe(ASR.audio_for_asr(g).samples))
    per_second = {}
    for name, fn in timed.items():
        reps = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            for t, g in pairs:
                fn(t, g)
            reps.append(time.perf_counter() - t0)
        per_second[name] = {"median_s_per_audio_s": _median(reps) / audio_seconds,
                            "repeats_s": reps}
    added = sum(per_second[m]["median_s_per_audio_s"] for m in metrics)
    result = {
        "benchmark": "acoustic metrics: seconds of compute per second of generated audio (truth and generated "
                     "both analysed; speaker similarity embeds both), beside the ASR full mode already runs",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine, "load_average_at_end": list(os.getloadavg())},
        "audio": {"pairs": len(pairs), "generated_seconds": audio_seconds,
                  "what": "espeak-ng pt-br at 130 wpm (truth) vs the same sentence at 160 wpm (generated)"},
        "first_call_s": {"mcd_dtw (numba DTW compile or cache load)": first_dtw_s,
                         "speaker_similarity (GE2E weights load)": first_encoder_s},
        "per_metric": per_second,
        "acoustic_total_s_per_audio_s": added,
        "acoustic_vs_asr": added / per_second["asr_faster_whisper_int8"]["median_s_per_audio_s"],
        "tools": A.describe(),
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    assert 0 < added < 5 and all(v["median_s_per_audio_s"] > 0 for v in per_second.values())
