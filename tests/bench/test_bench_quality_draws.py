"""Benchmark (make bench): what the default number of quality draws gives up against 8 (issue 22 item 6).

The flow-loss quality signal costs one forward pass per draw, clip and weight set, most of what a checkpoint
costs a sweep. The default (sweeps/quality.py DEFAULT_DRAWS) was lowered from 8 to 6 to meet the cost goal.
This measures what that does to the judgement on the two real Trainer runs tests/test_sweep_quality.py uses
(a degraded run and one where the EMA is genuinely better), over five draw seeds: the recommendation, its tie
flag and the quality break at 8 draws and at the default, and how much wider the paired intervals between
consecutive saves are (the ratio of their half-widths). Written to reports/bench/quality_draws.json; nothing
here asserts on the figures.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

OUT = Path(__file__).resolve().parents[2] / "reports" / "bench" / "quality_draws.json"
SEEDS = (0, 1, 2, 3, 4)


def _half_widths(report: dict) -> list[float]:
    from f5_parity.scoring.stats import paired_test

    out = []
    saves = sorted(report["checkpoints"], key=lambda c: c["update"])
    for weights in ("raw", "ema"):
        for a, b in zip(saves, saves[1:]):
            ci = paired_test(a["quality"]["sets"][weights]["draws"]["fit"],
                             b["quality"]["sets"][weights]["draws"]["fit"]).interval
            out.append((ci["hi"] - ci["lo"]) / 2)
    return out


def test_bench_the_default_draws_against_eight(tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from test_sweep_quality import SAVES_AFTER, SPIKE_AFTER, _argv

    from f5_parity import cli
    from f5_parity.sweeps.quality import DEFAULT_DRAWS
    from f5_parity.testing.sweeprun import train_spiked_run

    common = dict(saves_before=SPIKE_AFTER, saves_after=SAVES_AFTER, learning_rate=1e-2)
    runs = {"degraded": train_spiked_run(tmp_path / "degraded", spike_lr=6e-2, **common),
            "ema-better": train_spiked_run(tmp_path / "ema-better", spike_lr=3e-2, **common,
                                           ema_kwargs=dict(beta=0.5, update_after_step=0, update_every=1))}
    rows, same, ratios = [], 0, []
    for name, run in runs.items():
        for seed in SEEDS:
            judged = {}
            for draws in (8, DEFAULT_DRAWS):
                out = tmp_path / f"out-{name}-{seed}-{draws}"
                cli.main(_argv(run, out, "--no-infer-ema", "--quality-draws", str(draws), "--seed", str(seed)))
                report = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
                rec, qb = report["recommendation"] or {}, report["quality_break"] or {}
                judged[draws] = {"recommendation": [rec.get("checkpoint"), rec.get("weights")],
                                 "tied": rec.get("is_tied"), "quality_break": [qb.get("checkpoint"), qb.get("weights")],
                                 "half_widths": _half_widths(report)}
            a, b = judged[8], judged[DEFAULT_DRAWS]
            agree = a["recommendation"] == b["recommendation"] and a["quality_break"] == b["quality_break"]
            same += agree
            ratio = statistics.median(y / x for x, y in zip(a["half_widths"], b["half_widths"]) if x > 0)
            ratios.append(ratio)
            rows.append({"run": name, "seed": seed, "same_judgement": agree, "half_width_ratio_median": round(ratio, 3),
                         **{f"at_{d}": {k: v for k, v in j.items() if k != "half_widths"} for d, j in judged.items()}})
    result = {
        "what": f"the sweep's judgement (--no-infer-ema, fast mode) at 8 quality draws and at the default "
                f"{DEFAULT_DRAWS}, on two real Trainer runs (degraded; EMA genuinely better), draw seeds {list(SEEDS)}",
        "default_draws": DEFAULT_DRAWS,
        "same_recommendation_and_break": f"{same} of {len(rows)}",
        "half_width_ratio_median": round(statistics.median(ratios), 3),
        "half_width_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "student_t_ratio_one_clip": "t(0.975, 5)/sqrt(6) over t(0.975, 7)/sqrt(8) = 1.256",
        "rows": rows,
        "command": ".venv/bin/python -m pytest -q -m bench -o addopts= tests/bench/test_bench_quality_draws.py",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
