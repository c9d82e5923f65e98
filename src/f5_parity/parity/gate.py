"""The CI gate: thresholds from defaults, project files and flags, judged against the run JSON.

Where thresholds come from, lowest to highest precedence (a later source overrides an earlier one):

1. the defaults below;
2. a ``[tool.parity-check]`` table in ``pyproject.toml`` in the project folder;
3. ``parity.toml`` in the project folder (its keys at top level, or under ``[tool.parity-check]``);
4. flags (the CLI's options, passed in as a dict; ``None`` means "not given").

Keys (hyphens and underscores are the same: ``max-cer`` = ``max_cer``)::

    max_wer = 1.0                      # a number: every generated path (trainer, infer, infer-copy)
    max_cer = {infer = 0.5, "*" = 0.6} # or a table: per path; "*" (or "default") = every generated path
    min_similarity = 40                # rapidfuzz ratio of the normalized texts, 0-100, as scoring.py writes it
    max_gap = {cer = 0.2, similarity = 20}   # infer (and infer-copy) minus trainer; aliases max_cer_gap, ...
    max_mcd = {infer = 9.0}            # MCD-DTW (dB) to the truth (scoring/acoustic.py); not gated by default
    min_speaker_similarity = 0.7       # GE2E cosine to the reference voice; not gated by default
    max_gap = {mcd = 0.25, speaker_similarity = 0.03} # the acoustic gaps (defaults below, and where they come from)
    tolerances = {velocity = 1e-3}     # per stage rel_tol, fed to the engine (ParitySession(tolerances=...))
    per_case = false                   # also gate each case's row, not only the pooled score
    fail_on_probe = true               # a probe with status fail or error fails the gate

A number replaces a whole per-path table from an earlier source; a table is merged key by key.
With N seeds (full mode, ``--seeds``), per-path checks judge the mean over seeds, and a gap is judged by one
rule, GAP_RULE below (judge_gap): its (case, seed) units paired by id, a one-sided sign-flip test (is the
infer side worse?) and the mean against the threshold. The check records the units, the interval, the p-value
and whether the gap is beyond the noise; run.json states the rule (scores.seeds.gap_rule), report.md's seed-gap
table and the JUnit lines show the same p and outcome. Its measured false-alarm and detection rates, per metric,
are in reports/bench/gate_power.json (tests/bench/test_bench_gate_power.py).
Baseline paths (reference, copy-synthesis, griffin-lim) are gated only when named explicitly.

Exit codes (the CLI's, for reference): 0 pass, 1 gate failed, 2 usage or input error, 3 internal error.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from f5_parity.compare import DEFAULT_REL_TOL
from f5_parity.errors import InputError, syntax_error_line
from f5_parity.parity.pathnames import GENERATED_PATHS, PATH_ORDER
from f5_parity.parity.scores import RunScores, ScoreRow, SeedSpread

ALL_GENERATED = "*"
GAP_PATHS = ("infer", "infer-copy")
# Like with like: the infer path's held-out text against the trainer settings on the same text,
# its copy task against the trainer's own sample.
GAP_BASELINE = {"infer": ("trainer-heldout", "trainer"), "infer-copy": ("trainer",)}

# Defaults, from what was measured here (docs/measurements.md; Whisper base on espeak-ng pt-br):
# * CER: Whisper base on espeak-ng pt-br speech scores good audio at CER 0.2-0.5 (0.23 at 130 wpm,
#   0.46-0.51 at 140 wpm; Griffin-Lim of a perfect mel 0.31-0.41) and garbage above 0.8. 0.6 sits
#   between the two with room on both sides, for any vocoder, so it is the main intelligibility gate.
# * WER: good audio already reaches 0.34-0.8 (one wrong word in a short sentence is 0.17), garbage
#   about 1.0; too close to separate, so the default 1.0 only catches looping/hallucinating output
#   (more word errors than words). Tighten it per project with real voices and a larger ASR model.
# * similarity (rapidfuzz ratio 0-100 of the normalized texts): CER 0.6 corresponds to roughly 40-55;
#   40 agrees with the CER gate and catches empty or unrelated transcripts.
# * gap: trainer and infer judged by one ASR on comparable text differ by well under 0.1 CER when the
#   paths agree; a 0.2 CER gap (one character in five more wrong) or 20 similarity points means the
#   infer path lost what the trainer's sample shows, the symptom this tool exists for.
# * tolerances: the engine's own per-stage defaults (compare.DEFAULT_REL_TOL).
DEFAULT_MAX_WER: dict[str, float] = {ALL_GENERATED: 1.0}
DEFAULT_MAX_CER: dict[str, float] = {ALL_GENERATED: 0.6}
DEFAULT_MIN_SIMILARITY: dict[str, float] = {ALL_GENERATED: 40.0}
# * acoustic gaps (MCD-DTW dB, GE2E speaker cosine; scoring/acoustic.py). speaker_similarity 0.03 comes from the
#   damage table (reports/damage-fixture/*.json, commit 3a5bfc7): the smallest round number above the clean infer
#   path's largest single-seed gap there (+0.0296). mcd was 0.15 dB by the same rule (+0.141 there), but 3 seeds
#   could not show the clean path's spread: over 60 seeds its per-(case, seed) MCD gap against the trainer's
#   held-out sample has a standard deviation of ~0.45 dB, and with --cross-paths the gate's rule then failed the
#   clean path in 10 % of 3-seed sets at 0.15 dB. 0.25 is the smallest candidate at which the clean path's
#   false-alarm rate is at most 5 % for both baselines, on the 20 disjoint seed sets and on 2000 drawn ones
#   (reports/bench/gate_power.json "mcd_thresholds"; tests/test_gate_power.py re-derives it). What these defaults
#   catch, per metric and fault, at the default settings and with more seeds: gate_power.json, and the README's
#   "Defaults". Absolute MCD and speaker-similarity levels depend on the voice and vocoder: not gated unless set.
DEFAULT_MAX_GAP: dict[str, float] = {"cer": 0.2, "similarity": 20.0, "mcd": 0.25, "speaker_similarity": 0.03}
# Where the gap defaults and their measured power come from.
DEFAULT_GAP_SOURCE = {"commit": "3a5bfc7", "tables": ("reports/damage-fixture/all-factors-2cases-3seeds.json",
                                                       "reports/damage-fixture/vocab-weights-8cases-3seeds.json"),
                      "power": "reports/bench/gate_power.json"}
# The most false alarms a default gap threshold may give the clean path (gate_power.json's measure).
DEFAULT_FALSE_ALARMS = 0.05
# A gap "beyond the noise": its one-sided sign-flip test over the paired (case, seed) units, at this alpha.
GAP_ALPHA = 0.05
# The sign-flip test's smallest p with n units is 2^-n: the fewest units that can reach p < GAP_ALPHA.
FEWEST_UNITS = next(n for n in range(1, 64) if 2.0 ** -n < GAP_ALPHA)
# The one rule for a gap over seeds: the gate applies it (judge_gap), run.json states it (scores.seeds.gap_rule),
# report.md's seed-gap table and the JUnit lines show its p and outcome.
GAP_RULE = ("paired per (case, seed) unit (a unit either path has no value for is left out of both); a gap fails "
            f"when its mean is above the threshold and it is beyond the noise: the one-sided sign-flip test of the "
            f"units (is the infer side worse?) gives p < {GAP_ALPHA}. The test is exact, so ties and equal "
            f"differences of discrete metrics are counted as they are; with fewer than {FEWEST_UNITS} units it cannot "
            f"reach p < {GAP_ALPHA} and the gap cannot fail")


@dataclass(frozen=True)
class GapJudgement:
    """One gap judged by GAP_RULE: its mean over the units, the test's p, and the outcome."""

    mean: float | None
    n: int
    p_value: float | None
    beyond_noise: bool
    passed: bool


def too_few_units(checks: list[dict]) -> str | None:
    """A warning when the run's gap checks had too few units for any of them to fail (what to change, said)."""
    few = sorted({c["units"] for c in checks if c.get("units") is not None and c["units"] < FEWEST_UNITS})
    if not few:
        return None
    return (f"the gap checks had {', '.join(map(str, few))} (case, seed) unit{'s' if few != [1] else ''}: the gate's "
            f"sign-flip test needs at least {FEWEST_UNITS} to call a gap beyond the noise, so no gap could fail "
            f"this run; raise --seeds or add cases (units = cases x seeds)")


def judge_gap(units: list[float | None], threshold: float, alpha: float = GAP_ALPHA) -> GapJudgement:
    """GAP_RULE on one gap's per-unit differences (positive = the infer side is worse)."""
    from f5_parity.scoring.stats import sign_flip_test

    t = sign_flip_test(units)
    beyond = bool(t.p_value is not None and t.p_value < alpha and (t.mean_difference or 0) > 0)
    above = t.mean_difference is not None and t.mean_difference > threshold
    return GapJudgement(t.mean_difference, t.n, t.p_value, beyond, not (beyond and above))

PER_PATH_KEYS = ("max_wer", "max_cer", "min_similarity", "max_mcd", "min_speaker_similarity")
GAP_METRICS = ("wer", "cer", "similarity", "mcd", "speaker_similarity")
HIGHER_IS_BETTER = ("similarity", "speaker_similarity")
BOOL_KEYS = ("per_case", "fail_on_probe")
GAP_ALIASES = {f"max_{m}_gap": m for m in GAP_METRICS}
VALID_KEYS = PER_PATH_KEYS + ("max_gap", "tolerances") + BOOL_KEYS + tuple(GAP_ALIASES)


@dataclass(frozen=True)
class Thresholds:
    max_wer: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MAX_WER))
    max_cer: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MAX_CER))
    min_similarity: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIN_SIMILARITY))
    max_mcd: dict[str, float] = field(default_factory=dict)  # not gated unless set (levels depend on the voice)
    min_speaker_similarity: dict[str, float] = field(default_factory=dict)
    max_gap: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MAX_GAP))
    tolerances: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_REL_TOL))
    per_case: bool = False  # pooled scores are the gate: one Whisper slip on one sentence should not fail CI
    fail_on_probe: bool = True
    sources: dict[str, str] = field(default_factory=dict)  # key -> the source that set it last

    def limit(self, key: str, path: str) -> float | None:
        """The threshold of `key` (max_wer, max_cer, min_similarity) for one path, or None (not gated)."""
        table = getattr(self, key)
        if path in table:
            return table[path]
        return table.get(ALL_GENERATED) if path in GENERATED_PATHS else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_wer": dict(self.max_wer),
            "max_cer": dict(self.max_cer),
            "min_similarity": dict(self.min_similarity),
            "max_mcd": dict(self.max_mcd),
            "min_speaker_similarity": dict(self.min_speaker_similarity),
            "max_gap": dict(self.max_gap),
            "tolerances": dict(self.tolerances),
            "per_case": self.per_case,
            "fail_on_probe": self.fail_on_probe,
            "sources": {k: self.sources.get(k, "defaults") for k in
                        PER_PATH_KEYS + ("max_gap", "tolerances") + BOOL_KEYS},
        }


def parse_path_values(text: str) -> float | dict[str, float]:
    """A flag value: '0.6' (every generated path) or 'infer=0.5,trainer=0.6' (per path)."""
    text = str(text).strip()
    if "=" not in text:
        return _number("value", text)
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise InputError(f"cannot read {part!r} in {text!r}", "write NAME=NUMBER pairs separated by commas")
        name, value = (s.strip() for s in part.split("=", 1))
        out[name] = _number(name, value)
    return out


def _number(where: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"threshold {where} is {value!r}, not a number", "give a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise InputError(f"threshold {where} is {value!r}, not a number >= 0", "give a number >= 0")
    return float(value)


def _norm_key(key: str) -> str:
    return str(key).strip().replace("-", "_")


def _apply(state: dict[str, Any], sources: dict[str, str], settings: dict[str, Any], source: str) -> bool:
    """Merge one source's settings into `state`; True when it set anything."""
    touched = False
    for raw_key, value in settings.items():
        if value is None:
            continue
        key = _norm_key(raw_key)
        where = f"{key} ({source})"
        if key not in VALID_KEYS:
            raise InputError(f"unknown threshold {raw_key!r} in {source}", f"valid keys: {', '.join(VALID_KEYS)}")
        if isinstance(value, str) and key not in BOOL_KEYS:
            value = parse_path_values(value)
        if key in PER_PATH_KEYS:
            if isinstance(value, dict):
                table = dict(state[key])
                for path, v in value.items():
                    path = ALL_GENERATED if path in ("default", ALL_GENERATED) else str(path)
                    if path not in PATH_ORDER + (ALL_GENERATED,):
                        raise InputError(f"unknown path {path!r} in {where}",
                                         f"valid paths: {', '.join(PATH_ORDER)}, or \"*\" for every generated path")
                    table[path] = _number(f"{key}.{path}", v)
                state[key] = table
            else:
                state[key] = {ALL_GENERATED: _number(where, value)}
        elif key == "max_gap" or key in GAP_ALIASES:
            if key in GAP_ALIASES:
                value = {GAP_ALIASES[key]: value}
            if not isinstance(value, dict):
                raise InputError(f"{where} must be a table like {{cer = 0.2, similarity = 20}}",
                                 "CER (0-1), similarity (0-100), MCD (dB) and speaker similarity (cosine) gaps "
                                 "have different scales: name each")
            table = dict(state["max_gap"])
            for metric, v in value.items():
                if metric not in GAP_METRICS:
                    raise InputError(f"unknown gap metric {metric!r} in {where}", f"valid: {', '.join(GAP_METRICS)}")
                table[metric] = _number(f"max_gap.{metric}", v)
            state["max_gap"] = table
            key = "max_gap"
        elif key == "tolerances":
            if not isinstance(value, dict):
                raise InputError(f"{where} must be a table of stage = rel_tol",
                                 f"stages with a tolerance: {', '.join(DEFAULT_REL_TOL)}")
            from f5_parity.ports.judge import PORT_REL_TOL

            table = dict(state["tolerances"])
            for stage, v in value.items():
                if stage not in DEFAULT_REL_TOL and stage not in PORT_REL_TOL:
                    raise InputError(f"unknown stage {stage!r} in {where}",
                                     f"stages with a tolerance: {', '.join([*DEFAULT_REL_TOL, *PORT_REL_TOL])} "
                                     "(tokens and duration are exact)")
                table[stage] = _number(f"tolerances.{stage}", v)
            state["tolerances"] = table
        else:  # BOOL_KEYS
            if not isinstance(value, bool):
                raise InputError(f"{where} is {value!r}, not true or false", "write true or false")
            state[key] = value
        sources[key] = source
        touched = True
    return touched


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {syntax_error_line(path, exc)}", "fix the TOML syntax") from None


def _table(data: dict[str, Any], path: Path, whole_file: bool) -> dict[str, Any] | None:
    tool = data.get("tool")
    if isinstance(tool, dict) and "parity-check" in tool:
        table = tool["parity-check"]
    elif whole_file:
        table = {k: v for k, v in data.items() if k != "tool"}
    else:
        return None
    if not isinstance(table, dict):
        raise InputError(f"[tool.parity-check] in {path} is not a table", "write it as a TOML table")
    return table


def load_thresholds(flags: dict[str, Any] | None, project_dir: str | Path | None = None) -> tuple[Thresholds, str]:
    """Thresholds merged defaults < pyproject.toml [tool.parity-check] < parity.toml < flags.

    Returns them and the highest-precedence source that set anything ("defaults" when none did);
    `Thresholds.sources` says which source set each key.
    """
    state: dict[str, Any] = {k: v for k, v in Thresholds().__dict__.items() if k != "sources"}
    sources: dict[str, str] = {}
    used = "defaults"
    root = Path(project_dir) if project_dir is not None else Path.cwd()
    for name, whole in (("pyproject.toml", False), ("parity.toml", True)):
        p = root / name
        if p.is_file():
            table = _table(_read_toml(p), p, whole)
            if table and _apply(state, sources, table, name):
                used = name
    if flags and _apply(state, sources, dict(flags), "flags"):
        used = "flags"
    return Thresholds(**state, sources=sources), used


# --- evaluation ---------------------------------------------------------------------------------

def _metric(entry: Any, metric: str) -> Any:
    """A pooled (PathScore) or per-case (ScoreRow) value; None where the path has no such score."""
    return entry.value(metric) if entry is not None else None


def _judge(value: Any, op: str, threshold: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return False  # a missing or non-numeric score ("nan", "inf") cannot pass
    return value <= threshold if op == "<=" else value >= threshold


def _check(name: str, path: str | None, case: str | None, value: Any, threshold: Any, op: str, passed: bool) -> dict:
    return {"name": name, "path": path, "case": case, "value": value, "threshold": threshold, "op": op,
            "passed": bool(passed)}


def _ordered_paths(paths) -> list[str]:
    paths = set(paths)
    return [p for p in PATH_ORDER if p in paths] + sorted(paths - set(PATH_ORDER))


PATH_CHECKS = (("max_wer", "wer", "<="), ("max_cer", "cer", "<="), ("min_similarity", "similarity", ">="),
               ("max_mcd", "mcd", "<="), ("min_speaker_similarity", "speaker_similarity", ">="))


def _score_checks(entries: dict[str, Any], thresholds: Thresholds, case: str | None,
                  seeds: SeedSpread | None = None) -> list[dict]:
    """Per-path and gap checks on `entries` (path -> PathScore pooled, or path -> ScoreRow of one case). With
    `seeds` (pooled checks only), per-path values are the means over seeds and each gap is judged against its
    interval over the paired seeds."""
    seed_paths = seeds.paths if seeds else {}
    seed_gaps = seeds.gaps if seeds else {}
    n_seeds = (seeds.n_seeds if seeds else 0) or 1
    checks = []
    for path in _ordered_paths(set(entries) | set(seed_paths)):
        for key, metric, op in PATH_CHECKS:
            limit = thresholds.limit(key, path)
            if limit is None:
                continue
            stat = (seed_paths.get(path) or {}).get(metric)
            value = stat.mean if stat else _metric(entries.get(path), metric)
            if value is None and not stat and metric in ("mcd", "speaker_similarity"):
                continue  # no acoustic score for this path (no truth): nothing to judge
            check = _check(metric, path, case, value, limit, op, _judge(value, op, limit))
            if stat and n_seeds > 1:
                check.update(seeds=stat.n, interval=[stat.lo, stat.hi])
            checks.append(check)
    for path in GAP_PATHS:
        base = next((b for b in GAP_BASELINE[path] if b in entries or b in seed_paths), None)
        if (path not in entries and path not in seed_paths) or base is None:
            continue
        for metric, limit in thresholds.max_gap.items():
            stat = (seed_gaps.get(path) or {}).get(metric)
            if stat is not None and stat.units:  # judged over seeds: GAP_RULE on the (case, seed) units
                judged = judge_gap([u["gap"] for u in stat.units], limit)
                check = _check(f"{metric}_gap", path, case, judged.mean, limit, "<=", judged.passed)
                check["against"] = stat.against
                check.update(seeds=n_seeds, units=judged.n, interval=[stat.interval.lo, stat.interval.hi],
                             p_value=judged.p_value, beyond_noise=judged.beyond_noise)
                checks.append(check)
                continue
            t, p = _metric(entries.get(base), metric), _metric(entries.get(path), metric)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (t, p)):
                if metric in ("mcd", "speaker_similarity"):
                    continue  # no acoustic scores in this run
                gap = None
            else:  # "worse on the infer side" is positive for all: error rates and distances up, similarity down
                gap = (t - p) if metric in HIGHER_IS_BETTER else (p - t)
            check = _check(f"{metric}_gap", path, case, gap, limit, "<=", _judge(gap, "<=", limit))
            check["against"] = base
            checks.append(check)
    return checks


def evaluate_gate(parity_verdict: str, probes: list, scores: RunScores | None, thresholds: Thresholds, *,
                  source: str = "defaults") -> dict[str, Any]:
    """The "gate" object of the run JSON: every check with its value, threshold and outcome.

    The parity verdict is always one check; each probe that ran is one (when fail_on_probe); score
    checks (pooled per path, and per case when per_case) and the trainer-vs-infer gaps only when the
    run has scores.
    """
    parity = parity_verdict
    checks = [_check("parity", None, None, parity, "pass", "==", parity == "pass")]
    if thresholds.fail_on_probe:
        for probe in probes:
            status = probe.status.value
            if status == "skip":
                continue
            checks.append(_check(f"probe:{probe.probe}", None, None, status, ["fail", "error"], "not in",
                                 status not in ("fail", "error")))
    if scores:
        checks += _score_checks(scores.pooled, thresholds, None, scores.seeds)
        if thresholds.per_case:
            by_case: dict[str, dict[str, ScoreRow]] = {}
            for row in scores.rows:
                by_case.setdefault(row.case, {})[row.path] = row
            for case in by_case:
                checks += _score_checks(by_case[case], thresholds, case)
    return {
        "passed": all(c["passed"] for c in checks),
        "thresholds": thresholds.to_dict(),
        "source": source,
        "checks": checks,
    }
