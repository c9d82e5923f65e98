"""Benchmark (make bench): the CI gate's measured power (issue 37 item 2).

The damage table's clean infer path and each injected fault, on the bundled trained fixture at the default
settings (2 built-in cases, the run's default ASR and acoustic metrics), sampled over seeds 0..59: 20
independent seed sets of the default 3 seeds. Each set is judged by the gate's own rule (parity.gate.judge_gap)
and by the alternatives it was chosen from, against both baselines a run can use (the trainer's sample by
default, the trainer's settings on the held-out text with --cross-paths). Per metric: the clean path's
false-alarm rate and each fault's detection rate; for 3, 5, 10 and 15 seeds, the same over 200 random sets
drawn from the 60 seeds (overlapping: a steadier estimate at 3, and what more seeds buy). And the clean path's
false-alarm rate for candidate MCD thresholds (the default comes from it: parity/gate.py). Sampling runs in one process per
core (about 45 min on 2 cores); the raw samples are committed beside the result
(reports/bench/gate_power_samples.jsonl), so tests/test_gate_power.py re-derives the rates from them with
the gate's current rule. Sampling resumes from that file: rows already there are not generated again (delete
it to sample from scratch; each row is deterministic, one thread, seeded noise). Nothing here asserts on the
figures.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "reports" / "bench" / "gate_power.json"
SAMPLES = ROOT / "reports" / "bench" / "gate_power_samples.jsonl"
SEEDS = list(range(60))
SET_SIZE = 3  # the default --seeds
MORE_SEEDS = (3, 5, 10, 15)
MCD_CANDIDATES = [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5]


def _sample(part: str, seeds: list[int]) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    from f5_parity.testing.gate_power import sample_bundled_fixture

    sample_bundled_fixture(part, seeds)


def test_bench_gate_power(tmp_path):
    from f5_parity.parity.gate import GAP_RULE
    from f5_parity.testing.gate_power import BASELINE, TRAINER, false_alarm_grid, power, read_samples

    workers = max(1, min(os.cpu_count() or 1, 8))
    parts = [tmp_path / f"part-{k}.jsonl" for k in range(workers)]
    kept = read_samples(SAMPLES)
    for k, part in enumerate(parts):  # what the committed file holds for this worker's seeds is done already
        mine = set(SEEDS[k::workers])
        part.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept if r["seed"] in mine),
                        encoding="utf-8")
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for f in [pool.submit(_sample, str(part), SEEDS[k::workers]) for k, part in enumerate(parts)]:
            f.result()
    rows = sorted((r for part in parts for r in read_samples(part)),
                  key=lambda r: (r["condition"], r["case"], r["seed"]))
    SAMPLES.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    result = {"command": "make bench (tests/bench/test_bench_gate_power.py)", "commit": commit + ("+dirty" if dirty else ""),
              "samples": str(SAMPLES.relative_to(ROOT)), "workers": workers, "gap_rule": GAP_RULE,
              "default": power(rows, set_size=SET_SIZE, baseline=TRAINER, resampled_sizes=MORE_SEEDS),
              "cross_paths": power(rows, set_size=SET_SIZE, baseline=BASELINE, resampled_sizes=MORE_SEEDS),
              "mcd_thresholds": {name: false_alarm_grid(rows, "mcd", MCD_CANDIDATES, baseline=base, set_size=SET_SIZE)
                                 for name, base in (("default", TRAINER), ("cross_paths", BASELINE))}}
    OUT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
