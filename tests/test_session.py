"""The run engine: each injected difference is found as the sole culprit; clean pairs pass.

Random-weight tiny models are enough for tensor parity (issue 4's acceptance). The specs are
"otherwise identical": the infer spec is the trainer spec with one factor changed.
"""

from __future__ import annotations

import random

import pytest

from f5_parity import fixtures as F
from f5_parity.cases import builtin_cases
from f5_parity.session import ParitySession
from f5_parity.spec import infer_spec, trainer_spec
from f5_parity.stages import ModelPool


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("session")
    fs = F.build_fixture_set(root / "fx", formats=["trainer"], dtypes=())
    vocos = F.random_vocos_dir(root / "vocos")
    vocos_other = F.random_vocos_dir(root / "vocos-other", seed=7)
    chars = F.read_vocab_chars(fs.vocab)
    shuffled = chars[:1] + random.Random(0).sample(chars[1:], len(chars) - 1)  # same size, other order
    permuted = F.write_vocab(root / "permuted_vocab.txt", shuffled)
    cases = builtin_cases(root / "cases", 1)
    cfg = F.model_config(fs.run.arch)["model"]
    train = trainer_spec(fs.checkpoints["trainer"], train_config=cfg, train_vocab=fs.vocab, vocoder_path=vocos)
    return dict(fs=fs, vocos=vocos, vocos_other=vocos_other, permuted=permuted, cases=cases, cfg=cfg, train=train,
                pool=ModelPool("cpu"))


def _run(world, infer, mode="fast"):
    return ParitySession(world["train"], infer, world["cases"], mode=mode, pool=world["pool"]).run()


def _inject(world, fid):
    t = world["train"]
    if fid == "weights":
        return t.with_value("weights", label="infer", set="ema")
    if fid == "arch":
        return t.with_value("arch", label="infer", pe_attn_head=1)  # v0 flag on a v1 model: same keys
    if fid == "vocab":
        value, loc = {"sha256": F.sha256_file(world["permuted"]), "size": t.value("vocab")["size"]}, {"path": str(world["permuted"])}
        return t.with_value("vocab", label="infer", locator=loc, **value)
    if fid == "text":
        return t.with_value("text", label="infer", unicode="NFD")
    if fid == "mel":
        return t.with_value("mel", label="infer", mel_spec_type="bigvgan")
    if fid == "vocoder":
        return t.with_value("vocoder", label="infer", locator={"path": str(world["vocos_other"])},
                            weights=F.sha256_file(world["vocos_other"] / "pytorch_model.bin"))
    if fid == "ref-audio":
        return t.with_value("ref-audio", label="infer", target_rms=0.5)
    if fid == "duration":
        return t.with_value("duration", label="infer", speed=0.5)
    if fid == "sampler":
        return t.with_value("sampler", label="infer", cfg=1.0)
    if fid == "dtype":
        return t.with_value("dtype", label="infer", autocast="bf16")
    raise AssertionError(fid)


def test_clean_pair_passes_with_no_culprits(world):
    result = _run(world, world["train"].mix(world["train"], [], label="infer"))
    assert result.verdict == "pass" and result.culprits == []
    assert all(c.passed for c in result.stages["ptbr_00"])


def test_canonical_infer_spec_with_correct_settings_passes(world):
    """The real infer_cli defaults, configured right, differ from the trainer only by design."""
    infer = infer_spec(world["fs"].checkpoints["trainer"], infer_config=world["cfg"], infer_vocab=world["fs"].vocab,
                       use_ema=False, vocoder_path=world["vocos"])
    result = _run(world, infer)
    assert result.verdict == "pass", result.first_divergence
    assert {(d["factor"], d["key"]) for d in result.by_design} == {
        ("text", "framing"), ("ref-audio", "preprocess"), ("ref-audio", "target_rms"), ("duration", "rule")}
    framing = next(d for d in result.by_design if d["key"] == "framing")
    assert framing["effect"]["first_divergence"] == "tokens"  # the '. ' framing is measured, not hidden


@pytest.mark.parametrize("fid", ["weights", "arch", "vocab", "text", "mel", "vocoder", "ref-audio", "duration",
                                 "sampler", "dtype"])
def test_each_injected_factor_is_the_sole_culprit(world, fid):
    result = _run(world, _inject(world, fid))
    assert result.verdict == "fail"
    assert result.culprits == [fid], result.isolation.to_dict()
    assert result.factors[fid]["culprit"] and result.factors[fid]["fix"]
    assert all(not v["culprit"] for k, v in result.factors.items() if k != fid)


def test_two_injected_differences_give_both(world):
    infer = _inject(world, "weights").mix(_inject(world, "arch"), ["arch"], label="infer")
    result = _run(world, infer)
    assert sorted(result.culprits) == ["arch", "weights"]
    assert sorted(map(sorted, result.isolation.culprit_sets)) == [["arch"], ["weights"]]


def test_unbuildable_mix_is_unresolved_not_pass(world):
    infer = world["train"].with_value("arch", label="infer", depth=3)  # keys no longer fit the weights
    result = _run(world, infer)
    assert result.verdict == "fail"
    outcomes = {tuple(t.factors): t.outcome.value for t in result.isolation.trials}
    assert outcomes[("arch",)] == "unresolved"
    assert "arch" in result.isolation.remaining_unresolved


def test_same_spec_twice_gives_identical_numbers(world):
    infer = _inject(world, "weights")
    a = ParitySession(world["train"], infer, world["cases"]).run().to_dict()
    b = ParitySession(world["train"], infer, world["cases"]).run().to_dict()
    a.pop("seconds"), b.pop("seconds")
    assert a == b


def test_full_mode_compares_final_mel_and_wav(world):
    result = _run(world, _inject(world, "sampler"), mode="full")
    stages = [c.stage for c in result.stages["ptbr_00"]]
    assert stages[-2:] == ["final_mel", "wav"]
    assert result.culprits == ["sampler"]
