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


def train_sweep_run(root: str | Path, *, saves: int = 6, save_every: int = 1, seed: int = 0) -> SweepRun:
    """`saves` checkpoints model_<save_every>.pt ... from one Trainer run (plus model_last.pt)."""
    import yaml

    root = Path(root)
    csv_path = training.generate_dataset(root / "dataset", SWEEP_SENTENCES)
    prepared = training.prepare_dataset(csv_path, root / "prepared", quiet=True)
    updates = saves * save_every
    cfg = training.TrainConfig(updates=updates, seed=seed, arch=dict(SWEEP_ARCH), batch_size=4, max_samples=4,
                               learning_rate=1e-3, num_warmup_updates=2, save_per_updates=save_every,
                               last_per_updates=save_every, log_samples=False)
    result = training.train(prepared, root / "run", cfg, quiet=True)
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
