"""--junit: the run JSON as JUnit XML that parses back with the expected testcases and failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from f5_parity.parity.gate import Thresholds
from f5_parity.render.junit import write_junit
from f5_parity.results import ProbeResult, Status
from runjson import gate_of, report_of


def _stage(stage, passed, rule="rel_l2<=tol", rel_l2=0.0, rel_tol=1e-3, mismatched=None, note=""):
    return {"stage": stage, "passed": passed, "rule": rule, "rel_tol": rel_tol, "max_abs_diff": 0.0, "rel_l2": rel_l2,
            "cosine": 1.0, "snr_db": "inf", "min_required_rel_tol": rel_l2, "mismatched": mismatched,
            "a": {}, "b": {}, "note": note}


def run_json():
    probes = [
        ProbeResult("ckpt.anatomy", Status.INFO, "trainer checkpoint (raw + EMA)").to_dict(),
        ProbeResult("ckpt.ema_health", Status.WARN, "the EMA is 78% the pretrained model", fix="use_ema=False").to_dict(),
        ProbeResult("ckpt.load_simulation", Status.FAIL, "strict=False leaves 364 tensors random",
                    evidence={"missing": 364}, fix="load strictly", duration_s=0.25).to_dict(),
        ProbeResult("vocab.files", Status.ERROR, "probe crashed: KeyError 'x'").to_dict(),
        ProbeResult("vocab.text_coverage", Status.SKIP, "skipped: needs texts").to_dict(),
    ]
    rows = [
        {"case": "a", "path": "trainer", "label": "trainer", "expected": "olá", "hypothesis": "olá",
         "wer": 0.0, "cer": 0.0, "similarity": 100.0, "wav": "wavs/a/trainer.wav"},
        {"case": "a", "path": "infer", "label": "infer", "expected": "olá", "hypothesis": "o que é\x01 o que é",
         "wer": 3.0, "cer": 2.1, "similarity": 12.0, "wav": "wavs/a/infer.wav"},
        {"case": "b", "path": "trainer", "label": "trainer", "expected": "bom dia", "hypothesis": "bom dia",
         "wer": 0.0, "cer": 0.0, "similarity": 100.0, "wav": "wavs/b/trainer.wav"},
        {"case": "b", "path": "infer", "label": "infer", "expected": "bom dia", "hypothesis": "bom dia",
         "wer": 0.0, "cer": 0.0, "similarity": 100.0, "wav": "wavs/b/infer.wav"},
    ]
    d = {
        "verdict": "fail", "parity_verdict": "fail", "culprits": ["weights"], "mode": "full", "seconds": 12.345,
        "factors": {"weights": {"title": "weight set", "train": {"set": "raw"}, "infer": {"set": "ema"},
                                "culprit": True, "fix": "load_model(..., use_ema=False)"}},
        "stages": {"a": [_stage("tokens", True, rule="exact", rel_tol=None, rel_l2=None, mismatched=0),
                         _stage("cond_mel", True, rel_tol=1e-4),
                         _stage("velocity", False, rel_l2=0.507)],
                   "b": []},
        "first_divergence": {"a": "velocity", "b": "build"},
        "notes": ["b: the infer spec cannot be built: size mismatch for text_embed"],
        "unbuilt": {"b": "size mismatch for text_embed"},
        "checkpoint": {"path": "/x/model_25400.pt", "name": "model_25400.pt", "sha256": "cd" * 32},
        "probes": probes,
        "scores": {"asr": {}, "rows": rows,
                   "pooled": {"trainer": {"wer": 0.0, "cer": 0.0, "similarity": 100.0, "n": 2},
                              "infer": {"wer": 1.5, "cer": 1.05, "similarity": 56.0, "n": 2}}},
        "reproducibility": {"created": "2026-11-22T01:30:05+00:00", "command": "parity-check run /x/model_25400.pt"},
    }
    d["gate"] = gate_of(d, Thresholds(per_case=True), source="flags")
    return d


def _parse(tmp_path, d):
    path = write_junit(report_of(d), tmp_path / "out" / "junit.xml")
    root = ET.parse(path).getroot()
    (suite,) = root.findall("testsuite")
    return root, suite


def _by(suite):
    return {(tc.get("classname"), tc.get("name")): tc for tc in suite.findall("testcase")}


def test_parses_with_a_testcase_per_probe_stage_check_and_score(tmp_path):
    d = run_json()
    root, suite = _parse(tmp_path, d)
    assert root.tag == "testsuites" and suite.get("name") == "parity-check"
    cases = suite.findall("testcase")
    n_checks = len(d["gate"]["checks"])
    assert len(cases) == 5 + 4 + n_checks + 4  # probes, stages (3 + one unbuildable case), gate checks, score rows
    assert int(suite.get("tests")) == len(cases) == int(root.get("tests"))
    classes = [tc.get("classname") for tc in cases]
    assert classes.count("probe") == 5 and classes.count("stage.a") == 3 and classes.count("stage.b") == 1
    assert classes.count("gate") == n_checks and classes.count("score.a") == 2 and classes.count("score.b") == 2
    assert len(set((tc.get("classname"), tc.get("name")) for tc in cases)) == len(cases)  # names are unique
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["verdict"] == "fail" and props["culprits"] == "weights" and props["checkpoint_sha256"] == "cd" * 32
    assert suite.get("timestamp") == "2026-11-22T01:30:05+00:00" and suite.get("time") == "12.345"


def test_failures_and_skips_match_the_json(tmp_path):
    d = run_json()
    _, suite = _parse(tmp_path, d)
    tc = _by(suite)
    failed = {k for k, t in tc.items() if t.find("failure") is not None}
    failed_checks = [c for c in d["gate"]["checks"] if not c["passed"]]
    assert int(suite.get("failures")) == len(failed)
    assert int(suite.get("skipped")) == 1 and tc[("probe", "vocab.text_coverage")].find("skipped") is not None

    # Probes: fail and error are failures with the summary; warn/info pass.
    f = tc[("probe", "ckpt.load_simulation")].find("failure")
    assert f.get("message") == "strict=False leaves 364 tensors random" and f.get("type") == "fail"
    assert '"fix": "load strictly"' in f.text
    assert tc[("probe", "vocab.files")].find("failure").get("type") == "error"
    assert ("probe", "ckpt.ema_health") not in failed and ("probe", "ckpt.anatomy") not in failed
    assert tc[("probe", "ckpt.load_simulation")].get("time") == "0.250"

    # Stages: the out-of-tolerance one and the unbuildable case.
    v = tc[("stage.a", "velocity")].find("failure")
    assert v.get("message") == "velocity: rel L2 0.507 > rel_tol 0.001" and "culprits: weights" in v.text
    assert ("stage.a", "tokens") not in failed and ("stage.a", "cond_mel") not in failed
    assert "size mismatch" in tc[("stage.b", "build")].find("failure").text

    # Gate: one testcase per check, failing exactly when the check failed; parity carries the fixes.
    gate_failed = {k[1] for k in failed if k[0] == "gate"}
    assert len(gate_failed) == len(failed_checks)
    assert "parity" in gate_failed and "cer[infer]" in gate_failed and "cer[infer][a]" in gate_failed
    assert "cer[infer][b]" not in gate_failed
    assert "weights: load_model(..., use_ema=False)" in tc[("gate", "parity")].find("failure").text

    # Score rows fail exactly when a per-case gate check on that case and path failed.
    assert ("score.a", "infer") in failed and ("score.a", "trainer") not in failed
    assert ("score.b", "infer") not in failed
    msg = tc[("score.a", "infer")].find("failure").get("message")
    assert "cer[infer][a]: 2.1 <= 0.6 does not hold" in msg
    assert "\ufffd" in tc[("score.a", "infer")].find("failure").text  # the control character was made XML-safe


def test_passing_engine_only_run(tmp_path):
    d = {"verdict": "pass", "culprits": [], "stages": {"a": [_stage("velocity", True)]}, "seconds": 1.0}
    d["gate"] = gate_of(d, Thresholds())
    _, suite = _parse(tmp_path, d)
    assert [(t.get("classname"), t.get("name")) for t in suite.findall("testcase")] == [("stage.a", "velocity"),
                                                                                          ("gate", "parity")]
    assert suite.get("failures") == "0" and suite.get("skipped") == "0"
