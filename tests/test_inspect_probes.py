"""The inspect probes and the vocab analysis they stand on, each with an assert on the exact finding."""

from __future__ import annotations

import json
import unicodedata

import pytest

from f5_parity.testing import fixtures as F
from f5_parity.checkpoint.inspect import build_context
from f5_parity.probe import discover, run_group
from f5_parity.results import ProbeResult, Status
from f5_parity.checkpoint.vocab import analyse_vocab, compare_vocabs, text_coverage

INSPECT_PROBES = ["ckpt.anatomy", "ckpt.architecture", "ckpt.load_simulation", "ckpt.finite", "ckpt.ema_health",
                  "vocab.files", "vocab.text_coverage"]


def _f5_tokenizer(path):
    from f5_tts.model.utils import get_tokenizer

    return get_tokenizer(str(path), "custom")


def _write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


# --- vocab analysis, checked against f5's own get_tokenizer -----------------------------------------


def test_crlf_vocab_reads_the_same_tokens(tmp_path, fixture_set):
    lf = fixture_set.vocab
    crlf = _write_bytes(tmp_path / "crlf.txt", lf.read_bytes().replace(b"\n", b"\r\n"))
    a, b = analyse_vocab(lf), analyse_vocab(crlf)
    assert b.crlf_lines == a.lines == len(fixture_set.run.vocab_chars)
    assert b.tokens == a.tokens
    assert b.char_map == _f5_tokenizer(crlf)[0]  # F5 reads in text mode: CRLF is harmless
    cmp = compare_vocabs(a, b)
    assert cmp.same_tokens and not cmp.same_bytes and "line endings" in cmp.verdict


def test_duplicate_line_shrinks_the_vocab_like_f5(tmp_path, fixture_set):
    chars = list(fixture_set.run.vocab_chars)
    p = F.write_vocab(tmp_path / "dup.txt", chars[:10] + ["a"] + chars[10:])
    r = analyse_vocab(p)
    f5_map, f5_size = _f5_tokenizer(p)
    assert r.size == f5_size == len(chars) and r.lines == len(chars) + 1
    assert r.char_map == f5_map
    first_a = chars.index("a") + 1  # shifted by the inserted line
    assert r.duplicates == [{"token": "a", "ids": [10, first_a], "kept_id": first_a}]
    assert any("1 duplicate token(s)" in x for x in r.problems())


def test_missing_final_newline_truncates_the_last_token(tmp_path):
    p = _write_bytes(tmp_path / "v.txt", " \na\nb\nü".encode())
    r = analyse_vocab(p)
    assert r.missing_final_newline and r.truncated_last_token == {"line": "ü", "token": ""}
    assert r.tokens == [" ", "a", "b", ""] and r.char_map == _f5_tokenizer(p)[0]
    assert "ü" not in r.char_map


def test_space_not_at_id0_and_bom(tmp_path):
    p = _write_bytes(tmp_path / "v.txt", "\ufeff \na\n".encode())
    r = analyse_vocab(p)
    assert r.bom and r.id0_token == "\ufeff " and r.space_id is None
    assert any("' ' is not id 0" in x for x in r.problems())
    q = F.write_vocab(tmp_path / "w.txt", ["a", " ", "b"])
    assert analyse_vocab(q).space_id == 1


def test_permuted_vocab_is_a_silent_remap(tmp_path, fixture_set):
    chars = list(fixture_set.run.vocab_chars)
    swapped = chars[:]
    swapped[5], swapped[6] = swapped[6], swapped[5]
    p = F.write_vocab(tmp_path / "perm.txt", swapped)
    cmp = compare_vocabs(analyse_vocab(fixture_set.vocab), analyse_vocab(p))
    assert cmp.silent_remap and cmp.same_set and cmp.differing_ids == 2
    assert cmp.first_differences == [{"id": 5, "train": chars[5], "infer": chars[6]},
                                     {"id": 6, "train": chars[6], "infer": chars[5]}]
    assert "another order" in cmp.verdict


def test_nfd_text_loses_its_accent_silently(fixture_set):
    vocab = analyse_vocab(fixture_set.vocab)
    nfd = unicodedata.normalize("NFD", "não")
    assert [f"U+{ord(c):04X}" for c in nfd] == ["U+006E", "U+0061", "U+0303", "U+006F"]
    cov = text_coverage(nfd, vocab.char_map)
    assert not cov.is_nfc and cov.nfc_text == "não"
    assert [(o.char, o.codepoint, o.name, o.count) for o in cov.outside] == [("\u0303", "U+0303", "COMBINING TILDE", 1)]
    assert cov.nfd_combining == ["U+0303 COMBINING TILDE"]
    assert cov.outside_after_nfc == []
    assert cov.id0_token == " "
    nfc = text_coverage("não", vocab.char_map)
    assert nfc.is_nfc and nfc.outside == []


def test_text_frontend_is_f5s(fixture_set):
    vocab = analyse_vocab(fixture_set.vocab)
    cov = text_coverage("um; dois “três” ñ", vocab.char_map)
    assert ";" not in cov.tokens and "," in cov.tokens  # convert_char_to_pinyin maps ; to ,
    assert '"' in cov.tokens and "“" not in cov.tokens
    assert [o.char for o in cov.outside] == ["ñ"]


# --- the probes --------------------------------------------------------------------------------------


def _run(**kw):
    ctx = build_context(**kw)
    return {r.probe: r for r in run_group("inspect", ctx)}


def test_catalog_holds_the_inspect_probes():
    catalog = discover()
    assert [p.id for p in catalog.group("inspect")] == INSPECT_PROBES
    assert not [b for b in catalog.broken if ".ckpt_" in b.module or ".vocab_" in b.module]


def test_trainer_file_with_its_vocab_and_config(fixture_set):
    fs = fixture_set
    res = _run(checkpoint=fs.checkpoints["trainer"], config=str(fs.config), vocab=str(fs.vocab),
               train_vocab=str(fs.vocab), texts=["Olá, mundo!", unicodedata.normalize("NFD", "não")])
    assert list(res) == INSPECT_PROBES
    st = {k: r.status for k, r in res.items()}
    assert st == {"ckpt.anatomy": Status.INFO, "ckpt.architecture": Status.INFO, "ckpt.load_simulation": Status.WARN,
                  "ckpt.finite": Status.PASS, "ckpt.ema_health": Status.WARN, "vocab.files": Status.PASS, "vocab.text_coverage": Status.WARN}
    a = res["ckpt.anatomy"].metrics
    assert a["weight_sets"] == ["ema", "raw"] and a["update"] == 25_400 and a["ema_step"] == 1_225_400
    e = res["ckpt.ema_health"]
    assert e.metrics["share"] == pytest.approx(fs.run.share)
    assert e.margin == pytest.approx(fs.run.share - 0.5)
    assert "infer with use_ema=False" in e.summary and "use_ema=False" in e.fix
    assert res["ckpt.load_simulation"].metrics["loads[load_checkpoint(use_ema=True)]"] is True
    assert res["ckpt.load_simulation"].metrics["loads[F5TTS()]"] is False  # a YAML config: F5TTS() cannot build it
    assert "fails: F5TTS()" in res["ckpt.load_simulation"].summary
    assert res["ckpt.load_simulation"].metrics["strict_false_left_random[ema]"] == 54
    t = res["vocab.text_coverage"]
    assert t.metrics == {"texts": 2, "outside_tokens": 1, "outside_distinct": 1, "non_nfc_texts": 1}
    assert "U+0303" in t.summary and "NFC" in t.fix
    for r in res.values():  # JSON round trip: what `run`'s report reuses
        assert ProbeResult.from_dict(json.loads(json.dumps(r.to_dict()))).to_dict() == r.to_dict()


def test_packaged_vocab_against_a_custom_vocab_model_fails_loudly(fixture_set):
    res = _run(checkpoint=fixture_set.checkpoints["trainer"])
    load = res["ckpt.load_simulation"]
    assert load.status == Status.FAIL
    assert ("size mismatch for transformer.text_embed.text_embed.weight: copying a param with shape "
            "torch.Size([100, 64]) from checkpoint, the shape in current model is torch.Size([2546, 64])") in load.summary
    assert "pass the training vocab (99 lines)" in load.fix
    vocab = res["vocab.files"]
    assert vocab.status == Status.FAIL and "2546 rows" in vocab.summary and "has 100 rows" in vocab.summary
    assert res["ckpt.architecture"].status == Status.WARN  # matches no shipped config, and none was given
    assert res["vocab.text_coverage"].status == Status.SKIP


def test_raw_only_file_fails_the_default_path_with_f5s_keyerror(fixture_set):
    res = _run(checkpoint=fixture_set.checkpoints["bare"], vocab=str(fixture_set.vocab))
    load = res["ckpt.load_simulation"]
    assert load.status == Status.FAIL
    assert "load_checkpoint(use_ema=True) fails: KeyError: 'ema_model_state_dict'" in load.summary
    assert "use_ema=False" in load.fix
    assert res["ckpt.ema_health"].status == Status.INFO
    assert res["ckpt.ema_health"].summary.startswith("no EMA weights")


def test_official_style_safetensors(fixture_set):
    res = _run(checkpoint=fixture_set.checkpoints["ema-safetensors"], vocab=str(fixture_set.vocab))
    assert res["ckpt.load_simulation"].status == Status.WARN  # loads by default; use_ema=False fails
    assert "load_checkpoint(use_ema=False): the file holds EMA weights only" in res["ckpt.load_simulation"].fix
    lines = res["ckpt.load_simulation"].evidence["lines"]
    assert "load_checkpoint(use_ema=True): loads" in lines
    assert any(x.startswith("load_checkpoint(use_ema=False): RuntimeError: Error(s) in loading state_dict for CFM:")
               for x in lines)
    assert res["ckpt.anatomy"].metrics["weight_sets"] == ["ema"]
    assert res["ckpt.ema_health"].status == Status.INFO


def test_prefixed_file_gets_a_prefix_fix(fixture_set):
    res = _run(checkpoint=fixture_set.checkpoints["module-prefix"], vocab=str(fixture_set.vocab))
    assert "'module.'" in res["ckpt.anatomy"].fix
    assert "prefix module." in res["ckpt.anatomy"].summary
    assert res["ckpt.load_simulation"].metrics["strict_false_left_random[raw]"] == 54


def test_wrong_config_fails_architecture_with_the_differences(fixture_set):
    res = _run(checkpoint=fixture_set.checkpoints["trainer"], config="F5TTS_v1_Base", vocab=str(fixture_set.vocab))
    arch = res["ckpt.architecture"]
    assert arch.status == Status.FAIL
    assert "dim 128 in the weights vs 1024" in arch.summary and "depth 2 in the weights vs 22" in arch.summary
    assert res["ckpt.load_simulation"].status == Status.FAIL


def test_permuted_inference_vocab_fails_vocab_files(tmp_path, fixture_set):
    chars = list(fixture_set.run.vocab_chars)
    chars[1], chars[2] = chars[2], chars[1]
    perm = F.write_vocab(tmp_path / "perm.txt", chars)
    res = _run(checkpoint=fixture_set.checkpoints["trainer"], vocab=str(perm), train_vocab=str(fixture_set.vocab))
    v = res["vocab.files"]
    assert v.status == Status.FAIL
    assert v.metrics["silent_remap"] is True and v.metrics["differing_ids"] == 2
    assert "another order" in v.summary and "infer with the training vocab" in v.fix
    load = res["ckpt.load_simulation"]  # loads without a word in every path the config fits: that is the trap
    assert load.metrics["default_path_loads"] is True and load.metrics["loads[Trainer resume]"] is True
    assert load.status == Status.WARN and "fails: F5TTS();" in load.summary  # only F5TTS(), which takes no YAML


# --- a probe's status agrees with its findings (issue 23): each probe fed a failing case --------------

BUNDLED = "fixtures/ptbr-tiny"


def _bundled(**kw):
    from f5_parity.demo.fixture import fixture_dir

    d = fixture_dir()
    args = {k: str(d / v) for k, v in kw.items()}
    return _run(checkpoint=str(d / "model_ptbr_tiny.pt"), **args)


def _vocab_claims_agree(fix: str | None) -> None:
    """A fix that says 'the vocab has N tokens but the weights were trained with M' must have N != M."""
    import re

    for n, m in re.findall(r"the vocab has (\d+) tokens but the weights were trained with (\d+)", fix or ""):
        assert n != m, fix


def test_bundled_fixture_with_its_config_warns_for_the_loaders_that_fail():
    """Seen in issue 23: PASS beside 'fails: F5TTS(), Trainer resume, ...' and 'the vocab has 51 tokens but the
    weights were trained with 51'. The default path loads, so not FAIL; three F5 loaders fail, so not PASS."""
    load = _bundled(config="F5TTS_ptbr_tiny.yaml", vocab="vocab.txt")["ckpt.load_simulation"]
    assert load.metrics["default_path_loads"] is True
    failing = [k for k, v in load.metrics.items() if k.startswith("loads[") and v is False]
    assert failing == ["loads[F5TTS()]", "loads[Trainer resume]", "loads[Trainer fine-tune start]"]
    assert load.status == Status.WARN
    _vocab_claims_agree(load.fix)
    assert "F5TTS(): F5TTS(model=...) builds shipped configs only (built F5TTS_v1_Base)" in load.fix
    assert "Trainer resume: the file has an 'update' key but no optimizer state" in load.fix


def test_bundled_fixture_without_config_or_vocab_fails_with_a_vocab_fix_that_names_two_sizes():
    load = _bundled()["ckpt.load_simulation"]
    assert load.status == Status.FAIL and load.metrics["paths_loaded"] == 0
    assert "the vocab has 2545 tokens but the weights were trained with 51" in load.fix
    _vocab_claims_agree(load.fix)


LOAD_SIMULATION = next(p for p in discover().group("inspect") if p.id == "ckpt.load_simulation")


def test_no_load_fix_contradicts_its_numbers_on_any_fixture_file(fixture_set):
    """Every shape the factory writes: PASS only when all F5 loaders load."""
    given = {"config": str(fixture_set.config), "vocab": str(fixture_set.vocab)}
    # Every shape with its config and vocab; without them (f5's packaged vocab) once: the bundled test above too.
    for name, path, kw in [*((n, p, given) for n, p in fixture_set.checkpoints.items()),
                           ("trainer", fixture_set.checkpoints["trainer"], {})]:
        load = LOAD_SIMULATION.check(build_context(checkpoint=path, **kw))
        loads = [v for k, v in load.metrics.items() if k.startswith("loads[")]
        assert (load.status == Status.PASS) == all(loads), (name, kw, load.status, load.summary)
        if not load.metrics["default_path_loads"]:
            assert load.status == Status.FAIL, (name, kw)
        _vocab_claims_agree(load.fix)
        assert "see the exact error" not in (load.fix or ""), (name, kw, load.fix)


def test_non_finite_weights_fail_the_finite_probe(tmp_path, fixture_set):
    import torch

    ckpt = torch.load(fixture_set.checkpoints["trainer"], map_location="cpu", weights_only=True)
    key = next(k for k, v in ckpt["ema_model_state_dict"].items() if torch.is_floating_point(v) and v.numel() > 1)
    ckpt["ema_model_state_dict"][key].view(-1)[0] = float("nan")
    torch.save(ckpt, tmp_path / "nan.pt")
    fin = _run(checkpoint=str(tmp_path / "nan.pt"), config=str(fixture_set.config),
               vocab=str(fixture_set.vocab))["ckpt.finite"]
    assert fin.status == Status.FAIL and fin.metrics["ema_nan"] == 1 and fin.metrics["raw_nan"] == 0
    assert key.removeprefix("ema_model.") in fin.summary and "the raw weights are finite" in fin.fix


def _run_probe(probe_id: str, **run_fields):
    """A run probe on a run whose findings are given: the probe's status is judged from them alone."""
    from types import SimpleNamespace

    from f5_parity.probe import ProbeContext

    probe = next(p for p in discover().group("run") if p.id == probe_id)
    return probe.check(ProbeContext({"run": SimpleNamespace(**run_fields)}))


def test_each_run_probe_is_not_pass_on_a_failing_run():
    from f5_parity.compare import StageComparison
    from f5_parity.parity.result import Factor

    mel = StageComparison(stage="mel", passed=False, rule="rel_l2<=tol", rel_tol=1e-4, rel_l2=0.3)
    stage = _run_probe("run.stage_parity", first_divergence={"c0": "mel", "c1": None}, tolerance_rule="r",
                       stages={"c0": [mel], "c1": []})
    assert stage.status == Status.FAIL and "c0 at mel" in stage.summary
    assert stage.evidence["c0"] == [{"stage": "mel", "passed": False, "rel_l2": 0.3, "rel_tol": 1e-4,
                                     "mismatched": None, "note": ""}]
    from f5_parity.parity.isolate import Isolation, Outcome, Trial

    iso = _run_probe("run.isolation", isolation=Isolation([["vocab"]], [Trial(["vocab"], Outcome.FAIL, "text_ids")]),
                     culprits=["vocab"], factors={"vocab": Factor("Vocab", "a", "b", True, True, culprit=True,
                                                                  effect={"text_ids": 3}, fix="use the training vocab")},
                     unbuilt={})
    assert iso.status == Status.FAIL and iso.fix == "vocab: use the training vocab"
    assert iso.evidence["effects"] == {"vocab": {"text_ids": 3}}
    unbuilt = _run_probe("run.isolation", isolation=Isolation(),
                         culprits=[], factors={}, unbuilt={"infer": "the config does not build"})
    assert unbuilt.status == Status.FAIL
    from f5_parity.parity.result import RunWarning

    patho = _run_probe("run.pathologies", warnings=[RunWarning("ref-audio", "ptbr_00", "12 s clip")], by_design=[])
    assert patho.status == Status.WARN
    from f5_parity.observe.path import InferObservation

    mirror = _run_probe("run.observed_infer", observed_infer=InferObservation.from_dict({
        "status": "observed", "findings": [], "factors": {}, "failure": None,
        "mirror_check": {"checked": True, "passed": False, "rel_l2": 0.3, "rel_tol": 1e-4}}))
    assert mirror.status == Status.FAIL and "cannot be trusted" in mirror.summary
    failed = _run_probe("run.observed_infer", observed_infer=InferObservation.from_dict({
        "status": "failed", "findings": [], "factors": {},
        "failure": {"stage": "load", "error": {"type": "KeyError", "message": "'x'"}, "fix": "f"}}))
    assert failed.status == Status.FAIL
    finding = _run_probe("run.observed_infer", observed_infer=InferObservation.from_dict({
        "status": "observed", "findings": [{"message": "nfe 16, flags say 32"}],
        "factors": {"sampler": {"agrees": False}}, "failure": None, "mirror_check": {"checked": True, "passed": True}}))
    assert finding.status == Status.WARN and finding.metrics["factors_not_as_predicted"] == 1
    from f5_parity.parity.scores import RunScores

    scores = _run_probe("run.scores", scores=RunScores.from_dict({
        "asr": {}, "rows": [],
        "pooled": {"trainer": {"cer": 0.1, "wer": 0.2, "similarity": 0.9},
                   "infer-copy": {"cer": 0.6, "wer": 0.9, "similarity": 0.5}}}))
    assert scores.status == Status.WARN


def test_the_finite_probe_counts_exactly_where_a_sum_would_mislead(tmp_path, fixture_set):
    """Huge finite weights whose sum overflows are still finite; +inf and -inf (whose sum is NaN) are two infs."""
    import torch

    ckpt = torch.load(fixture_set.checkpoints["trainer"], map_location="cpu", weights_only=True)
    keys = [k for k, v in ckpt["model_state_dict"].items() if torch.is_floating_point(v) and v.numel() > 1]
    ckpt["model_state_dict"][keys[0]].fill_(3e38)  # finite; any two of them sum to inf in float32
    bad = ckpt["ema_model_state_dict"][f"ema_model.{keys[1]}"].view(-1)
    bad[0], bad[1] = float("inf"), float("-inf")
    torch.save(ckpt, tmp_path / "edge.pt")
    fin = _run(checkpoint=str(tmp_path / "edge.pt"), config=str(fixture_set.config),
               vocab=str(fixture_set.vocab))["ckpt.finite"]
    assert fin.metrics["raw_nan"] == 0 and fin.metrics["raw_inf"] == 0
    assert fin.metrics["ema_inf"] == 2 and fin.metrics["ema_nan"] == 0 and fin.status == Status.FAIL
