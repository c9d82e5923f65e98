"""The gate's measured power: how often the seed-gap rule fails the clean infer path (a false alarm) and each
injected fault (a detection), over many independent seed sets at the default settings.

Sampling is the expensive half, and it does not depend on the rule: every (condition, case, seed) of the
bundled trained fixture is generated once through the same real paths full mode uses (the trainer's model
and settings on the held-out text, the gap's baseline; infer_cli's wiring, clean or with one fault) and
scored by the run's default ASR and acoustic metrics. The rows go to a JSON-lines file as they come, so a
long sampling resumes where it stopped. The analysis (power()) then cuts the seeds into disjoint sets of the
default size and applies the gate's own rule (parity.gate.judge_gap) to each set, as a run with those seeds
would.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from f5_parity.cases.case import Case
from f5_parity.paths.spec import PathSpec, decoder_name
from f5_parity.scoring.audio import write_wav

# The gap's baselines, as a run picks them (parity.gate.GAP_BASELINE): the trainer's own sample (copy task, the
# reference text, judged against the reference clip) by default; the trainer's settings on the held-out text
# (judged against the held-out clip, like the infer path) with --cross-paths.
TRAINER = "trainer"
BASELINE = "trainer-heldout"
CLEAN = "clean"
# Faults Griffin-Lim cannot hear (the damage table says why): not sampled where it decodes.
NOT_WITH_GRIFFIN_LIM = ("mel", "vocoder")


def sampled_conditions(clean_infer: PathSpec, factors: list[str] | None = None) -> list[str]:
    from f5_parity.demo.faults import FAULTS

    faults = [f for f in (factors or list(FAULTS))
              if not (f in NOT_WITH_GRIFFIN_LIM and decoder_name(clean_infer) == "griffin-lim")]
    return [TRAINER, BASELINE, CLEAN] + faults


def read_samples(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def sample_scores(train: PathSpec, clean_infer: PathSpec, cases: list[Case], samples_file: str | Path, asr,
                  seeds: list[int], *, factors: list[str] | None = None, device: str = "cpu",
                  progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Every (condition, case, seed) scored once, appended to `samples_file` (rows already there are kept and not
    generated again). A row: condition, case, seed, expected, hypothesis, mcd, logmel, speaker_similarity."""
    from f5_parity.parity.generate import trainer_case_inputs, trainer_case_sample, trainer_heldout
    from f5_parity.paths.stages import ModelPool
    from f5_parity.scoring.acoustic import AcousticScorer
    from f5_parity.scoring.metrics import score_wav
    from f5_parity.demo.damage import generate_infer, load_infer
    from f5_parity.demo.faults import inject

    say = progress or (lambda what: None)
    samples_file = Path(samples_file)
    samples_file.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["condition"], r["case"], r["seed"]) for r in read_samples(samples_file)}
    scorer = AcousticScorer()
    by_name = {c.name: c for c in cases}

    def score(condition: str, case_name: str, seed: int, wav: Path, expected: str) -> None:
        case = by_name[case_name]
        utt = score_wav(wav, expected, asr)
        truth = (case.ref_audio, "reference") if condition == TRAINER else (case.gen_audio, "held-out")
        a = scorer.score(wav, voice=case.ref_audio, truth=truth[0], truth_name=truth[1])
        row = {"condition": condition, "case": case_name, "seed": seed, "expected": expected,
               "hypothesis": utt.hypothesis, "mcd": a.mcd, "logmel": a.logmel,
               "speaker_similarity": a.speaker_similarity}
        with open(samples_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.unlink(wav)

    with tempfile.TemporaryDirectory(prefix="gate-power-") as tmp:  # each wav is scored, then deleted
        work = Path(tmp)
        for condition in sampled_conditions(clean_infer, factors):
            todo = [s for s in seeds if any((condition, c.name, s) not in done for c in cases)]
            if not todo:
                continue
            if condition in (TRAINER, BASELINE):
                pool = ModelPool(device)
                inputs = {c.name: trainer_case_inputs(train, c, device) for c in cases}
                sr = int(train.value("mel")["target_sample_rate"])
                for s in todo:
                    for c in cases:
                        if (condition, c.name, s) in done:
                            continue
                        say(f"{condition} {c.name} seed {s}")
                        if condition == TRAINER:
                            wav, expected = trainer_case_sample(train, c, pool, s, device).sample.gen_audio, c.ref_text
                        else:
                            wav, expected = trainer_heldout(train, c, inputs[c.name], pool, s, device)[0], c.gen_text
                        path = write_wav(work / f"{c.name}_{condition}_{s}.wav",
                                         wav.detach().float().cpu().numpy().reshape(-1), sr)
                        score(condition, c.name, s, path, expected)
                continue
            spec = clean_infer if condition == CLEAN else inject(clean_infer, condition, work / "faults")
            loaded = load_infer(spec, device)
            for s in todo:
                say(f"{condition} seed {s}")
                wanted = [c for c in cases if (condition, c.name, s) not in done]
                for (wav, expected), c in zip(generate_infer(spec, wanted, work, f"{condition}-{s}", s, device, loaded),
                                              wanted):
                    score(condition, c.name, s, wav, expected)
    return read_samples(samples_file)


class Samples:
    """The sampled rows, indexed once: each (condition, metric)'s value per (case, seed), and per seed pooled over
    the cases (ASR as jiwer pools a seed's utterances, acoustic as their mean: the rule before issue 37)."""

    def __init__(self, rows: list[dict[str, Any]]):
        from f5_parity.scoring.metrics import score_text

        self.rows = rows
        self.seeds = sorted({r["seed"] for r in rows})
        self.conditions = list(dict.fromkeys(r["condition"] for r in rows))
        self._utt = {id(r): score_text(r["expected"], r["hypothesis"]) for r in rows}
        self._units: dict[tuple[str, str], dict[tuple[str, int], float]] = {}
        self._pooled: dict[tuple[str, str], dict[int, float]] = {}

    def units(self, condition: str, metric: str) -> dict[tuple[str, int], float]:
        key = (condition, metric)
        if key not in self._units:
            out = {}
            for r in self.rows:
                if r["condition"] != condition:
                    continue
                u = self._utt[id(r)]
                v = r.get(metric) if metric in ("mcd", "logmel", "speaker_similarity") else getattr(u, metric)
                if v is not None and np.isfinite(v):
                    out[(r["case"], r["seed"])] = float(v)
            self._units[key] = out
        return self._units[key]

    def pooled(self, condition: str, metric: str) -> dict[int, float]:
        from f5_parity.scoring.metrics import pool

        key = (condition, metric)
        if key not in self._pooled:
            out = {}
            for s in self.seeds:
                rows = [r for r in self.rows if r["condition"] == condition and r["seed"] == s]
                if not rows:
                    continue
                if metric in ("cer", "similarity", "wer"):
                    p = pool([self._utt[id(r)] for r in rows])
                    out[s] = {"cer": p.cer_pooled, "wer": p.wer_pooled, "similarity": p.similarity_mean}[metric]
                else:
                    vals = [r[metric] for r in rows if r.get(metric) is not None]
                    if vals:
                        out[s] = sum(vals) / len(vals)
            self._pooled[key] = out
        return self._pooled[key]

    def unit_gaps(self, condition: str, baseline: str, metric: str) -> dict[tuple[str, int], float]:
        """(case, seed) -> how much worse `condition` is than `baseline` there (positive = worse)."""
        from f5_parity.parity.seeds import HIGHER_IS_BETTER

        a, b = self.units(baseline, metric), self.units(condition, metric)
        sign = -1.0 if metric in HIGHER_IS_BETTER else 1.0
        return {k: sign * (b[k] - a[k]) for k in sorted(a.keys() & b.keys())}

    def seed_gaps(self, condition: str, baseline: str, metric: str, seeds: list[int]) -> list[float]:
        from f5_parity.parity.seeds import HIGHER_IS_BETTER

        a, b = self.pooled(baseline, metric), self.pooled(condition, metric)
        sign = -1.0 if metric in HIGHER_IS_BETTER else 1.0
        return [sign * (b[s] - a[s]) for s in seeds if s in a and s in b]


RULES = {
    "gate": "the gate's rule (parity.gate.judge_gap)",
    "seed-t-holm": "before issue 37: one unit per seed (cases pooled), two-sided paired t-test, Holm over the gated "
                   "metrics, mean above the threshold",
    "unit-signflip-holm": "(case, seed) units, one-sided sign-flip test, Holm over the gated metrics, mean above the "
                          "threshold",
    "unit-t": "(case, seed) units, one-sided paired t-test, mean above the threshold",
    "mean-only": "the mean gap above the threshold, no test",
}


def _decisions(samples: Samples, condition: str, baseline: str, seeds: list[int], thresholds: dict[str, float]
               ) -> dict[str, dict[str, bool]]:
    """rule -> metric -> failed, for one seed set."""
    from scipy import stats as sst

    from f5_parity.parity.gate import judge_gap
    from f5_parity.scoring.stats import holm, paired_test

    chosen = set(seeds)
    units = {m: [g for (c, s), g in samples.unit_gaps(condition, baseline, m).items() if s in chosen]
             for m in thresholds}
    out: dict[str, dict[str, bool]] = {r: {} for r in RULES}
    metrics = [m for m in thresholds if units[m]]
    seed_tests = {m: paired_test([0.0] * len(g), g)
                  for m in metrics for g in [samples.seed_gaps(condition, baseline, m, seeds)]}
    seed_holm = dict(zip(metrics, holm([seed_tests[m].p_value for m in metrics])))
    gate = {m: judge_gap(units[m], thresholds[m]) for m in metrics}
    flip_holm = dict(zip(metrics, holm([gate[m].p_value for m in metrics])))  # the gate's test, Holm-corrected
    for m in metrics:
        t, mean = thresholds[m], float(np.mean(units[m]))
        out["gate"][m] = not gate[m].passed
        st = seed_tests[m]
        out["seed-t-holm"][m] = bool(st.mean_difference is not None and st.mean_difference > t
                                     and seed_holm[m] is not None and seed_holm[m] < 0.05)
        out["unit-signflip-holm"][m] = bool(mean > t and flip_holm[m] is not None and flip_holm[m] < 0.05)
        sd = float(np.std(units[m], ddof=1)) if len(units[m]) > 1 else 0.0
        p_t = (float(sst.ttest_1samp(units[m], 0.0, alternative="greater").pvalue) if sd > 0
               else gate[m].p_value)  # identical differences: the t statistic is undefined, the exact test is not
        out["unit-t"][m] = bool(mean > t and p_t is not None and p_t < 0.05)
        out["mean-only"][m] = mean > t
    return out


def power(rows: list[dict[str, Any]], *, set_size: int = 3, baseline: str = TRAINER,
          thresholds: dict[str, float] | None = None, resampled_sizes: tuple[int, ...] = (),
          draws: int = 200) -> dict[str, Any]:
    """Per condition (the clean path and each fault), metric and rule: the share of seed sets whose gap check
    fails (for the clean path the false-alarm rate, for a fault its detection rate), over disjoint sets of
    `set_size` consecutive seeds; and for each size in `resampled_sizes`, over `draws` random sets of that many
    seeds (fixed RNG; the sets overlap, so they are not independent: an estimate of what more seeds would do).
    The true gap of each (condition, metric) is its mean over every (case, seed) sampled."""
    from f5_parity.parity.gate import DEFAULT_MAX_GAP

    samples = Samples(rows)
    thresholds = dict(thresholds or DEFAULT_MAX_GAP)
    seeds = samples.seeds
    conditions = [c for c in samples.conditions if c not in (TRAINER, BASELINE)]
    disjoint = [seeds[i:i + set_size] for i in range(0, len(seeds) - set_size + 1, set_size)]
    rng = np.random.default_rng(0)
    resampled = {k: [sorted(rng.choice(seeds, size=k, replace=False).tolist()) for _ in range(draws)]
                 for k in resampled_sizes if k <= len(seeds)}

    def rates(sets: list[list[int]], condition: str) -> dict[str, dict[str, float]]:
        have = {s for _, s in samples.unit_gaps(condition, baseline, next(iter(thresholds)))}
        sets = [s for s in sets if set(s) <= have]  # a set judged on fewer seeds than it names is not this size
        if not sets:
            return {}
        per_set = [_decisions(samples, condition, baseline, s, thresholds) for s in sets]
        out = {}
        for rule in RULES:
            out[rule] = {m: sum(d[rule].get(m, False) for d in per_set) / len(per_set) for m in thresholds}
            out[rule]["any"] = sum(any(d[rule].values()) for d in per_set) / len(per_set)
        out["sets"] = len(per_set)
        return out

    result: dict[str, Any] = {"baseline": baseline, "thresholds": thresholds, "seeds": seeds, "set_size": set_size,
                              "sets": len(disjoint), "rules": RULES, "conditions": {}}
    for condition in conditions:
        gaps = {m: samples.unit_gaps(condition, baseline, m) for m in thresholds}
        result["conditions"][condition] = {
            "true_gap": {m: float(np.mean(list(g.values()))) if g else None for m, g in gaps.items()},
            "units": {m: len(g) for m, g in gaps.items()},
            "rate": rates(disjoint, condition),
            "resampled": {str(k): rates(sets, condition) for k, sets in resampled.items()}}
    return result


def sample_bundled_fixture(samples_file: str | Path, seeds: list[int], cases: int = 2,
                           progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """sample_scores on what `parity-check damage` uses: the bundled trained fixture, its config and vocab, the
    built-in Portuguese cases, Griffin-Lim, the run's default ASR (one process; the benchmark runs several)."""
    from f5_parity.cases.case import builtin_cases
    from f5_parity.files import cache_dir
    from f5_parity.paths.spec import infer_spec, trainer_spec
    from f5_parity.scoring.asr import load_asr
    from f5_parity.demo.fixture import fixture_dir

    fx = fixture_dir()
    ckpt, cfg, vocab = fx / "model_ptbr_tiny.pt", fx / "F5TTS_ptbr_tiny.yaml", fx / "vocab.txt"
    train = trainer_spec(ckpt, train_config=cfg, train_vocab=vocab, vocoder_path=None, seed=seeds[0])
    clean = infer_spec(ckpt, infer_config=cfg, infer_vocab=vocab, use_ema=False, vocoder_path=None, seed=seeds[0])
    return sample_scores(train, clean, builtin_cases(cache_dir() / "cases", cases), samples_file, load_asr(None),
                         seeds, progress=progress)


TARGET_DETECTION = 0.8


def summary_rows(result: dict[str, Any], rule: str = "gate") -> list[dict[str, Any]]:
    """Per gated metric, from one power() result: the threshold, the clean path's false-alarm rate, and for each
    fault whose true gap is above the threshold its detection rate and the fewest seeds (of those resampled)
    that reach TARGET_DETECTION (None: none of them)."""
    out = []
    for metric, threshold in result["thresholds"].items():
        clean = result["conditions"][CLEAN]
        faults = []
        for name, data in result["conditions"].items():
            gap = data["true_gap"].get(metric)
            if name == CLEAN or gap is None or gap <= threshold:
                continue
            more = sorted((int(k), r[rule][metric]) for k, r in data["resampled"].items() if r)
            enough = next((k for k, rate in more if rate >= TARGET_DETECTION), None)
            faults.append({"fault": name, "true_gap": gap, "detection": data["rate"][rule][metric],
                           "seeds_for_target": enough})
        out.append({"metric": metric, "threshold": threshold, "false_alarms": clean["rate"][rule][metric],
                    "clean_true_gap": clean["true_gap"].get(metric),
                    "faults": sorted(faults, key=lambda f: -f["true_gap"])})
    return out


def summary_markdown(result: dict[str, Any], rule: str = "gate") -> str:
    """The README's table of the gate's measured power (tests/test_docs_agree.py compares the two)."""
    lines = ["| gap | threshold | false alarms, clean path | faults above the threshold: caught at the default "
             "seeds (seeds for 80 %) |", "|---|---|---|---|"]
    for row in summary_rows(result, rule):
        faults = ", ".join(f"{f['fault']} {f['detection']:.0%}"
                           + (f" ({f['seeds_for_target']})" if f["detection"] < TARGET_DETECTION and
                              f["seeds_for_target"] else " (more than "
                              + str(max(int(k) for k in result["conditions"][f["fault"]]["resampled"])) + ")"
                              if f["detection"] < TARGET_DETECTION else "")
                           for f in row["faults"]) or "none"
        lines.append(f"| {row['metric']} | {row['threshold']:g} | {row['false_alarms']:.0%} | {faults} |")
    return "\n".join(lines)


def false_alarm_grid(rows: list[dict[str, Any]], metric: str, candidates: list[float], *, baseline: str = TRAINER,
                     set_size: int = 3, draws: int = 2000) -> list[dict[str, Any]]:
    """The clean path's false-alarm rate under the gate's rule for each candidate threshold of one gap metric, over
    the disjoint seed sets and over `draws` random sets of `set_size` seeds (fixed RNG): where a default threshold
    comes from when the damage table's few seeds could not show the clean path's spread."""
    from f5_parity.parity.gate import judge_gap

    samples = Samples(rows)
    gaps = samples.unit_gaps(CLEAN, baseline, metric)
    seeds = samples.seeds
    disjoint = [seeds[i:i + set_size] for i in range(0, len(seeds) - set_size + 1, set_size)]
    rng = np.random.default_rng(0)
    drawn = [rng.choice(seeds, size=set_size, replace=False).tolist() for _ in range(draws)]

    def rate(sets: list[list[int]], threshold: float) -> float:
        return sum(not judge_gap([g for (_, s), g in gaps.items() if s in set(chosen)], threshold).passed
                   for chosen in sets) / len(sets)

    return [{"threshold": t, "disjoint": rate(disjoint, t), "drawn": rate(drawn, t)} for t in candidates]
