"""Full mode generates each path once per seed: the trainer sample and the user's real infer path.

The stage engine's trainer final mel is not generated a second time: the pipeline hands it the trainer
sample it generates anyway (StageRunner.plant_final_mel). That is only honest if the two are the same
tensor, which the first test proves on the real model at the same seed (fp32 and under the training
run's bf16 autocast). The second counts the real CFM.sample generations of whole runs.
"""

from __future__ import annotations

import functools
import json

import pytest
import torch

from f5_parity import cli


@pytest.mark.parametrize("mixed_precision, stored", [("no", False), ("bf16", False), ("no", True)])
def test_trainer_sample_is_exactly_the_stage_engines_trainer_final_mel(fixture_set, pt_cases, mixed_precision, stored):
    """stored: a prepared dataset whose raw.arrow holds the transcript converted otherwise than the installed
    f5-tts converts it now (an older release's extra space): the Trainer feeds the stored text, so the sample
    must be generated from it, as the stages are, not from a fresh conversion."""
    from f5_tts.model.utils import convert_char_to_pinyin

    from f5_parity.cases.case import Case
    from f5_parity.parity.generate import trainer_case_sample
    from f5_parity.parity.session import ParitySession
    from f5_parity.paths.spec import infer_spec, trainer_spec

    fs, pt = fixture_set, pt_cases[0]
    now = convert_char_to_pinyin([pt.text])[0]
    kept = tuple(t for c in now for t in ([" ", c] if c == "." else [c])) if stored else None
    assert not stored or list(kept) != now, "the stored text must differ from today's conversion"
    case = Case(pt.name, pt.wav, pt.text, "Amanhã nós vamos viajar para o interior.", prepared_text=kept)
    ckpt = fs.checkpoints["trainer"]
    train = trainer_spec(ckpt, train_config=str(fs.config), train_vocab=fs.vocab, vocoder_path=None, seed=5,
                         mixed_precision=mixed_precision)
    if stored:
        train = train.with_value("text", frontend="prepared")
    infer = infer_spec(ckpt, infer_config=str(fs.config), infer_vocab=fs.vocab, use_ema=False, vocoder_path=None)
    computed = dict(ParitySession(train, infer, [case], mode="full").baseline(case))["final_mel"]

    session = ParitySession(train, infer, [case], mode="full")
    made = trainer_case_sample(session.train, case, session.runner.pool, seed=5)
    assert made.text_inputs == [list(kept) if stored else now]
    planted = made.sample.gen_mel.permute(0, 2, 1)
    assert planted.shape == computed.shape and torch.equal(planted, computed)
    session.runner.plant_final_mel(session.train, case, planted)
    assert torch.equal(dict(session.baseline(case))["final_mel"], computed)


@pytest.fixture
def generations(monkeypatch):
    """Every real CFM.sample call that runs the ODE (called through, nothing changed): its step count and the
    seed torch's generator was last seeded with (torch.initial_seed(), read at the call: what the noise came from)."""
    from f5_tts.model.cfm import CFM

    calls = []
    original = CFM.sample

    @functools.wraps(original)
    def counted(self, *args, **kwargs):
        calls.append((kwargs.get("steps"), torch.initial_seed()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CFM, "sample", counted)
    return calls


@pytest.mark.slow
@pytest.mark.parametrize("flags, culprit", [([], None), (["--infer-ema", "--nfe-step", "16"], "weights")])
def test_full_mode_generates_each_path_once_per_seed(flags, culprit, fixture_set, pt_cases, asr_cache, generations,
                                                     tmp_path):
    fs, case = fixture_set, pt_cases[0]
    out = tmp_path / "r"
    rc = cli.main(["run", str(fs.checkpoints["trainer"]), "--train-config", str(fs.config), "--train-vocab",
                   str(fs.vocab), "--infer-config", str(fs.config), "--infer-vocab", str(fs.vocab), "--vocoder",
                   "griffin-lim", "--no-infer-ema", *flags, "--ref-audio", str(case.wav), "--ref-text", case.text,
                   "--mode", "full", "--seeds", "2", "--out", str(out)])
    data = json.loads((out / "run.json").read_text())
    assert len(generations) == 4, generations  # 2 seeds x (trainer sample + the observed infer path)
    assert {r["path"] for r in data["scores"]["rows"]} >= {"trainer", "infer"}
    assert not {r["path"] for r in data["scores"]["rows"]} & {"trainer-heldout", "infer-copy"}
    assert data["observed_infer"]["mirror_check"]["passed"]  # full mode checks the mirror too
    # Seed pairing, observed: the trainer sample and the infer path of one seed drew their noise from the same
    # seed, and the two seeds from different ones (calls run seed by seed: trainer, then infer).
    drawn = [seed for _, seed in generations]
    assert drawn[0] == drawn[1] and drawn[2] == drawn[3] and drawn[0] != drawn[2], drawn
    # ... and the gate's per-seed gaps pair the rows of the same seed: recomputed here from the per-wav rows
    rows = data["scores"]["acoustic"]["rows"]
    gaps = data["scores"]["seeds"]["gaps"]["infer"]  # (speaker similarity only where resemblyzer is installed)
    for metric, gap in gaps.items():
        assert gap["against"] == "trainer" and gap["n"] == 2
        for s, value in zip(data["scores"]["seeds"]["seeds"], gap["per_seed"]):
            if metric not in ("mcd", "logmel", "speaker_similarity"):
                continue  # ASR gaps pool over words, not over rows
            mean = {p: [r[metric] for r in rows if r["path"] == p and r["seed"] == s] for p in ("trainer", "infer")}
            infer, trainer = (sum(mean[p]) / len(mean[p]) for p in ("infer", "trainer"))
            expected = trainer - infer if metric == "speaker_similarity" else infer - trainer  # worse is positive
            assert value == pytest.approx(expected, abs=1e-9), (metric, s)
    # the typed codec holds a whole full run: scores (rows, pooled, acoustic, seeds) and the observed calls read
    # back into their dataclasses and write the same JSON, key for key and in the same order
    from f5_parity.parity.result import RunReport

    report = RunReport.from_json(data)
    assert report.scores.seeds.gaps["infer"]["cer"].against == "trainer" and report.observed_infer.runs
    assert json.dumps(report.to_json(), ensure_ascii=False) == json.dumps(data, ensure_ascii=False)
    if culprit is None:
        assert data["parity_verdict"] == "pass" and data["culprits"] == []  # (the gate judges the untrained audio)
        stages = [s["stage"] for s in data["stages"][case.name]]
        assert stages[-2:] == ["final_mel", "wav"]  # the trainer's planted final mel, compared
    else:
        assert rc == 1 and data["culprits"][0] == culprit and "sampler" in data["culprits"]
        assert any("not generated" in n for n in data["notes"])
