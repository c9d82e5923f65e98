"""Every proof can fail: each is shown failing on a subject that is deliberately wrong.

The mirror check (observe/path.py mirror_check) says "the engine's rebuild of your path's spec computes
what your path's own model computes": the guided velocity at the engine's fixed (x_t, t), and CFM.sample's
time grid compared point by point over the whole grid. Here it runs on a real infer_cli path (fast mode,
tiny real checkpoint) and passes on the spec derived from the observation; then the same check runs on
rebuilds that are wrong in one way each — an arch flag flipped, the EMA set swapped for the raw one,
another time grid (uniform instead of EPSS, another step count) — and must fail, on the part that is wrong.
A real path that calls CFM.sample(use_epss=False) gets a uniform grid in the engine too.

The other proofs shown failing elsewhere: the version recognition on an edited copy of f5-tts
(tests/test_environment.py::test_edited_copy_first_on_pythonpath_is_reported_by_function, UNKNOWN CODE);
the stage equalities when a path casts its model or edits its text (tests/test_stages.py, the rule
findings); the matrix when version-sensitive code changed (tests/test_matrix_current.py); the seed
pairing in a real full run with a fault (tests/test_full_mode.py).
"""

from __future__ import annotations

import pytest
import torch

from f5_parity.cases.case import Case
from f5_parity.observe.path import InferRunner, _run, mirror_check
from f5_parity.observe.spec import derive_spec
from f5_parity.paths.spec import infer_spec
from f5_parity.paths.stages import timesteps

GEN = "Amanhã nós vamos viajar para o interior."
NFE = 6  # a step count with an EPSS grid of its own (f5's get_epss_timesteps), so EPSS and uniform differ


@pytest.fixture(scope="module")
def observed(fixture_set, pt_cases, tmp_path_factory):
    fs, c = fixture_set, pt_cases[0]
    predicted = infer_spec(fs.checkpoints["trainer"], infer_config=str(fs.config), infer_vocab=fs.vocab,
                           use_ema=False).with_value("sampler", nfe=NFE)
    case = Case(c.name, c.wav, c.text, GEN)
    obs, _ = _run(InferRunner(), predicted, case, mode="fast", seed=0, device="cpu", gen_text=GEN)
    assert obs.error is None and obs.samples[0].use_epss, obs.error
    spec, findings, _ = derive_spec(obs, predicted, case, gen_text=GEN, candidates=[],
                                    workdir=tmp_path_factory.mktemp("observed"))
    assert findings == []  # infer_cli's wiring configured as predicted: nothing to report
    return obs.samples[0], spec, case


def test_the_mirror_check_passes_on_the_right_rebuild(observed):
    call, spec, case = observed
    check = mirror_check(spec, case, call, gen_text=GEN)
    assert check.checked and check.passed and check.velocity_passed, check
    assert check.time_grid.passed and check.time_grid.points == [NFE + 1, NFE + 1]


def _wrong(spec, how: str):
    arch = spec.value("arch")
    if how == "arch flag flipped":
        return spec.with_value("arch", text_mask_padding=not arch["text_mask_padding"])
    if how == "EMA swapped for raw":
        return spec.with_value("weights", set="ema" if spec.value("weights")["set"] == "raw" else "raw")
    if how == "uniform time grid":
        return spec.with_value("sampler", use_epss=False)
    if how == "another step count":
        return spec.with_value("sampler", nfe=NFE + 1)
    raise AssertionError(how)


@pytest.mark.parametrize("how, part", [("arch flag flipped", "velocity"), ("EMA swapped for raw", "velocity"),
                                       ("uniform time grid", "time_grid"), ("another step count", "time_grid")])
def test_the_mirror_check_fails_on_a_wrong_rebuild(how, part, observed):
    call, spec, case = observed
    wrong = _wrong(spec, how)
    assert wrong.value("arch") != spec.value("arch") or wrong.value("weights") != spec.value("weights") or \
        wrong.value("sampler") != spec.value("sampler")
    check = mirror_check(wrong, case, call, gen_text=GEN)
    assert check.checked and not check.passed, check
    if part == "velocity":
        assert not check.velocity_passed and check.rel_l2 > check.rel_tol, check
    else:  # one fixed t cannot see another grid: the whole grid is compared
        assert check.velocity_passed and not check.time_grid.passed, check


def test_an_observed_use_epss_false_gives_the_engine_a_uniform_grid(fixture_set, pt_cases, tmp_path):
    """A real path calling CFM.sample(use_epss=False): the derived spec says so, the engine's grid is the
    uniform one (not EPSS, whatever the release's default), and the mirror's grid comparison passes; the
    same spec without the observed flag (what timesteps() computed before) fails it."""
    import torchaudio
    import yaml
    from f5_tts.infer.utils_infer import load_model
    from f5_tts.model import DiT

    from f5_parity.observe.calls import run_observed

    fs, c = fixture_set, pt_cases[0]
    case = Case(c.name, c.wav, c.text, GEN)

    def path():
        arch = yaml.safe_load(open(fs.config))["model"]["arch"]
        model = load_model(DiT, arch, str(fs.checkpoints["trainer"]), vocab_file=str(fs.vocab), use_ema=False,
                           device="cpu")
        audio, sr = torchaudio.load(str(case.ref_audio))
        audio = torchaudio.functional.resample(audio.mean(0, keepdim=True), sr, 24000)
        text = [list(case.ref_text + " " + GEN)]
        return model.sample(cond=audio, text=text, duration=audio.shape[-1] // 256 + 60, steps=NFE,
                            cfg_strength=2.0, sway_sampling_coef=-1.0, use_epss=False)

    obs, _ = run_observed(path, stop_at_first_sample=True, velocity_seed=0)
    assert obs.error is None and obs.samples and obs.samples[0].use_epss is False, obs.error
    predicted = infer_spec(fs.checkpoints["trainer"], infer_config=str(fs.config), infer_vocab=fs.vocab,
                           use_ema=False).with_value("sampler", nfe=NFE)
    spec, _, _ = derive_spec(obs, predicted, case, gen_text=GEN, candidates=[], workdir=tmp_path)
    assert spec.value("sampler")["use_epss"] is False
    t = torch.linspace(0, 1, NFE + 1)
    uniform = t - 1.0 * (torch.cos(torch.pi / 2 * t) - 1 + t)
    assert torch.allclose(timesteps(spec, torch.float32, "cpu"), uniform, atol=1e-6)
    check = mirror_check(spec, case, obs.samples[0], gen_text=GEN)
    assert check.time_grid.passed, check
    without = type(spec)(spec.label, {**spec.values, "sampler": {k: v for k, v in spec.value("sampler").items()
                                                                  if k != "use_epss"}}, spec.locators, spec.unknown)
    assert "use_epss" not in without.value("sampler")
    assert not mirror_check(without, case, obs.samples[0], gen_text=GEN).time_grid.passed


# --- a sweep's later checkpoints: the velocity checked once per observed spec, the weights on every file ----


def test_the_weights_mirror_check_passes_on_the_right_rebuild_and_fails_on_other_weights_or_grid(observed):
    """weights_mirror_check: every tensor the path's model holds against the engine's model of the spec, and
    the time grid. The right rebuild passes; the other weight set fails on the weights (naming tensors), another
    step count on the grid."""
    from f5_parity.observe.path import weights_mirror_check
    from f5_parity.paths.stages import ModelPool

    call, spec, case = observed
    right = weights_mirror_check(spec, case, call, gen_text=GEN, pool=ModelPool(), velocity_from="model_1.pt")
    assert right.passed and right.weights_equal and right.time_grid.passed and right.velocity_from == "model_1.pt"
    other = weights_mirror_check(_wrong(spec, "EMA swapped for raw"), case, call, gen_text=GEN, pool=ModelPool(),
                                 velocity_from="model_1.pt")
    assert not other.passed and other.weights_equal is False and "tensors differ" in other.note, other
    grid = weights_mirror_check(_wrong(spec, "another step count"), case, call, gen_text=GEN, pool=ModelPool(),
                                velocity_from="model_1.pt")
    assert grid.weights_equal and not grid.passed and not grid.time_grid.passed


def test_a_later_checkpoint_whose_weights_differ_from_the_engines_gets_the_whole_mirror_check(fixture_set, pt_cases,
                                                                                              tmp_path):
    """observe_infer_path given a passed reference for the same spec: equal weights take the reference's velocity
    comparison (no forward pass of the path); weights that differ from the engine's (here the engine's model is
    altered after it was built) get the whole check, the path's velocity computed after it stopped, and that check
    fails on the velocity, as it must."""
    from f5_parity.observe.path import mirror_spec_key, observe_infer_path
    from f5_parity.paths.spec import trainer_spec
    from f5_parity.paths.stages import ModelPool

    fs, c = fixture_set, pt_cases[0]
    predicted = infer_spec(fs.checkpoints["trainer"], infer_config=str(fs.config), infer_vocab=fs.vocab,
                           use_ema=False).with_value("sampler", nfe=NFE)
    train = trainer_spec(fs.checkpoints["trainer"], train_config=str(fs.config), train_vocab=fs.vocab,
                         vocoder_path=None)
    case = Case(c.name, c.wav, c.text, GEN)

    def observe(pool, reference):
        report, spec, _, _ = observe_infer_path(InferRunner(), predicted, train, case, mode="fast", seed=0,
                                                device="cpu", workdir=tmp_path / "obs", pool=pool,
                                                mirror_reference=reference)
        return report.mirror_check, spec

    full, spec = observe(ModelPool(), None)
    assert full.passed and full.velocity_passed and full.velocity_from is None
    key = mirror_spec_key(spec)
    assert full.spec_key == key
    reused, _ = observe(ModelPool(), (key, "model_1.pt"))
    assert reused.passed and reused.weights_equal and reused.velocity_from == "model_1.pt"
    assert reused.velocity_passed is None and reused.to_dict()["velocity_from"] == "model_1.pt"
    altered = ModelPool()
    with torch.no_grad():
        next(altered.model(spec).transformer.parameters()).add_(0.5)
    refused, _ = observe(altered, (key, "model_1.pt"))
    assert refused.velocity_from is None and refused.velocity_passed is False and not refused.passed, refused
    other_spec, _ = observe(ModelPool(), ("another spec's key", "model_1.pt"))
    assert other_spec.velocity_from is None and other_spec.velocity_passed  # not the same spec: the whole check


def test_the_velocity_computed_after_the_path_stopped_equals_the_one_computed_at_its_stop(observed, fixture_set,
                                                                                        pt_cases):
    """The deferred observation (velocity_at_stop=False) keeps the call's model and inputs as the path left
    them: path_velocity afterwards gives the velocity the observer computes at the stop."""
    from f5_parity.observe.calls import path_velocity

    call, spec, case = observed
    predicted = infer_spec(fixture_set.checkpoints["trainer"], infer_config=str(fixture_set.config),
                           infer_vocab=fixture_set.vocab, use_ema=False).with_value("sampler", nfe=NFE)
    obs, _ = _run(InferRunner(), predicted, case, mode="fast", seed=0, device="cpu", gen_text=GEN,
                  defer_velocity=True)
    assert obs.error is None and obs.samples[0].velocity is None
    assert torch.equal(path_velocity(obs.samples[0], 0), call.velocity)
