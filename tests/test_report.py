"""report.md rendered from the run JSON: order, content, determinism; spectrogram PNGs; GitHub summary.

The engine part of the JSON comes from a real parity run (tiny random-weight model, the EMA
injected on the infer side, espeak-ng reference); probes, scores, artifacts and reproducibility are
added as the CLI adds them. Two real runs with the same inputs must give the same report apart
from the timestamp lines (issue 5's acceptance).
"""

from __future__ import annotations

import copy
import re
import struct
from datetime import datetime, timezone

import numpy as np
import pytest

from f5_parity.paths.factors import BY_ID
from f5_parity.parity.gate import Thresholds
from f5_parity.render.markdown import (
    TIMESTAMP_LINE_PREFIXES,
    append_github_summary,
    github_summary,
    mel_diff_png,
    mel_png,
    render_report,
    report_dir_name,
    strip_timestamp_lines,
    write_report,
)
from f5_parity.results import ProbeResult, Status
from runjson import gate_of, report_of


def _engine_run(fixture_set, case_dir, pool=None):
    from f5_parity.testing import fixtures as F
    from f5_parity.cases.case import builtin_cases
    from f5_parity.parity.session import ParitySession
    from f5_parity.paths.spec import trainer_spec
    from f5_parity.paths.stages import ModelPool

    cfg = F.model_config(fixture_set.run.arch)["model"]
    train = trainer_spec(fixture_set.checkpoints["trainer"], train_config=cfg, train_vocab=fixture_set.vocab,
                         vocoder_path=None)
    infer = train.with_value("weights", label="infer", set="ema")  # the classic fault: EMA instead of raw
    cases = builtin_cases(case_dir, 1)
    return ParitySession(train, infer, cases, mode="fast", pool=pool or ModelPool("cpu")).run().to_dict()


def complete(engine: dict, *, created="2026-11-22T01:30:05+00:00", durations=(0.0123, 0.5, 0.0)) -> dict:
    """The engine JSON plus what `parity-check run` adds: checkpoint, probes, scores, gate, artifacts, repro."""
    d = copy.deepcopy(engine)
    d["parity_verdict"] = d["verdict"]
    d["checkpoint"] = {"path": "/data/ckpts/run/model_25400.pt", "name": "model_25400.pt", "sha256": "ab" * 32}
    d["probes"] = [
        ProbeResult("ckpt.ema_health", Status.WARN, "the EMA is still about 78% the pretrained model",
                    metrics={"ema_step": 1225400, "share": 0.22, "per_layer": {"a": 1}}, threshold={"max_share": 0.5},
                    margin=-0.28, evidence={"decay": 0.9999}, fix="infer with use_ema=False",
                    duration_s=durations[0]).to_dict(),
        ProbeResult("ckpt.load_simulation", Status.PASS, "loads in 5 of 5 F5 paths", metrics={"paths": 5},
                    evidence={"paths": ["load_model", "F5TTS"]}, duration_s=durations[1]).to_dict(),
        ProbeResult("vocab.text_coverage", Status.SKIP, "skipped: needs texts", duration_s=durations[2]).to_dict(),
    ]
    case = next(iter(d["stages"]))
    rows = []
    for path, wer, cer, sim in (("infer", 1.2, 0.91, 21.5), ("reference", 0.25, 0.12, 88.0),
                                ("trainer", 0.4, 0.22, 79.0), ("griffin-lim", 0.5, 0.35, 70.25)):
        rows.append({"case": case, "path": path, "label": path, "expected": "Eu não sei | se você vai",
                     "hypothesis": "o que é " * 40 if path == "infer" else "eu não sei se você",
                     "wer": wer, "cer": cer, "similarity": sim, "wav": f"wavs/{case}/{path} take.wav"})
    d["scores"] = {
        "asr": {"backend": "faster-whisper", "model": "whisper-base", "language": "pt", "normalizer": "whisper-basic"},
        "rows": rows,
        "pooled": {r["path"]: {"wer": r["wer"], "cer": r["cer"], "cer_capped": min(r["cer"], 1.0),
                               "similarity": r["similarity"], "broken_share": float(r["wer"] > 0.5), "n": 1}
                   for r in rows},
    }
    d["gate"] = gate_of(d, Thresholds(), source="defaults")
    d["verdict"] = "pass" if d["parity_verdict"] == "pass" and d["gate"]["passed"] else "fail"
    d["artifacts"] = {"wavs": {f"{case} infer": f"wavs/{case}/infer take.wav"},
                      "pngs": {f"{case} trainer mel": f"pngs/{case}_trainer.png",
                               f"{case} infer mel": f"pngs/{case}_infer.png",
                               f"{case} difference": f"pngs/{case}_diff.png"}}
    d["reproducibility"] = {
        "versions": {"f5-parity": "0.1.0", "f5-tts": "1.1.22", "torch": "2.11.0", "torchaudio": "2.11.0",
                     "faster-whisper": "1.2.1", "python": "3.11.2"},
        "asr_model": "whisper-base", "checkpoint_sha256": "ab" * 32, "seed": 0, "device": "cpu",
        "command": "parity-check run /data/ckpts/run/model_25400.pt --mode full", "created": created}
    return d


@pytest.fixture(scope="module")
def engine(fixture_set, tmp_path_factory):
    return _engine_run(fixture_set, tmp_path_factory.mktemp("report-cases"))


@pytest.fixture
def run(engine):
    return complete(engine)


def _lines(text):
    return text.split("\n")


def test_verdict_and_culprits_come_first(run):
    text = render_report(report_of(run))
    lines = _lines(text)
    assert lines[0] == "# Parity report: model_25400.pt"
    assert lines[2].startswith("**FAILED** — trainer path vs infer path of `model_25400.pt` (fast mode): parity fail")
    assert "culprits: weights" in lines[2]
    heads = [l for l in lines if l.startswith("## ")]
    assert heads[:2] == ["## Culprits", "## Gate"]
    assert heads.index("## Stages") < heads.index("## Probes") < heads.index("## Scores") < heads.index("## Reproducibility")
    eff = run["factors"]["weights"]["effect"]
    assert f"1. **weights** — {BY_ID['weights'].title}" in lines
    assert f"   - **fix:** {run['factors']['weights']['fix']}" in lines
    assert "parity-check export" in run["factors"]["weights"]["fix"]  # a command with the user's own file
    assert f"velocity {format(eff['velocity'], '.4g')}" in text and f"first divergence at {eff['first_divergence']}" in text


def test_tables_gate_stages_scores(run):
    text = render_report(report_of(run))
    assert "| cer | infer | pooled | 0.91 | <= | 0.6 | **FAIL** |" in text
    assert "| parity | - | - | fail | == | pass | **FAIL** |" in text
    case = next(iter(run["stages"]))
    velocity = next(c for c in run["stages"][case] if c["stage"] == "velocity")
    assert f"| velocity | **no** | rel_l2<=tol | 0.001 | {format(velocity['rel_l2'], '.4g')} |" in text
    assert f"Tolerance rule: {run['tolerance_rule']}" in text
    # Scores: baselines first, then the generated paths; wav links and spectrograms relative to the report.
    section = text[text.index(f"### Case {case}\n\n| path | label"):]
    order = [p for p in ("reference", "griffin-lim", "trainer", "infer") if f"\n| {p} | " in section]
    assert order == ["reference", "griffin-lim", "trainer", "infer"]
    assert section.index("\n| reference | ") < section.index("\n| infer | ")
    assert f"[wav](wavs/{case}/infer%20take.wav)" in text
    assert f"![{case} difference](pngs/{case}_diff.png)" in text
    assert "Eu não sei \\| se você vai" in text  # a pipe in a transcript does not break the table
    assert "o que é o que é" in text and "o que é " * 40 not in text  # long ASR loops are cut
    # Every table row has as many cells as its header.
    for block in re.findall(r"(?:^\|.*\|$\n?)+", text, re.M):
        rows = [r for r in block.strip().split("\n")]
        widths = {len(re.split(r"(?<!\\)\|", r)) for r in rows}
        assert len(widths) == 1, rows[:3]


def test_probe_sections_and_reproducibility(run):
    text = render_report(report_of(run))
    assert "### ckpt.ema_health — WARN" in text and "- **fix:** infer with use_ema=False" in text
    assert "| ema_step | 1225400 |" in text and "<details><summary>evidence</summary>" in text
    assert "### vocab.text_coverage — SKIP" in text
    assert "| f5-tts | 1.1.22 |" in text and f"`{'ab' * 32}`" in text
    assert "parity-check run /data/ckpts/run/model_25400.pt --mode full" in text
    assert "- Seed: 0; device: cpu; mode: fast" in text


def test_same_json_gives_same_bytes(run, tmp_path):
    a = write_report(report_of(run), tmp_path / "a").read_bytes()
    b = write_report(report_of(copy.deepcopy(run)), tmp_path / "b").read_bytes()
    assert a == b


def test_only_timestamp_lines_differ(run, engine):
    other = copy.deepcopy(engine)
    other["seconds"] = engine["seconds"] + 12.5
    a = render_report(report_of(run))
    b = render_report(report_of(complete(other, created="2026-12-01T09:00:00+00:00", durations=(3.0, 4.0, 5.0))))
    la, lb = _lines(a), _lines(b)
    assert len(la) == len(lb)
    differing = [x for x, y in zip(la, lb) if x != y]
    assert differing and all(x.startswith(TIMESTAMP_LINE_PREFIXES) for x in differing)
    assert {x.split(":")[0] for x in differing} == {"- Created", "- Run time", "- Probe times"}
    assert sum(x.startswith(TIMESTAMP_LINE_PREFIXES) for x in la) == 3  # nothing else carries a time
    assert strip_timestamp_lines(a) == strip_timestamp_lines(b)
    # Stripping hides only those lines: any other change still shows.
    changed = complete(other)
    changed["culprits"] = []
    assert strip_timestamp_lines(render_report(report_of(changed))) != strip_timestamp_lines(a)


@pytest.mark.slow
def test_two_real_runs_give_the_same_report_apart_from_timestamps(fixture_set, engine, tmp_path):
    from f5_parity.paths.stages import ModelPool

    again = _engine_run(fixture_set, tmp_path / "cases", pool=ModelPool("cpu"))  # fresh models, fresh case wav
    first = write_report(report_of(complete(engine)), tmp_path / "first").read_text()
    second = write_report(report_of(complete(again, created=datetime.now(timezone.utc).isoformat())), tmp_path / "second").read_text()
    assert strip_timestamp_lines(first) == strip_timestamp_lines(second)


def test_passing_engine_only_json_renders_without_optional_sections(engine):
    d = copy.deepcopy(engine)
    d["verdict"], d["culprits"] = "pass", []
    d["checkpoint"] = {"path": "/x/model_last.pt"}  # no name, no hash: both derived or shown as unknown
    text = render_report(report_of(d))
    assert _lines(text)[2].startswith("**PASSED**")
    assert "None: no factor that differs" in text
    for head in ("## Gate", "## Probes", "## Scores", "## Spectrograms"):
        assert head not in text
    assert "- Checkpoint: `/x/model_last.pt`" in text


def test_report_dir_name():
    when = datetime(2026, 11, 22, 1, 30, 5)
    assert report_dir_name("model_25400.pt", when) == "model_25400-20261122-013005"
    assert report_dir_name("/a/b/model_last.safetensors", "2026-11-22T01:30:05+00:00") == "model_last-20261122-013005"
    assert report_dir_name("my model (v2).pt", when) == "my-model-v2-20261122-013005"


def test_github_summary_is_appended_only_when_set(run, tmp_path):
    summary = github_summary(report_of(run))
    assert summary.startswith("### parity-check: FAILED — model_25400.pt")
    assert f"fix: {run['factors']['weights']['fix']}" in summary
    assert "| cer | infer | pooled | 0.91 | <= | 0.6 | **FAIL** |" in summary
    target = tmp_path / "step_summary.md"
    target.write_text("earlier step\n")
    assert append_github_summary(report_of(run), {"GITHUB_STEP_SUMMARY": str(target)}) == target
    append_github_summary(report_of(run), {"GITHUB_STEP_SUMMARY": str(target)})
    text = target.read_text()
    assert text.startswith("earlier step\n") and text.count("### parity-check: FAILED") == 2
    assert append_github_summary(report_of(run), {}) is None


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_mel_pngs_are_deterministic(tmp_path):
    import torch

    rng = np.random.default_rng(0)
    trainer = rng.normal(size=(1, 120, 100)).astype(np.float32)
    infer = trainer[:, :100] + 0.1 * rng.normal(size=(1, 100, 100)).astype(np.float32)
    a = mel_png(trainer, tmp_path / "a" / "trainer.png", "trainer", vmin=-4, vmax=4).read_bytes()
    b = mel_png(torch.from_numpy(trainer), tmp_path / "b" / "trainer.png", "trainer", vmin=-4, vmax=4).read_bytes()
    assert a == b and _png_size(a) == (800, 300)
    assert b"Matplotlib" not in a  # no version stamp in the metadata
    d1 = mel_diff_png(trainer, infer, tmp_path / "d1.png", "trainer - infer").read_bytes()
    d2 = mel_diff_png(trainer, infer, tmp_path / "d2.png", "trainer - infer").read_bytes()
    assert d1 == d2 and d1 != a
    with pytest.raises(ValueError, match="bin counts"):
        mel_diff_png(trainer, trainer[:, :, :80], tmp_path / "bad.png", "x")
    with pytest.raises(ValueError, match=r"\[frames, mels\]"):
        mel_png(np.zeros(10), tmp_path / "bad.png", "x")
