"""The sweep's judgement on real f5-tts Trainer runs with a known degradation (issue 22).

Two tiny runs, each resumed once with its learning rate raised (testing/sweeprun.py train_spiked_run):
- degraded: updates 1-3 at 1e-2, then 6e-2: the raw weights' flow loss falls to its best at update 3 and is
  worse at every save after; the EMA keeps the Trainer's defaults (updated from update 100 on), so it stays a
  copy of update 1 and is worse than raw at every save (the issue's real case);
- EMA-better: the same start, a milder raise (3e-2) and an EMA of beta 0.5 updated every update: the raw weights
  bounce at the raised rate while their average keeps improving, so the EMA is genuinely the better set.

The sweeps run through the CLI on the checkpoint files the Trainer wrote, with the user's path as
infer_cli as is (EMA) and as a path that loads the raw weights (--no-infer-ema).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from f5_parity import cli
from f5_parity.cases.speech import espeak_available

SPIKE_AFTER = 3  # the last update at the original learning rate
SAVES_AFTER = 2


def _argv(run, out: Path, *extra: str) -> list[str]:
    from f5_parity.testing.sweeprun import SWEEP_SENTENCES

    files = [str(run.checkpoint_dir / f"model_{u}.pt") for u in run.updates]
    return ["sweep", *files, "--train-config", str(run.config), "--train-vocab", str(run.vocab),
            "--infer-config", str(run.config), "--infer-vocab", str(run.vocab), "--vocoder", "griffin-lim",
            "--ref-audio", str(run.root / "dataset" / "wavs" / "ptbr_000.wav"), "--ref-text", SWEEP_SENTENCES[0],
            "--gen-text", "Você vai gostar.", "--out", str(out), *extra]


def _sweep(run, out: Path, *extra: str) -> tuple[int, dict, str]:
    rc = cli.main(_argv(run, out, *extra))
    return rc, json.loads((out / "sweep.json").read_text(encoding="utf-8")), (out / "sweep.md").read_text("utf-8")


def _train(root: Path, **kw):
    if not espeak_available():
        pytest.fail("espeak-ng is missing: `make system-deps` installs it")
    from f5_parity.testing.sweeprun import train_spiked_run

    run = train_spiked_run(root, saves_before=SPIKE_AFTER, saves_after=SAVES_AFTER, learning_rate=1e-2, **kw)
    assert run.updates == list(range(1, SPIKE_AFTER + SAVES_AFTER + 1))
    return run


@pytest.fixture(scope="module")
def degraded(tmp_path_factory):
    root = tmp_path_factory.mktemp("spiked")
    run = _train(root, spike_lr=6e-2)
    ema = _sweep(run, root / "out-ema")  # infer_cli as is: load_model's use_ema=True
    out_raw = root / "out-raw"
    shutil.copytree(root / "out-ema" / "cache", out_raw / "cache")  # the quality units are the same: reused
    raw = _sweep(run, out_raw, "--no-infer-ema")
    return run, ema, raw


@pytest.fixture(scope="module")
def ema_better(tmp_path_factory):
    root = tmp_path_factory.mktemp("ema-better")
    run = _train(root, spike_lr=3e-2, ema_kwargs=dict(beta=0.5, update_after_step=0, update_every=1))
    return run, _sweep(run, root / "out", "--no-infer-ema")


def _measured_best(report: dict) -> tuple[dict, str, list[float]]:
    """The (checkpoint, weight set) with the lowest mean flow loss over every checkpoint and set."""
    best = None
    for c in report["checkpoints"]:
        for weights, per in c["quality"]["sets"].items():
            values = per["draws"]["fit"]
            mean = sum(values) / len(values)
            if best is None or mean < best[0]:
                best = (mean, c, weights, values)
    return best[1], best[2], best[3]


def _within_interval_of_best(report: dict) -> None:
    """The recommendation is the measured best, or its paired difference to it holds 0 (tied)."""
    from f5_parity.scoring.stats import paired_test

    rec = report["recommendation"]
    best_c, best_w, best_values = _measured_best(report)
    if (rec["checkpoint"], rec["weights"]) == (best_c["name"], best_w):
        return
    mine = next(c for c in report["checkpoints"] if c["name"] == rec["checkpoint"])
    ci = paired_test(best_values, mine["quality"]["sets"][rec["weights"]]["draws"]["fit"]).interval
    assert ci["lo"] <= 0 <= ci["hi"], (rec, best_c["name"], best_w, ci)
    assert rec["is_tied"] and "tied" in rec["reason"]


def _assert_degradation_found(report: dict, md: str) -> None:
    rec, qb = report["recommendation"], report["quality_break"]
    _within_interval_of_best(report)
    assert rec["weights"] == "raw" and rec["update"] <= SPIKE_AFTER
    # the degraded saves are never recommended, although parity holds (or only the weight set differs) there
    assert rec["signal"] == "flow_loss" and rec["computed_on"] == "fit"
    assert f"{rec['loss']['mean']:.4g}" in rec["reason"]
    # quality_break: the first save after the best so far that is worse beyond the paired interval
    assert qb["weights"] == "raw" and qb["update"] == SPIKE_AFTER + 1
    assert qb["checkpoint"] == f"model_{SPIKE_AFTER + 1}.pt"
    assert qb["best_before"]["update"] <= SPIKE_AFTER and qb["difference"]["lo"] > 0
    assert qb["value"]["mean"] > qb["best_before"]["value"]["mean"]
    assert f"Quality breaks at update {SPIKE_AFTER + 1}" in md
    assert "None" not in md


def test_infer_cli_as_is_loads_ema_the_sweep_ships_raw_from_before_the_spike(degraded):
    _, (rc, report, md), _ = degraded
    assert rc == 0  # gate best: there is a checkpoint to ship
    _assert_degradation_found(report, md)
    rec = report["recommendation"]
    # the user's path loads the EMA, which is a copy of update 1 here: the weight set is the culprit from
    # update 2 on, a parity break; the file's raw weights are shipped with how to load them
    later = [c for c in report["checkpoints"] if c["update"] >= 2]
    assert all(c["parity_verdict"] == "fail" and c["culprits"] == ["weights"] for c in later)
    assert [b["kind"] for b in report["parity_breaks"]] == ["parity"] and report["check_failures"] == []
    assert rec["use_ema"] is False and "use_ema=False" in rec["load"] and "use_ema=False" in md
    assert "apart from the weight set" in rec["reason"]


def test_a_path_that_loads_raw_is_not_told_to_ship_the_newest(degraded):
    _, _, (rc, report, md) = degraded
    assert rc == 0
    _assert_degradation_found(report, md)
    assert all(c["parity_verdict"] == "pass" for c in report["checkpoints"])
    assert report["parity_breaks"] == [] and report["first_bad"] is None
    assert report["recommendation"]["load"] is None  # the set the user's path already loads
    assert report["recommendation"]["checkpoint"] != f"model_{SPIKE_AFTER + SAVES_AFTER}.pt"
    assert report["execution"]["units_from_cache"] == len(report["checkpoints"])  # quality from the EMA sweep


def test_the_ema_is_shipped_where_it_is_genuinely_better(ema_better):
    _, (rc, report, md) = ema_better
    assert rc == 0
    rec = report["recommendation"]
    _within_interval_of_best(report)
    best_c, best_w, _ = _measured_best(report)
    assert best_w == "ema"
    assert rec["weights"] == "ema" and rec["use_ema"] is True and "use_ema=True" in rec["load"]
    ckpt = next(c for c in report["checkpoints"] if c["name"] == rec["checkpoint"])
    from f5_parity.scoring.stats import paired_test

    draws = {w: per["draws"]["fit"] for w, per in ckpt["quality"]["sets"].items()}
    assert paired_test(draws["ema"], draws["raw"]).interval["lo"] > 0  # raw worse beyond the paired interval
    # the shipped set's break is judged: the EMA keeps improving, so it has none
    assert report["quality_break"] is None and set(report["quality_breaks"]) == {"raw", "ema"}
    assert "No quality break" in md
    assert "None" not in md


def test_other_quality_draws_recompute_the_quality_only(degraded, tmp_path):
    """--quality-draws changes the quality signal, not a verdict: the verdicts come from the cache."""
    run, _, (_, raw, _) = degraded
    out = tmp_path / "out"
    shutil.copytree(run.root / "out-raw" / "cache", out / "cache")
    rc, report, _ = _sweep(run, out, "--no-infer-ema", "--quality-draws", "3")
    n = len(report["checkpoints"])
    assert rc == 0 and report["execution"]["units_from_cache"] == n and report["execution"]["units_computed"] == n
    assert [c["verdict"] for c in report["checkpoints"]] == [c["verdict"] for c in raw["checkpoints"]]
    assert all(len(c["quality"]["sets"][w]["draws"]["fit"]) == 3 for c in report["checkpoints"]
               for w in c["quality"]["sets"])

