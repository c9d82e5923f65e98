"""Checkpoint forensics: open a file safely (file), read its architecture off the shapes
(architecture), replay what f5's loaders do with it (loads), judge its EMA (ema), check vocab files
(vocab), and run the inspect probes over all of it (inspect)."""

from f5_parity.checkpoint.architecture import (
    Architecture, ModelConfig, infer_architecture, load_config, match_config, shipped_configs,
)
from f5_parity.checkpoint.ema import EmaHealth, ema_health, ema_share, updates_for_share
from f5_parity.checkpoint.file import CheckpointFile, TensorMeta, anatomy, layout, open_checkpoint
from f5_parity.checkpoint.loads import LoadOutcome, architecture, build_meta_cfm, match_shipped, simulate_loads

__all__ = [
    "Architecture", "CheckpointFile", "EmaHealth", "LoadOutcome", "ModelConfig", "TensorMeta", "anatomy",
    "architecture", "build_meta_cfm", "ema_health", "ema_share", "infer_architecture", "layout", "load_config",
    "match_config", "match_shipped", "open_checkpoint", "shipped_configs", "simulate_loads", "updates_for_share",
]
