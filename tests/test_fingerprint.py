"""The fingerprint on the committed trained fixture: its own loss picks the settings it was trained with."""

from __future__ import annotations

import pytest

from f5_parity.cases.case import builtin_cases
from f5_parity.demo.fixture import fixture_dir
from f5_parity.demo.faults import permuted_vocab
from f5_parity.parity.fingerprint import fingerprint, winning_spec
from f5_parity.paths.spec import trainer_spec

TRUE = {"arch": "v0 flags (pe_attn_head=1, text_mask_padding=False)", "vocab": "training vocab",
        "mel": "vocos mel features", "weights": "raw weights"}


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fp")
    fx = fixture_dir()
    # Start from the wrong flags (v1), as a user without the training config would.
    base = trainer_spec(fx / "model_ptbr_tiny.pt", train_config=fx / "F5TTS_ptbr_tiny.yaml",
                        train_vocab=fx / "vocab.txt", vocoder_path=None)
    base = base.with_value("arch", pe_attn_head=None, text_mask_padding=True)
    vocabs = {"training vocab": str(fx / "vocab.txt"),
              "same vocab, other order": str(permuted_vocab(fx / "vocab.txt", tmp / "permuted.txt"))}
    cases = builtin_cases(tmp / "cases", 2)
    found = fingerprint(base, cases, vocab_files=vocabs, include_ema=True, draws=6, max_draws=30, seed=0)
    return base, vocabs, found


@pytest.mark.slow
def test_fingerprint_picks_the_true_setting_in_every_family(verdicts):
    _, _, found = verdicts
    by_family = {v.family: v for v in found}
    assert set(by_family) == set(TRUE)
    for family, truth in TRUE.items():
        v = by_family[family]
        # decided at the stated significance, with the p-value and effect size said, and never a wrong winner
        assert v.decided, (family, v.statement)
        assert v.winner == truth, (family, [(c.label, c.mean) for c in v.candidates])
        assert v.p_value < v.alpha_per_look <= 0.01 and v.effect_size > 0 and v.draws <= 30, v.statement
        d = v.to_dict()
        assert d["winner"] == truth and d["p_value"] == v.p_value and d["statement"].startswith("decided: ")


def test_judge_says_not_decided_plainly_when_the_draws_do_not_separate():
    from f5_parity.parity.fingerprint import CandidateLoss, judge

    close = [CandidateLoss("vocab", "a", [1.0, 1.2, 0.9, 1.1]), CandidateLoss("vocab", "b", [1.1, 1.1, 1.0, 1.05])]
    v = judge("vocab", close, alpha=0.01, looks=3)
    assert not v.decided and v.winner == "a" and v.to_dict()["winner"] is None
    assert v.statement.startswith("not decided: a leads but p = ") and v.alpha_per_look == pytest.approx(0.01 / 3)
    steady = [CandidateLoss("vocab", "a", [1.0, 1.2, 0.9, 1.1]), CandidateLoss("vocab", "b", [1.5, 1.71, 1.4, 1.6])]
    v = judge("vocab", steady, alpha=0.01)
    assert v.decided and v.p_value < 1e-3 and v.effect_size > 10


@pytest.mark.slow
def test_fingerprint_feeds_the_trainer_spec_and_is_deterministic(verdicts, tmp_path):
    from f5_parity.parity.fingerprint import flow_matching_losses
    from f5_parity.paths.stages import ModelPool

    base, vocabs, found = verdicts
    spec = winning_spec(base, found, vocab_files=vocabs, include_ema=True)
    assert spec.value("arch")["pe_attn_head"] == 1 and spec.value("arch")["text_mask_padding"] is False
    assert spec.value("weights")["set"] == "raw" and not spec.unknown
    cases = builtin_cases(tmp_path / "cases", 1)
    first = flow_matching_losses(spec, cases, ModelPool("cpu"), draws=2, seed=0)
    assert first == flow_matching_losses(spec, cases, ModelPool("cpu"), draws=2, seed=0)


@pytest.mark.slow
def test_fingerprint_command_prints_every_family_and_writes_json(tmp_path, pt_cases):
    import json

    from f5_parity import cli

    fx = fixture_dir()
    case = pt_cases[0]
    out = tmp_path / "fp.json"
    assert cli.main(["fingerprint", str(fx / "model_ptbr_tiny.pt"), "--vocab", str(fx / "vocab.txt"),
                     "--ref-audio", str(case.wav), "--ref-text", case.text, "--draws", "3", "--max-draws", "6",
                     "--json", str(out)]) == 0
    families = {f["family"]: f for f in json.loads(out.read_text())["families"]}
    assert set(families) == {"arch", "vocab", "mel", "weights"}
    assert families["weights"]["leader"] == "raw weights"
    for f in families.values():  # a winner is named only when decided, and the statement says which it is
        assert (f["winner"] is not None) == f["decided"] and f["draws"] in (3, 6)
        assert f["statement"].startswith("decided: " if f["decided"] else "not decided")
