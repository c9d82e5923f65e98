"""The demo: the project's first user's failure, in miniature, on the bundled trained fixture.

The fixture (fixtures/ptbr-tiny/) is a small DiT really trained with f5-tts's Trainer on espeak-ng
Portuguese, with the v0 flags of the PT-BR base model users fine-tune. The demo's infer side makes
the user's three mistakes at once: the v1 config on a v0-trained model (pe_attn_head and
text_mask_padding change, the keys do not), the EMA weights where the trainer sampled the raw ones,
and a vocab of the same size in another order. The report must name each one, with its fix.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from f5_parity.f5.configs import V1_FLAGS
from f5_parity.errors import InputError

INJECTED = ("arch", "weights", "vocab")
FIXTURE_FILES = ("model_ptbr_tiny.pt", "vocab.txt", "F5TTS_ptbr_tiny.yaml")


def fixture_dir() -> Path:
    """fixtures/ptbr-tiny of this repo, or $F5_PARITY_FIXTURE."""
    env = os.environ.get("F5_PARITY_FIXTURE")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / "fixtures" / "ptbr-tiny")
    for c in candidates:
        if all((c / f).exists() for f in FIXTURE_FILES):
            return c
    raise InputError(
        f"the demo fixture is not here (looked in {', '.join(map(str, candidates))})",
        "run the demo from a clone of the f5-parity repository, or set F5_PARITY_FIXTURE to fixtures/ptbr-tiny",
    )


@dataclass
class DemoInputs:
    checkpoint: Path
    train_config: Path
    train_vocab: Path
    infer_config: Path
    infer_vocab: Path


def prepare_inputs(out_dir: Path, fixture: Path | None = None) -> DemoInputs:
    """Write the demo's broken infer-side config and vocab next to its report (never into the fixture)."""
    import yaml


    fx = fixture or fixture_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load((fx / "F5TTS_ptbr_tiny.yaml").read_text(encoding="utf-8"))
    model = cfg["model"]
    # The v1 defaults where the model was trained with v0 flags: same keys and shapes, other numbers.
    model["arch"] = {**model["arch"], **V1_FLAGS}
    model["name"] = "F5TTS_ptbr_tiny_v1_flags"
    infer_config = out_dir / "infer_config_v1_flags.yaml"
    infer_config.write_text(yaml.safe_dump({"model": model}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    infer_vocab = permuted_vocab(fx / "vocab.txt", out_dir / "vocab_permuted.txt")
    return DemoInputs(fx / "model_ptbr_tiny.pt", fx / "F5TTS_ptbr_tiny.yaml", fx / "vocab.txt", infer_config, infer_vocab)


# --- files the faults write (the test kit uses them too) -------------------------------------------

VOCOS_MEL_24KHZ_CONFIG = """\
feature_extractor:
  class_path: vocos.feature_extractors.MelSpectrogramFeatures
  init_args:
    sample_rate: 24000
    n_fft: 1024
    hop_length: 256
    n_mels: 100
    padding: center

backbone:
  class_path: vocos.models.VocosBackbone
  init_args:
    input_channels: 100
    dim: 512
    intermediate_dim: 1536
    num_layers: 8

head:
  class_path: vocos.heads.ISTFTHead
  init_args:
    dim: 512
    n_fft: 1024
    hop_length: 256
    padding: center
"""


def write_vocab(path: str | Path, chars: Iterable[str]) -> Path:
    """Write one token per line, '\\n' endings, trailing newline (F5 strips the last char of each line)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8", newline="\n") as f:
        for c in chars:
            f.write(c + "\n")
    return p


def random_vocos_dir(out_dir: str | Path | None = None, *, seed: int = 0) -> Path:
    """A local Vocos folder (config.yaml + pytorch_model.bin) that f5's load_vocoder(is_local=True) reads.

    The config is the published vocos-mel-24khz one; the weights are random because no hub is reachable.
    """
    import torch
    from vocos import Vocos

    from f5_parity.files import cache_dir

    out = Path(out_dir) if out_dir else cache_dir() / f"vocos-random-seed{seed}"
    cfg, weights = out / "config.yaml", out / "pytorch_model.bin"
    if cfg.exists() and weights.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    cfg.write_text(VOCOS_MEL_24KHZ_CONFIG)
    torch.manual_seed(seed)
    vocos = Vocos.from_hparams(str(cfg))
    tmp = weights.with_suffix(".tmp")
    torch.save(vocos.state_dict(), tmp)
    tmp.replace(weights)
    return out


def permuted_vocab(vocab_path: str | Path, out: Path, seed: int = 25400) -> Path:
    """Same size, ' ' still id 0, every other id means another character: silent in F5."""
    from f5_parity.f5.vocab import read_vocab_chars

    chars = read_vocab_chars(vocab_path)
    rest = chars[1:]
    random.Random(seed).shuffle(rest)
    return write_vocab(out, [chars[0], *rest])
