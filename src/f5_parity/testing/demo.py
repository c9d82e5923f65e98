"""The demo: the project's first user's failure, in miniature, on the bundled trained fixture.

The fixture (fixtures/ptbr-tiny/) is a small DiT really trained with f5-tts's Trainer on espeak-ng
Portuguese, with the v0 flags of the PT-BR base model users fine-tune. The demo's infer side makes
the user's three mistakes at once: the v1 config on a v0-trained model (pe_attn_head and
text_mask_padding change, the keys do not), the EMA weights where the trainer sampled the raw ones,
and a vocab of the same size in another order. The report must name each one, with its fix.
"""

from __future__ import annotations

import os
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

    from f5_parity.testing.faults import permuted_vocab

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
