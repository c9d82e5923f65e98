"""The infer paths, run for real: infer_cli's wiring of utils_infer, the F5TTS class, a user's own
wrapper given as `module:function`, or a whole script.

Each is run under observe/calls.py's hooks (observe/path.py): what a path really did — which
weights, dtype, text, duration, sampler — is measured there, not assumed from these settings.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from f5_parity.cases.case import Case
from f5_parity.errors import InputError
from f5_parity.paths.spec import PathSpec
from f5_parity.paths.stages import quiet


@dataclass
class Generation:
    path: str  # "trainer", "infer-cli", "api", "custom:<target>"
    case: str
    wav: np.ndarray
    sample_rate: int
    mel: np.ndarray | None  # (d, n)
    text_used: str = ""



class ToolLimit(Exception):
    """The tool cannot reproduce a setting of the path (its stand-in vocoder cannot decode bigvgan features,
    the path's vocoder could not be loaded here): the tool's limit, never the path's failure."""


class UnavailableVocoder:
    """Stands where a vocoder could not be built or loaded. Fast mode never decodes, so it is never used
    there; a full-mode decode raises ToolLimit with the reason (the mel the path generated is kept)."""

    def __init__(self, reason: str):
        self.reason = reason

    def to(self, *args, **kwargs):  # infer code moves vocoders to its device
        return self

    def eval(self):
        return self

    def decode(self, *args, **kwargs):
        raise ToolLimit(self.reason)

    __call__ = decode


def _model_cls(backbone: str):
    from f5_parity.f5.configs import backbone_class

    return backbone_class(backbone)


def load_infer_model(spec: PathSpec, device: str = "cpu"):
    """utils_infer.load_model exactly as infer_cli calls it, from an infer spec."""
    from f5_tts.infer.utils_infer import load_model

    from f5_parity.f5.configs import backbone_kwargs

    arch = dict(spec.value("arch"))
    backbone = arch.pop("backbone", "DiT")
    with quiet():
        return load_model(
            _model_cls(backbone),
            backbone_kwargs(backbone, arch),
            spec.locate("weights", "checkpoint"),
            mel_spec_type=spec.value("mel")["mel_spec_type"],
            vocab_file=spec.locate("vocab", "path") or "",
            use_ema=spec.value("weights")["set"] == "ema",
            device=device,
        )


def load_infer_vocoder(spec: PathSpec, device: str = "cpu"):
    """The vocoder infer_cli's wiring decodes with: the spec's local weights, or the tool's griffin-lim stand-in.

    One the tool cannot build (griffin-lim inverts vocos features only; weights that do not load) is the
    tool's limit, not the path's: an UnavailableVocoder stands there, which fast mode never calls and
    which a full-mode decode turns into a ToolLimit naming the reason."""
    from f5_parity.paths.spec import decoder_name

    value, mel = spec.value("vocoder"), spec.value("mel")
    if decoder_name(spec) == "griffin-lim":
        from f5_parity.paths.griffinlim import GriffinLimVocoder, supports

        if not supports(mel):
            return UnavailableVocoder(
                f"the path decodes {mel.get('mel_spec_type')} mel features; the tool's griffin-lim stand-in inverts "
                "vocos-type features only and no vocoder weights were given: pass --vocoder-path with the "
                f"{mel.get('mel_spec_type')} vocoder's folder to hear it")
        return GriffinLimVocoder(mel)
    from f5_tts.infer.utils_infer import load_vocoder

    from f5_parity.paths.stages import hub_offline

    try:
        with quiet(), hub_offline():
            return load_vocoder(value["name"], is_local=True, local_path=spec.locate("vocoder", "path"),
                                device=device)
    except Exception as exc:  # weights given but not loadable by f5's load_vocoder
        return UnavailableVocoder(f"the {value['name']} vocoder could not be loaded from "
                                  f"{spec.locate('vocoder', 'path')} ({type(exc).__name__}: {exc})")


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
    with quiet():
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
    return Generation("infer-cli", case.name, np.asarray(wav, dtype=np.float32), int(sr), spec_mel, text)


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
    with quiet():
        wav, sr, spec_mel = tts.infer(str(case.ref_audio), case.ref_text, text, show_info=lambda *a, **k: None,
                                      progress=None, nfe_step=int(s["nfe"]), cfg_strength=s["cfg"],
                                      sway_sampling_coef=s["sway"], speed=d.get("speed", 1.0),
                                      fix_duration=d.get("fix_duration"), seed=s.get("seed"))
    return Generation("api", case.name, np.asarray(wav, dtype=np.float32), int(sr), spec_mel, text)


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


def check_custom_target(target: str) -> None:
    """Refuse a wrapper that is not there, without running any of its code (its import is part of the path)."""
    if ":" not in target:
        raise InputError(f"custom path {target!r} is not module:function", "write it as my_pkg.tts:synthesize")
    module_name, func_name = target.rsplit(":", 1)
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise InputError(f"custom path file not found: {path}", "check the path before ':'")
        import ast

        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError) as exc:
            raise InputError(f"{path} is not Python source ({exc.__class__.__name__})", "give a .py file") from None
        names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        names |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
        if func_name not in names:
            raise InputError(f"{path} defines no {func_name!r}", "name a function defined in that file")
    elif importlib.util.find_spec(module_name.split(".")[0]) is None:
        raise InputError(f"cannot find module {module_name!r} for the custom path", "check PYTHONPATH and the module name")


def check_script(path: str) -> None:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--infer-script {p}: " + ("is a directory" if p.is_dir() else "no such file"),
                         "give the path of your inference script (.py)")


def run_custom(target: str, case: Case, *, checkpoint: str, vocab: str | None, seed: int, device: str = "cpu",
               gen_text: str | None = None) -> Generation:
    """A user's wrapper: func(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device) -> (wav, sr).

    Its import and its call are both part of the path: run it inside observe.calls.run_observed."""
    func = load_custom(target)
    text = case.gen_text if gen_text is None else gen_text
    torch.manual_seed(seed)
    with quiet():
        result = func(str(case.ref_audio), case.ref_text, text, checkpoint=checkpoint, vocab=vocab, seed=seed,
                      device=device)
    if not (isinstance(result, tuple) and len(result) >= 2):
        raise TypeError(f"the wrapper returned {type(result).__name__}, not (wav: np.ndarray, sample_rate: int)")
    wav, sr = result[0], result[1]
    return Generation(f"custom:{target}", case.name, np.asarray(wav, dtype=np.float32).reshape(-1), int(sr), None, text)


def run_script(path: str, args: list[str], *, seed: int) -> None:
    """A whole user script, in this process (runpy), with its own argv; what it generates is observed."""
    import runpy

    saved = sys.argv[:]
    sys.argv = [str(path), *args]
    torch.manual_seed(seed)
    try:
        with quiet():
            runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = saved
