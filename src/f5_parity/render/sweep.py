"""Every file of a sweep, rendered from its SweepReport: sweep.md, the curve PNGs, the JUnit file.

Nothing here recomputes a number: the table, the plots (CER and similarity vs update for the trainer and
infer paths, each weight set; EMA-vs-raw distance vs update), the recommendation and the first bad
update are all read off sweep.json's data.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from f5_parity.files import write_text_atomic
from f5_parity.parity.sweep_report import SCORED_PATHS, SweepReport

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


def _numbered(report: SweepReport) -> list[dict[str, Any]]:
    return [c for c in report.checkpoints if c.get("update") is not None and c.get("status") == "done"]


def _mark_break(ax, report: SweepReport) -> None:
    first = report.first_bad
    if first and first.get("update") is not None:
        ax.axvline(first["update"], color="tab:red", linewidth=1, linestyle=":")
        ax.annotate(f"parity breaks ({', '.join(first['culprits'])})", (first["update"], 1), xycoords=("data", "axes fraction"),
                    fontsize=7, color="tab:red", ha="left", va="top")


def score_curve_png(report: SweepReport, metric: str, path: Path) -> Path | None:
    """`metric` (cer, similarity, wer) vs update, a line per path and weight set."""
    rows = _numbered(report)
    series: dict[str, list[tuple[int, float]]] = {}
    for c in rows:
        for key, s in (c.get("scores") or {}).items():
            if isinstance(s.get(metric), (int, float)):
                series.setdefault(key, []).append((c["update"], s[metric]))
    if not series:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    for key in sorted(series):
        p, w = key.split("/")
        xs, ys = zip(*sorted(series[key]))
        ax.plot(xs, ys, _STYLE.get(p, "-"), marker=_MARK.get(w, "o"), markersize=4, label=f"{p} ({w})")
    ax.set_xlabel("update")
    ax.set_ylabel({"cer": "CER (pooled)", "wer": "WER (pooled)", "similarity": "similarity (0-100)"}[metric])
    ax.set_title(f"{metric.upper() if metric != 'similarity' else 'similarity'} vs update")
    _mark_break(ax, report)
    ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata=PNG_METADATA)
    return path


def ema_curve_png(report: SweepReport, path: Path) -> Path | None:
    points = [(c["update"], c["ema"]["rel_l2"]) for c in _numbered(report)
              if isinstance((c.get("ema") or {}).get("rel_l2"), (int, float))]
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


def _score_cell(c: dict[str, Any], key: str) -> str:
    s = (c.get("scores") or {}).get(key)
    if not s:
        return "-"
    if not s.get("n"):
        return "error"
    return f"{_num(s.get('cer'))} / {_num(s.get('similarity'), '.0f')}"


def render_markdown(report: SweepReport, pngs: dict[str, Path], out_dir: Path) -> str:
    lines = [f"# Sweep: {len(report.checkpoints)} checkpoint(s) — gate `{report.gate.get('mode')}` "
             f"**{report.verdict.upper()}**", ""]
    rec = report.recommendation
    if rec:
        lines += [f"**Ship `{rec['checkpoint']}`** (update {rec['update'] if rec['update'] is not None else '?'}) with "
                  f"the **{rec['weights']}** weights (`use_ema={rec['use_ema']}`): {rec['reason']}.", ""]
    else:
        lines += ["**No checkpoint to recommend**: parity breaks in every one (see the table).", ""]
    first = report.first_bad
    if first:
        where = f"update {first['update']}" if first["update"] is not None else first["checkpoint"]
        after = f" (after `{first['after']}`, which passes)" if first.get("after") else " (the oldest checkpoint)"
        lines.append(f"**Parity first breaks at {where}** — `{first['checkpoint']}`{after}; culprit: "
                     f"**{', '.join(first['culprits']) or 'unknown'}**.")
        for fix in first.get("fixes") or []:
            lines.append(f"- fix: {fix}")
        if len(report.breaks) > 1:
            lines.append(f"- parity broke {len(report.breaks)} times: "
                         + ", ".join(f"{b['checkpoint']} ({', '.join(b['culprits'])})" for b in report.breaks))
        lines.append("")
    else:
        lines += ["Parity holds in every checkpoint.", ""]

    full = report.settings.get("mode") == "full"
    keys = sorted({k for c in report.checkpoints for k in (c.get("scores") or {})},
                  key=lambda k: (SCORED_PATHS.index(k.split("/")[0]) if k.split("/")[0] in SCORED_PATHS else 9, k))
    head = ["checkpoint", "update", "verdict", "culprits", "EMA-raw dist.", "velocity rel. L2"]
    head += [f"{k} CER / sim." for k in keys] if full else []
    lines += ["## Checkpoints (oldest first)", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in report.checkpoints:
        culprits = ", ".join(c.get("culprits") or [f["name"] for f in c.get("failed_checks") or []
                                                   if f["name"] != "parity"]) or "-"
        if c.get("status") == "error":
            culprits = f"error: {c.get('error')}"
        name = f"[`{c['name']}`]({c['run']})" if c.get("run") and (out_dir / c["run"]).exists() else f"`{c['name']}`"
        if rec and rec["checkpoint"] == c["name"]:
            name += " ⭐"
        cells = [name, str(c["update"]) if c.get("update") is not None else "-", c.get("verdict", "-"), culprits,
                 _num((c.get("ema") or {}).get("rel_l2"), ".4f"), _num(c.get("velocity_rel_l2"), ".2e")]
        cells += [_score_cell(c, k) for k in keys] if full else []
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines.append("")
    if pngs:
        lines += ["## Curves", ""]
        for name, p in pngs.items():
            lines += [f"![{name}]({p.relative_to(out_dir).as_posix()})", ""]
    checks = report.gate.get("checks") or []
    lines += [f"## Gate `{report.gate.get('mode')}`", "",
              "best: a checkpoint where parity holds exists (the recommended one); all: every checkpoint passes; "
              "last: the newest passes.", ""]
    for ch in checks:
        lines.append(f"- {'PASS' if ch['passed'] else 'FAIL'} `{ch.get('checkpoint')}` ({ch.get('verdict')})"
                     + (f": {ch['reason']}" if ch.get("reason") else ""))
    s = report.settings
    lines += ["", "## Settings", "", f"- mode {s.get('mode')}, seeds {s.get('seeds')}, weight sets "
              f"{s.get('weight_sets')}, infer path `{(s.get('infer_runner') or {}).get('kind')}` with the "
              f"**{((s.get('infer') or {}).get('weights') or {}).get('set')}** weights",
              f"- settings digest `{str(s.get('digest'))[:16]}` (the cache key with each checkpoint's sha256 and "
              f"f5-parity {s.get('tool_version')})",
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
        tc = ET.SubElement(suite, "testcase", classname="sweep.checkpoint", name=c["name"], time="0")
        if c.get("verdict") != "pass":
            failures += 1
            culprits = ", ".join(c.get("culprits") or [f["name"] for f in c.get("failed_checks") or []]) or c.get(
                "error") or c.get("verdict")
            el = ET.SubElement(tc, "failure", message=f"update {c.get('update')}: {culprits}", type="parity")
            el.text = "\n".join([*(c.get("fixes") or {}).values(), *[f"{f['name']}: {f['summary']}"
                                                                     for f in c.get("failed_checks") or []]])
    tc = ET.SubElement(suite, "testcase", classname="sweep", name=f"gate[{report.gate.get('mode')}]", time="0")
    if not report.passed:
        failures += 1
        ET.SubElement(tc, "failure", message=f"gate {report.gate.get('mode')} failed", type="gate")
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
    for metric in ("cer", "similarity"):
        p = score_curve_png(report, metric, out / "plots" / f"{metric}_vs_update.png")
        if p:
            pngs[f"{metric} vs update"] = p
    p = ema_curve_png(report, out / "plots" / "ema_distance_vs_update.png")
    if p:
        pngs["EMA-raw distance vs update"] = p
    md = write_text_atomic(out / "sweep.md", render_markdown(report, pngs, out))
    return SweepFiles(md, pngs, write_junit_sweep(report, junit) if junit else None)
