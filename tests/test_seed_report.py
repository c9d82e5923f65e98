"""report.md and the JUnit file show the acoustic metrics and the seed intervals beside CER and similarity."""

from __future__ import annotations

import json

import pytest

from f5_parity import cli
from f5_parity.parity.gate import GAP_RULE, Thresholds
from f5_parity.render.junit import build_junit
from f5_parity.render.markdown import render_report
from runjson import gate_of, report_of


def _scores() -> dict:
    """Two cases over seeds 0, 1, 2: the infer copy task 2 dB further from the truth than the trainer's sample on
    every (case, seed), speaker similarity a little lower; the seed statistics computed by parity/seeds.py."""
    from f5_parity.parity.seeds import _seed_statistics
    from f5_parity.scoring.metrics import score_text

    per_seed = {"griffin-lim": {"cer": [0.3], "mcd": [0.7], "speaker_similarity": [0.99]},
                "trainer": {"cer": [0.9, 0.8, 1.0], "mcd": [5.9, 6.1, 6.0], "speaker_similarity": [0.70, 0.72, 0.71]},
                "infer-copy": {"cer": [0.9, 0.9, 1.0], "mcd": [7.9, 8.2, 8.1], "speaker_similarity": [0.50, 0.52, 0.49]}}
    by_seed = []
    for case, shift in (("c1", 0.0), ("c2", 0.05)):
        for p, v in per_seed.items():
            for seed, (mcd, sim) in enumerate(zip(v["mcd"], v["speaker_similarity"])):
                by_seed.append({"case": case, "path": p, "seed": seed, "utterance": score_text("eu sei", "eu sei"),
                                "mcd": mcd + shift, "logmel": None, "speaker_similarity": sim - shift})
    paths, gaps = _seed_statistics(by_seed, [0, 1, 2])
    rows = [{"case": "c1", "path": p, "label": p, "expected": "x", "hypothesis": "y", "wer": 1.0, "cer": v["cer"][0],
             "similarity": 40.0, "wav": f"wavs/c1_{p}.wav"} for p, v in per_seed.items()]
    acoustic_rows = [{"case": "c1", "path": p, "seed": 0, "mcd": v["mcd"][0], "speaker_similarity":
                      v["speaker_similarity"][0], "logmel": None, "truth": "reference"} for p, v in per_seed.items()]
    return {"asr": {}, "rows": rows, "pooled": {p: {"cer": v["cer"][0]} for p, v in per_seed.items()},
            "acoustic": {"tools": {"mcd": {"tools": [{"name": "librosa", "version": "0.11.0"}]}}, "rows": acoustic_rows},
            "seeds": {"seeds": [0, 1, 2], "n_seeds": 3, "paths": paths, "gaps": gaps, "gap_rule": GAP_RULE}}


def test_report_and_junit_show_seeds_intervals_and_acoustic_metrics():
    scores = _scores()
    run = {"verdict": "pass", "mode": "full", "scores": scores}
    run["gate"] = gate_of(run, Thresholds())
    report = report_of(run)
    md = render_report(report)
    assert "### Over 3 seeds (mean [95 % interval])" in md
    assert "| trainer | 3 |" in md and "| griffin-lim | 1 |" in md  # how many seeds stand behind each number
    assert "6.03 [" in md and "| infer-copy | trainer | mcd |" in md
    gap = next(c for c in report.gate.checks if c.name == "mcd_gap").to_dict()
    assert gap["value"] > 1.5 and gap["units"] == 6 and gap["beyond_noise"] and not gap["passed"]
    assert gap["p_value"] == 1 / 64  # every one of the 6 units worse: the smallest p the sign-flip test gives
    assert f"Gap rule (the gate's): {GAP_RULE}." in md
    xml = build_junit(report).getroot()
    texts = [(tc.get("classname"), tc.get("name"), (tc.find("system-out").text if tc.find("system-out") is not None
              else tc.find("failure").get("message")), tc.find("failure")) for tc in xml.iter("testcase")]
    gate_line, failure = next((t, f) for c, n, t, f in texts if c == "gate" and n.startswith("mcd_gap"))
    assert "95% interval" in gate_line and "over 3 seeds" in gate_line and "6 (case, seed) units" in gate_line
    assert f"rule: {GAP_RULE}" in failure.text
    score_line = next(t for c, n, t, _ in texts if c == "score.c1" and n == "griffin-lim")
    assert "MCD 0.7 dB" in score_line and "speaker similarity 0.99" in score_line


def test_seeds_pair_by_their_id_and_a_missing_seed_drops_out_of_both():
    """trainer [5.0, 9.0, 5.0] against infer [5.1, -, 5.2] (the path failed on seed 1): the gap pairs seed 0 with
    seed 0 and seed 2 with seed 2, n = 2, and says seed 1 was dropped. Paired by position it was [0.1, -3.8]."""
    from f5_parity.parity.seeds import _seed_statistics
    from f5_parity.scoring.metrics import score_text

    def row(path, seed, similarity):
        utt = score_text("eu não sei", "eu não sei")
        utt.similarity = similarity  # pooled similarity is the mean of the utterances': this one's
        return {"case": "c", "path": path, "seed": seed, "utterance": utt,
                "mcd": None, "logmel": None, "speaker_similarity": None}

    rows = [row("trainer-heldout", s, v) for s, v in ((0, 95.0), (1, 91.0), (2, 95.0))]
    rows += [row("infer", s, v) for s, v in ((0, 94.9), (2, 94.8))]
    _, gaps = _seed_statistics(rows, [0, 1, 2])
    gap = gaps["infer"]["similarity"]
    assert gap["n"] == 2 and gap["dropped_seeds"] == [1]
    assert gap["per_seed"][1] is None
    assert [round(g, 6) for g in gap["per_seed"] if g is not None] == [0.1, 0.2]


_FAILS_ON_SEED_1 = '''
import numpy as np
from f5_tts.infer.utils_infer import infer_process, load_model, preprocess_ref_audio_text
from f5_tts.model import DiT
import os, yaml
from f5_parity.paths.griffinlim import GriffinLimVocoder


def generate(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device):
    if seed == 1:
        raise RuntimeError("CUDA out of memory (simulated on seed 1)")
    arch = yaml.safe_load(open(os.environ["WRAPPER_CONFIG"]))["model"]["arch"]
    model = load_model(DiT, arch, checkpoint, vocab_file=vocab, device=device, use_ema=False)
    ref_file, ref_text = preprocess_ref_audio_text(ref_audio, ref_text, show_info=lambda *a: None)
    wav, sr, _ = infer_process(ref_file, ref_text, gen_text, model, GriffinLimVocoder(dict(
        n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100, target_sample_rate=24000,
        mel_spec_type="vocos")), show_info=lambda *a: None, progress=None, device=device)
    return np.asarray(wav), sr
'''


@pytest.mark.slow
def test_a_path_that_fails_on_one_seed_drops_that_seed_from_both_sides(fixture_set, pt_cases, asr_cache, tmp_path,
                                                                       monkeypatch):
    """Through the command line: a wrapper that fails on seed 1 of 0, 1, 2. Every gap pairs the trainer's seed 0 with
    the infer path's seed 0 and seed 2 with seed 2 (recomputed here from the per-wav rows by seed id), n is 2, and
    run.json, report.md and the gate all say seed 1 was dropped."""
    fs, case = fixture_set, pt_cases[0]
    monkeypatch.setenv("WRAPPER_CONFIG", str(fs.config))
    wrapper = tmp_path / "fails_on_seed_1.py"
    wrapper.write_text(_FAILS_ON_SEED_1, encoding="utf-8")
    out = tmp_path / "r"
    rc = cli.main(["run", str(fs.checkpoints["trainer"]), "--train-config", str(fs.config), "--train-vocab",
                   str(fs.vocab), "--infer-config", str(fs.config), "--infer-vocab", str(fs.vocab), "--no-infer-ema",
                   "--infer-path", f"{wrapper}:generate", "--vocoder", "griffin-lim", "--ref-audio", str(case.wav),
                   "--ref-text", case.text, "--gen-text", case.gen_text, "--mode", "full", "--seeds", "3",
                   "--out", str(out)])
    assert rc in (0, 1)
    data = json.loads((out / "run.json").read_text())
    rows = data["scores"]["acoustic"]["rows"]
    assert {r["seed"] for r in rows if r["path"] == "infer"} == {0, 2}  # the path really failed on seed 1
    gaps = data["scores"]["seeds"]["gaps"]["infer"]
    assert gaps, "no gap was computed"
    for metric, gap in gaps.items():
        assert gap["n"] == 2 and gap["dropped_seeds"] == [1] and gap["dropped_units"] == [[case.name, 1]], metric
        assert gap["per_seed"][1] is None
        if metric not in ("mcd", "logmel", "speaker_similarity"):
            continue
        for unit in gap["units"]:
            value = {p: next(r[metric] for r in rows if r["path"] == p and r["seed"] == unit["seed"])
                     for p in ("trainer", "infer")}
            worse = value["trainer"] - value["infer"] if metric == "speaker_similarity" else \
                value["infer"] - value["trainer"]
            assert unit["gap"] == pytest.approx(worse, abs=1e-12), (metric, unit)
    checks = [c for c in data["gate"]["checks"] if c["name"].endswith("_gap") and c.get("units") is not None]
    assert checks and all(c["units"] == 2 for c in checks)
    assert any("needs at least 5 to call a gap beyond the noise" in n for n in data["notes"])  # so none could fail
    md = (out / "report.md").read_text()
    assert f"2 ({case.name} seed 1 dropped: no pair)" in md
