"""Benchmark: seconds of ASR per second of audio, per backend, on the espeak-ng pt-br set.

Not a timed test: it measures and records (reports/bench/asr.json); it asserts only that the
figures exist and make sense. Every backend runs on the same audio in the same process, after
one warm-up transcription, so the ratios compare. Load average is recorded because this machine
is shared: a busy neighbour inflates every figure alike.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from f5_parity.scoring import asr as A
from f5_parity.scoring.metrics import pool, score_text
from f5_parity.cases.speech import PT_BR_SENTENCES, build_cases

REPORT = Path(__file__).resolve().parents[2] / "reports" / "bench" / "asr.json"
CONFIGS = (("faster-whisper", "int8"), ("faster-whisper", "float32"), ("openai-whisper", "float32"))
GARBAGE = 4


def _machine() -> dict:
    import torch

    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _versions() -> dict:
    out = {}
    for dist in ("f5-parity", "faster-whisper", "ctranslate2", "openai-whisper", "torch", "jiwer", "rapidfuzz"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _reverse(x, _i):
    return np.ascontiguousarray(x[::-1])


def _noise(x, i):
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return (np.random.default_rng(i).standard_normal(len(x)) * rms).astype(np.float32)


@pytest.mark.bench
def test_bench_asr_seconds_per_audio_second(tmp_path, monkeypatch):
    monkeypatch.setenv("F5_PARITY_CACHE", str(tmp_path / "cache"))  # cold cache: preparation is timed too
    machine = _machine()
    cases = build_cases(tmp_path / "espeak", count=len(PT_BR_SENTENCES))
    audio = [A.audio_for_asr(c.wav) for c in cases]
    audio_seconds = sum(a.seconds for a in audio)

    t0 = time.perf_counter()
    embedded = A.embedded_whisper_base()
    assemble_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    A.openai_checkpoint_for(embedded.path)
    convert_s = time.perf_counter() - t0

    results = []
    for backend, compute_type in CONFIGS:
        t0 = time.perf_counter()
        asr = A.load_asr(None, backend, compute_type=compute_type)
        load_s = time.perf_counter() - t0
        asr.transcribe(audio[0].samples)  # warm-up, not counted
        per_utt, clean = [], []
        for case, a in zip(cases, audio):
            cpu0 = time.process_time()  # all threads of this process: less sensitive to busy neighbours
            tr = asr.transcribe(a.samples)
            cpu_s = time.process_time() - cpu0
            per_utt.append(
                {"name": case.name, "audio_s": round(a.seconds, 3), "asr_s": round(tr.elapsed_s, 3), "asr_cpu_s": round(cpu_s, 3), "hypothesis": tr.text}
            )
            clean.append(score_text(case.text, tr.text))
        asr_seconds = sum(u["asr_s"] for u in per_utt)
        cpu_seconds = sum(u["asr_cpu_s"] for u in per_utt)
        garbage = {}
        for variant in (_reverse, _noise):
            scores = [score_text(c.text, asr.transcribe(variant(a.samples, i)).text) for i, (c, a) in enumerate(zip(cases[:GARBAGE], audio[:GARBAGE]))]
            p = pool(scores)
            garbage[variant.__name__.strip("_")] = {
                "n": p.n, "cer_pooled": p.cer_pooled, "cer_mean_capped": p.cer_mean_capped, "similarity_mean": p.similarity_mean,
            }  # fmt: skip
        p = pool(clean)
        results.append(
            {
                "backend": backend,
                "compute_type": compute_type,
                "model": asr.model_id,
                "load_s": round(load_s, 3),
                "audio_s": round(audio_seconds, 3),
                "asr_s": round(asr_seconds, 3),
                "asr_s_per_audio_s": round(asr_seconds / audio_seconds, 4),
                "asr_cpu_s_per_audio_s": round(cpu_seconds / audio_seconds, 4),
                "median_asr_s_per_audio_s": round(float(np.median([u["asr_s"] / u["audio_s"] for u in per_utt])), 4),
                "clean": {"n": p.n, "wer_pooled": p.wer_pooled, "cer_pooled": p.cer_pooled, "cer_mean_capped": p.cer_mean_capped, "similarity_mean": p.similarity_mean},
                "reversed": garbage["reverse"],
                "noise": garbage["noise"],
                "utterances": per_utt,
            }
        )

    machine["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report = {
        "benchmark": "ASR seconds per audio second, Whisper base (pip-embedded), espeak-ng pt-br, language pt",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "versions": _versions(),
        "decode": A.DecodeOptions().to_dict(),
        "set": {"sentences": len(cases), "audio_s": round(audio_seconds, 3), "garbage_sentences": GARBAGE, "words_per_minute": 130},
        "prepare": {"assemble_model_bin_s": round(assemble_s, 3), "convert_to_openai_s": round(convert_s, 3)},
        "results": results,
        "notes": "asr_s is wall time, asr_cpu_s CPU time of all threads; both exclude model load and one warm-up. "
        "Whisper pads every clip to a 30 s window, so short clips cost about the same each. "
        "A load average above cpu_count means other processes shared the cores and wall figures are inflated.",
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    saved = json.loads(REPORT.read_text(encoding="utf-8"))
    assert [(r["backend"], r["compute_type"]) for r in saved["results"]] == list(CONFIGS)
    for r in saved["results"]:
        assert math.isfinite(r["asr_s_per_audio_s"]) and r["asr_s_per_audio_s"] > 0
        assert r["clean"]["cer_pooled"] < r["reversed"]["cer_pooled"] and r["clean"]["cer_pooled"] < r["noise"]["cer_pooled"]
