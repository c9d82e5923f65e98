"""report.md and the JUnit file show the acoustic metrics and the seed intervals beside CER and similarity."""

from __future__ import annotations

from f5_parity.parity.gate import Thresholds
from f5_parity.render.junit import build_junit
from f5_parity.render.markdown import render_report
from f5_parity.scoring.stats import interval, paired_test
from runjson import gate_of, report_of


def _scores() -> dict:
    per_seed = {"griffin-lim": {"cer": [0.3], "mcd": [0.7], "speaker_similarity": [0.99]},
                "trainer": {"cer": [0.9, 0.8, 1.0], "mcd": [5.9, 6.1, 6.0], "speaker_similarity": [0.70, 0.72, 0.71]},
                "infer-copy": {"cer": [0.9, 0.9, 1.0], "mcd": [7.9, 8.2, 8.1], "speaker_similarity": [0.50, 0.52, 0.49]}}
    paths = {p: {m: {**interval(v), "per_seed": v} for m, v in ms.items()} for p, ms in per_seed.items()}
    t = paired_test(per_seed["trainer"]["mcd"], per_seed["infer-copy"]["mcd"])
    gaps = {"infer-copy": {"mcd": {"against": "trainer", "gap": t.mean_difference, "interval": t.interval,
                                   "p_value": t.p_value, "n": t.n}}}
    rows = [{"case": "c1", "path": p, "label": p, "expected": "x", "hypothesis": "y", "wer": 1.0, "cer": v["cer"][0],
             "similarity": 40.0, "wav": f"wavs/c1_{p}.wav"} for p, v in per_seed.items()]
    acoustic_rows = [{"case": "c1", "path": p, "seed": 0, "mcd": v["mcd"][0], "speaker_similarity":
                      v["speaker_similarity"][0], "logmel": None, "truth": "reference"} for p, v in per_seed.items()]
    return {"asr": {}, "rows": rows, "pooled": {p: {"cer": v["cer"][0]} for p, v in per_seed.items()},
            "acoustic": {"tools": {"mcd": {"tools": [{"name": "librosa", "version": "0.11.0"}]}}, "rows": acoustic_rows},
            "seeds": {"seeds": [0, 1, 2], "n_seeds": 3, "paths": paths, "gaps": gaps}}


def test_report_and_junit_show_seeds_intervals_and_acoustic_metrics():
    scores = _scores()
    run = {"verdict": "pass", "mode": "full", "scores": scores}
    run["gate"] = gate_of(run, Thresholds())
    report = report_of(run)
    md = render_report(report)
    assert "### Over 3 seeds (mean [95 % interval])" in md
    assert "| trainer | 3 |" in md and "| griffin-lim | 1 |" in md  # how many seeds stand behind each number
    assert "6.00 [" in md and "| infer-copy | trainer | mcd |" in md
    gap = next(c for c in report.gate.checks if c.name == "mcd_gap").to_dict()
    assert gap["value"] > 1.5 and gap["beyond_seed_spread"] and not gap["passed"]
    xml = build_junit(report).getroot()
    texts = [(tc.get("classname"), tc.get("name"), (tc.find("system-out").text if tc.find("system-out") is not None
              else tc.find("failure").get("message"))) for tc in xml.iter("testcase")]
    gate_line = next(t for c, n, t in texts if c == "gate" and n.startswith("mcd_gap"))
    assert "95% interval" in gate_line and "over 3 seeds" in gate_line
    score_line = next(t for c, n, t in texts if c == "score.c1" and n == "griffin-lim")
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
