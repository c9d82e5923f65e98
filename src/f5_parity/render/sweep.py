"""Every file of a sweep, rendered from its SweepReport: sweep.md, the curve PNGs, the JUnit file.

Nothing here recomputes a number: the table, the plots (flow-matching loss vs update per weight set; CER and
similarity vs update for the trainer and infer paths, each weight set; EMA-vs-raw distance vs update), the
recommendation, the quality break and the parity breaks are all read off sweep.json's data.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from f5_parity.files import write_text_atomic
from f5_parity.sweeps.report import RUN_PROBES, SCORED_PATHS, Break, CheckpointResult, SweepReport, failure_kind

DPI, FIGSIZE = 100, (7.0, 3.6)
PNG_METADATA = {"Software": None}  # no matplotlib version stamp: the bytes depend on the data only
_STYLE = {"trainer-heldout": "-", "infer": "--"}
_MARK = {"raw": "o", "ema": "s", "as-run": "^"}


@dataclass
class SweepFiles:
    markdown: Path
    pngs: dict[str, Path]
    junit: Path | None


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _numbered(report: SweepReport) -> list[CheckpointResult]:
    return [c for c in report.checkpoints if c.update is not None and c.status == "done"]


def _mark_break(ax, report: SweepReport) -> None:
    """The judgements on a curve: the first parity break (red), the quality break (orange), the recommended
    checkpoint (green)."""
    first = report.parity_breaks[0] if report.parity_breaks else None
    if first and first.update is not None:
        ax.axvline(first.update, color="tab:red", linewidth=1, linestyle=":")
        ax.annotate(f"parity breaks ({', '.join(first.culprits)})", (first.update, 1),
                    xycoords=("data", "axes fraction"), fontsize=7, color="tab:red", ha="left", va="top")
    qb = report.quality_break
    if qb and qb.update is not None:
        ax.axvline(qb.update, color="tab:orange", linewidth=1, linestyle="--")
        ax.annotate(f"quality break ({qb.weights})", (qb.update, 0.92), xycoords=("data", "axes fraction"),
                    fontsize=7, color="tab:orange", ha="left", va="top")
    rec = report.recommendation
    if rec and rec.update is not None:
        ax.axvline(rec.update, color="tab:green", linewidth=1, linestyle="-", alpha=0.6)
        ax.annotate(f"ship ({rec.weights})", (rec.update, 0.84), xycoords=("data", "axes fraction"),
                    fontsize=7, color="tab:green", ha="left", va="top")


def flow_loss_png(report: SweepReport, path: Path) -> Path | None:
    """The flow-matching loss (mean and 95 % interval) vs update, a line per weight set and split."""
    series: dict[tuple[str, str], list[tuple[int, float, float, float]]] = {}
    for c in _numbered(report):
        for weights, per in (c.quality.sets if c.quality else {}).items():
            for split in ("fit", "held-out"):
                v = per.get(split)
                if v and all(isinstance(v.get(k), (int, float)) for k in ("mean", "lo", "hi")):
                    series.setdefault((weights, split), []).append((c.update, v["mean"], v["lo"], v["hi"]))
    log = report.training_log or {}
    if not series and not log.get("series"):
        return None
    fig = _figure()
    ax = fig.add_subplot()
    if log.get("series"):  # F5's own per-batch loss, on its own axis: noisy and unpaired, drawn, never judged
        steps, values = zip(*log["series"])
        twin = ax.twinx()
        twin.plot(steps, values, "-", color="tab:gray", linewidth=0.6, alpha=0.6, label="training loss (F5's log)")
        twin.set_ylabel("training loss (per batch, F5's tensorboard log)", color="tab:gray", fontsize=7)
        twin.tick_params(axis="y", labelcolor="tab:gray", labelsize=7)
        twin.legend(fontsize=7, loc="upper right")
    colors = {"raw": "tab:blue", "ema": "tab:purple"}
    for (weights, split) in sorted(series):
        pts = sorted(series[(weights, split)])
        xs, ms, los, his = zip(*pts)
        style = "-" if split == "held-out" or not any(k[1] == "held-out" for k in series) else "--"
        ax.plot(xs, ms, style, marker=_MARK.get(weights, "o"), markersize=4, color=colors.get(weights),
                label=f"{weights} ({split})")
        ax.fill_between(xs, los, his, color=colors.get(weights), alpha=0.15, linewidth=0)
    ax.set_xlabel("update")
    ax.set_ylabel("flow-matching loss")
    ax.set_title("flow-matching loss vs update (fixed draws, 95% interval)")
    _mark_break(ax, report)
    if series:
        ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata=PNG_METADATA)
    return path


def _training_log_lines(report: SweepReport) -> list[str]:
    log = report.training_log
    if not log:
        return []
    if log.get("error"):
        return [f"Training loss: F5's log at `{log['source']}` was not drawn: {log['error']}.", ""]
    at = log.get("at_checkpoints") or {}
    per = "; ".join(f"{u}: {_num(v['mean'])} over updates {v['from']}-{v['to']}" for u, v in at.items())
    lines = [f"Training loss (F5's own tensorboard log, `{log['source']}`, {log['updates']} updates, "
             f"{log.get('tool')}): the per-batch loss the Trainer logged, drawn beside the flow loss; it is not "
             "judged (each batch has its own clips and draws). Mean since the previous save, per checkpoint: "
             + (per or "no logged update before the saves") + "."]
    return lines + ([f"- {log['note']}"] if log.get("note") else []) + [""]


def score_curve_png(report: SweepReport, metric: str, path: Path) -> Path | None:
    """`metric` (cer, similarity, wer, mcd, speaker_similarity) vs update, a line per path and weight set: the
    mean over seeds with its 95 % interval where there are several seeds, else the pooled value."""
    rows = _numbered(report)
    series: dict[str, list[tuple[int, float, float | None, float | None]]] = {}
    for c in rows:
        for key, s in (c.scores or {}).items():
            spread = (s.get("over_seeds") or {}).get(metric) or {}
            if isinstance(spread.get("mean"), (int, float)):
                series.setdefault(key, []).append((c.update, spread["mean"], spread.get("lo"), spread.get("hi")))
            elif isinstance(s.get(metric), (int, float)):
                series.setdefault(key, []).append((c.update, s[metric], None, None))
    if not series:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    for key in sorted(series):
        p, w = key.split("/")
        pts = sorted(series[key])
        xs, ys = [x[0] for x in pts], [x[1] for x in pts]
        line, = ax.plot(xs, ys, _STYLE.get(p, "-"), marker=_MARK.get(w, "o"), markersize=4, label=f"{p} ({w})")
        band = [(x, lo, hi) for x, _, lo, hi in pts if isinstance(lo, (int, float)) and isinstance(hi, (int, float))]
        if len(band) == len(pts) and band:
            ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band],
                            color=line.get_color(), alpha=0.12, linewidth=0)
    ax.set_xlabel("update")
    ax.set_ylabel({"cer": "CER (pooled)", "wer": "WER (pooled)", "similarity": "similarity (0-100)",
                   "mcd": "MCD-DTW to the held-out clip (dB)",
                   "speaker_similarity": "speaker similarity to the reference"}[metric])
    ax.set_title(f"{metric.upper() if metric != 'similarity' else 'similarity'} vs update")
    _mark_break(ax, report)
    ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata=PNG_METADATA)
    return path


def ema_curve_png(report: SweepReport, path: Path) -> Path | None:
    points = [(c.update, c.ema.rel_l2) for c in _numbered(report) if c.ema and isinstance(c.ema.rel_l2, (int, float))]
    if not points:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    xs, ys = zip(*sorted(points))
    ax.plot(xs, ys, "-o", markersize=4, color="tab:purple")
    ax.set_xlabel("update")
    ax.set_ylabel("||EMA - raw|| / ||raw||")
    ax.set_title("EMA vs raw weights: relative L2 distance")
    _mark_break(ax, report)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata=PNG_METADATA)
    return path


def _num(x: Any, fmt: str = ".3f") -> str:
    return format(x, fmt) if isinstance(x, (int, float)) and not isinstance(x, bool) else "-"


def _score_cell(c: CheckpointResult, key: str) -> str:
    s = (c.scores or {}).get(key)
    if not s:
        return "-"
    if not s.get("n"):
        return "error"
    cer = (s.get("over_seeds") or {}).get("cer") or {}
    if isinstance(cer.get("lo"), (int, float)):  # several seeds: the mean and its interval over them
        text = f"{_num(cer.get('mean'))} [{_num(cer['lo'])}, {_num(cer.get('hi'))}]"
    else:
        text = _num(s.get("cer"))
    return f"{text} / {_num(s.get('similarity'), '.0f')}"


def _loss(v: dict[str, Any] | None) -> str:
    """A flow-loss summary as `mean [lo, hi]`."""
    if not v or not isinstance(v.get("mean"), (int, float)):
        return "-"
    return f"{v['mean']:.4g} [{_num(v.get('lo'), '.4g')}, {_num(v.get('hi'), '.4g')}]"


def _where(entry: Break | Any) -> str:
    """Where a break is: its update, else its file (a Break, a QualityBreak, or the best-before record)."""
    update, checkpoint = ((entry.get("update"), entry.get("checkpoint")) if isinstance(entry, dict)
                          else (entry.update, entry.checkpoint))
    return f"update {update}" if update is not None else f"`{checkpoint}`"


def _parity_culprits(c: CheckpointResult) -> str:
    if c.status == "error":
        return f"error: {c.error or 'unreadable'}"
    return ", ".join(c.culprits) or "-"


def _failed_checks(c: CheckpointResult) -> str:
    """Failed checks apart from the parity result (the parity summary and the run group's probes restate it):
    probes of the file and load path, and (full mode) score thresholds, marked as such."""
    names = [f"{f.name} (score gate)" if f.kind == "score" else f.name
             for f in c.failed_checks if f.name != "parity" and not f.name.startswith(RUN_PROBES)]
    return ", ".join(names) or "-"


def _judgement_lines(report: SweepReport) -> list[str]:
    lines = []
    rec = report.recommendation
    if rec:
        update = f"update {rec.update}" if rec.update is not None else "no update number"
        lines += [f"**Ship `{rec.checkpoint}`** ({update}) with the **{rec.weights}** weights "
                  f"(`use_ema={rec.use_ema}`): {rec.reason}."]
        if rec.load:
            lines.append(f"- how to load it: {rec.load}")
        if rec.tied:
            lines.append("- tied with it (the paired interval of the difference holds 0): "
                         + ", ".join(f"`{t['checkpoint']}` ({t['weights']}, difference "
                                     f"{_loss(t.get('difference'))})" for t in rec.tied))
    else:
        lines.append(f"**No checkpoint to recommend**: {report.no_recommendation or 'nothing could be judged'}.")
    lines.append("")
    qb = report.quality_break
    if qb:
        best = qb.best_before
        lines += [f"**Quality breaks at {_where(qb)}** (`{qb.checkpoint}`, {qb.weights} weights): "
                  f"{qb.computed_on} flow-matching loss {_loss(qb.value)}, against the best before it "
                  f"{_loss(best['value'])} at {_where(best)} (paired difference {_loss(qb.difference)}).", ""]
    elif any(v is None for v in report.quality_breaks.values()) or report.quality_breaks:
        lines += ["No quality break: no save is worse than the best before it beyond the paired interval"
                  + (f" ({rec.weights} weights)." if rec else "."), ""]
    for weights, other in sorted(report.quality_breaks.items()):
        if other and (not qb or other.weights != qb.weights):
            lines.append(f"- the {weights} weights break at {_where(other)}: loss {_loss(other.value)} "
                         f"against {_loss(other.best_before['value'])} at {_where(other.best_before)}")
    if report.parity_breaks:
        first = report.parity_breaks[0]
        after = f" (after `{first.after}`, which passes)" if first.after else " (the oldest checkpoint)"
        lines.append(f"**Parity first breaks at {_where(first)}** — `{first.checkpoint}`{after}; culprit: "
                     f"**{', '.join(first.culprits) or 'unknown'}**.")
        lines += [f"- fix: {fix}" for fix in first.fixes]
        if len(report.parity_breaks) > 1:
            lines.append(f"- parity broke {len(report.parity_breaks)} times: "
                         + ", ".join(f"{b.checkpoint} ({', '.join(b.culprits)})" for b in report.parity_breaks))
    else:
        lines.append("Parity holds in every checkpoint with a verdict (a failing check is not a parity break).")
    lines.append("")
    for f in report.check_failures:
        what = "a check fails" if f.kind == "probe" else "the file or its verdict could not be read"
        lines.append(f"**From {_where(f)}, {what}** — `{f.checkpoint}`: {', '.join(f.culprits) or 'unknown'} "
                     f"(not a parity break).")
        lines += [f"- fix: {fix}" for fix in f.fixes]
    if report.check_failures:
        lines.append("")
    return lines


def render_markdown(report: SweepReport, pngs: dict[str, Path], out_dir: Path) -> str:
    gate = report.gate
    lines = [f"# Sweep: {len(report.checkpoints)} checkpoint(s) — gate `{gate.mode}` **{report.verdict.upper()}**",
             ""]
    if gate.judges:
        lines += [f"The gate `{gate.mode}` judges {gate.judges}." + (f" **{gate.condition}.**" if gate.condition
                                                                     else ""), ""]
    lines += _judgement_lines(report)
    rec = report.recommendation
    full = report.settings.get("mode") == "full"
    split = (rec.computed_on if rec else None) or next(
        (split for c in report.checkpoints for per in (c.quality.sets if c.quality else {}).values()
         for split in ("held-out", "fit") if per.get(split)), "fit")
    keys = sorted({k for c in report.checkpoints for k in (c.scores or {})},
                  key=lambda k: (SCORED_PATHS.index(k.split("/")[0]) if k.split("/")[0] in SCORED_PATHS else 9, k))
    head = ["checkpoint", "update", "verdict", "parity culprits", "failed checks",
            f"flow loss raw ({split})", f"flow loss EMA ({split})", "EMA-raw dist.", "velocity rel. L2"]
    head += [f"{k} CER / sim." for k in keys] if full else []
    lines += ["## Checkpoints (oldest first)", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in report.checkpoints:
        name = f"[`{c.name}`]({c.run})" if c.run and (out_dir / c.run).exists() else f"`{c.name}`"
        if rec and rec.checkpoint == c.name:
            name += " ⭐"
        sets = c.quality.sets if c.quality else {}
        cells = [name, str(c.update) if c.update is not None else "-", c.verdict or "-",
                 _parity_culprits(c), _failed_checks(c), _loss((sets.get("raw") or {}).get(split)),
                 _loss((sets.get("ema") or {}).get(split)), _num(c.ema.rel_l2 if c.ema else None, ".4f"),
                 _num(c.velocity_rel_l2, ".2e")]
        cells += [_score_cell(c, k) for k in keys] if full else []
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += ["", "Flow loss: the conditional flow-matching loss f5-tts's CFM.forward computes (what training "
              "minimises), eval mode, the same seeded draws for every checkpoint and weight set; mean and 95% "
              "interval over draws x clips. `fit`: the reference clips; `held-out`: the clips given with "
              "--held-out. Lower is better.", ""]
    if full:
        lines += ["Scores: the held-out text generated per path and weight set, CER pooled over the cases and "
                  "similarity (0-100); with several seeds, the mean [95% interval] over seeds. MCD (to the case's "
                  "held-out clip, where it has one) and speaker similarity (to the reference) are in sweep.json "
                  "(`over_seeds`) and plots/.", ""]
    lines += _training_log_lines(report)
    if pngs:
        lines += ["## Curves", ""]
        for name, p in pngs.items():
            lines += [f"![{name}]({p.relative_to(out_dir).as_posix()})", ""]
    lines += [f"## Gate `{gate.mode}`", "",
              "best: there is a checkpoint to recommend; all: every checkpoint passes; last: the newest passes.", ""]
    for ch in gate.checks:
        what = (f"`{ch.checkpoint}` (your path's verdict there: {ch.verdict or '-'})" if ch.checkpoint
                else "no checkpoint")
        lines.append(f"- {'PASS' if ch.passed else 'FAIL'} {what}" + (f": {ch.reason}" if ch.reason else ""))
    s = report.settings
    q = s.get("quality") or {}
    seeds = s.get("seeds") or []
    seed_text = f"seeds {seeds}" if s.get("mode") == "full" else f"seed {seeds[0] if seeds else '-'} (fast mode: one draw)"
    lines += ["", "## Settings", "", f"- mode {s.get('mode')}, {seed_text}, weight sets "
              f"{s.get('weight_sets')}, infer path `{(s.get('infer_runner') or {}).get('kind')}` with the "
              f"**{((s.get('infer') or {}).get('weights') or {}).get('set')}** weights",
              f"- quality signal: flow-matching loss, {q.get('draws')} draws per clip from seed {q.get('seed')}, "
              f"{len(s.get('cases') or [])} reference clip(s), {len(q.get('held_out') or [])} held-out clip(s)",
              f"- settings digest `{str(s.get('digest'))[:16]}` (the cache key with each checkpoint's sha256, "
              f"f5-parity {s.get('tool_version')} and the f5-tts code identity)",
              f"- cases: {', '.join(c['name'] for c in s.get('cases') or [])}"]
    lines += [f"- note: {n}" for n in report.notes]
    e = report.execution
    lines += ["", f"_{e.get('processes')} process(es); {e.get('units_computed')} work unit(s) computed, "
              f"{e.get('units_from_cache')} read from the cache; {e.get('seconds')} s._", ""]
    return "\n".join(lines)


def write_junit_sweep(report: SweepReport, path: str | Path) -> Path:
    """A testcase per checkpoint (failure: its culprits and fixes) and one for the gate."""
    suite = ET.Element("testsuite", name="parity-check-sweep")
    failures = 0
    for c in report.checkpoints:
        tc = ET.SubElement(suite, "testcase", classname="sweep.checkpoint", name=c.name, time="0")
        if c.status == "pending":  # not computed yet (an interrupted sweep): not a failure
            ET.SubElement(tc, "skipped", message="pending: not computed yet")
        elif c.verdict != "pass":
            failures += 1
            kind = failure_kind(c) or "score"  # no parity/probe/error failure left: a score threshold failed
            culprits = ", ".join(c.culprits or [f.name for f in c.failed_checks]) or c.error or c.verdict
            update = c.update if c.update is not None else "-"
            el = ET.SubElement(tc, "failure", message=f"update {update}: {culprits}", type=kind)
            el.text = "\n".join([*c.fixes.values(), *[f"{f.name}: {f.summary}" for f in c.failed_checks]])
    tc = ET.SubElement(suite, "testcase", classname="sweep", name=f"gate[{report.gate.mode}]", time="0")
    if not report.passed:
        failures += 1
        ET.SubElement(tc, "failure", message=f"gate {report.gate.mode} failed", type="gate")
    suite.set("tests", str(len(report.checkpoints) + 1))
    suite.set("failures", str(failures))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    p = Path(path)
    write_text_atomic(p, ET.tostring(root, encoding="unicode") + "\n")
    return p


def write_sweep_files(report: SweepReport, out_dir: str | Path, *, junit: str | Path | None = None) -> SweepFiles:
    """sweep.md and its PNGs (sweep.json is the engine's, written atomically after every round)."""
    out = Path(out_dir)
    pngs: dict[str, Path] = {}
    for metric in ("cer", "similarity", "mcd", "speaker_similarity"):
        p = score_curve_png(report, metric, out / "plots" / f"{metric}_vs_update.png")
        if p:
            pngs[f"{metric} vs update"] = p
    p = flow_loss_png(report, out / "plots" / "flow_loss_vs_update.png")
    if p:
        pngs["flow-matching loss vs update"] = p
    p = ema_curve_png(report, out / "plots" / "ema_distance_vs_update.png")
    if p:
        pngs["EMA-raw distance vs update"] = p
    md = write_text_atomic(out / "sweep.md", render_markdown(report, pngs, out))
    return SweepFiles(md, pngs, write_junit_sweep(report, junit) if junit else None)
