"""The engine computes what the real infer path computes (the mirror, proven).

The engine still builds specs of its own for isolation (mixes of trainer and infer factors), so its
stage inputs must equal what a real path passes to CFM.sample. For each infer entry — infer_cli's
wiring, the F5TTS class, a user's wrapper, a whole script — and for every fault a wrapper can carry,
the spec derived from the observation is rebuilt by the engine and compared with every CFM.sample
call the path made. No equality here holds by construction: the tokens and the duration come from the
engine's rules on the case (the spec's text value and duration rule, never a value read back from the
call), the weight set and dtype the loader was asked for are read here from the loader's seam and
compared with an exact tensor comparison and with the parameters, the time grid is recomputed here
from the call's own arguments with f5's functions. Where a rule and the call disagree (a path that
casts its model, or edits the text), the test asserts the finding that names the rule and both values
instead. Long texts that infer_process splits into chunks (one CFM.sample per chunk), stereo
references, references that are not 24 kHz and references over 12 s are covered. Real f5-tts code on
tiny real checkpoints; nothing is mocked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from f5_parity.cases.case import Case
from f5_parity.observe.path import InferRunner, _run
from f5_parity.observe.spec import derive_spec, weight_set_of
from f5_parity.paths.spec import infer_spec
from f5_parity.paths.stages import framed_text, load_reference, timesteps, total_duration

LONG_TEXT = ("Amanhã nós vamos viajar para o interior, visitar a família e descansar um pouco. "
             "Depois voltamos para a cidade, porque o trabalho não espera ninguém. "
             "E no fim do mês, se tudo der certo, fazemos a festa que prometemos às crianças. ") * 3


def _chunks(obs, case_gen: str) -> list[str]:
    return obs.batches[0]["gen_text_batches"] if obs.batches else [case_gen]


DTYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


def assert_engine_matches_every_call(obs, predicted, case: Case, candidates, workdir: Path,
                                     rule_findings: tuple[str, ...] = ()) -> None:
    """Rebuild each CFM.sample call of the path from the derived spec and compare, stage input by stage input.
    `rule_findings`: the factors whose engine rule must disagree with the call (a fault the path carries)."""
    from f5_tts.model.utils import get_epss_timesteps, list_str_to_idx

    from f5_parity.f5.vocab import read_vocab_chars

    assert obs.error is None, obs.error
    chunks = _chunks(obs, case.gen_text)
    assert len(obs.samples) == len(chunks), "one CFM.sample call per text chunk"
    spec, findings, notes = derive_spec(obs, predicted, case, gen_text=chunks[0], candidates=candidates,
                                        workdir=workdir)
    rule = {f.factor: f for f in findings if f.rule}
    assert set(rule) == set(rule_findings), [f.to_dict() for f in findings]
    for f in rule.values():  # a disagreement names its rule and carries both values, the observed one labelled
        assert f.predicted != f.observed and f.observed.get("source") == "observed" and f.rule in f.message
    flags_findings = {f.factor for f in findings if not f.rule}
    if "text" not in rule:  # the text value is the prediction itself: nothing was searched or read back
        assert spec.value("text") == predicted.value("text")
    assert spec.value("duration")["rule"] == predicted.value("duration")["rule"] != "frames"
    # the loader's seam, read here: what load_checkpoint was asked for
    load = next(r for r in reversed(obs.loads) if not r.get("error"))
    asked_set = "ema" if load["use_ema"] else "raw"
    asked_dtype = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", None: "fp32"}[load["dtype"]]  # CPU
    for call, chunk in zip(obs.samples, chunks):
        model = call.model
        ref = load_reference(spec, case)
        text_list, framed_ref, gen = framed_text(spec, ref, case, gen_text=chunk)
        if "text" in rule:  # the path edited the text: the rule's tokens differ, and the finding holds both
            rule_tokens, _, _ = framed_text(spec.with_value("text", **predicted.value("text")), ref, case, gen_text=chunk)
            assert rule["text"].predicted["tokens"] == "".join(rule_tokens) != "".join(call.text[0])
            assert rule["text"].observed["tokens"] == "".join(obs.samples[0].text[0])
        else:  # tokens: the engine's framing and frontend of the case's text equal the strings the path passed
            assert text_list == list(call.text[0]), (text_list, call.text)
        # ids: under the vocab the flags name; a path with another vocab has a finding for it instead
        if "vocab" in flags_findings:
            assert spec.value("vocab") != predicted.value("vocab")
        else:
            vocab = {c: i for i, c in enumerate(read_vocab_chars(predicted.locate("vocab", "path")))}
            assert torch.equal(list_str_to_idx([text_list], vocab), list_str_to_idx(call.text, model.vocab_char_map))
        # cond: the reference audio after the path's preprocessing (clip, mono, RMS raise, resample)
        assert ref.wav.shape == call.cond.shape
        assert torch.allclose(ref.wav.float(), call.cond.float().cpu(), atol=1e-6)
        # total duration under the engine's rule (speed and fix_duration as infer_batch_process got them)
        frames = ref.wav.shape[-1] // spec.value("mel")["hop_length"] + 1
        duration, _ = total_duration(spec, frames, ref, framed_ref, gen)
        assert duration == int(call.duration)
        # time grid, whole: the engine's from the spec; the path's from its own arguments through f5's functions
        dtype = next(model.parameters()).dtype
        if call.use_epss:
            path_t = get_epss_timesteps(call.steps, device="cpu", dtype=dtype)
        else:
            path_t = torch.linspace(0, 1, call.steps + 1, dtype=dtype)
        if call.sway_sampling_coef is not None:
            path_t = path_t + call.sway_sampling_coef * (torch.cos(torch.pi / 2 * path_t) - 1 + path_t)
        engine_t = timesteps(spec, dtype, "cpu")
        assert engine_t.shape == path_t.shape and torch.allclose(engine_t.float(), path_t.float(), atol=1e-6)
        # weights: the tensors equal (exactly) the set the spec names, and that is the set the loader was asked for
        _, evidence = weight_set_of(model, spec.locate("weights", "checkpoint"))
        assert evidence[spec.value("weights")["set"]]["equal"], evidence
        assert ("weights" in rule) != (spec.value("weights")["set"] == asked_set)
        # dtype: the loader's, unless the path cast its model afterwards (then the finding has both)
        if "dtype" in rule:
            assert rule["dtype"].predicted == {"weights": asked_dtype} and DTYPE_NAMES[dtype] != asked_dtype
            assert rule["dtype"].observed["weights"] == DTYPE_NAMES[dtype]
        else:
            assert DTYPE_NAMES[dtype] == asked_dtype
        assert spec.value("arch")["pe_attn_head"] == model.transformer.transformer_blocks[0].attn.processor.pe_attn_head
        assert spec.value("arch")["text_mask_padding"] == model.transformer.text_embed.mask_padding


@pytest.fixture(scope="module")
def predicted(fixture_set):
    fs = fixture_set
    return infer_spec(fs.checkpoints["trainer"], infer_config=str(fs.config), infer_vocab=fs.vocab, use_ema=False)


def _case(pt_cases, gen_text: str | None = None, wav: Path | None = None) -> Case:
    c = pt_cases[0]
    return Case(c.name, wav or c.wav, c.text, gen_text or "Amanhã nós vamos viajar para o interior.")


def test_infer_cli_wiring_long_text_every_chunk(predicted, pt_cases, tmp_path):
    case = _case(pt_cases, LONG_TEXT)
    obs, _ = _run(InferRunner(), predicted.with_value("sampler", nfe=4), case, mode="full", seed=0, device="cpu",
                  gen_text=case.gen_text)
    assert len(obs.samples) >= 2, "the long text is chunked into several CFM.sample calls"
    assert_engine_matches_every_call(obs, predicted.with_value("sampler", nfe=4), case, [], tmp_path)


@pytest.mark.parametrize("kind", ["stereo", "16k", "over-12s"])
def test_references_stereo_other_rate_and_too_long(kind, predicted, pt_cases, tmp_path):
    import torchaudio

    audio, sr = torchaudio.load(str(pt_cases[0].wav))
    path = tmp_path / f"ref-{kind}.wav"
    if kind == "stereo":
        torchaudio.save(str(path), torch.cat([audio, 0.5 * audio]), sr)
    elif kind == "16k":
        torchaudio.save(str(path), torchaudio.functional.resample(audio, sr, 16000), 16000)
    else:  # 14 s: preprocess_ref_audio_text clips it, and the engine must clip it the same way
        reps = int(14 * sr / audio.shape[-1]) + 1
        torchaudio.save(str(path), audio.repeat(1, reps)[:, : 14 * sr], sr)
    case = _case(pt_cases, wav=path)
    obs, _ = _run(InferRunner(), predicted, case, mode="fast", seed=0, device="cpu", gen_text=case.gen_text)
    assert_engine_matches_every_call(obs, predicted, case, [], tmp_path)
    batch = obs.batches[0]
    assert batch["ref_channels"] == (2 if kind == "stereo" else 1)
    assert batch["ref_sample_rate"] in (16000, 24000, sr)


def test_the_f5tts_class(pt_cases, tmp_path):
    from f5_tts.model import CFM, DiT
    from safetensors.torch import save_file

    from f5_parity.f5.configs import MEL_SPEC_KWARGS, load_config
    from f5_parity.f5.vocab import official_vocab_path, read_vocab_chars
    from f5_parity.testing.fixtures import random_vocos_dir

    vocab = official_vocab_path()
    torch.manual_seed(0)
    model = CFM(transformer=DiT(**load_config("F5TTS_v1_Small")["arch"], text_num_embeds=len(read_vocab_chars(vocab)),
                                mel_dim=100), mel_spec_kwargs=MEL_SPEC_KWARGS)
    ckpt = tmp_path / "model_1250000.safetensors"
    save_file({f"ema_model.{k}": v.contiguous() for k, v in model.state_dict().items()}, str(ckpt))
    del model
    spec = infer_spec(ckpt, infer_config="F5TTS_v1_Small", infer_vocab=vocab,
                      vocoder_path=random_vocos_dir(tmp_path / "v"), nfe=4)
    case = _case(pt_cases)
    obs, _ = _run(InferRunner("api", "F5TTS_v1_Small"), spec, case, mode="fast", seed=0, device="cpu",
                  gen_text=case.gen_text)
    assert_engine_matches_every_call(obs, spec, case, [], tmp_path)


def _wrapper_faults():
    import test_observe_infer as W

    return W


@pytest.mark.parametrize("fault", ["honest", "keeps-ema-default", "nfe-16", "fp16-weights", "bf16-weights",
                                   "v0-flags-on-v1-model", "other-vocab-order", "nfd-text",
                                   "own-reference-preprocessing", "speed-0.8"])
def test_a_wrapper_with_each_fault(fault, wrapper_env, predicted, pt_cases, tmp_path):
    W = _wrapper_faults()
    fields = {} if fault == "honest" else W.FAULTS[fault][0]
    wrapper = W._wrapper(tmp_path, fault, **fields)
    case = _case(pt_cases)
    obs, _ = _run(InferRunner("custom", f"{wrapper}:generate"), predicted, case, mode="fast", seed=0, device="cpu",
                  gen_text=case.gen_text)
    # the engine's rule disagrees with the call only where the path acted on its own after f5's loader/framing
    expected = {"fp16-weights": ("dtype",), "bf16-weights": ("dtype",), "nfd-text": ("text",)}.get(fault, ())
    assert_engine_matches_every_call(obs, predicted, case, [], tmp_path, rule_findings=expected)


def test_a_whole_script_run_with_its_own_arguments(fixture_set, pt_cases, tmp_path, monkeypatch):
    fs, case = fixture_set, _case(pt_cases)
    script = tmp_path / "my_infer.py"
    script.write_text(f'''
import argparse, sys
import yaml
from f5_tts.infer.utils_infer import infer_process, load_model, preprocess_ref_audio_text
from f5_tts.model import DiT
from f5_parity.paths.griffinlim import GriffinLimVocoder

p = argparse.ArgumentParser()
p.add_argument("--text")
args = p.parse_args()
arch = yaml.safe_load(open({str(fs.config)!r}))["model"]["arch"]
model = load_model(DiT, arch, {str(fs.checkpoints["trainer"])!r}, vocab_file={str(fs.vocab)!r}, use_ema=False)
vocoder = GriffinLimVocoder(dict(n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100,
                                 target_sample_rate=24000, mel_spec_type="vocos"))
ref, text = preprocess_ref_audio_text({str(case.ref_audio)!r}, {case.ref_text!r}, show_info=lambda *a: None)
wav, sr, _ = infer_process(ref, text, args.text, model, vocoder, show_info=lambda *a: None, progress=None, nfe_step=4)
sys.exit(0)  # an ordinary exit after it ran is not a failure
''')
    predicted = infer_spec(fs.checkpoints["trainer"], infer_config=str(fs.config), infer_vocab=fs.vocab,
                           use_ema=False, nfe=4)
    runner = InferRunner("script", str(script), script_args=["--text", case.gen_text])
    obs, _ = _run(runner, predicted, case, mode="full", seed=0, device="cpu", gen_text=case.gen_text)
    assert obs.exit_code == 0 and obs.error is None
    assert_engine_matches_every_call(obs, predicted, case, [], tmp_path)


def test_memo_keys_ignore_the_order_settings_were_read_in(fixture_set):
    """An arch read from a YAML and the same arch read off the observed constructor call list their keys in
    another order; the model and its final mel must still be found under one key (not built twice)."""
    from f5_parity.paths.stages import ModelPool, _digest

    spec = infer_spec(fixture_set.checkpoints["trainer"], infer_config=str(fixture_set.config),
                      infer_vocab=fixture_set.vocab, use_ema=False, vocoder_path=None)
    arch = spec.value("arch")
    reordered = type(spec)(spec.label, {**spec.values, "arch": dict(reversed(list(arch.items())))}, spec.locators,
                           spec.unknown)
    assert list(reordered.value("arch")) != list(arch) and reordered.value("arch") == arch
    pool = ModelPool("cpu")
    assert pool.model_key(reordered) == pool.model_key(spec)
    assert _digest({"a": 1, "b": {"c": 2, "d": 3}}) == _digest({"b": {"d": 3, "c": 2}, "a": 1})
    assert _digest({"a": 1}) != _digest({"a": 2})


@pytest.mark.parametrize("use_ema", [False, True])
def test_the_pools_model_equals_the_one_f5s_load_model_builds(fixture_set, use_ema):
    """The pool builds its models without the constructors' random draws and takes the checkpoint's tensors
    as its parameters (paths/stages.py ModelPool.model); f5's own load_model initialises, then copies. Every
    parameter and buffer (the ones no checkpoint saves too) and the backbone's output must be the same."""
    from f5_tts.infer.utils_infer import load_model
    from f5_tts.model import DiT

    from f5_parity.paths.stages import ModelPool

    fs = fixture_set
    spec = infer_spec(fs.checkpoints["trainer"], infer_config=str(fs.config), infer_vocab=fs.vocab, use_ema=use_ema)
    ours = ModelPool("cpu").model(spec)
    arch = {k: v for k, v in spec.value("arch").items() if k != "backbone"}
    theirs = load_model(DiT, arch, str(fs.checkpoints["trainer"]), vocab_file=str(fs.vocab), use_ema=use_ema,
                        device="cpu").eval()
    mine, f5s = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert mine.keys() == f5s.keys()
    assert all(torch.equal(mine[k], f5s[k]) and mine[k].dtype == f5s[k].dtype for k in mine)
    mine, f5s = dict(ours.named_buffers()), dict(theirs.named_buffers())
    assert mine.keys() == f5s.keys() and all(torch.equal(mine[k], f5s[k]) for k in mine)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 40, ours.num_channels, generator=g)
    text = torch.randint(1, 10, (1, 12), generator=g)
    with torch.inference_mode():
        a, b = (m.transformer(x=x, cond=x, text=text, time=torch.tensor([0.3]), drop_audio_cond=False,
                              drop_text=False) for m in (ours, theirs))
    # the same weights and buffers (exactly, above); the outputs to float32 rounding, whatever the BLAS
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
