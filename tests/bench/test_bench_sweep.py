"""Benchmark (make bench): what a sweep costs, and what a second process buys.

On the 6-update tiny training run of tests/test_sweep.py (7 checkpoints, fast mode, one case), measure:
the same sweep in 1 process and in 2 (torchrun through --launch), each from a cold cache in a fresh
process, as a wall-time ratio; and the cost per checkpoint against one infer_process generation of the
same checkpoint (infer_cli's wiring, nfe 32, model and vocoder loaded beforehand, like tests/bench/
test_bench_run.py). Written to reports/bench/sweep.json; nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.bench

OUT = Path(__file__).resolve().parents[2] / "reports" / "bench" / "sweep.json"
HELD_OUT = "Amanhã nós vamos viajar para o interior."


def _argv(run, ckpts: Path, out: Path) -> list[str]:
    from f5_parity.testing.sweeprun import SWEEP_SENTENCES

    return ["sweep", str(ckpts), "--train-config", str(run.config), "--train-vocab", str(run.vocab),
            "--infer-config", str(run.config), "--infer-vocab", str(run.vocab), "--no-infer-ema",
            "--vocoder", "griffin-lim", "--ref-audio", str(run.root / "dataset" / "wavs" / "ptbr_000.wav"),
            "--ref-text", SWEEP_SENTENCES[0], "--gen-text", HELD_OUT, "--out", str(out)]


def _timed(argv: list[str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "f5_parity", *argv], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    out = Path(argv[argv.index("--out") + 1])
    return wall, json.loads((out / "sweep.json").read_text(encoding="utf-8"))


def test_bench_sweep_one_vs_two_processes_and_cost_per_checkpoint(tmp_path):
    from f5_parity.cases.case import Case
    from f5_parity.paths.infer import load_infer_model, load_infer_vocoder, run_infer_cli
    from f5_parity.paths.spec import infer_spec
    from f5_parity.testing.sweeprun import SWEEP_SENTENCES, train_sweep_run

    run = train_sweep_run(tmp_path / "run")
    ckpts = tmp_path / "ckpts"
    shutil.copytree(run.checkpoint_dir, ckpts)
    n = len(list(ckpts.glob("*.pt")))

    one_s, one = _timed(_argv(run, ckpts, tmp_path / "out-1"))
    two_s, two = _timed([*_argv(run, ckpts, tmp_path / "out-2"), "--launch", "2"])
    same = ({k: v for k, v in one.items() if k != "execution"} == {k: v for k, v in two.items() if k != "execution"})

    last = ckpts / "model_last.pt"
    case = Case("ptbr_000", run.root / "dataset" / "wavs" / "ptbr_000.wav", SWEEP_SENTENCES[0], HELD_OUT)
    spec = infer_spec(last, infer_config=str(run.config), infer_vocab=run.vocab, use_ema=False, nfe=32)
    model, vocoder = load_infer_model(spec), load_infer_vocoder(spec)
    t0 = time.perf_counter()
    run_infer_cli(spec, case, model=model, vocoder=vocoder)
    generation_s = time.perf_counter() - t0

    per_ckpt = one["execution"]["seconds_per_checkpoint"]
    mean_ckpt_s = sum(per_ckpt.values()) / len(per_ckpt)
    record = {
        "what": "parity-check sweep --mode fast over a 6-update tiny Trainer run (7 checkpoints, 1 case): "
                "1 vs 2 processes (torchrun via --launch 2, gloo on CPU), and the cost of one checkpoint",
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
                    "load_average": os.getloadavg()},
        "checkpoints": n,
        "one_process_wall_s": round(one_s, 1),
        "two_processes_wall_s": round(two_s, 1),
        "two_over_one_wall": round(two_s / one_s, 3),
        "same_sweep_json_apart_from_execution": same,
        "one_process_engine_s": one["execution"]["seconds"],
        "two_processes_engine_s": two["execution"]["seconds"],
        "mean_seconds_per_checkpoint": round(mean_ckpt_s, 2),
        "one_infer_process_generation_s": round(generation_s, 2),
        "checkpoint_over_one_generation": round(mean_ckpt_s / generation_s, 3),
        "note": "the tiny model (dim 64) makes a generation cheap, so the fixed costs per checkpoint (inspect probes, "
                "Griffin-Lim of the reference in the fast stages, isolation effects) dominate. On a CPU shared with "
                "other jobs two single-threaded processes (torchrun sets OMP_NUM_THREADS=1) win a larger share than "
                "one 2-thread process: read two_over_one_wall together with load_average",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    assert same
