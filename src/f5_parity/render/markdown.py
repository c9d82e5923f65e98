"""report.md, rendered from the run JSON alone: it formats, it never computes or measures.

Layout: verdict and culprits (each with its measured effect and fix) first; the gate; warnings and
notes; the stage comparison per case with the tolerance rule; the factor table; the by-design
differences; the isolation trials; each probe's section with its evidence; scores per case and path
beside the baselines, with links to the wavs and the spectrogram PNGs; a reproducibility block.

Determinism: the same JSON gives the same bytes. Wall-clock values (reproducibility.created, the
run's "seconds", each probe's duration_s) appear only on the lines that start with one of
TIMESTAMP_LINE_PREFIXES, so two runs with the same inputs differ on exactly those lines.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from f5_parity.files import write_bytes_atomic, write_text_atomic
from f5_parity.parity.pathnames import PATH_MEANING, PATH_ORDER
from f5_parity.compare import StageComparison
from f5_parity.parity.result import CheckpointRef, Factor, GateResult, Reproducibility, RunReport
from f5_parity.parity.scores import Interval, RunScores, ScoreRow

# Every line of report.md that carries a wall-clock value starts with one of these; nothing else does.
TIMESTAMP_LINE_PREFIXES = ("- Created: ", "- Run time: ", "- Probe times: ")

STAGE_COLUMNS = ("stage", "ok", "rule", "rel_tol", "rel L2", "max abs diff", "cosine", "SNR dB",
                 "min required tol", "note")
MAX_TEXT = 160  # long ASR loops are cut in tables; the JSON keeps them whole


# --- formatting -----------------------------------------------------------------------------------

def _num(x: Any, fmt: str = ".4g") -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return format(x, fmt)
    return str(x)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _cell(value: Any, limit: int | None = None) -> str:
    text = value if isinstance(value, str) else _num(value) if not isinstance(value, (dict, list)) else _compact(value)
    text = " ".join(str(text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else _compact(value)
    # GFM table cells end at any unescaped pipe, code spans included.
    return f"`{text.replace('`', chr(39)).replace('|', chr(92) + '|')}`"


def _table(header: tuple[str, ...] | list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) if not isinstance(c, _Raw) else c.text for c in row) + " |" for row in rows]
    return out


class _Raw:
    """A table cell already formatted as markdown (a link, an image, a code span)."""

    def __init__(self, text: str):
        self.text = text


def _link(label: str, rel: str) -> str:
    return f"[{label}]({quote(str(rel), safe='/._-')})"


def _verdict_word(verdict: Any, parity: Any = None) -> str:
    if parity == "undecided":  # the stages cannot vouch for the user's path: never a pass, never a culprit
        return "NOT DECIDED"
    return "PASSED" if verdict == "pass" else "FAILED"


def checkpoint_info(report: RunReport) -> CheckpointRef:
    """The run's checkpoint, its hash from the reproducibility block when the reference has none."""
    ck = report.checkpoint or CheckpointRef(path="", name="checkpoint")
    return ck if ck.sha256 else replace(ck, sha256=report.reproducibility.checkpoint_sha256
                                        if report.reproducibility else None)


def report_dir_name(checkpoint_name: str, timestamp: datetime | str) -> str:
    """'<checkpoint-name>-<YYYYmmdd-HHMMSS>', e.g. 'model_25400-20261122-013005'."""
    name = Path(str(checkpoint_name)).name
    for suffix in (".safetensors", ".pt", ".pth", ".ckpt", ".bin"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "checkpoint"
    when = datetime.fromisoformat(timestamp) if isinstance(timestamp, str) else timestamp
    return f"{name}-{when.strftime('%Y%m%d-%H%M%S')}"


# --- sections -------------------------------------------------------------------------------------

def _effect_text(effect: dict[str, Any] | None) -> str:
    if not effect:
        return "not measured"
    if "rel_l2_departure" in effect:  # a runtime port's stage (ports/judge.py)
        against, trainer = effect["rel_l2_departure"], effect["rel_l2_trainer"]
        return (f"at the port's {effect['stage']} graph: {effect['what']}" +
                (f"; the port's output against the checkpoint's: rel L2 {_num(trainer)}" if trainer is not None else "")
                + (f", against this departure recomputed: {_num(against)}" if against is not None else ""))
    if effect.get("buildable") is False:
        return "could not be built alone" + (f": {effect.get('detail')}" if effect.get("detail") else "")
    stages = [(k, v) for k, v in effect.items() if k not in ("buildable", "case", "first_divergence", "detail")]
    parts = ", ".join(f"{k} {_num(v)}" for k, v in stages if v is not None)
    head = f"first divergence at {effect.get('first_divergence') or 'none'}"
    case = f" (case {effect['case']})" if effect.get("case") else ""
    return f"{head}{case}; per stage (rel L2, or ids that differ): {parts or 'none'}"


def _verdict_lines(d: RunReport) -> list[str]:
    ck = checkpoint_info(d)
    parity = d.parity_verdict
    gate = d.gate
    gate_text = ""
    if gate:
        gate_text = f", gate {'pass' if gate.passed else 'fail'} ({len(gate.failures)} of {len(gate.checks)} checks failed)"
    culprits = ", ".join(d.culprits or []) or "none"
    env = d.environment or {}
    env_lines = [f"Environment: {env['summary']}; torch {env.get('torch')}, device {env.get('device')}; "
                 f"trainer side: {env.get('trainer_side')} ({env.get('trainer_side_why')})", ""] if env else []
    return [
        f"# Parity report: {ck.name}",
        "",
        *env_lines,
        f"**{_verdict_word(d.verdict, parity)}** — trainer path vs infer path of `{ck.name}` "
        f"({d.mode} mode): parity {parity}{gate_text}; culprits: {culprits}",
        "",
        *[f"- not decided: {why}" for why in d.undecided],
        *([""] if d.undecided else []),
    ]


def _culprit_lines(d: RunReport) -> list[str]:
    out = ["## Culprits", ""]
    culprits = d.culprits or []
    factors = d.factors or {}
    if not culprits:
        out.append("None: no factor that differs between the paths breaks parity on its own."
                   if d.parity_verdict == "pass" or not d.stages
                   else "None isolated: the stages diverge but no single set of differing factors explains it "
                        "(see Isolation).")
    for i, fid in enumerate(culprits, 1):
        f = factors.get(fid) or Factor.from_dict({})
        out += [f"{i}. **{fid}** — {f.title}",
                f"   - trainer: {_code(f.train)} · infer: {_code(f.infer)}",
                f"   - effect alone: {_effect_text(f.effect)}",
                f"   - **fix:** {f.fix or 'no fix recorded'}"]
    unresolved = d.isolation.remaining_unresolved if d.isolation else []
    if unresolved:
        out += ["", f"Unresolved (could not be tested alone): {', '.join(map(str, unresolved))}"]
    return out + [""]


def _gate_rows(gate: GateResult) -> list[list[Any]]:
    return [[c.name, c.path or "-", c.case or ("pooled" if c.path else "-"), c.value, c.op, c.threshold,
             "pass" if c.passed else "**FAIL**"] for c in gate.checks]


GATE_HEADER = ("check", "path", "case", "value", "op", "threshold", "result")


def _gate_summary_lines(d: RunReport) -> list[str]:
    """The first screen's gate: the failed checks only (every check: the appendix)."""
    gate = d.gate
    if not gate:
        return []
    failed = gate.failures
    out = ["## Gate", "", f"{'Passed' if gate.passed else 'Failed'}: {len(failed)} of {len(gate.checks)} checks "
           f"failed (thresholds from {gate.source}; every check: [appendix](#gate-every-check)).", ""]
    if failed:
        out += _table(GATE_HEADER, [r for r, c in zip(_gate_rows(gate), gate.checks) if not c.passed])
    return out + [""]


def _gate_lines(d: RunReport) -> list[str]:
    gate = d.gate
    if not gate:
        return []
    out = ["## Gate, every check", "", f"{'Passed' if gate.passed else 'Failed'}; thresholds from {gate.source}.", ""]
    out += _table(GATE_HEADER, _gate_rows(gate))
    th = dict(gate.thresholds)
    sources = th.pop("sources", None) or {}
    if th:
        out += ["", "<details><summary>thresholds</summary>", ""]
        out += _table(("threshold", "value", "set by"), [[k, _Raw(_code(v)), sources.get(k, "-")] for k, v in th.items()])
        out += ["", "</details>"]
    return out + [""]


def _warning_lines(d: RunReport) -> list[str]:
    out = []
    if d.warnings:
        out += ["## Warnings", ""]
        for w in d.warnings:
            metrics = f" ({', '.join(f'{k} {_num(v)}' for k, v in w.metrics.items())})" if w.metrics else ""
            out.append(f"- [{w.factor}] {w.case}: {w.message}{metrics}")
        out.append("")
    if d.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in d.notes] + [""]
    return out


def _stage_note(c: StageComparison) -> str:
    return c.note or (f"{c.mismatched} ids differ" if c.mismatched else "")


def _stage_lines(d: RunReport) -> list[str]:
    stages = d.stages or {}
    if not stages:
        return []
    out = ["## Stages", "", "Trainer path (a) vs infer path (b) on identical inputs, by-design differences aligned.",
           f"Tolerance rule: {d.tolerance_rule}", ""]
    for case, comps in stages.items():
        first = (d.first_divergence or {}).get(case)
        out += [f"### Case {case} — first divergence: {first or 'none'}", ""]
        if not comps:  # no header-only table: say why nothing was compared
            out += [f"Nothing compared: {d.unbuilt.get(case) or 'no stage of this case could be compared'}.", ""]
            continue
        rows = []
        for c in comps:
            rows.append([c.stage, "yes" if c.passed else "**no**", c.rule, c.rel_tol, c.rel_l2, c.max_abs_diff,
                         _num(c.cosine, ".6f"), _num(c.snr_db, ".1f"), c.min_required_rel_tol, _stage_note(c)])
        out += _table(STAGE_COLUMNS, rows)
        stats = [[c.stage, side, s.shape, s.dtype, s.mean, s.std, s.min, s.max]
                 for c in comps for side, s in (("a", c.a), ("b", c.b)) if s is not None]
        if stats:
            out += ["", "<details><summary>both sides' statistics</summary>", ""]
            out += _table(("stage", "side", "shape", "dtype", "mean", "std", "min", "max"), stats)
            out += ["", "</details>"]
        out.append("")
    return out


def _factor_lines(d: RunReport) -> list[str]:
    factors = d.factors or {}
    if not factors:
        return []
    rows = [[_Raw(f"**{fid}**" if f.culprit else fid), f.differs, f.differs_after_alignment,
             ", ".join(f.by_design_keys) or "-", ", ".join(f.unknown) or "-",
             "**yes**" if f.culprit else ("not decided" if f.undecided else "no"), f.train,
             f.infer if f.differs else "(same)"]
            for fid, f in factors.items()]
    undecided = [f"- **{fid}**: {f.undecided}" for fid, f in factors.items() if f.undecided]
    return (["## Factors", ""] + _table(("factor", "differs", "after alignment", "by design", "unknown", "culprit",
                                         "trainer", "infer"), rows) + [""] + undecided + ([""] if undecided else []))


def _by_design_lines(d: RunReport) -> list[str]:
    items = d.by_design or []
    if not items:
        return []
    rows = []
    for b in items:
        eff = b.effect
        rows.append([f"{b.factor}.{b.key}", b.train, b.infer,
                     eff.get("first_divergence") or "none", eff.get("velocity"), eff.get("final_mel"), eff.get("wav")])
    return ["## By-design differences", "",
            "Differences the two paths have on purpose; each measured alone on the trainer path (rel L2; the "
            "velocity effect in full mode only).", ""] + \
        _table(("difference", "trainer", "infer", "first divergence", "velocity", "final_mel", "wav"), rows) + [""]


def _isolation_lines(d: RunReport) -> list[str]:
    iso = d.isolation
    if iso is None:
        return []
    sets = "; ".join("{" + ", ".join(s) + "}" for s in iso.culprit_sets) or "none"
    out = ["## Isolation", "",
           f"Culprit sets: {sets}; trials run: {_num(iso.tests_run)}; "
           f"remaining unresolved: {', '.join(iso.remaining_unresolved) or 'none'}.", ""]
    if iso.trials:
        out += _table(("#", "factors applied to the trainer path", "outcome", "detail"),
                      [[i, ", ".join(t.factors) or "-", t.outcome.value, t.detail]
                       for i, t in enumerate(iso.trials, 1)])
        out.append("")
    return out


def _probe_lines(d: RunReport) -> list[str]:
    probes = d.probes or []
    if not probes:
        return []
    out = ["## Probes", ""]
    out += _table(("probe", "status", "summary"),
                  [[p.probe, p.status.value.upper(), _Raw(_cell(p.summary, MAX_TEXT))]
                   for p in probes])
    out.append("")
    for p in probes:
        out += [f"### {p.probe} — {p.status.value.upper()}", "", p.summary, ""]
        if p.threshold is not None or p.margin is not None:
            out.append(f"- threshold: {_code(p.threshold)}; margin: {_num(p.margin)}")
        if p.fix:
            out.append(f"- **fix:** {p.fix}")
        metrics = p.metrics or {}
        scalars = [[k, v] for k, v in metrics.items() if not isinstance(v, (dict, list))]
        if scalars:
            out += [""] + _table(("metric", "value"), scalars)
        nested = {k: v for k, v in metrics.items() if isinstance(v, (dict, list))}
        for label, payload in (("more metrics", nested), ("evidence", p.evidence or {})):
            if payload:
                out += ["", f"<details><summary>{label}</summary>", "", "```json",
                        json.dumps(payload, indent=2, ensure_ascii=False), "```", "", "</details>"]
        out.append("")
    return out


def _ordered_paths(paths) -> list[str]:
    paths = list(dict.fromkeys(paths))
    return [p for p in PATH_ORDER if p in paths] + [p for p in paths if p not in PATH_ORDER]


def _score_lines(d: RunReport) -> list[str]:
    scores = d.scores
    if not scores:
        return []
    asr = scores.asr
    normalizer = asr.get("normalizer", "-")
    out = ["## Scores", "",
           f"ASR: {asr.get('backend', '-')} {asr.get('model', '-')}, language {asr.get('language', '-')}; "
           f"normalizer: {_compact(normalizer) if isinstance(normalizer, (dict, list)) else normalizer}. "
           "Similarity is the ratio (0-100) of the normalized expected and heard texts.", ""]
    out += _table(("path", "what it is"), [[p, PATH_MEANING.get(p, "")] for p in
                                            _ordered_paths([r.path for r in scores.rows] + list(scores.pooled))])
    out.append("")
    pooled = scores.pooled
    if pooled:
        out += ["### Pooled over cases", ""]
        out += _table(("path", "n", "WER", "CER", "CER capped", "similarity", "broken share"),
                      [[p, pooled[p].n, pooled[p].wer, pooled[p].cer, pooled[p].cer_capped, pooled[p].similarity,
                        pooled[p].broken_share] for p in _ordered_paths(pooled)])
        out.append("")
    out += _seed_lines(scores)
    by_case: dict[str, list[ScoreRow]] = {}
    for r in scores.rows:
        by_case.setdefault(str(r.case), []).append(r)
    for case, rows in by_case.items():
        order = {p: i for i, p in enumerate(_ordered_paths([r.path for r in rows]))}
        rows = sorted(rows, key=lambda r: order[r.path])
        out += [f"### Case {case}", ""]
        out += _table(("path", "label", "WER", "CER", "similarity", "expected", "heard", "audio"),
                      [[r.path, r.label or "-", r.wer, r.cer, r.similarity,
                        _Raw(_cell(r.expected, MAX_TEXT)), _Raw(_cell(r.hypothesis, MAX_TEXT)),
                        _Raw(_link("wav", r.wav) if r.wav else "-")] for r in rows])
        out.append("")
    return out


def _interval_cell(stat: Interval | None, fmt: str, mean: float | None = None) -> str:
    """mean [lo, hi]; `mean` replaces the interval's own (a gap's mean beside its interval)."""
    mean = stat.mean if mean is None and stat is not None else mean
    if stat is None or mean is None:
        return "-"
    if stat.lo is None:
        return format(mean, fmt)
    return f"{format(mean, fmt)} [{format(stat.lo, fmt)}, {format(stat.hi, fmt)}]"


SEED_COLUMNS = (("cer", "CER", ".3f"), ("similarity", "similarity", ".1f"), ("mcd", "MCD dB", ".2f"),
                ("logmel", "log-mel", ".3f"), ("speaker_similarity", "speaker sim.", ".3f"))


def _seed_lines(scores: RunScores) -> list[str]:
    """Every path over the seeds (mean [95 % interval]) and the gaps the gate judges, beside the baselines."""
    seeds = scores.seeds
    if seeds is None or not seeds.paths:
        return []
    paths = seeds.paths
    tools = scores.acoustic.tools if scores.acoustic else {}
    n = seeds.n_seeds
    out = [f"### Over {n} seed{'s' if n != 1 else ''} (mean [95 % interval])", "",
           f"Seeds {', '.join(map(str, seeds.seeds))}; baselines do not depend on the noise and are "
           "scored once. MCD and log-mel distance are to the truth (the reference clip for the copy task and the "
           "baselines, the held-out clip for held-out text); speaker similarity is to the reference voice.", ""]
    rows = []
    for p in _ordered_paths(paths):
        stats = paths[p]
        count = max((v.n or 0) for v in stats.values()) if stats else 0
        rows.append([p, count] + [_interval_cell(stats.get(m), f) for m, _, f in SEED_COLUMNS])
    out += _table(["path", "seeds"] + [label for _, label, _ in SEED_COLUMNS], rows) + [""]
    shown = {k for k, _, _ in SEED_COLUMNS}
    gap_rows = []
    for p, metrics in seeds.gaps.items():
        for m, g in metrics.items():
            if m not in shown:
                continue
            dropped = ", ".join(f"{c} seed {s}" for c, s in g.dropped_units)
            gap_rows.append([p, g.against, m, _interval_cell(g.interval, ".3f", mean=g.gap) if g.gap is not None else "-",
                             f"{g.n} ({dropped} dropped: no pair)" if dropped else g.n, _num(g.p_value, ".3g"),
                             "-" if g.beyond_noise is None else "yes" if g.beyond_noise else "no"])
    if gap_rows:
        out += ["Gaps (positive = the infer side is worse), paired per (case, seed) unit:", ""]
        out += _table(("path", "against", "metric", "gap [95 % interval]", "units", "p (one-sided)",
                       "beyond the noise"), gap_rows) + [""]
        out += [f"Gap rule (the gate's): {seeds.gap_rule}.", ""] if seeds.gap_rule else []
    if tools:
        out += ["Acoustic metrics: " + "; ".join(
            f"{m}: " + ", ".join(f"{t.get('name')} {t.get('version')}" for t in (d.get("tools") or []))
            + (f" ({d['model']})" if d.get("model") else "") for m, d in tools.items()), ""]
    return out


def _artifact_lines(d: RunReport) -> list[str]:
    art = d.artifacts or {}
    pngs, wavs = art.get("pngs") or {}, art.get("wavs") or {}
    out = []
    if pngs:
        out += ["## Spectrograms", ""]
        for name, rel in pngs.items():
            out += [f"**{name}**", "", f"![{name}]({quote(str(rel), safe='/._-')})", ""]
    if wavs:
        out += ["## Audio", ""] + [f"- {_link(name, rel)}" for name, rel in wavs.items()] + [""]
    return out


def _repro_lines(d: RunReport) -> list[str]:
    r = d.reproducibility or Reproducibility()
    ck = checkpoint_info(d)
    out = ["## Reproducibility", ""]
    if r.versions:
        out += _table(("component", "version"), [[k, v] for k, v in r.versions.items()]) + [""]
    out += [f"- Checkpoint: `{ck.path or '-'}`",
            f"- Checkpoint sha256: `{ck.sha256 or '-'}`",
            f"- ASR model: {_cell(r.asr_model)}",
            f"- Seed: {_num(r.seed)}; device: {r.device or '-'}; mode: {d.mode}",
            f"- Created: {r.created or '-'}",
            f"- Run time: {_num(d.seconds)} s"]
    times = [f"{p.probe} {_num(round(p.duration_s, 4))} s" for p in d.probes]
    if times:
        out.append(f"- Probe times: {', '.join(times)}")
    if r.command:
        out += ["", "Command:", "", "```", str(r.command), "```"]
    specs = d.specs or {}
    located = [[name, fid, _Raw(_code(loc))] for name, spec in specs.items()
               for fid, loc in ((spec or {}).get("locators") or {}).items()]
    if located:
        out += ["", "Where each side's files came from:", ""]
        out += _table(("spec", "factor", "location"), located)
    unknown = [f"{name}: {', '.join(spec.get('unknown'))}" for name, spec in specs.items() if (spec or {}).get("unknown")]
    if unknown:
        out += ["", "Settings the weights cannot reveal: " + "; ".join(unknown)]
    return out + [""]


OBSERVED_COLUMNS = ("case", "path", "runner", "weights", "dtype", "autocast", "steps", "cfg_strength",
                    "sway_sampling_coef", "pe_attn_head", "text_mask_padding", "chunks")


def _observed_table_lines(d: RunReport) -> list[str]:
    """The appendix's: every factor, the flags' prediction beside the observation, and every generation."""
    observed = d.observed_infer
    if not observed or not (observed.factors or observed.runs):
        return []
    lines = ["## What your infer path did, factor by factor", ""]
    if observed.factors:
        rows = [[fid, "-" if f.agrees is None else ("yes" if f.agrees else "**no**"),
                 _Raw("(no flag given)" if f.agrees is None else _cell(f.predicted, MAX_TEXT)),
                 _Raw(_cell(f.observed, MAX_TEXT))] for fid, f in observed.factors.items()]
        lines += _table(("factor", "as predicted", "flags predicted", "your path did"), rows) + [""]
    if observed.runs:
        lines += ["Every generation of the full run, observed:", ""]
        rows = [[r.get(c) for c in OBSERVED_COLUMNS] for r in observed.runs]
        lines += _table(OBSERVED_COLUMNS, rows)
    return lines + [""]


def _observed_summary_lines(d: RunReport) -> list[str]:
    """The first screen's account of the user's path: its failure, or its findings and the mirror check (its
    notes are the run's, under Notes; the factor table is the appendix's)."""
    observed = d.observed_infer
    if not observed:
        return []
    who = f"`{observed.runner}`" + (f" ({observed.target})" if observed.target else "")
    lines = ["## What your infer path really did", ""]
    failure = observed.failure
    if observed.port is not None:
        lines += _port_lines(who, observed.port)
    elif observed.status == "failed" and failure:
        err = failure.error
        lines += [f"{who} **failed before it generated** ({failure.stage}): "
                  f"`{err.get('type')}: {err.get('message')}`" + (f" at {err['where']}" if err.get("where") else ""),
                  "", f"- responsible factor: **{failure.factor}**", f"- fix: {failure.fix}", ""]
    elif observed.factors:
        lines += [f"Observed while {who} ran, at f5-tts's seams (model construction, checkpoint loading, "
                  "`CFM.sample`, `infer_batch_process`, the vocoder). The verdict is judged on what it did; the "
                  "flags are only a prediction (factor by factor: [appendix](#what-your-infer-path-did-factor-by-factor)).",
                  ""]
        if not observed.findings:
            lines += ["No finding: every factor your path used is what the flags predict, or what the trainer side "
                      "is compared with.", ""]
        for finding in observed.findings:
            lines.append(f"- **{finding.factor}**: {finding.message}")
        if observed.findings:
            lines.append("")
        check = observed.mirror_check
        if check:
            grid = check.time_grid
            grid_text = (f"; time grid {'equal' if grid.passed else 'DIFFERENT'} over all "
                         f"{(grid.points or ['?'])[0]} points (max |diff| {_num(grid.max_abs_diff)})"
                         if grid else "")
            lines += [(f"Mirror check: the engine's rebuild of this spec gave the same guided velocity as your "
                       f"path's own model on {check.velocity_from} (the same observed spec, another file); on this "
                       f"file every weight your path loaded equals the engine's{grid_text}."
                       if check.passed and check.velocity_from else
                       "Mirror check: the engine's rebuild of this spec gives the same guided velocity as your "
                       f"path's own model (rel L2 {_num(check.rel_l2)} <= {_num(check.rel_tol)})"
                       f"{grid_text}." if check.passed else
                       f"Mirror check FAILED: the engine's rebuild of this spec differs from your path's own model "
                       f"(rel L2 {_num(check.rel_l2)}{grid_text}; "
                       f"{check.reason or check.note or ''}): "
                       "something your path does is not captured by the factors."), ""]
    return lines + [""]


def _port_lines(who: str, port) -> list[str]:
    """What a runtime port ran: each graph, the F5 stage it computes, and how it compared."""
    compared = {s.extra.get("graph"): s for s in port.stages}
    lines = [f"{who} ran a **runtime port**: it never called `CFM.sample`; each graph it ran through onnxruntime "
             "was recomputed from the checkpoint with the same inputs, on the Trainer's settings.", "",
             "| graph | stage | calls | weights / compute | rel L2 (worst call) | tolerance | result |",
             "|---|---|---|---|---|---|---|"]
    for g in port.graphs:
        name = g.graph.rsplit("/", 1)[-1]
        c = compared.get(name)
        types = ", ".join(f"{k} {v}" for k, v in g.weight_dtypes.items() if not k.startswith("cast to int")) or "-"
        result = "-" if c is None else ("ok" if c.passed else f"**differs**{': ' + c.note if c.note else ''}")
        lines.append(f"| {name} | {g.stage} ({g.how}) | {g.calls} | {types} | "
                     f"{_num(c.rel_l2) if c else '-'} | {_num(c.rel_tol) if c else '-'} | {result} |")
    lines.append("")
    lines += [f"- not compared: {n}" for n in port.not_separated]
    lines += [f"- unexplained: {u}" for u in port.unexplained]
    return lines + [""]


def render_report(report: RunReport) -> str:
    """report.md's text. Only formats what the JSON holds."""
    lines: list[str] = []
    # The first screen: the verdict, the culprits with their evidence and fix, what the path did, what failed.
    for section in (_verdict_lines, _culprit_lines, _observed_summary_lines, _gate_summary_lines, _warning_lines):
        lines += section(report)
    lines += ["Details below, in the [appendix](#appendix): stages, factors, isolation, probes, scores and how to "
              "reproduce this run.", "", "---", "", "# Appendix", ""]
    for section in (_observed_table_lines, _gate_lines, _stage_lines, _factor_lines, _by_design_lines,
                    _isolation_lines, _probe_lines, _score_lines, _artifact_lines, _repro_lines):
        lines += section(report)
    text = "\n".join(lines).rstrip("\n") + "\n"
    return re.sub(r"\n{3,}", "\n\n", text)


def write_report(report: RunReport, out_dir: str | Path) -> Path:
    """Write out_dir/report.md (UTF-8, '\\n' line ends) and return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(out / "report.md", render_report(report))


def strip_timestamp_lines(text: str) -> str:
    """The report without its wall-clock lines: equal for two runs with the same inputs."""
    return "\n".join(line for line in text.split("\n") if not line.startswith(TIMESTAMP_LINE_PREFIXES))


# --- GitHub step summary --------------------------------------------------------------------------

def github_summary(report: RunReport) -> str:
    """A short markdown summary: verdict, culprits with their fixes, the gate table."""
    d = report
    ck = checkpoint_info(d)
    out = [f"### parity-check: {_verdict_word(d.verdict, d.parity_verdict)} — {ck.name}", "",
           f"Parity {d.parity_verdict} ({d.mode} mode); "
           f"culprits: {', '.join(d.culprits or []) or 'none'}", ""]
    for fid in d.culprits or []:
        f = (d.factors or {}).get(fid) or Factor.from_dict({})
        out.append(f"- **{fid}**: trainer {_code(f.train)} vs infer {_code(f.infer)} — "
                   f"fix: {f.fix or 'no fix recorded'}")
    if d.culprits:
        out.append("")
    gate = d.gate
    if gate:
        out += _table(GATE_HEADER, _gate_rows(gate)) + [""]
    return "\n".join(out)


def append_github_summary(report: RunReport, environ: dict[str, str] | None = None) -> Path | None:
    """Append github_summary to $GITHUB_STEP_SUMMARY when it is set; the file's path, else None."""
    target = (environ if environ is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with open(path, "a", encoding="utf-8", newline="\n") as f:
        f.write(github_summary(report) + "\n")
    return path


# --- spectrogram PNGs -----------------------------------------------------------------------------

FIGSIZE = (8.0, 3.0)
DPI = 100
# PNG metadata matplotlib would stamp (its version); None drops it so the bytes depend on the data only.
PNG_METADATA = {"Software": None}


def _as_frames_by_mels(mel: Any) -> "Any":
    import numpy as np

    if hasattr(mel, "detach"):
        mel = mel.detach().float().cpu().numpy()
    arr = np.asarray(mel, dtype=np.float32)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"a mel must be [frames, mels] (F5's layout), got shape {list(arr.shape)}")
    return arr


def _save(fig, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata=PNG_METADATA)
    return write_bytes_atomic(p, buffer.getvalue())


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A bare Figure with the Agg canvas: no pyplot state, no GUI backend, same pixels every time.
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def mel_png(mel: Any, path: str | Path, title: str, *, vmin: float | None = None, vmax: float | None = None) -> Path:
    """A log-mel spectrogram ([frames, mels], or with leading size-1 axes) as a PNG.

    Give the trainer's and the infer side's PNGs one vmin/vmax so their colours compare.
    """
    arr = _as_frames_by_mels(mel)
    fig = _figure()
    ax = fig.add_subplot()
    im = ax.imshow(arr.T, origin="lower", aspect="auto", interpolation="nearest", cmap="magma", vmin=vmin, vmax=vmax)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("frame")
    ax.set_ylabel("mel bin")
    fig.colorbar(im, ax=ax, pad=0.01)
    return _save(fig, path)


def mel_diff_png(a: Any, b: Any, path: str | Path, title: str) -> Path:
    """a - b (trainer minus infer) on a symmetric colour scale; unequal lengths are cut to the shorter."""
    import numpy as np

    x, y = _as_frames_by_mels(a), _as_frames_by_mels(b)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"mels have different bin counts: {x.shape[1]} vs {y.shape[1]}")
    n = min(len(x), len(y))
    diff = x[:n] - y[:n]
    lim = float(np.max(np.abs(diff))) if diff.size else 0.0
    lim = lim if lim > 0 else 1e-6
    label = title if len(x) == len(y) else f"{title} (first {n} frames: lengths {len(x)} vs {len(y)})"
    fig = _figure()
    ax = fig.add_subplot()
    im = ax.imshow(diff.T, origin="lower", aspect="auto", interpolation="nearest", cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_title(label, fontsize=9)
    ax.set_xlabel("frame")
    ax.set_ylabel("mel bin")
    fig.colorbar(im, ax=ax, pad=0.01)
    return _save(fig, path)
