"""A training run to sweep: one real f5-tts Trainer run that saves a checkpoint every few updates.

The recipe of the ptbr-tiny fixture (testing/training.py: espeak-ng pt-br clips, F5's own
prepare_csv_wavs, the real Trainer) at a size that trains in seconds: a handful of clips, a DiT of
dim 64, a save every `save_every` updates. Then `inject_wrapper_prefix` re-saves the checkpoints from
some update on as a DDP-wrapped run writes them (`module.` before every key of both weight sets):
the parity break a sweep must find, with its first update known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from f5_parity.f5.configs import V0_FLAGS
from f5_parity.testing import training

# The fixture's structure (text ConvNeXt, dim_head 64, v0 flags) at the smallest size that still has it.
SWEEP_ARCH = dict(dim=64, depth=2, heads=1, dim_head=64, ff_mult=2, text_dim=32, conv_layers=1, **V0_FLAGS)
SWEEP_SENTENCES = training.TRAINING_SENTENCES[:4]  # one batch of 4 = one update per epoch


@dataclass
class SweepRun:
    root: Path
    checkpoint_dir: Path  # ckpts/: model_<N>.pt every save_every updates, model_last.pt
    vocab: Path
    config: Path  # the run's settings as an f5 training YAML
    updates: list[int]  # updates of the model_<N>.pt files


def train_sweep_run(root: str | Path, *, saves: int = 6, save_every: int = 1, seed: int = 0,
                    tensorboard_run: str | None = None) -> SweepRun:
    """`saves` checkpoints model_<save_every>.pt ... from one Trainer run (plus model_last.pt); with
    `tensorboard_run`, the Trainer also logs with tensorboard into <root>/run/runs/<tensorboard_run>/."""
    import yaml

    root = Path(root)
    csv_path = training.generate_dataset(root / "dataset", SWEEP_SENTENCES)
    prepared = training.prepare_dataset(csv_path, root / "prepared", quiet=True)
    updates = saves * save_every
    cfg = training.TrainConfig(updates=updates, seed=seed, arch=dict(SWEEP_ARCH), batch_size=4, max_samples=4,
                               learning_rate=1e-3, num_warmup_updates=2, save_per_updates=save_every,
                               last_per_updates=save_every, log_samples=False)
    result = training.train(prepared, root / "run", cfg, quiet=True, tensorboard_run=tensorboard_run)
    config = root / "F5TTS_sweep_tiny.yaml"
    config.write_text(yaml.safe_dump(training.model_yaml(cfg, str(prepared / "vocab.txt")), sort_keys=False,
                                     allow_unicode=True), encoding="utf-8")
    batches = math.ceil(len(SWEEP_SENTENCES) / cfg.batch_size)
    saved = [u for u in range(save_every, updates + batches, save_every)
             if (result.checkpoint_dir / f"model_{u}.pt").exists()]
    return SweepRun(root, result.checkpoint_dir, prepared / "vocab.txt", config, saved)


def inject_wrapper_prefix(checkpoint: str | Path, prefix: str = "module.") -> Path:
    """Re-save a Trainer checkpoint as a DDP-wrapped model writes it: `module.` on every weight key.

    The EMA keeps its own `ema_model.` in front (ema_pytorch wraps the wrapped model). f5's
    load_checkpoint strips neither prefix, so `load_model` fails on this file whichever weight set.
    """
    p = Path(checkpoint)
    ckpt = torch.load(str(p), map_location="cpu", weights_only=True)
    ckpt["model_state_dict"] = {f"{prefix}{k}": v for k, v in ckpt["model_state_dict"].items()}
    ckpt["ema_model_state_dict"] = {
        (k if k in ("initted", "step") else f"ema_model.{prefix}{k.removeprefix('ema_model.')}"): v
        for k, v in ckpt["ema_model_state_dict"].items()}
    tmp = p.with_name(f".{p.name}.tmp")
    torch.save(ckpt, tmp)
    tmp.replace(p)
    return p


# --- a run that degrades: the learning rate raised mid-run -------------------------------------------------


@dataclass
class SpikedRun(SweepRun):
    spike_after: int = 0  # the last update trained at the original learning rate (saved before the change)
    spike_lr: float = 0.0


def raise_learning_rate(checkpoint: str | Path, lr: float) -> Path:
    """Set a Trainer checkpoint's optimizer to a constant `lr` from here on, as a user who raises the learning
    rate of a run and resumes it: F5's load_checkpoint restores the optimizer and scheduler state (a changed
    learning_rate in the config alone would be overwritten by it), so the change is made in that state.
    The decay scheduler becomes constant (start = end factor 1: LinearLR then keeps the optimizer's lr)."""
    p = Path(checkpoint)
    ckpt = torch.load(str(p), map_location="cpu", weights_only=True)
    for group in ckpt["optimizer_state_dict"]["param_groups"]:
        group["lr"] = group["initial_lr"] = lr
    sched = ckpt["scheduler_state_dict"]
    sched["_last_lr"] = [lr]
    for sub in sched["_schedulers"]:
        sub["base_lrs"] = [lr]
        sub["_last_lr"] = [lr]
        sub["start_factor"] = sub["end_factor"] = 1.0
    tmp = p.with_name(f".{p.name}.tmp")
    torch.save(ckpt, tmp)
    tmp.replace(p)
    return p


def train_spiked_run(root: str | Path, *, saves_before: int = 4, saves_after: int = 3, spike_lr: float = 3e-2,
                     learning_rate: float = 1e-3, ema_kwargs: dict | None = None, seed: int = 0) -> SpikedRun:
    """model_1.pt ... model_<saves_before + saves_after>.pt from one real Trainer run, resumed once: the first
    `saves_before` updates at `learning_rate` (warm-up then linear decay, the Trainer's own schedule), the
    rest at the constant `spike_lr`. The flow loss falls to its best by update `saves_before` and rises after:
    a known degradation, with its first degraded save (saves_before + 1) known."""
    import yaml

    root = Path(root)
    csv_path = training.generate_dataset(root / "dataset", SWEEP_SENTENCES)
    prepared = training.prepare_dataset(csv_path, root / "prepared", quiet=True)
    common = dict(seed=seed, arch=dict(SWEEP_ARCH), batch_size=4, max_samples=4, learning_rate=learning_rate,
                  num_warmup_updates=1, save_per_updates=1, last_per_updates=1, log_samples=False,
                  ema_kwargs=ema_kwargs)
    first = training.TrainConfig(updates=saves_before, **common)
    result = training.train(prepared, root / "run", first, quiet=True)
    raise_learning_rate(result.checkpoint_dir / "model_last.pt", spike_lr)
    cfg = training.TrainConfig(updates=saves_before + saves_after, **common)
    result = training.train(prepared, root / "run", cfg, quiet=True)
    config = root / "F5TTS_sweep_tiny.yaml"
    config.write_text(yaml.safe_dump(training.model_yaml(cfg, str(prepared / "vocab.txt")), sort_keys=False,
                                     allow_unicode=True), encoding="utf-8")
    saved = [u for u in range(1, saves_before + saves_after + 1) if (result.checkpoint_dir / f"model_{u}.pt").exists()]
    return SpikedRun(root, result.checkpoint_dir, prepared / "vocab.txt", config, saved, saves_before, spike_lr)
