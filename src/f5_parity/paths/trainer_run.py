"""The trainer path produced by the installed Trainer's own code, for f5-tts code this tool does not know.

paths/trainer.py mirrors the sample block of known releases. When the loaded f5-tts is edited, a checkout
between releases or a fork (f5/environment.py), the mirror proves nothing about it: then the installed
Trainer itself produces the sample. One update on a one-clip dataset built from the case, log_samples on:

- the Trainer is constructed as train.py constructs it, with the checkpoint linked (never copied or
  written) into a temporary checkpoint folder, so its own load_checkpoint picks the file and the weights;
- learning rate 0 and the optimizer's step made a no-op, so the weights it samples with are the loaded ones
  (a resumed checkpoint would otherwise restore its own learning rate with the optimizer state);
- save_per_updates 1, so its sample block runs at the first update (two epochs of one clip: LinearLR divides by
  zero on a one-update schedule; the run ends at the second sample); checkpoint saving is skipped;
- the noise of its sample is seeded at the moment it samples (the Trainer leaves it unseeded).

What comes back is the Trainer's own CFM.sample call (inputs and output) and the update_N_gen.wav it wrote.
tests/test_trainer_run.py proves that on a known release this equals the mirror.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
import tempfile
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from f5_parity.paths.spec import PathSpec
from f5_parity.paths.stages import UnbuildableSpec, hub_offline, quiet


@dataclass
class TrainerCall:
    """The CFM.sample call the installed Trainer made, and what it generated."""

    text: list[Any]
    duration: int
    ref_len: int
    steps: int
    cfg_strength: float
    sway_sampling_coef: float | None
    autocast: bool
    cond: torch.Tensor  # (1, n, d)
    output: torch.Tensor  # (1, duration, d) float32
    gen_wav: torch.Tensor | None  # update_N_gen.wav as written, (1, samples)
    ref_wav: torch.Tensor | None  # update_N_ref.wav
    sample_rate: int
    model: Any = None
    loaded_by: str = "Trainer.load_checkpoint"  # or why f5-parity loaded the weights for it

    @property
    def gen_mel(self) -> torch.Tensor:
        """(1, d, n): the generated half, as the sample block cuts it."""
        return self.output[:, self.ref_len:, :].permute(0, 2, 1)

    def settings(self) -> dict[str, Any]:
        return {"steps": self.steps, "cfg_strength": self.cfg_strength, "sway_sampling_coef": self.sway_sampling_coef,
                "duration": self.duration, "ref_len": self.ref_len, "duration_ratio": self.duration / max(1, self.ref_len),
                "autocast": self.autocast, "text": ["".join(t) if isinstance(t, list) else t for t in self.text]}


class _Enough(Exception):
    """Ends the Trainer's run at its second sample (two epochs: a one-update schedule divides by zero)."""


@contextlib.contextmanager
def _record_sample(seed: int, calls: list[dict[str, Any]]):
    """Wrap CFM.sample for the block: record each call, seed its noise; the real method runs unchanged."""
    from f5_tts.model.cfm import CFM

    original = CFM.__dict__["sample"]
    defaults = {k: p.default for k, p in inspect.signature(original).parameters.items()}

    def recorded(self, cond, text, duration, *args, **kwargs):
        if calls:  # the first sample and its wavs are written: the second update is not needed
            raise _Enough()
        torch.manual_seed(seed)
        autocast = torch.is_autocast_enabled(cond.device.type) if hasattr(torch, "is_autocast_enabled") else False
        out = original(self, cond, text, duration, *args, **kwargs)
        calls.append({"model": self, "cond": cond.detach().float().cpu().clone(),
                      "text": [list(t) if not isinstance(t, str) else t for t in text],
                      "duration": int(duration), "steps": int(kwargs.get("steps", defaults["steps"])),
                      "cfg_strength": float(kwargs.get("cfg_strength", defaults["cfg_strength"])),
                      "sway_sampling_coef": kwargs.get("sway_sampling_coef", defaults["sway_sampling_coef"]),
                      "autocast": bool(autocast), "output": out[0].detach().float().cpu().clone()})
        return out

    CFM.sample = recorded
    try:
        yield
    finally:
        CFM.sample = original


@contextlib.contextmanager
def _vocoder_for(spec: PathSpec):
    """Griffin-Lim stands in when the trainer spec has no vocoder weights (offline): the sample block
    decodes with `vocoder.decode` either way; load_vocoder is not among the functions judged."""
    from f5_parity.paths.spec import decoder_name

    if decoder_name(spec) != "griffin-lim":
        yield
        return
    from f5_tts.infer import utils_infer

    from f5_parity.paths.griffinlim import GriffinLimVocoder

    original = utils_infer.load_vocoder
    utils_infer.load_vocoder = lambda *a, **k: GriffinLimVocoder(spec.value("mel"))
    try:
        yield
    finally:
        utils_infer.load_vocoder = original


def _one_clip_dataset(audio_path: str, text: list[str], mel: dict[str, Any]):
    """The case's reference as f5's CustomDataset of a prepared folder holds it (`text` as stored: stages.py
    dataset_text)."""
    import soundfile as sf
    from datasets import Dataset as HFDataset
    from f5_tts.model.dataset import CustomDataset

    info = sf.info(audio_path)
    duration = info.frames / info.samplerate
    rows = HFDataset.from_dict({"audio_path": [audio_path], "text": [list(text)],
                               "duration": [duration]})
    accepted = inspect.signature(CustomDataset.__init__).parameters
    kwargs = {k: v for k, v in mel.items() if k in accepted}
    return CustomDataset(rows, durations=[duration], preprocessed_mel=False, **kwargs)


def installed_trainer_sample(spec: PathSpec, audio_path: str, text: list[str], *, seed: int = 0,
                             device: str = "cpu") -> TrainerCall:
    """Run the installed Trainer for one update at learning rate 0 and return the sample it logged."""
    from f5_tts.model import CFM
    from f5_tts.model.trainer import Trainer

    from f5_parity.f5.configs import build_backbone
    from f5_parity.f5.vocab import read_vocab_chars

    arch = dict(spec.value("arch"))
    backbone = arch.pop("backbone", "DiT")
    mel = dict(spec.value("mel"))
    vocab = read_vocab_chars(spec.locate("vocab", "path"))
    checkpoint = Path(spec.locate("weights", "checkpoint")).resolve()
    # The Trainer runs after a chdir into a temp folder (below): every path it is handed must be absolute
    # first, or its DataLoader worker opens a relative reference from the wrong folder.
    audio_path = os.path.abspath(audio_path)
    autocast = spec.value("dtype").get("autocast", "no") or "no"
    # train.py's construction of the model (no odeint_kwargs: the Trainer samples with CFM's default euler)
    model = CFM(transformer=build_backbone(backbone, arch, text_num_embeds=len(vocab), mel_dim=mel["n_mel_channels"]),
                mel_spec_kwargs=mel, vocab_char_map={c: i for i, c in enumerate(vocab)})
    calls: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="f5-parity-trainer-") as tmp:
        try:
            loaded_by = "Trainer.load_checkpoint"
            _train_once(Trainer, model, spec, checkpoint, Path(tmp) / "ckpt", autocast, device, audio_path, text,
                        seed, calls, link=True)
        except KeyError as exc:
            # The file is not one Trainer.load_checkpoint resumes (an export without optimizer state):
            # the weights are loaded here, the Trainer starts from them with an empty checkpoint folder.
            from f5_parity.checkpoint.file import open_checkpoint

            loaded_by = f"f5-parity (Trainer.load_checkpoint cannot resume this file: missing {exc})"
            model.load_state_dict(open_checkpoint(checkpoint).state_dict(spec.value("weights")["set"]))
            calls.clear()
            _train_once(Trainer, model, spec, checkpoint, Path(tmp) / "ckpt2", autocast, device, audio_path, text,
                        seed, calls, link=False)
        ckpt_dir = Path(tmp) / ("ckpt" if loaded_by == "Trainer.load_checkpoint" else "ckpt2")
        if not calls:
            raise UnbuildableSpec("the installed Trainer logged no sample (its sample block did not run)")
        call = calls[0]
        samples = sorted((ckpt_dir / "samples").glob("update_*_gen.wav"))
        gen_wav = ref_wav = None
        if samples:
            import soundfile as sf

            data, _ = sf.read(str(samples[0]), dtype="float32", always_2d=True)
            gen_wav = torch.from_numpy(data.T.copy())
            ref_path = samples[0].with_name(samples[0].name.replace("_gen.wav", "_ref.wav"))
            if ref_path.exists():
                data, _ = sf.read(str(ref_path), dtype="float32", always_2d=True)
                ref_wav = torch.from_numpy(data.T.copy())
    duration = call["duration"]
    return TrainerCall(text=call["text"], duration=duration, ref_len=call["cond"].shape[1], steps=call["steps"],
                       cfg_strength=call["cfg_strength"], sway_sampling_coef=call["sway_sampling_coef"],
                       autocast=call["autocast"], cond=call["cond"], output=call["output"], gen_wav=gen_wav,
                       ref_wav=ref_wav, sample_rate=int(mel["target_sample_rate"]), model=call["model"],
                       loaded_by=loaded_by)


def _train_once(Trainer, model, spec: PathSpec, checkpoint: Path, ckpt_dir: Path, autocast: str, device: str,
                audio_path: str, text: list[str], seed: int, calls: list[dict[str, Any]], *, link: bool) -> None:
    mel = dict(spec.value("mel"))
    ckpt_dir.mkdir(parents=True)
    if link:
        # The Trainer's own choice of file: a training checkpoint resumes, an export loads as pretrained.
        name = "model_last.pt" if checkpoint.suffix == ".pt" else f"pretrained_{checkpoint.stem}{checkpoint.suffix}"
        os.symlink(checkpoint, ckpt_dir / name)
    accepted = inspect.signature(Trainer.__init__).parameters
    kwargs = dict(epochs=2, learning_rate=0.0, num_warmup_updates=1, save_per_updates=1, last_per_updates=1,
                  keep_last_n_checkpoints=0, checkpoint_path=str(ckpt_dir), batch_size_per_gpu=1,
                  batch_size_type="sample", max_samples=1, grad_accumulation_steps=1, max_grad_norm=1.0,
                  logger=None, log_samples=True,
                  accelerate_kwargs=dict(mixed_precision=autocast, cpu=device == "cpu"),
                  mel_spec_type=mel.get("mel_spec_type", "vocos"), is_local_vocoder=True,
                  local_vocoder_path=os.path.abspath(spec.locate("vocoder", "path"))
                  if spec.locate("vocoder", "path") else "")
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    dataset = _one_clip_dataset(str(audio_path), text, mel)
    cwd = os.getcwd()
    try:
        os.chdir(ckpt_dir.parent)  # anything the Trainer writes relative to the cwd (runs/, wandb/) stays in tmp
        # quiet: its prints; stderr: its tqdm bars and warnings (nothing below the CLI prints)
        with quiet(), contextlib.redirect_stderr(io.StringIO()), _vocoder_for(spec), _record_sample(seed, calls), \
                hub_offline():
            trainer = Trainer(model, **kwargs)
            # The weights must stay the loaded ones: the update itself is not what is judged.
            # (bound methods: the LR scheduler wraps optimizer.step as one)
            trainer.optimizer.step = types.MethodType(lambda self, *a, **k: None, trainer.optimizer)
            trainer.save_checkpoint = types.MethodType(lambda self, *a, **k: None, trainer)
            trainer.train(dataset, num_workers=1, resumable_with_seed=None)
    except _Enough:
        pass
    except KeyError:
        raise
    except Exception as exc:
        missing = environment_problem(exc)
        if missing is not None:
            raise missing from exc
        if not isinstance(exc, (RuntimeError, ValueError)):
            raise
        # the cause stays chained: --debug shows the Trainer's own traceback (a DataLoader worker's included)
        raise UnbuildableSpec(f"the installed Trainer could not sample: {_first_line(exc)}") from exc
    finally:
        os.chdir(cwd)


def _first_line(exc: BaseException) -> str:
    """A DataLoader worker's error reads 'Caught X in DataLoader worker process 0. Original Traceback ...':
    the original exception's own last line is the one that says what happened."""
    text = str(exc)
    if "Original Traceback" in text:
        last = [line for line in text.strip().splitlines() if line.strip()]
        if last:
            return f"{text.splitlines()[0].strip()} {last[-1].strip()}"
    return text.splitlines()[0] if text else type(exc).__name__


_MODULE = re.compile(r"No module named '([\w.]+)'")
_TORCHCODEC = re.compile(r"torchcodec", re.IGNORECASE)


def environment_problem(exc: BaseException):
    """One line naming what this environment lacks for its own Trainer to run (a package, a compatible
    accelerate), as an InputError, or None when the failure is not the environment's."""
    from f5_parity.errors import InputError

    chain, seen = [], exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = "\n".join(f"{type(e).__name__}: {e}" for e in chain)
    if _TORCHCODEC.search(text) and ("ImportError" in text or "ModuleNotFoundError" in text or "install" in text):
        return InputError("the installed f5-tts Trainer cannot load audio here: torchaudio decodes through "
                          "torchcodec, which is missing or cannot load FFmpeg's libraries",
                          "pip install torchcodec (and FFmpeg: apt-get install ffmpeg), or a torchaudio before 2.9")
    module = _MODULE.search(text)
    if module:
        return InputError(f"the installed f5-tts Trainer cannot run here: the package {module.group(1)!r} "
                          "is missing", f"pip install {module.group(1).split('.')[0]}")
    for e in chain:
        tb = traceback.extract_tb(e.__traceback__)
        if isinstance(e, (TypeError, AttributeError)) and tb and "/accelerate/" in tb[-1].filename.replace("\\", "/"):
            import importlib.metadata as md

            version = md.version("accelerate")
            return InputError(f"the installed f5-tts Trainer cannot run with accelerate {version}: "
                              f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                              "install an accelerate that your f5-tts release works with (the version it was "
                              "released beside), or run parity-check in the environment you train in")
    return None
