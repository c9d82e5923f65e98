"""Golden tests: the restructuring moved code, not behaviour.

tests/golden/*.json are run.json files written by the code as it was before the layered layout
(commit a622d77), normalized by golden_normalize (wall-clock values dropped, this machine's folders
as <OUT>/<REPO>/<CACHE>). The same commands must still write the same JSON, and the help texts
must be byte-equal. Two keys were added on purpose by the restructuring and are the only ones set
aside: `unbuilt` (which cases' infer spec could not be built, and why: the JUnit file used to
recover it by matching prose notes) and `artifacts.mels` (the final mels as data, so the PNGs are
drawn from the result).

The acoustic evidence (issue 12) added, on purpose, and set aside here: each built-in case's held-out
truth wav (`cases[].gen_audio`), `scores.acoustic` and `scores.seeds`, the MCD and speaker-similarity
thresholds and their gate checks. demo-full runs with `--seeds 1` (the demo's default is 3), so every
value that was there before must come out the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from golden_normalize import REPO, differences, normalize

GOLDEN = Path(__file__).parent / "golden"
FX = "fixtures/ptbr-tiny"
ADDED_BY_RESTRUCTURING = ("unbuilt",)
# Added since, on purpose: `environment` (issue 15: the f5-tts, torch and device judged, and which code stood
# for the trainer side) describes the machine, not the run's numbers; tests/test_environment.py checks it.
ADDED_SINCE = ("environment",)

RUNS = {
    "run-clean": ["run", f"{FX}/model_ptbr_tiny.pt", "--train-config", f"{FX}/F5TTS_ptbr_tiny.yaml",
                  "--train-vocab", f"{FX}/vocab.txt", "--infer-vocab", f"{FX}/vocab.txt",
                  "--infer-config", f"{FX}/F5TTS_ptbr_tiny.yaml", "--no-infer-ema", "--vocoder", "griffin-lim",
                  "--mode", "fast", "--seed", "0"],
    "run-v1": ["run", f"{FX}/model_ptbr_tiny.pt", "--train-config", f"{FX}/F5TTS_ptbr_tiny.yaml",
               "--train-vocab", f"{FX}/vocab.txt", "--infer-vocab", f"{FX}/vocab.txt", "--infer-config",
               "F5TTS_v1_Base", "--no-infer-ema", "--vocoder", "griffin-lim", "--mode", "fast", "--seed", "0"],
    "demo-fast": ["demo", "--mode", "fast"],
    "demo-full": ["demo", "--seeds", "1"],
}
EXIT = {"run-clean": 0, "run-v1": 1, "demo-fast": 0, "demo-full": 0}


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "80", "HF_HUB_OFFLINE": "1"}


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "f5_parity", *args], cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=900)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "demo-full" else n for n in RUNS])
def test_run_json_is_unchanged(name, tmp_path):
    from f5_parity.files import cache_dir
ACOUSTIC_METRICS = ("mcd", "speaker_similarity")


def _without_acoustic_evidence(run: dict) -> dict:
    """run.json less what issue 12 added (see the module docstring)."""
    for case in run.get("cases") or []:
        case.pop("gen_audio", None)
    for key in ("acoustic", "seeds"):
        (run.get("scores") or {}).pop(key, None)
    gate = run.get("gate") or {}
    thresholds = gate.get("thresholds") or {}
    for key in ("max_mcd", "min_speaker_similarity"):
        thresholds.pop(key, None)
        (thresholds.get("sources") or {}).pop(key, None)
    for metric in ACOUSTIC_METRICS:
        (thresholds.get("max_gap") or {}).pop(metric, None)
    acoustic_checks = set(ACOUSTIC_METRICS) | {f"{m}_gap" for m in ACOUSTIC_METRICS}
    if "checks" in gate:
        gate["checks"] = [c for c in gate["checks"] if c.get("name") not in acoustic_checks]
    return run



    out = tmp_path / "out"
    proc = _cli([*RUNS[name], "--out", str(out)])
    assert proc.returncode == EXIT[name], proc.stderr[-2000:]
    actual = json.loads((out / "run.json").read_text())
    for key in ADDED_BY_RESTRUCTURING + ADDED_SINCE:
        actual.pop(key, None)
    actual.get("artifacts", {}).pop("mels", None)
    # Added since, on purpose (issue 11): the ckpt.finite probe (NaN/inf weights) and its gate check;
    # tests/test_inspect_probes.py and tests/test_hostile_inputs.py check it.
    actual["probes"] = [p for p in actual.get("probes", []) if p.get("probe") != "ckpt.finite"]
    _without_acoustic_evidence(actual)
    if isinstance(actual.get("gate"), dict):
        actual["gate"]["checks"] = [c for c in actual["gate"].get("checks", []) if c.get("name") != "probe:ckpt.finite"]
    places = {str(out): "<OUT>", REPO: "<REPO>", str(cache_dir()): "<CACHE>"}
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    diffs = differences(expected, normalize(actual, places))
    assert not diffs, "\n".join(diffs[:20])


@pytest.mark.parametrize("command", ["main", "run", "inspect", "score", "fingerprint", "damage", "demo"])
def test_help_text_is_unchanged(command):
    proc = _cli(["--help"] if command == "main" else [command, "--help"])
    expected = (GOLDEN / f"help-{command}.txt").read_text()
    assert proc.stdout + proc.stderr == expected
