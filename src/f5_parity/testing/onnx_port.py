"""A runtime port of an F5 checkpoint, made the way the ONNX ports are (DakeQQ/F5-TTS-ONNX): three graphs run
by onnxruntime from the user's own script — preprocess (int16 audio -> the reference mel), one transformer step
(state, cond, text ids, step index -> the next state; the time grid and CFG baked in), decode (mel -> wav).

The test kit for `parity-check`'s port judgement (ports/). The graphs are exported with torch.onnx from f5-tts's
own modules (the DiT, Vocos's backbone and head); what a port writes itself — its STFT, its mel filterbank, its
RMS rule, its ISTFT — is written here the way ports write it (convolutions with a DFT basis), so each known port
fault is one argument: a Kaiser window, another filterbank range, the RMS raise always applied, fp16 compute,
the EMA weights where the Trainer sampled from the raw ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

PREPROCESS, TRANSFORMER, DECODE = "F5_Preprocess.onnx", "F5_Transformer.onnx", "F5_Decode.onnx"
TARGET_RMS = 0.1  # infer_process's target_rms default


@dataclass(frozen=True)
class PortFaults:
    """What the export departs from F5 in: each default is F5's own computation."""

    window: Literal["hann", "kaiser"] = "hann"  # the STFT window (F5: torch.hann_window, periodic)
    f_max: float | None = None  # the mel filterbank's top (F5: sample_rate / 2)
    rms: Literal["conditional", "always"] = "conditional"  # raise to target_rms only when quieter (infer_process)
    weights: Literal["raw", "ema"] = "raw"  # the set exported (the Trainer samples from the raw model)
    step_rule: Literal["euler", "midpoint"] = "euler"  # the ODE step the transformer graph takes (F5: Euler)
    # the transformer graph's weights and compute (fp32 in and out); int8: weights stored as int8, per tensor,
    # dequantized in the graph (DequantizeLinear), computed in fp32
    dtype: Literal["fp32", "fp16", "int8"] = "fp32"


def _dft_basis(n_fft: int, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = torch.arange(n_fft, dtype=torch.float64)
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)
    angle = 2 * math.pi * k[:, None] * n[None, :] / n_fft
    w = window.double()[None, :]
    return (torch.cos(angle) * w).float(), (-torch.sin(angle) * w).float()


class Preprocess(torch.nn.Module):
    """int16 audio (1, 1, L) -> log mel (1, frames, n_mels), a port's own STFT (conv1d with a DFT basis)."""

    def __init__(self, mel: dict, faults: PortFaults):
        super().__init__()
        import torchaudio

        n_fft, self.hop, sr = int(mel["n_fft"]), int(mel["hop_length"]), int(mel["target_sample_rate"])
        window = (torch.kaiser_window(n_fft, periodic=True, beta=12.0) if faults.window == "kaiser"
                  else torch.hann_window(n_fft, periodic=True))
        cos, sin = _dft_basis(n_fft, window)
        self.register_buffer("cos", cos[:, None, :])
        self.register_buffer("sin", sin[:, None, :])
        fb = torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, 0.0, float(faults.f_max or sr / 2),
                                                   int(mel["n_mel_channels"]), sr, None, "htk")
        self.register_buffer("fbank", fb)
        self.pad = n_fft // 2
        self.always = faults.rms == "always"

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = audio.float() / 32768.0
        rms = torch.sqrt(torch.mean(x * x))
        raised = x * (TARGET_RMS / rms)
        x = raised if self.always else torch.where(rms < TARGET_RMS, raised, x)
        x = F.pad(x, (self.pad, self.pad), mode="reflect")
        re = F.conv1d(x, self.cos, stride=self.hop)
        im = F.conv1d(x, self.sin, stride=self.hop)
        mag = torch.sqrt(re * re + im * im)  # (1, freqs, frames)
        mel = torch.matmul(mag.transpose(1, 2), self.fbank)
        return torch.log(torch.clamp(mel, min=1e-5))


class _TracedTextEmbedding(torch.nn.Module):
    """f5's TextEmbedding for one utterance whose ids are already padded to the mel length (-1 filler), written
    without the Python-int sequence length its forward takes (torch.onnx's tracer hands it a tensor): what a port
    rewrites to export a dynamic length. The same weights; the judgement proves it computes f5's values."""

    def __init__(self, real):
        super().__init__()
        self.real = real

    def forward(self, text, seq_len, drop_text=False):
        real = self.real
        text = text + 1
        text_mask = text == 0
        if drop_text:
            text = torch.zeros_like(text)
        emb = real.text_embed(text)
        if getattr(real, "extra_modeling", False):
            emb = emb + real.freqs_cis[: text.shape[1], :]
            if real.mask_padding:
                keep = ~text_mask.unsqueeze(-1)
                emb = emb * keep
                for block in real.text_blocks:
                    emb = block(emb) * keep
            else:
                emb = real.text_blocks(emb)
        return emb


class TransformerStep(torch.nn.Module):
    """One Euler step of CFM.sample with classifier-free guidance; the time grid is baked in."""

    def __init__(self, transformer, grid: torch.Tensor, cfg: float, midpoint: bool = False):
        super().__init__()
        self.midpoint = midpoint
        transformer.text_embed = _TracedTextEmbedding(transformer.text_embed)
        self.transformer = transformer
        self.register_buffer("grid", grid.float())
        self.cfg = float(cfg)

    def velocity(self, x, cond, text_ids, t):
        pred = self.transformer(x=x, cond=cond, text=text_ids, time=t, mask=None, drop_audio_cond=False,
                                drop_text=False)
        null = self.transformer(x=x, cond=cond, text=text_ids, time=t, mask=None, drop_audio_cond=True,
                                drop_text=True)
        return pred + (pred - null) * self.cfg

    def forward(self, noise, cond, text_ids, time_step):
        t = self.grid[time_step]
        dt = self.grid[time_step + 1] - t
        if self.midpoint:
            half = noise + dt / 2 * self.velocity(noise, cond, text_ids, t)
            return noise + dt * self.velocity(half, cond, text_ids, t + dt / 2), time_step + 1
        return noise + dt * self.velocity(noise, cond, text_ids, t), time_step + 1


class HalfStep(torch.nn.Module):
    """The step in fp16, weights and activations, with fp32 inputs and outputs (a "fp16 export" of the
    transformer that keeps the port script's arrays in fp32)."""

    def __init__(self, step: TransformerStep):
        super().__init__()
        self.step = step.half()

    def forward(self, noise, cond, text_ids, time_step):
        out, nxt = self.step(noise.half(), cond.half(), text_ids, time_step)
        return out.float(), nxt


class Decode(torch.nn.Module):
    """mel (1, frames, n_mels) -> wav (1, samples): Vocos's backbone and head, then a port's own ISTFT (overlap-add
    through a transposed convolution, as Vocos's ISTFTHead trims it) with real arithmetic."""

    def __init__(self, vocos):
        super().__init__()
        head = vocos.head
        self.backbone, self.out = vocos.backbone, head.out
        istft = head.istft
        n_fft, self.hop, win = istft.n_fft, istft.hop_length, istft.win_length
        # what Vocos's ISTFT trims: torch.istft(center=True) for "center" (the published vocos-mel-24khz), else "same"
        self.pad = n_fft // 2 if istft.padding == "center" else (win - self.hop) // 2
        n = torch.arange(n_fft, dtype=torch.float64)
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)
        scale = torch.full((n_fft // 2 + 1,), 2.0, dtype=torch.float64)
        scale[0] = scale[-1] = 1.0
        angle = 2 * math.pi * k[:, None] * n[None, :] / n_fft
        w = istft.window.double()[None, :]
        self.register_buffer("icos", (scale[:, None] * torch.cos(angle) / n_fft * w).float())
        self.register_buffer("isin", (-scale[:, None] * torch.sin(angle) / n_fft * w).float())
        self.register_buffer("eye", torch.eye(win)[:, None, :])
        self.register_buffer("window_sq", istft.window.square()[None, :, None])

    def forward(self, mel):
        x = self.backbone(mel.transpose(1, 2))
        x = self.out(x).transpose(1, 2)
        mag, p = x.chunk(2, dim=1)
        mag = torch.clip(torch.exp(mag), max=1e2)
        re, im = mag * torch.cos(p), mag * torch.sin(p)  # (1, freqs, frames)
        frames = torch.matmul(re.transpose(1, 2), self.icos) + torch.matmul(im.transpose(1, 2), self.isin)
        y = F.conv_transpose1d(frames.transpose(1, 2), self.eye, stride=self.hop)
        env = F.conv_transpose1d(self.window_sq.expand(1, -1, frames.shape[1]), self.eye, stride=self.hop)
        y = y[:, 0, self.pad:-self.pad] / env[:, 0, self.pad:-self.pad]
        return y


def _load_cfm(checkpoint: Path, config: Path, vocab: Path, weights: str):
    import yaml
    from f5_tts.infer.utils_infer import load_model
    from f5_tts.model import DiT

    cfg = yaml.safe_load(Path(config).read_text(encoding="utf-8"))["model"]
    return load_model(DiT, dict(cfg["arch"]), str(checkpoint), mel_spec_type=cfg["mel_spec"]["mel_spec_type"],
                      vocab_file=str(vocab), device="cpu", use_ema=(weights == "ema")).eval(), cfg["mel_spec"]


def _int8_weights(path: Path) -> None:
    """Store the graph's float weights (initializers of two or more dimensions) as symmetric per-tensor int8 with a
    DequantizeLinear back to fp32 before use: a weight-only int8 export."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph, dequantize = model.graph, []
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT or len(init.dims) < 2:
            continue
        w = numpy_helper.to_array(init)
        scale = float(np.abs(w).max()) / 127 or 1.0
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        graph.initializer.remove(init)
        graph.initializer.extend([numpy_helper.from_array(q, init.name + "_int8"),
                                  numpy_helper.from_array(np.array(scale, np.float32), init.name + "_scale"),
                                  numpy_helper.from_array(np.array(0, np.int8), init.name + "_zero")])
        dequantize.append(helper.make_node("DequantizeLinear", [init.name + "_int8", init.name + "_scale",
                                                                init.name + "_zero"], [init.name]))
    for node in reversed(dequantize):
        graph.node.insert(0, node)
    onnx.save(model, str(path))


def export_port(checkpoint: str | Path, config: str | Path, vocab: str | Path, vocos_dir: str | Path,
                out_dir: str | Path, *, faults: PortFaults = PortFaults(), nfe: int = 32, cfg: float = 2.0,
                sway: float = -1.0, like: str | Path | None = None) -> Path:
    """The three graphs of the port, written under out_dir (opset 17, torch.onnx's TorchScript exporter, as
    DakeQQ's Export_F5.py calls it). `like`: a clean export's folder whose graphs the faults leave unchanged are
    linked from there instead of exported again (the decode graph is most of an export's time)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean = PortFaults()
    touches = {PREPROCESS: (faults.window, faults.f_max, faults.rms) != (clean.window, clean.f_max, clean.rms),
               TRANSFORMER: (faults.weights, faults.dtype, faults.step_rule, nfe, cfg, sway) !=
               (clean.weights, clean.dtype, clean.step_rule, 32, 2.0, -1.0),
               DECODE: False}
    if like is not None:
        for name, changed in touches.items():
            if not changed:
                (out / name).unlink(missing_ok=True)
                (out / name).symlink_to(Path(like).resolve() / name)
    wanted = {name for name, changed in touches.items() if like is None or changed}
    import yaml

    mel = yaml.safe_load(Path(config).read_text(encoding="utf-8"))["model"]["mel_spec"]
    frames, n_mels = 120, int(mel["n_mel_channels"])
    audio = (torch.randn(1, 1, frames * int(mel["hop_length"])) * 3000).to(torch.int16)
    kwargs = dict(opset_version=17, dynamo=False, do_constant_folding=True)
    if PREPROCESS in wanted:
        torch.onnx.export(Preprocess(mel, faults), (audio,), str(out / PREPROCESS), input_names=["audio"],
                          output_names=["mel"], dynamic_axes={"audio": {2: "samples"}, "mel": {1: "frames"}}, **kwargs)
    if TRANSFORMER in wanted:
        model, _ = _load_cfm(Path(checkpoint), Path(config), Path(vocab), faults.weights)
        _export_step(model, mel, faults, out, nfe=nfe, cfg=cfg, sway=sway, frames=frames, kwargs=kwargs)
        if faults.dtype == "int8":
            _int8_weights(out / TRANSFORMER)
    if DECODE in wanted:
        _export_decode(vocos_dir, out, frames=frames, n_mels=n_mels, kwargs=kwargs)
    return out


def _export_step(model, mel, faults: PortFaults, out: Path, *, nfe, cfg, sway, frames, kwargs) -> None:
    from f5_parity.f5.versions import time_grid

    n_mels = int(mel["n_mel_channels"])
    grid = time_grid(nfe, use_epss=True, sway=sway, dtype=torch.float32)
    step = TransformerStep(model.transformer, grid, cfg, midpoint=faults.step_rule == "midpoint").eval()
    step = HalfStep(step).eval() if faults.dtype == "fp16" else step
    x = torch.randn(1, frames, n_mels)
    ids = torch.full((1, frames), -1, dtype=torch.int64)
    ids[0, :40] = torch.randint(0, 20, (40,))
    with torch.inference_mode():
        torch.onnx.export(step, (x, x, ids, torch.zeros(1, dtype=torch.int64)), str(out / TRANSFORMER),
                          input_names=["noise", "cond", "text_ids", "time_step"],
                          output_names=["denoised", "next_time_step"],
                          dynamic_axes={n: {1: "frames"} for n in ("noise", "cond", "text_ids", "denoised")}, **kwargs)


def _export_decode(vocos_dir, out: Path, *, frames, n_mels, kwargs) -> None:
    from f5_tts.infer.utils_infer import load_vocoder

    vocos = load_vocoder("vocos", is_local=True, local_path=str(vocos_dir), device="cpu")
    x = torch.randn(1, frames, n_mels)
    with torch.inference_mode():
        torch.onnx.export(Decode(vocos).eval(), (x,), str(out / DECODE), input_names=["mel"], output_names=["audio"],
                          dynamic_axes={"mel": {1: "frames"}, "audio": {1: "samples"}}, **kwargs)


PORT_SCRIPT = '''"""A user's port inference script: the three ONNX graphs through onnxruntime, nothing of f5-tts."""
import argparse

import numpy as np
import onnxruntime as ort
import soundfile as sf

p = argparse.ArgumentParser()
p.add_argument("--graphs", required=True)
p.add_argument("--vocab", required=True)
p.add_argument("--ref-audio", required=True)
p.add_argument("--ref-text", required=True)
p.add_argument("--gen-text", required=True)
p.add_argument("--out", required=True)
p.add_argument("--nfe", type=int, default=32)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--framing", choices=["f5", "plain"], default="f5")
a = p.parse_args()

opts = ort.SessionOptions()
opts.intra_op_num_threads = a.threads
pre, step, dec = (ort.InferenceSession(f"{a.graphs}/{name}", opts, providers=["CPUExecutionProvider"])
                  for name in ("F5_Preprocess.onnx", "F5_Transformer.onnx", "F5_Decode.onnx"))
wav, sr = sf.read(a.ref_audio, dtype="int16")
if wav.ndim > 1:
    wav = wav[:, 0]
mel = pre.run(["mel"], {"audio": wav[None, None, :]})[0]
ref_len = mel.shape[1]
ref_text = a.ref_text if a.ref_text.endswith(". ") else a.ref_text + ". "
if len(ref_text[-1].encode("utf-8")) == 1:  # as infer_batch_process frames it
    ref_text += " "
if a.framing == "plain":  # a port that joins the texts with one space, its own framing
    ref_text = a.ref_text + " "
duration = ref_len + int(ref_len / len(ref_text.encode("utf-8")) * len(a.gen_text.encode("utf-8")))
vocab = {line.rstrip("\\n"): i for i, line in enumerate(open(a.vocab, encoding="utf-8"))}
ids = np.full((1, duration), -1, dtype=np.int64)
tokens = [vocab.get(c, 0) for c in ref_text + a.gen_text][:duration]
ids[0, :len(tokens)] = tokens
cond = np.zeros((1, duration, mel.shape[2]), dtype=np.float32)
cond[:, :ref_len] = mel
x = np.random.default_rng(a.seed).standard_normal((1, duration, mel.shape[2])).astype(np.float32)
t = np.zeros(1, dtype=np.int64)
for _ in range(a.nfe):
    x, t = step.run(None, {"noise": x, "cond": cond, "text_ids": ids, "time_step": t})
audio = dec.run(["audio"], {"mel": np.ascontiguousarray(x[:, ref_len:])})[0]
sf.write(a.out, audio[0], 24000)
'''


def write_port_script(path: str | Path) -> Path:
    path = Path(path)
    path.write_text(PORT_SCRIPT, encoding="utf-8")
    return path
