"""Fixture factory: tiny F5 checkpoints from the real f5_tts classes, in every format users hold.

Deterministic for a given seed. Used by the tests and the demo; nothing here is a mock: the models
are f5_tts CFM + DiT, the EMA is ema_pytorch's EMA as the Trainer builds it, the full trainer
checkpoint is written by the real f5_tts Trainer.save_checkpoint, and the vocoder is a real Vocos
built from the vocos-mel-24khz config (random weights: its noise output is itself a test case).
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import torch

from f5_parity.checkpoint.ema import ema_share
from f5_parity.demo.fixture import VOCOS_MEL_24KHZ_CONFIG, random_vocos_dir, write_vocab  # noqa: F401 (shipped with the demo, used by the kit and its callers)
from f5_parity.f5.configs import MEL_SPEC_KWARGS, V1_FLAGS, fixed_arch_flags


# A tiny DiT with every structural feature of the Base configs (text ConvNeXt, dim_head 64).
TINY_ARCH: dict[str, Any] = dict(dim=128, depth=2, heads=2, ff_mult=2, text_dim=64, conv_layers=1)

# Everything a Portuguese fine-tune meets: the letters, the accented vowels, ç, punctuation.
_PT_EXTRA = "áàâãéêíóôõúüçÁÀÂÃÉÊÍÓÔÕÚÇ"
_PUNCT = ",.!?;:'\"-()"


def pt_vocab_chars() -> list[str]:
    """The tiny fixture vocab: ' ' first (F5 maps unknown characters to id 0), then sorted chars."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    chars = sorted(set(letters) | set(_PT_EXTRA) | set(_PUNCT) | set("0123456789"))
    return [" "] + chars


def release_flags() -> dict[str, Any]:
    """The flags a new model gets in the installed release: v1 in 1.x; 0.x builds only v0."""
    return fixed_arch_flags("DiT") or dict(V1_FLAGS)


def build_cfm(
    vocab_chars: list[str],
    arch: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    backbone: str = "DiT",
    mel_spec_type: str = "vocos",
    nonzero: bool = True,
):
    """A CFM with a real f5_tts backbone. `nonzero` re-draws the zero-initialized output layers:

    F5 zero-initializes AdaLN and the output projection, so a fresh model predicts a zero velocity
    whatever its input; settings could not change its output and parity tests would pass vacuously.
    """
    from f5_tts.model import CFM

    from f5_parity.f5.configs import build_backbone

    arch = dict(TINY_ARCH | release_flags()) if arch is None else dict(arch)
    torch.manual_seed(seed)
    transformer = build_backbone(backbone, arch, text_num_embeds=len(vocab_chars),
                                 mel_dim=MEL_SPEC_KWARGS["n_mel_channels"])
    model = CFM(
        transformer=transformer,
        mel_spec_kwargs=dict(MEL_SPEC_KWARGS, mel_spec_type=mel_spec_type),
        vocab_char_map={c: i for i, c in enumerate(vocab_chars)},
    )
    if nonzero:
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for p in model.parameters():
                if p.numel() and bool((p == 0).all()):
                    p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    return model.eval()


def perturb(model: torch.nn.Module, scale: float, seed: int) -> torch.nn.Module:
    """Add a deterministic weight delta: stands for 'fine-tuned away from the pretrained weights'."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale * (p.detach().float().std().clamp_min(1e-3)))
    return model


@dataclass
class TinyRun:
    """A simulated fine-tune: the 'pretrained' model, the raw fine-tuned model and its lagging EMA."""

    vocab_chars: list[str]
    arch: dict[str, Any]
    raw: Any  # CFM
    ema_state: dict[str, torch.Tensor]  # ema_pytorch state dict: initted, step, ema_model.*
    update: int
    inherited_step: int
    share: float


def simulate_finetune(
    vocab_chars: list[str] | None = None,
    arch: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    updates: int = 25_400,
    inherited_step: int = 1_200_000,
    delta_scale: float = 0.5,
) -> TinyRun:
    """Pretrained weights W0, fine-tuned raw W0+d, and the EMA that ema_pytorch would hold: W0+share*d."""
    from ema_pytorch import EMA

    vocab_chars = vocab_chars or pt_vocab_chars()
    arch = dict(TINY_ARCH | release_flags()) if arch is None else dict(arch)
    pretrained = build_cfm(vocab_chars, arch, seed=seed)
    raw = build_cfm(vocab_chars, arch, seed=seed)
    perturb(raw, delta_scale, seed + 100)
    share = ema_share(updates, inherited_step=inherited_step)
    ema = EMA(raw, include_online_model=False)
    with torch.no_grad():
        for (name, p_ema), p_pre, p_raw in zip(
            ema.ema_model.named_parameters(), pretrained.parameters(), raw.parameters()
        ):
            p_ema.copy_(p_pre + share * (p_raw - p_pre))
    state = ema.state_dict()
    state["step"] = torch.tensor(inherited_step + updates)
    state["initted"] = torch.tensor(True)
    return TinyRun(vocab_chars, arch, raw, state, updates, inherited_step, share)


FORMATS = (
    "trainer",  # model_{update}.pt from Trainer.save_checkpoint: raw + EMA + optimizer + scheduler + update
    "trainer-last",  # the same dict as model_last.pt
    "pretrained-pt",  # official pretrained_*.pt / model_1200000.pt: {'ema_model_state_dict': ...}
    "ema-safetensors",  # official .safetensors: ema_model.* tensors + step + initted
    "noprefix-safetensors",  # community export: transformer.* without ema_model. and without buffers
    "model-dict",  # user scripts: {'model': state_dict}
    "bare",  # a bare state_dict
    "module-prefix",  # DDP-wrapped save: module.transformer.*
    "orig-mod-prefix",  # torch.compile save: _orig_mod.transformer.*
)


def _cast(sd: dict[str, torch.Tensor], dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    if dtype is None:
        return sd
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}


def _ema_weights(ema_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.replace("ema_model.", "", 1): v for k, v in ema_state.items() if k not in ("initted", "step")}


def _save_with_trainer(run: TinyRun, path: Path, dtype: torch.dtype | None) -> None:
    """Write the checkpoint with the real f5_tts Trainer.save_checkpoint (real AdamW + LR scheduler state)."""
    from torch.optim.lr_scheduler import LinearLR, SequentialLR

    from f5_tts.model import Trainer

    with contextlib.redirect_stdout(io.StringIO()):
        trainer = Trainer(
            run.raw,
            epochs=1,
            learning_rate=1e-5,
            num_warmup_updates=10,
            checkpoint_path=str(path.parent),
            logger=None,
            log_samples=False,
        )
        # One real optimizer step so optimizer_state_dict carries exp_avg / exp_avg_sq like a real run.
        for p in trainer.model.parameters():
            p.grad = torch.zeros_like(p)
        with torch.no_grad():
            before = [p.detach().clone() for p in trainer.model.parameters()]
            trainer.optimizer.step()
            for p, b in zip(trainer.model.parameters(), before):
                p.copy_(b)  # keep the weights exactly as simulated
        trainer.optimizer.zero_grad()
        warm = LinearLR(trainer.optimizer, start_factor=1e-8, end_factor=1.0, total_iters=10)
        decay = LinearLR(trainer.optimizer, start_factor=1.0, end_factor=1e-8, total_iters=100)
        trainer.scheduler = SequentialLR(trainer.optimizer, schedulers=[warm, decay], milestones=[10])
        trainer.ema_model.load_state_dict(run.ema_state)
        trainer.save_checkpoint(run.update, last=path.name == "model_last.pt")
    written = path.parent / ("model_last.pt" if path.name == "model_last.pt" else f"model_{run.update}.pt")
    if dtype is not None:
        ckpt = torch.load(written, weights_only=True, map_location="cpu")
        ckpt["model_state_dict"] = _cast(ckpt["model_state_dict"], dtype)
        ckpt["ema_model_state_dict"] = _cast(ckpt["ema_model_state_dict"], dtype)
        torch.save(ckpt, written)
    if written != path:
        written.replace(path)


def save_checkpoint(run: TinyRun, path: str | Path, fmt: str, *, dtype: torch.dtype | None = None) -> Path:
    """Write `run` in one of FORMATS (optionally cast to fp16/bf16)."""
    from safetensors.torch import save_file

    if fmt not in FORMATS:
        raise ValueError(f"unknown fixture format {fmt!r}; choose from {FORMATS}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    raw_sd = {k: v.detach().clone() for k, v in run.raw.state_dict().items()}
    if fmt in ("trainer", "trainer-last"):
        _save_with_trainer(run, p, dtype)
    elif fmt == "pretrained-pt":
        torch.save({"ema_model_state_dict": _cast(run.ema_state, dtype)}, p)
    elif fmt == "ema-safetensors":
        save_file({k: v.contiguous() for k, v in _cast(run.ema_state, dtype).items()}, str(p))
    elif fmt == "noprefix-safetensors":
        save_file({k: v.contiguous() for k, v in _cast(_ema_weights(run.ema_state), dtype).items()}, str(p))
    elif fmt == "model-dict":
        torch.save({"model": _cast(raw_sd, dtype)}, p)
    elif fmt == "bare":
        torch.save(_cast(raw_sd, dtype), p)
    elif fmt == "module-prefix":
        torch.save({f"module.{k}": v for k, v in _cast(raw_sd, dtype).items()}, p)
    elif fmt == "orig-mod-prefix":
        torch.save({f"_orig_mod.{k}": v for k, v in _cast(raw_sd, dtype).items()}, p)
    return p


def model_config(arch: dict[str, Any], *, name: str = "F5TTS_tiny", tokenizer_path: str | None = None,
                 mel_spec_type: str = "vocos") -> dict[str, Any]:
    """A training YAML in f5-tts's own schema (the shape of configs/F5TTS_*.yaml).

    Flags the installed release has no argument for (0.x: the v0 flags it always computes) are left out,
    as that release's own configs leave them out: a 0.x user's YAML cannot hold them.
    """
    from f5_parity.f5.configs import backbone_kwargs

    return {
        "model": {
            "name": name,
            "tokenizer": "custom" if tokenizer_path else "pinyin",
            "tokenizer_path": tokenizer_path,
            "backbone": "DiT",
            "arch": backbone_kwargs("DiT", arch),
            "mel_spec": dict(MEL_SPEC_KWARGS, mel_spec_type=mel_spec_type),
            "vocoder": {"is_local": False, "local_path": None},
        }
    }


# --- Vocos ---------------------------------------------------------------------------------------


# --- One call for the whole set ------------------------------------------------------------------


@dataclass
class FixtureSet:
    root: Path
    vocab: Path
    config: Path
    checkpoints: dict[str, Path] = field(default_factory=dict)
    run: TinyRun | None = None

    def manifest(self) -> dict[str, Any]:
        return {
            "vocab": str(self.vocab),
            "config": str(self.config),
            "checkpoints": {k: str(v) for k, v in self.checkpoints.items()},
            "update": self.run.update if self.run else None,
            "ema_share": self.run.share if self.run else None,
        }


_FILE_NAMES = {
    "trainer": "model_25400.pt",
    "trainer-last": "model_last.pt",
    "pretrained-pt": "pretrained_model_1200000.pt",
    "ema-safetensors": "model_1200000.safetensors",
    "noprefix-safetensors": "model_export.safetensors",
    "model-dict": "model_dict.pt",
    "bare": "bare_state_dict.pt",
    "module-prefix": "module_prefix.pt",
    "orig-mod-prefix": "orig_mod_prefix.pt",
}


def build_fixture_set(root: str | Path, *, seed: int = 0, arch: dict[str, Any] | None = None,
                      formats: Iterable[str] = FORMATS, dtypes: Iterable[str] = ("fp16", "bf16")) -> FixtureSet:
    """Every checkpoint format of one simulated fine-tune, plus fp16/bf16 copies of the trainer file."""
    import yaml

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    run = simulate_finetune(arch=arch, seed=seed)
    vocab = write_vocab(root / "vocab.txt", run.vocab_chars)
    config = root / "F5TTS_tiny.yaml"
    config.write_text(yaml.safe_dump(model_config(run.arch, tokenizer_path=str(vocab)), sort_keys=False))
    fs = FixtureSet(root, vocab, config, run=run)
    for fmt in formats:
        sub = root / fmt  # one folder each: Trainer writes model_last.pt / model_N.pt by name
        fs.checkpoints[fmt] = save_checkpoint(run, sub / _FILE_NAMES[fmt], fmt)
    dt = {"fp16": torch.float16, "bf16": torch.bfloat16}
    for name in dtypes:
        fs.checkpoints[f"trainer-{name}"] = save_checkpoint(
            run, root / f"trainer-{name}" / _FILE_NAMES["trainer"], "trainer", dtype=dt[name]
        )
    (root / "manifest.json").write_text(json.dumps(fs.manifest(), indent=2))
    return fs

