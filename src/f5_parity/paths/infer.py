"""The infer paths, run for real: infer_cli's wiring of utils_infer, the F5TTS class, or a user's own
wrapper given as `module:function`.

Every run is observed at the one place all of them meet, CFM.sample: the observer wraps the real
method for the duration of the call (and calls through), recording the model and the exact inputs
it was given. What a path really did — which weights, dtype, text, duration, sampler — is then
measured, not assumed; this is how a user's suspicious wrapper gets judged.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from f5_parity.cases.case import Case
from f5_parity.errors import InputError
from f5_parity.paths.spec import PathSpec
from f5_parity.paths.stages import quiet


@dataclass
class SampleCall:
    """One CFM.sample call as a path made it."""

    model: Any
    cond: torch.Tensor
    text: Any
    duration: Any
    steps: int
    cfg_strength: float
    sway_sampling_coef: float | None
    seed: int | None
    output: torch.Tensor | None = None


@dataclass
class Generation:
    path: str  # "trainer", "infer-cli", "api", "custom:<target>"
    case: str
    wav: np.ndarray
    sample_rate: int
    mel: np.ndarray | None  # (d, n)
    calls: list[SampleCall] = field(default_factory=list)
    text_used: str = ""


@contextlib.contextmanager
def observe_sample_calls(seed_each: int | None = None):
    """Record every CFM.sample call made inside the block; the real method runs unchanged.

    `seed_each` seeds torch's global RNG right before each call: the Trainer draws its sample's
    noise unseeded, so this is how a logged sample becomes reproducible.
    """
    from f5_tts.model.cfm import CFM

    calls: list[SampleCall] = []
    original = CFM.sample

    def observed(self, cond, text, duration, *args, **kwargs):
        call = SampleCall(
            model=self,
            cond=cond.detach().clone() if torch.is_tensor(cond) else cond,
            text=text if not torch.is_tensor(text) else text.detach().clone(),
            duration=duration,
            steps=kwargs.get("steps", 32),
            cfg_strength=kwargs.get("cfg_strength", 1.0),
            sway_sampling_coef=kwargs.get("sway_sampling_coef"),
            seed=kwargs.get("seed"),
        )
        if seed_each is not None:
            torch.manual_seed(seed_each)
        out = original(self, cond, text, duration, *args, **kwargs)
        call.output = out[0].detach().float().cpu()
        calls.append(call)
        return out

    CFM.sample = observed
    try:
        yield calls
    finally:
        CFM.sample = original


def _model_cls(backbone: str):
    from f5_parity.f5.configs import backbone_class

    return backbone_class(backbone)


def load_infer_model(spec: PathSpec, device: str = "cpu"):
    """utils_infer.load_model exactly as infer_cli calls it, from an infer spec."""
    from f5_tts.infer.utils_infer import load_model

    arch = dict(spec.value("arch"))
    backbone = arch.pop("backbone", "DiT")
    with quiet():
        return load_model(
            _model_cls(backbone),
            arch,
            spec.locate("weights", "checkpoint"),
            mel_spec_type=spec.value("mel")["mel_spec_type"],
            vocab_file=spec.locate("vocab", "path") or "",
            use_ema=spec.value("weights")["set"] == "ema",
            device=device,
        )


def load_infer_vocoder(spec: PathSpec, device: str = "cpu"):
    value = spec.value("vocoder")
    if value["name"] == "griffin-lim":
        from f5_parity.paths.griffinlim import GriffinLimVocoder

        return GriffinLimVocoder(spec.value("mel"))
    from f5_tts.infer.utils_infer import load_vocoder

    with quiet():
        return load_vocoder(value["name"], is_local=True, local_path=spec.locate("vocoder", "path"), device=device)


def run_infer_cli(spec: PathSpec, case: Case, *, model=None, vocoder=None, device: str = "cpu",
                  gen_text: str | None = None) -> Generation:
    """infer_cli's main(): preprocess_ref_audio_text, then infer_process with the spec's settings."""
    from f5_tts.infer import utils_infer

    model = model if model is not None else load_infer_model(spec, device)
    vocoder = vocoder if vocoder is not None else load_infer_vocoder(spec, device)
    s, d = spec.value("sampler"), spec.value("duration")
    text = case.gen_text if gen_text is None else gen_text
    if s.get("seed") is not None:  # infer_process sets no seed; a parity run must be reproducible
        torch.manual_seed(int(s["seed"]))
    with quiet(), observe_sample_calls() as calls:
        ref_file, ref_text = utils_infer.preprocess_ref_audio_text(str(case.ref_audio), case.ref_text,
                                                                   show_info=lambda *a, **k: None)
        wav, sr, spec_mel = utils_infer.infer_process(
            ref_file, ref_text, text, model, vocoder,
            mel_spec_type=spec.value("mel")["mel_spec_type"],
            show_info=lambda *a, **k: None,
            progress=None,
            target_rms=spec.value("ref-audio").get("target_rms") or utils_infer.target_rms,
            nfe_step=int(s["nfe"]),
            cfg_strength=s["cfg"],
            sway_sampling_coef=s["sway"],
            speed=d.get("speed", 1.0),
            fix_duration=d.get("fix_duration"),
            device=device,
        )
    if wav is None:
        raise InputError(f"case {case.name}: the gen text produced no text batches", "give a non-empty --gen-text")
    return Generation("infer-cli", case.name, np.asarray(wav, dtype=np.float32), int(sr), spec_mel, calls, text)


def run_api(spec: PathSpec, case: Case, *, model_name: str, device: str = "cpu",
            gen_text: str | None = None) -> Generation:
    """f5_tts.api.F5TTS, as a user of the Python API calls it (it seeds with seed_everything)."""
    from f5_tts.api import F5TTS

    s, d = spec.value("sampler"), spec.value("duration")
    vocoder_path = spec.locate("vocoder", "path")
    with quiet():
        tts = F5TTS(model=model_name, ckpt_file=spec.locate("weights", "checkpoint"),
                    vocab_file=spec.locate("vocab", "path") or "", use_ema=spec.value("weights")["set"] == "ema",
                    vocoder_local_path=vocoder_path, device=device)
    text = case.gen_text if gen_text is None else gen_text
    with quiet(), observe_sample_calls() as calls:
        wav, sr, spec_mel = tts.infer(str(case.ref_audio), case.ref_text, text, show_info=lambda *a, **k: None,
                                      progress=None, nfe_step=int(s["nfe"]), cfg_strength=s["cfg"],
                                      sway_sampling_coef=s["sway"], speed=d.get("speed", 1.0),
                                      fix_duration=d.get("fix_duration"), seed=s.get("seed"))
    return Generation("api", case.name, np.asarray(wav, dtype=np.float32), int(sr), spec_mel, calls, text)


def load_custom(target: str) -> Callable[..., Any]:
    """`package.module:function` or `path/to/file.py:function`."""
    if ":" not in target:
        raise InputError(f"custom path {target!r} is not module:function", "write it as my_pkg.tts:synthesize")
    module_name, func_name = target.rsplit(":", 1)
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.exists():
                raise InputError(f"custom path file not found: {path}", "check the path before ':'")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"cannot import {module_name!r} for the custom path ({exc})", "check PYTHONPATH and the module name") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise InputError(f"{module_name} has no callable {func_name!r}", "name a function defined in that module")
    return func


def run_custom(target: str, case: Case, *, checkpoint: str, vocab: str | None, seed: int, device: str = "cpu",
               gen_text: str | None = None) -> Generation:
    """A user's wrapper: func(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device) -> (wav, sr)."""
    func = load_custom(target)
    text = case.gen_text if gen_text is None else gen_text
    torch.manual_seed(seed)
    with quiet(), observe_sample_calls() as calls:
        result = func(str(case.ref_audio), case.ref_text, text, checkpoint=checkpoint, vocab=vocab, seed=seed,
                      device=device)
    if not (isinstance(result, tuple) and len(result) >= 2):
        raise InputError(f"custom path {target} returned {type(result).__name__}", "return (wav: np.ndarray, sample_rate: int)")
    wav, sr = result[0], result[1]
    mel = calls[-1].output[0, :, :].T.numpy() if calls else None
    return Generation(f"custom:{target}", case.name, np.asarray(wav, dtype=np.float32).reshape(-1), int(sr), mel, calls, text)
