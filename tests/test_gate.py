"""Gate thresholds (defaults < pyproject.toml < parity.toml < flags) and their evaluation on a run JSON."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from f5_parity.compare import DEFAULT_REL_TOL
from f5_parity.errors import InputError
from f5_parity.parity.gate import Thresholds, load_thresholds, parse_path_values
from runjson import gate_of



def _run(parity="pass", pooled=None, rows=None, probes=None):
    return {"verdict": parity, "parity_verdict": parity, "probes": probes or [],
            "scores": None if pooled is None else {"pooled": pooled, "rows": rows or []}}


POOLED_GOOD = {
    "reference": {"wer": 0.30, "cer": 0.20, "similarity": 85.0, "n": 2},
    "griffin-lim": {"wer": 0.45, "cer": 0.33, "similarity": 72.0, "n": 2},
    "trainer": {"wer": 0.40, "cer": 0.25, "similarity": 80.0, "n": 2},
    "infer": {"wer": 0.50, "cer": 0.30, "similarity": 76.0, "n": 2},
}


def test_defaults_without_project_files(tmp_path):
    t, source = load_thresholds(None, tmp_path)
    assert source == "defaults"
    assert t.limit("max_cer", "infer") == 0.6 and t.limit("max_cer", "trainer") == 0.6
    assert t.limit("max_cer", "reference") is None  # baselines are not gated unless named
    assert t.max_gap == {"cer": 0.2, "similarity": 20.0, "mcd": 0.25, "speaker_similarity": 0.03}
    assert t.limit("max_mcd", "infer") is None and t.limit("min_speaker_similarity", "infer") is None  # not gated
    assert t.tolerances == DEFAULT_REL_TOL
    assert t.to_dict()["sources"]["max_cer"] == "defaults"


def test_precedence_pyproject_then_parity_toml_then_flags(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.parity-check]\nmax-cer = {infer = 0.5, reference = 0.4}\n'
        'min_similarity = 30\ntolerances = {velocity = 0.01}\n')
    t, source = load_thresholds({}, tmp_path)
    assert source == "pyproject.toml"
    assert t.limit("max_cer", "infer") == 0.5 and t.limit("max_cer", "trainer") == 0.6  # merged key by key
    assert t.limit("max_cer", "reference") == 0.4
    assert t.tolerances["velocity"] == 0.01 and t.tolerances["wav"] == DEFAULT_REL_TOL["wav"]

    (tmp_path / "parity.toml").write_text('min_similarity = 50\nmax_gap = {cer = 0.1}\nper_case = true\n')
    t, source = load_thresholds({}, tmp_path)
    assert source == "parity.toml"
    assert t.limit("min_similarity", "infer") == 50 and t.limit("max_cer", "infer") == 0.5
    assert t.max_gap == {"cer": 0.1, "similarity": 20.0, "mcd": 0.25, "speaker_similarity": 0.03} and t.per_case
    assert t.sources == {"max_cer": "pyproject.toml", "min_similarity": "parity.toml", "tolerances": "pyproject.toml",
                         "max_gap": "parity.toml", "per_case": "parity.toml"}

    # A number from a later source replaces the whole per-path table; None flags are "not given".
    t, source = load_thresholds({"max_cer": 0.7, "max_wer": None, "max_similarity_gap": 5,
                                 "tolerances": {"final_mel": 0.05}}, tmp_path)
    assert source == "flags"
    assert t.max_cer == {"*": 0.7} and t.limit("max_cer", "reference") is None
    assert t.max_gap == {"cer": 0.1, "similarity": 5.0, "mcd": 0.25, "speaker_similarity": 0.03}
    assert t.tolerances["final_mel"] == 0.05 and t.tolerances["velocity"] == 0.01
    assert "max_wer" not in t.sources and t.to_dict()["sources"]["max_wer"] == "defaults"


def test_flag_strings_are_parsed():
    assert parse_path_values("0.6") == 0.6
    assert parse_path_values("infer=0.5, trainer=0.7") == {"infer": 0.5, "trainer": 0.7}
    t, _ = load_thresholds({"max_cer": "infer=0.5,*=0.55"}, Path("/nonexistent-dir"))
    assert t.limit("max_cer", "infer") == 0.5 and t.limit("max_cer", "infer-copy") == 0.55


@pytest.mark.parametrize("settings, words", [
    ({"max_ceR": 0.5}, ["unknown threshold 'max_ceR'", "valid keys: max_wer"]),
    ({"max_cer": {"inference": 0.5}}, ["unknown path 'inference'", "infer-copy"]),
    ({"tolerances": {"tokens": 0.1}}, ["unknown stage 'tokens'", "exact"]),
    ({"max_gap": 0.2}, ["must be a table"]),
    ({"max_gap": {"sim": 3}}, ["unknown gap metric 'sim'"]),
    ({"max_cer": "lots"}, ["not a number"]),
    ({"max_cer": -1}, ["not a number >= 0"]),
    ({"per_case": "yes"}, ["not true or false"]),
])
def test_bad_thresholds_name_the_problem(settings, words, tmp_path):
    with pytest.raises(InputError) as exc:
        load_thresholds(settings, tmp_path)
    for w in words:
        assert w in str(exc.value)


def test_unknown_key_in_parity_toml_names_the_file(tmp_path):
    (tmp_path / "parity.toml").write_text("max_cre = 0.5\n")
    with pytest.raises(InputError, match=r"unknown threshold 'max_cre' in parity.toml"):
        load_thresholds(None, tmp_path)
    (tmp_path / "parity.toml").write_text("max_cer = = 0.5\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_thresholds(None, tmp_path)


def test_parity_verdict_alone_without_scores():
    data = {"verdict": "fail", "culprits": ["weights"], "probes": []}  # the engine's fast-mode shape: no scores
    gate = gate_of(data, Thresholds())
    assert [c["name"] for c in gate["checks"]] == ["parity"]
    assert gate["checks"][0] == {"name": "parity", "path": None, "case": None, "value": "fail",
                                 "threshold": "pass", "op": "==", "passed": False}
    assert gate["passed"] is False and gate["source"] == "defaults"
    assert gate["thresholds"]["max_cer"] == {"*": 0.6}


def test_scores_pass_and_gaps():
    gate = gate_of(_run("pass", POOLED_GOOD), Thresholds(), source="flags")
    assert gate["passed"] and gate["source"] == "flags"
    names = [(c["name"], c["path"]) for c in gate["checks"]]
    # parity first, then paths in order (baselines are not gated by default), then the gaps
    assert names == [("parity", None), ("wer", "trainer"), ("cer", "trainer"), ("similarity", "trainer"),
                     ("wer", "infer"), ("cer", "infer"), ("similarity", "infer"),
                     ("cer_gap", "infer"), ("similarity_gap", "infer")]
    gaps = {c["name"]: c for c in gate["checks"] if c["name"].endswith("_gap")}
    assert gaps["cer_gap"]["value"] == pytest.approx(0.05) and gaps["cer_gap"]["op"] == "<="
    assert gaps["similarity_gap"]["value"] == pytest.approx(4.0)


def test_broken_infer_fails_cer_similarity_and_gap():
    pooled = copy.deepcopy(POOLED_GOOD)
    pooled["infer"] = {"wer": 1.3, "cer": 0.92, "similarity": 22.0, "n": 2}
    gate = gate_of(_run("pass", pooled), Thresholds())
    failed = {(c["name"], c["path"]) for c in gate["checks"] if not c["passed"]}
    assert failed == {("wer", "infer"), ("cer", "infer"), ("similarity", "infer"),
                      ("cer_gap", "infer"), ("similarity_gap", "infer")}
    assert gate["passed"] is False


def test_nan_or_missing_scores_fail():
    pooled = {"trainer": {"wer": 0.4, "cer": 0.2, "similarity": 80.0},
              "infer": {"wer": "nan", "cer": 0.3, "similarity": None}}
    gate = gate_of(_run("pass", pooled), Thresholds())
    by = {(c["name"], c["path"]): c for c in gate["checks"]}
    assert by[("cer", "trainer")]["value"] == 0.2 and by[("cer", "trainer")]["passed"]
    assert not by[("wer", "infer")]["passed"] and not by[("similarity", "infer")]["passed"]
    assert by[("similarity_gap", "infer")]["value"] is None and not by[("similarity_gap", "infer")]["passed"]


def test_probes_and_per_case_rows():
    probes = [{"probe": "ckpt.anatomy", "status": "info"}, {"probe": "vocab.text_coverage", "status": "skip"},
              {"probe": "ckpt.load_simulation", "status": "fail"}]
    rows = [{"case": "a", "path": "infer", "wer": 0.2, "cer": 0.1, "similarity": 90.0},
            {"case": "b", "path": "infer", "wer": 0.9, "cer": 0.7, "similarity": 45.0}]
    pooled = {"infer": {"wer": 0.55, "cer": 0.4, "similarity": 67.0}}
    gate = gate_of(_run("pass", pooled, rows, probes), Thresholds(per_case=True))
    probe_checks = [c for c in gate["checks"] if c["name"].startswith("probe:")]
    assert [(c["name"], c["passed"]) for c in probe_checks] == [("probe:ckpt.anatomy", True),
                                                               ("probe:ckpt.load_simulation", False)]
    case_b = [c for c in gate["checks"] if c["case"] == "b" and not c["passed"]]
    assert [c["name"] for c in case_b] == ["cer"]
    assert all(c["passed"] for c in gate["checks"] if c["case"] == "a")
    # Pooled-only by default, and probes can be left out of the gate.
    gate = gate_of(_run("pass", pooled, rows, probes), Thresholds(fail_on_probe=False))
    assert gate["passed"] and all(c["case"] is None for c in gate["checks"])


def _seeds_block(trainer: dict[tuple[str, int], float], infer: dict[tuple[str, int], float],
                 metric: str = "mcd") -> dict:
    """scores.seeds as parity/seeds.py computes it from per-wav rows: (case, seed) -> the metric of each path."""
    from f5_parity.parity.seeds import _seed_statistics
    from f5_parity.scoring.metrics import score_text

    def row(case: str, path: str, seed: int, value: float) -> dict:
        utt = score_text("eu sei", "eu sei")
        if hasattr(utt, metric):  # an ASR metric: the utterance's own score
            setattr(utt, metric, value)
        return {"case": case, "path": path, "seed": seed, "utterance": utt, "mcd": None, "logmel": None,
                "speaker_similarity": None, **({} if hasattr(utt, metric) else {metric: value})}

    rows = [row(c, path, s, v) for path, values in (("trainer", trainer), ("infer", infer)) for (c, s), v in values.items()]
    seeds = sorted({s for _, s in trainer})
    paths, gaps = _seed_statistics(rows, seeds)
    return {"seeds": seeds, "n_seeds": len(seeds), "paths": paths, "gaps": gaps}


def _units(values: list[float], cases: tuple[str, ...] = ("a", "b")) -> dict[tuple[str, int], float]:
    """values in (case, seed) order: cases x seeds."""
    n = len(values) // len(cases)
    return {(c, s): values[i * n + s] for i, c in enumerate(cases) for s in range(n)}


def test_a_gap_fails_only_beyond_the_noise_and_above_the_threshold(tmp_path):
    t, _ = load_thresholds({"max_gap": {"mcd": 1.0}, "max_mcd": {"infer": 7.0}}, tmp_path)
    pooled = {"trainer": {"cer": 0.3}, "infer": {"cer": 0.3}}
    base = _units([5.0, 5.0, 5.0, 5.0, 5.0, 5.0])
    # a 1.5 dB mean gap from two noisy units (2 of 6 worse): not a broken path -> passes
    noisy = {"pooled": pooled, "rows": [], "seeds": _seeds_block(base, _units([5.0, 9.5, 5.0, 5.0, 9.5, 5.0]))}
    gap = next(c for c in gate_of({"verdict": "pass", "scores": noisy}, t)["checks"] if c["name"] == "mcd_gap")
    assert gap["value"] == pytest.approx(1.5) and gap["units"] == 6 and gap["seeds"] == 3
    assert gap["p_value"] == pytest.approx(16 / 64) and gap["beyond_noise"] is False and gap["passed"]
    # every unit worse by about the same: beyond the noise and above 1 dB -> fails; the per-path check judges the mean
    steady = {"pooled": pooled, "rows": [], "seeds": _seeds_block(base, _units([6.5, 6.7, 6.3, 6.4, 6.6, 6.5]))}
    checks = gate_of({"verdict": "pass", "scores": steady}, t)["checks"]
    gap = next(c for c in checks if c["name"] == "mcd_gap")
    assert gap["p_value"] == pytest.approx(1 / 64) and gap["beyond_noise"] is True and not gap["passed"]
    level = next(c for c in checks if c["name"] == "mcd" and c["path"] == "infer")
    assert level["value"] == pytest.approx(6.5) and level["passed"] and level["seeds"] == 3
    # beyond the noise but below the threshold: a real, small difference -> passes
    small = {"pooled": pooled, "rows": [], "seeds": _seeds_block(base, _units([5.5, 5.6, 5.4, 5.5, 5.6, 5.4]))}
    gap = next(c for c in gate_of({"verdict": "pass", "scores": small}, t)["checks"] if c["name"] == "mcd_gap")
    assert gap["beyond_noise"] is True and gap["passed"]
    # one seed of one case: one unit cannot be beyond the noise (one draw cannot fail CI)
    single = {"pooled": pooled, "rows": [], "seeds": _seeds_block({("a", 0): 5.0}, {("a", 0): 9.0})}
    gap = next(c for c in gate_of({"verdict": "pass", "scores": single}, t)["checks"] if c["name"] == "mcd_gap")
    assert gap["value"] == pytest.approx(4.0) and gap["units"] == 1 and gap["passed"] and not gap["beyond_noise"]


def test_ties_and_equal_differences_of_a_discrete_metric_get_their_exact_p(tmp_path):
    """CER over 3 seeds of one case moves in steps: the same +0.25 on every unit. The paired t-test's standard
    deviation is 0 there, and the old rule called it p = 0 (certain); the sign-flip test gives the exact 1/8, so
    three units cannot fail the gate, six can (1/64), and zero differences are no evidence at all (p = 1)."""
    from f5_parity.scoring.stats import paired_test, sign_flip_test

    assert paired_test([0.0] * 3, [0.25] * 3).p_value == 0.0  # what the old rule used
    assert sign_flip_test([0.25] * 3).p_value == pytest.approx(1 / 8)
    assert sign_flip_test([0.25] * 6).p_value == pytest.approx(1 / 64)
    assert sign_flip_test([0.0, 0.0, 0.25]).p_value == pytest.approx(1 / 2)  # a zero is the same under either sign
    assert sign_flip_test([0.0] * 4).p_value == 1.0
    t, _ = load_thresholds({"max_gap": {"cer": 0.2}}, tmp_path)
    pooled = {"trainer": {"cer": 0.3}, "infer": {"cer": 0.55}}
    three = _seeds_block({("a", s): 0.25 for s in range(3)}, {("a", s): 0.5 for s in range(3)}, metric="cer")
    six = _seeds_block(_units([0.25] * 6), _units([0.5] * 6), metric="cer")
    for block, fails in ((three, False), (six, True)):
        gate = gate_of({"verdict": "pass", "scores": {"pooled": pooled, "rows": [], "seeds": block}}, t)
        gap = next(c for c in gate["checks"] if c["name"] == "cer_gap")
        assert gap["value"] == pytest.approx(0.25) and gap["passed"] is not fails, block


