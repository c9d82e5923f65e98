"""The fingerprint on a second trained checkpoint, one trained with the v1 flags (make bench: it trains).

A small DiT (narrower than the fixture) is trained with the fixture's recipe (the real f5_tts Trainer on
the espeak-ng dataset) but with the v1 flags (pe_attn_head=None, text_mask_padding=True), for a few
hundred updates, then fingerprinted from the wrong (v0) flags. Every family must be decided correctly at
p < 0.01 or say "not decided": never a wrong winner. Records reports/bench/fingerprint_v1.json.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parents[2] / "reports" / "bench" / "fingerprint_v1.json"
UPDATES = 300
ARCH_V1 = dict(dim=96, depth=2, heads=2, dim_head=48, ff_mult=2, text_dim=48, conv_layers=1,
               pe_attn_head=None, text_mask_padding=True)
TRUE = {"arch": "v1 flags (pe_attn_head=None, text_mask_padding=True)", "vocab": "training vocab",
        "mel": "vocos mel features", "weights": "raw weights"}


@pytest.mark.bench
def test_fingerprint_of_a_v1_trained_checkpoint_is_never_wrong(tmp_path):
    import yaml

    from f5_parity.cases.case import builtin_cases
    from f5_parity.parity.fingerprint import fingerprint
    from f5_parity.paths.spec import trainer_spec
    from f5_parity.testing import training
    from f5_parity.demo.faults import permuted_vocab

    csv_path = training.generate_dataset(tmp_path / "dataset")
    prepared = training.prepare_dataset(csv_path, tmp_path / "prepared", quiet=True)
    cfg = training.TrainConfig(updates=UPDATES, arch=dict(ARCH_V1), num_warmup_updates=50, save_per_updates=UPDATES,
                               last_per_updates=UPDATES, log_samples=False)
    t0 = time.perf_counter()
    result = training.train(prepared, tmp_path / "run", cfg, threads=2, quiet=True)
    train_s = time.perf_counter() - t0
    ckpt = training.export(training.newest_saved_checkpoint(tmp_path / "run" / "ckpts"), tmp_path / "v1.pt")
    vocab = prepared / "vocab.txt"
    config = tmp_path / "v1.yaml"
    config.write_text(yaml.safe_dump(training.model_yaml(cfg, str(vocab)), sort_keys=False), encoding="utf-8")

    base = trainer_spec(ckpt, train_config=config, train_vocab=vocab, vocoder_path=None)
    base = base.with_value("arch", pe_attn_head=1, text_mask_padding=False)  # start from the wrong flags
    vocabs = {"training vocab": str(vocab),
              "same vocab, other order": str(permuted_vocab(vocab, tmp_path / "permuted.txt"))}
    cases = builtin_cases(tmp_path / "cases", 2)
    t0 = time.perf_counter()
    found = fingerprint(base, cases, vocab_files=vocabs, include_ema=True, draws=6, max_draws=30, seed=0)
    fp_s = time.perf_counter() - t0
    losses = training.read_loss_log(result.log)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({
        "what": "fingerprint of a checkpoint trained with v1 flags, started from v0 flags",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "updates": UPDATES, "arch": ARCH_V1, "train_seconds": train_s, "fingerprint_seconds": fp_s,
        "loss_first": losses[0]["loss"], "loss_mean_last_50": sum(r["loss"] for r in losses[-50:]) / 50,
        "families": [v.to_dict() for v in found],
    }, indent=2, ensure_ascii=False) + "\n")
    for v in found:
        assert not v.decided or v.winner == TRUE[v.family], (v.family, v.statement)
    assert any(v.decided for v in found)
