"""Each stage a port computes, recomputed from the checkpoint with the port's own inputs through f5-tts's
modules: the reference mel (MelSpec after infer_process's RMS rule), one Euler step of CFM.sample (the guided
velocity on the time grid), the vocoder's decode. And the known ways ports depart from them, each one setting
changed (a departure), so a stage that differs is explained by the departure that reproduces it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch


def port_audio(a: np.ndarray) -> torch.Tensor:
    """A port's audio input as float samples (1, L): int16 PCM scaled as torchaudio.load scales it."""
    x = torch.from_numpy(np.asarray(a)).reshape(1, -1)
    return x.float() / 32768.0 if not x.is_floating_point() else x.float()


def raise_rms(audio: torch.Tensor, target_rms: float, rule: str) -> torch.Tensor:
    """infer_batch_process's rule ("conditional": a reference quieter than target_rms is raised to it), or a
    port's: "always" (scaled to target_rms whatever its level), "never"."""
    rms = torch.sqrt(torch.mean(torch.square(audio)))
    if rule == "never" or (rule == "conditional" and rms >= target_rms):
        return audio
    return audio * target_rms / rms


def f5_mel(audio: torch.Tensor, mel: dict[str, Any]) -> torch.Tensor:
    """f5's MelSpec with these settings: (1, frames, n_mels)."""
    from f5_tts.model.modules import MelSpec

    with torch.inference_mode():
        return MelSpec(**mel)(audio).transpose(1, 2).float()


def variant_mel(audio: torch.Tensor, mel: dict[str, Any], *, window: str = "hann", f_min: float = 0.0,
                f_max: float | None = None, power: float = 1.0) -> torch.Tensor:
    """The vocos mel with one setting changed, through torchaudio's MelSpectrogram as f5's get_vocos_mel_spectrogram
    calls it (tests/test_ports.py proves the unchanged settings give MelSpec's values)."""
    import torchaudio

    windows: dict[str, tuple[Callable, dict]] = {"hann": (torch.hann_window, {}),
                                                "kaiser": (torch.kaiser_window, {"beta": 12.0, "periodic": True}),
                                                "hamming": (torch.hamming_window, {})}
    fn, kw = windows[window]
    spec = torchaudio.transforms.MelSpectrogram(
        sample_rate=mel["target_sample_rate"], n_fft=mel["n_fft"], win_length=mel["win_length"],
        hop_length=mel["hop_length"], n_mels=mel["n_mel_channels"], power=power, center=True, normalized=False,
        norm=None, f_min=f_min, f_max=f_max, window_fn=fn, wkwargs=kw or None)
    with torch.inference_mode():
        return spec(audio).clamp(min=1e-5).log().transpose(1, 2).float()


@dataclass(frozen=True)
class Departure:
    """One way a port departs from F5 at a stage: the factor it belongs to, what it is, and the fix."""

    factor: str
    what: str
    fix: str
    value: dict[str, Any]  # the factor's value as the port computes it (merged into the trainer's)


def mel_departures(mel: dict[str, Any], target_rms: float) -> list[tuple[Departure, Callable]]:
    """(departure, audio -> mel) for each known mel departure of a port (DakeQQ/F5-TTS-ONNX #21, #36: the RMS
    raise, a Kaiser window, the filterbank's range, the STFT's magnitude mode)."""
    sr = mel["target_sample_rate"]

    def rms(rule):
        return lambda a: f5_mel(raise_rms(a, target_rms, rule), mel)

    def var(**kw):
        return lambda a: variant_mel(raise_rms(a, target_rms, "conditional"), mel, **kw)

    export = "re-export the preprocess graph with "
    return [
        (Departure("ref-audio", f"the RMS raise applied to every reference (infer_process raises only a reference "
                   f"quieter than {target_rms})", export + f"`if rms < {target_rms}: audio *= {target_rms} / rms`",
                   {"target_rms": target_rms, "rule": "always"}), rms("always")),
        (Departure("ref-audio", f"no RMS raise (infer_process raises a reference quieter than {target_rms})",
                   export + f"`if rms < {target_rms}: audio *= {target_rms} / rms` before the STFT",
                   {"target_rms": None, "rule": "never"}), rms("never")),
        (Departure("mel", "a Kaiser window (beta 12) in the STFT, not F5's periodic Hann",
                   export + "torch.hann_window(n_fft, periodic=True) as its STFT window", {"window": "kaiser"}),
         var(window="kaiser")),
        (Departure("mel", "a Hamming window in the STFT, not F5's periodic Hann",
                   export + "torch.hann_window(n_fft, periodic=True) as its STFT window", {"window": "hamming"}),
         var(window="hamming")),
        (Departure("mel", f"a mel filterbank up to 8000 Hz, not F5's 0 to {sr // 2} Hz (HTK, no norm)",
                   export + f"the filterbank of torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, 0, {sr // 2}, "
                   f"{mel['n_mel_channels']}, {sr}, None, 'htk')", {"f_max": 8000}), var(f_max=8000.0)),
        (Departure("mel", "a power spectrogram (|STFT|^2), not F5's magnitude (|STFT|)",
                   export + "the STFT's magnitude sqrt(re^2 + im^2), not its power", {"power": 2}), var(power=2.0)),
    ]


def step_reference(transformer, inputs: dict[str, torch.Tensor], t: torch.Tensor, dt: torch.Tensor,
                   cfg: float, method: str = "euler") -> torch.Tensor:
    """One step of CFM.sample from the port's state: Euler, x + dt * v(t, x) with v the guided velocity
    (f5/versions.py), as f5 integrates; "midpoint" (torchdiffeq's fixed-grid midpoint, which CFM's odeint_kwargs
    can ask for): x + dt * v(t + dt/2, x + dt/2 * v(t, x))."""
    from f5_parity.f5.versions import guided_velocity

    x = inputs["state"]
    dtype = next(transformer.parameters()).dtype  # a model cast to fp16 computes in fp16 from the same inputs

    def v(time, state):
        return guided_velocity(transformer, x=state.to(dtype), cond=inputs["cond"].to(dtype), text=inputs["text"],
                               time=time.reshape(()).to(dtype), cfg_strength=cfg).float()

    with torch.inference_mode():
        if method == "midpoint":
            return x + dt * v(t + dt / 2, x + dt / 2 * v(t, x))
        return x + dt * v(t, x)


def fit_cfg(transformer, inputs: dict[str, torch.Tensor], t: torch.Tensor, dt: torch.Tensor,
            update: torch.Tensor) -> float | None:
    """The guidance strength w that makes dt * (pred + w (pred - null)) closest to the port's update (least
    squares): pred is the guided velocity at w = 0, pred - null its change from w = 0 to w = 1."""
    zero = step_reference(transformer, inputs, t, dt, 0.0) - inputs["state"]
    one = step_reference(transformer, inputs, t, dt, 1.0) - inputs["state"]
    slope = (one - zero).double().flatten()
    denom = float(slope @ slope)
    if denom == 0.0:
        return None
    return float((update.double().flatten() - zero.double().flatten()) @ slope / denom)


def rounded_to(model, dtype: torch.dtype):
    """A copy of the model whose weights hold `dtype`'s values, computing in fp32 (a port that stores fp16 or
    bf16 weights and casts them up)."""
    import copy

    clone = copy.deepcopy(model)
    with torch.no_grad():
        for p in clone.parameters():
            p.copy_(p.to(dtype).float())
    return clone


def quantized_int8(model):
    """A copy of the model whose weights (every parameter of two or more dimensions) hold symmetric per-tensor int8
    values, computing in fp32: the simplest weight-only int8 export, for the size of what int8 rounding does."""
    import copy

    clone = copy.deepcopy(model)
    with torch.no_grad():
        for p in clone.parameters():
            if p.dim() >= 2:
                scale = float(p.abs().max()) / 127 or 1.0
                p.copy_(torch.clamp(torch.round(p / scale), -127, 127) * scale)
    return clone


def decode_reference(vocoder, mel_spec_type: str, mel: torch.Tensor) -> torch.Tensor:
    """The vocoder's decode as f5 calls it (mel (1, frames, n_mels) -> wav)."""
    from f5_parity.paths.stages import decode

    with torch.inference_mode():
        return decode(vocoder, mel_spec_type, mel.transpose(1, 2)).float().reshape(1, -1)
