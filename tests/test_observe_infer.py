"""The infer side is what the user's path really does (issue: observe it, judge it).

Each user wrapper below secretly differs from the trainer in one way, while the flags claim the
trainer's settings (raw weights, the training config, vocab and defaults). Fast mode runs the real
wrapper up to its first CFM.sample, derives the spec it used, and must exit 1 with the right culprit
first and a flags-vs-observation finding. An honest wrapper passes. Paths that cannot load fail
with the factor responsible, never as bad input. Everything runs real f5-tts code on tiny real
checkpoints; nothing of f5-tts is mocked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from f5_parity import cli
from f5_parity.f5.configs import fixed_arch_flags
from f5_parity.f5.versions import infer_cli_facts

WRAPPER = '''
import os, unicodedata
import numpy as np
import torch
import yaml
from f5_tts.infer.utils_infer import infer_process, load_model, preprocess_ref_audio_text
from f5_tts.model import DiT
from f5_parity.paths.griffinlim import GriffinLimVocoder


def generate(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device):
    arch = yaml.safe_load(open(os.environ["WRAPPER_CONFIG"]))["model"]["arch"]
    {arch_edit}
    vocab = {vocab}
    model = load_model(DiT, arch, checkpoint, vocab_file=vocab, device=device{use_ema})
    {cast}
    vocoder = GriffinLimVocoder(dict(n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100,
                                     target_sample_rate=24000, mel_spec_type="vocos"))
    {text}
    ref_file, ref_text = preprocess_ref_audio_text(ref_audio, ref_text, show_info=lambda *a: None)
    {ref}
    with {context}:
        wav, sr, _ = infer_process(ref_file, ref_text, gen_text, model, vocoder, show_info=lambda *a: None,
                                   progress=None, device=device{nfe}{speed})
    return np.asarray(wav), sr
'''

FAULTS = {
    # name: (template fields, expected first culprit, words the finding must hold)
    "keeps-ema-default": (dict(use_ema=""), "weights", "sampled from ema"),
    "nfe-16": (dict(nfe=", nfe_step=16"), "sampler", "nfe 16"),
    "bf16-weights": (dict(cast="model = model.to(torch.bfloat16)"), "dtype", "weights bf16"),
    "fp16-weights": (dict(cast="model = model.half()"), "dtype", "weights fp16"),
    "v0-flags-on-v1-model": (dict(arch_edit='arch = {**arch, "pe_attn_head": 1, "text_mask_padding": False}'),
                             "arch", "pe_attn_head"),
    "other-vocab-order": (dict(vocab='os.environ["WRAPPER_PERMUTED_VOCAB"]'), "vocab", "sha256"),
    "nfd-text": (dict(text='ref_text, gen_text = unicodedata.normalize("NFD", ref_text), '
                           'unicodedata.normalize("NFD", gen_text)'), "text", "NFD"),
    "own-reference-preprocessing": (dict(ref='ref_file = os.environ["WRAPPER_TRIMMED_REF"]'), "ref-audio",
                                    "as-given"),
    "speed-0.8": (dict(speed=", speed=0.8"), "duration", "speed"),
}
if fixed_arch_flags("DiT"):  # f5-tts 0.x builds v0 models only: no v1 model exists to load with v0 flags
    del FAULTS["v0-flags-on-v1-model"]


def _wrapper(tmp_path: Path, name: str, **fields) -> Path:
    values = {"use_ema": ", use_ema=False", "nfe": "", "arch_edit": "", "vocab": "vocab", "text": "", "ref": "",
              "speed": "", "cast": "", "context": "torch.inference_mode()"}
    for k, v in fields.items():
        values[k] = v
    path = tmp_path / f"{name.replace('-', '_')}.py"
    path.write_text(WRAPPER.format(**values))
    return path


def _run(fixture_set, case, out: Path, *extra: str) -> tuple[int, dict]:
    fs = fixture_set
    argv = ["run", str(fs.checkpoints["trainer"]), "--train-config", str(fs.config), "--infer-config", str(fs.config),
            "--train-vocab", str(fs.vocab), "--infer-vocab", str(fs.vocab), "--no-infer-ema",
            "--vocoder", "griffin-lim", "--ref-audio", str(case.wav), "--ref-text", case.text,
            "--mode", "fast", "--out", str(out), *extra]
    rc = cli.main(argv)
    return rc, json.loads((out / "run.json").read_text())


def test_an_honest_wrapper_passes(fixture_set, wrapper_env, tmp_path):
    wrapper = _wrapper(tmp_path, "honest")
    rc, data = _run(fixture_set, wrapper_env, tmp_path / "out", "--infer-path", f"{wrapper}:generate")
    assert rc == 0, data["culprits"]
    observed = data["observed_infer"]
    assert observed["status"] == "observed" and observed["findings"] == []
    # what the flags say (--no-infer-ema, --infer-config, --infer-vocab) is what it did; the rest is observed only
    assert {fid for fid, f in observed["factors"].items() if f["agrees"]} == {"weights", "arch", "mel", "vocab"}
    assert all(f["agrees"] is None for fid, f in observed["factors"].items() if fid not in ("weights", "arch", "mel",
                                                                                          "vocab"))
    assert observed["mirror_check"]["passed"], observed["mirror_check"]  # the engine computes what the path does


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_secretly_different_wrapper_is_caught_by_what_it_did(fault, fixture_set, wrapper_env, tmp_path):
    fields, culprit, words = FAULTS[fault]
    wrapper = _wrapper(tmp_path, fault, **fields)
    rc, data = _run(fixture_set, wrapper_env, tmp_path / "out", "--infer-path", f"{wrapper}:generate")
    assert rc == 1
    assert data["culprits"][0] == culprit, (data["culprits"], data["observed_infer"]["findings"])
    if data["observed_infer"]["factors"][culprit]["agrees"] is None:
        # no flag predicts this factor of a wrapper: what it did is an observation, never a "the flags say" finding
        assert not [f for f in data["observed_infer"]["findings"] if f["factor"] == culprit and not f.get("rule")]
        assert data["factors"][culprit]["infer"] != data["factors"][culprit]["train"]
    else:
        findings = [f for f in data["observed_infer"]["findings"] if f["factor"] == culprit]
        assert findings and words in json.dumps(findings), findings
    assert data["observed_infer"]["mirror_check"]["passed"], data["observed_infer"]["mirror_check"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert report.index("## What your infer path really did") < report.index("## Stages")


def _resave(src: Path, dst: Path, transform) -> Path:
    data = torch.load(src, map_location="cpu", weights_only=True)
    torch.save(transform(data), dst)
    return dst


def test_infer_cli_nfe_step_0_falls_back_to_32_and_passes(fixture_set, pt_cases, tmp_path):
    # infer_cli has no --use_ema flag: give it a file whose EMA equals the raw weights the trainer sampled.
    ckpt = _resave(fixture_set.checkpoints["trainer"], tmp_path / "model_100.pt", lambda d: {
        **d, "ema_model_state_dict": {**{f"ema_model.{k}": v for k, v in d["model_state_dict"].items()},
                                      "initted": torch.tensor(True), "step": torch.tensor(100)}})
    fs, case = fixture_set, pt_cases[0]
    model = infer_cli_facts().model_default  # F5TTS_v1_Base (1.x), F5-TTS (0.x)
    cmd = (f"f5-tts_infer-cli -m {model} -mc {fs.config} -p {ckpt} -v {fs.vocab} --nfe_step 0 "
           f"-r {case.wav} -s '{case.text}' -t 'Sim, claro.'")
    argv = ["run", str(ckpt), "--train-config", str(fs.config), "--train-vocab", str(fs.vocab),
            "--vocoder", "griffin-lim", "--infer-cli", cmd, "--ref-audio", str(case.wav), "--ref-text", case.text,
            "--mode", "fast", "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 0
    data = json.loads((tmp_path / "out" / "run.json").read_text())
    assert data["observed_infer"]["factors"]["sampler"]["observed"]["nfe"] == 32


@pytest.mark.parametrize("fmt, culprit", [("module-prefix", "weights"), ("model-dict", "weights")])
def test_a_file_f5s_loader_cannot_load_is_a_parity_failure_with_its_culprit(fmt, culprit, fixture_set, pt_cases,
                                                                             tmp_path):
    fs, case = fixture_set, pt_cases[0]
    argv = ["run", str(fs.checkpoints[fmt]), "--train-config", str(fs.config), "--infer-config", str(fs.config),
            "--train-vocab", str(fs.vocab), "--infer-vocab", str(fs.vocab), "--vocoder", "griffin-lim",
            "--ref-audio", str(case.wav), "--ref-text", case.text, "--mode", "fast", "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 1
    data = json.loads((tmp_path / "out" / "run.json").read_text())
    assert data["culprits"] == [culprit] and data["observed_infer"]["status"] == "failed"
    failure = data["observed_infer"]["failure"]
    assert failure["error"]["type"] in ("RuntimeError", "KeyError") and failure["fix"]
    statuses = {p["probe"]: p["status"] for p in data["probes"]}
    assert statuses["run.stage_parity"] != "pass" and statuses["run.isolation"] != "pass"


def test_a_vocab_too_large_for_the_embedding_fails_with_culprit_vocab(fixture_set, pt_cases, tmp_path):
    from f5_parity.f5.vocab import read_vocab_chars

    fs, case = fixture_set, pt_cases[0]
    bigger = tmp_path / "vocab_bigger.txt"
    bigger.write_text("".join(c + "\n" for c in read_vocab_chars(fs.vocab) + ["ñ", "ß", "ø"]), encoding="utf-8")
    argv = ["run", str(fs.checkpoints["trainer"]), "--train-config", str(fs.config), "--infer-config",
            str(fs.config), "--train-vocab", str(fs.vocab), "--infer-vocab", str(bigger), "--no-infer-ema",
            "--vocoder", "griffin-lim", "--ref-audio", str(case.wav), "--ref-text", case.text, "--mode", "fast",
            "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 1
    data = json.loads((tmp_path / "out" / "run.json").read_text())
    assert data["culprits"] == ["vocab"]
    assert "size mismatch" in data["observed_infer"]["failure"]["error"]["full_message"]


def test_bf16_autocast_around_infer_process_is_judged_by_whether_it_reaches_the_model(fixture_set, wrapper_env,
                                                                                     tmp_path):
    # Autocast is thread-local. f5-tts 1.1.22's infer_batch_process generates in a ThreadPoolExecutor worker:
    # a user's `with torch.autocast(...)` around infer_process changes nothing there, the observation says
    # autocast "no" and parity holds. 1.0.x submits a generator to the pool, which runs in the caller's
    # thread on next(): there the model does run under bf16 and dtype is the culprit. The observation
    # records which thread each CFM.sample ran in; a thread named "worker" must never show the caller's autocast.
    wrapper = _wrapper(tmp_path, "autocast", context='torch.autocast("cpu", dtype=torch.bfloat16)')
    rc, data = _run(fixture_set, wrapper_env, tmp_path / "out", "--infer-path", f"{wrapper}:generate")
    observed = data["observed_infer"]["factors"]["dtype"]["observed"]
    thread = data["observed_infer"]["observation"]["sample_calls"][0]["thread"]
    assert thread == _generation_thread()
    assert data["observed_infer"]["mirror_check"]["passed"], data["observed_infer"]["mirror_check"]
    if thread == "worker":
        assert rc == 0 and observed == {"weights": "fp32", "autocast": "no"}
    else:
        assert rc == 1 and observed == {"weights": "fp32", "autocast": "bf16"} and data["culprits"][0] == "dtype"
        # no flag of this wrapper run predicts the dtype: the autocast is what it did, observed, not a finding
        assert data["observed_infer"]["factors"]["dtype"]["agrees"] is None
        assert not [f for f in data["observed_infer"]["findings"] if f["factor"] == "dtype" and not f.get("rule")]


def _generation_thread() -> str:
    """Where the installed infer_batch_process runs CFM.sample, found by running it, not by reading it."""
    import threading

    import torch
    from f5_tts.infer import utils_infer

    seen = []

    class Model(torch.nn.Module):  # stands in only to report the thread; the real infer_batch_process calls it
        mel_spec = None

        def sample(self, cond, **kwargs):
            seen.append(threading.get_ident())
            raise RuntimeError("stop")

    caller = threading.get_ident()
    try:
        for _ in utils_infer.infer_batch_process((torch.zeros(1, 24000), 24000), "a.", ["b."], Model(), None,
                                                 device="cpu"):
            break
    except RuntimeError:
        pass
    assert seen, "infer_batch_process never called the model's sample"
    return "caller" if seen[0] == caller else "worker"


@pytest.mark.parametrize("body, words", [
    ("raise RuntimeError('my wrapper broke')", "my wrapper broke"),
    ("import sys; sys.exit(0)", "without calling CFM.sample"),
    ("import sys; sys.exit(3)", "sys.exit(3)"),
    ("return None", "not (wav"),
])
def test_a_wrapper_that_fails_is_the_path_failing_not_a_pass(body, words, fixture_set, pt_cases, tmp_path):
    wrapper = tmp_path / "failing.py"
    wrapper.write_text("def generate(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device):\n"
                       f"    {body}\n")
    rc, data = _run(fixture_set, pt_cases[0], tmp_path / "out", "--infer-path", f"{wrapper}:generate")
    assert rc == 1 and data["verdict"] == "fail"
    observed = data["observed_infer"]
    assert observed["status"] == "failed" and words in json.dumps(observed["failure"])
    statuses = {p["probe"]: p["status"] for p in data["probes"]}
    assert statuses["run.isolation"] == "fail" and statuses["run.stage_parity"] == "fail"


def test_a_wrapper_raising_systemexit_at_import_is_no_pass(fixture_set, pt_cases, tmp_path):
    wrapper = tmp_path / "exits_at_import.py"
    wrapper.write_text("raise SystemExit(0)\n\ndef generate(*a, **k):\n    pass\n")
    rc, data = _run(fixture_set, pt_cases[0], tmp_path / "out", "--infer-path", f"{wrapper}:generate")
    assert rc == 1 and data["observed_infer"]["status"] == "failed"


def test_nan_weights_are_the_culprit(fixture_set, pt_cases, tmp_path):
    ckpt = _resave(fixture_set.checkpoints["trainer"], tmp_path / "model_nan.pt", lambda d: {
        **d, "model_state_dict": {k: (v * float("nan") if k.endswith("proj_out.weight") else v)
                                  for k, v in d["model_state_dict"].items()}})
    fs, case = fixture_set, pt_cases[0]
    argv = ["run", str(ckpt), "--train-config", str(fs.config), "--infer-config", str(fs.config),
            "--train-vocab", str(fs.vocab), "--infer-vocab", str(fs.vocab), "--no-infer-ema", "--vocoder",
            "griffin-lim", "--ref-audio", str(case.wav), "--ref-text", case.text, "--mode", "fast",
            "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 1
    data = json.loads((tmp_path / "out" / "run.json").read_text())
    assert data["culprits"] == ["weights"] and "NaN" in data["observed_infer"]["failure"]["error"]["message"]


def test_a_module_imported_while_a_path_is_observed_keeps_f5s_own_functions_after(tmp_path, monkeypatch):
    """A wrapper first imported while its path is observed binds the observer's stand-ins through its own
    `from f5_tts.infer.utils_infer import load_vocoder` (f5_tts.api does the same). When the observation ends it
    must hold f5's functions again: else the next path in the same process (a sweep's next checkpoint, a
    notebook's second check, the next test) runs through a finished fast-mode observer, whose load_vocoder
    hands back no vocoder."""
    import sys

    from f5_tts.infer import utils_infer

    from f5_parity.observe.calls import run_observed

    originals = utils_infer.load_vocoder, utils_infer.infer_process
    (tmp_path / "late_wrapper.py").write_text("from f5_tts.infer.utils_infer import load_vocoder, infer_process\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "late_wrapper", raising=False)

    def path():
        import late_wrapper

        return late_wrapper.load_vocoder, late_wrapper.infer_process

    obs, during = run_observed(path, stop_at_first_sample=True)
    assert obs.error is None and during[0] is not originals[0]  # observed while it ran
    late_wrapper = sys.modules["late_wrapper"]
    assert (late_wrapper.load_vocoder, late_wrapper.infer_process) == originals
    assert (utils_infer.load_vocoder, utils_infer.infer_process) == originals
    monkeypatch.delitem(sys.modules, "late_wrapper")



@pytest.mark.parametrize("use_ema", [True, False])
def test_the_observed_checkpoint_load_is_memory_mapped_and_loads_the_same_weights(use_ema, fixture_set, monkeypatch):
    """A sweep observes the user's path on every checkpoint, and f5's load_checkpoint reads the whole file
    (both weight sets) to keep one: observed, that read is memory-mapped. The model must come out bit-equal
    to f5's own unobserved load, the user's file unchanged, and torch.load as it was afterwards."""
    import os

    from f5_parity.files import sha256_file
    from f5_parity.paths.infer import load_infer_model
    from f5_parity.observe.calls import run_observed
    from f5_parity.paths.spec import infer_spec

    ckpt = fixture_set.checkpoints["trainer"]
    spec = infer_spec(ckpt, infer_config=str(fixture_set.config), infer_vocab=fixture_set.vocab, use_ema=use_ema,
                      vocoder_path=None)
    before = sha256_file(ckpt)
    real_load, seen = torch.load, []

    def spy(f, *args, **kwargs):  # how torch.load is called on the checkpoint; calls through
        if isinstance(f, (str, os.PathLike)) and os.path.realpath(f) == os.path.realpath(ckpt):
            seen.append(kwargs.get("mmap"))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    plain = load_infer_model(spec).state_dict()
    obs, model = run_observed(lambda: load_infer_model(spec), stop_at_first_sample=True)
    assert obs.error is None and [r["use_ema"] for r in obs.loads] == [use_ema]
    assert seen == [None, True]  # f5's own load reads the file; observed, the same call maps it
    observed = model.state_dict()
    assert observed.keys() == plain.keys()
    assert all(torch.equal(observed[k], plain[k]) for k in plain)
    assert sha256_file(ckpt) == before and torch.load is spy


def test_a_process_that_maps_shared_keeps_the_observed_load_unmapped(fixture_set, monkeypatch):
    """Under torch's MAP_SHARED default a write to a loaded tensor would reach the user's file: there the
    observed load reads the file as f5 does, unmapped."""
    import mmap
    import os

    from f5_parity.paths.infer import load_infer_model
    from f5_parity.observe.calls import run_observed
    from f5_parity.paths.spec import infer_spec

    ckpt = fixture_set.checkpoints["trainer"]
    spec = infer_spec(ckpt, infer_config=str(fixture_set.config), infer_vocab=fixture_set.vocab, use_ema=True,
                      vocoder_path=None)
    real_load, seen = torch.load, []

    def spy(f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)) and os.path.realpath(f) == os.path.realpath(ckpt):
            seen.append(kwargs.get("mmap"))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    with torch.serialization.set_default_mmap_options(mmap.MAP_SHARED):
        obs, _ = run_observed(lambda: load_infer_model(spec), stop_at_first_sample=True)
    assert obs.error is None and seen == [None]
