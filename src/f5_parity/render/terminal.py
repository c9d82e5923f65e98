"""Terminal rendering of results (rich). Reads the JSON result; computes nothing itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from f5_parity.parity.result import GateCheck, RunReport
from f5_parity.results import Status
from f5_parity.sweeps.report import SweepReport


def _num(x: Any, fmt: str = ".3g") -> str:
    if isinstance(x, bool) or x is None:
        return "-" if x is None else str(x)
    if isinstance(x, (int, float)):
        return format(x, fmt)
    return str(x)


# What a failed check's value was instead: the negation of the operator it had to satisfy.
_FAILED_OP = {"<=": ">", ">=": "<", "==": "!=", "not in": "in"}


def failed_check_text(c: GateCheck) -> str:
    """A failed gate check as what happened ("wer 1.56 > 1.0"), never as the rule it broke."""
    if c.name == "parity" or c.name.startswith("probe:"):
        return f"{c.name} {c.value}"  # "parity fail", "probe:ckpt.finite error"
    where = ", ".join(x for x in (c.path, c.case) if x)
    where += f" vs {c.against}" if c.against else ""
    where = f" ({where})" if where else ""
    if c.value is None:
        return f"{c.name} not measured{where}: it must be {c.op} {c.threshold}"
    spread = f" [95% interval {_num(c.interval[0])}, {_num(c.interval[1])}]" if c.interval else ""
    return f"{c.name} {_num(c.value)}{spread} {_FAILED_OP.get(c.op, 'fails ' + c.op)} {c.threshold}{where}"


def _value(v: Any) -> str:
    if v is None:
        return "unset"
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _sides(train: Any, infer: Any) -> tuple[str, str]:
    """A factor's two values, reduced to the keys that differ (a model config is 14 keys; 5 of them matter)."""
    if isinstance(train, dict) and isinstance(infer, dict):
        keys = [k for k in dict.fromkeys([*train, *infer]) if train.get(k) != infer.get(k)] or list(train)
        return (", ".join(f"{k}={_value(train.get(k))}" for k in keys),
                ", ".join(f"{k}={_value(infer.get(k))}" for k in keys))
    return _value(train), _value(infer)


def _effect_text(effect: dict[str, Any] | None) -> str:
    """A culprit's effect alone, in words: no bare None."""
    if not effect:
        return "its effect alone was not measured"
    if "rel_l2_departure" in effect:  # a runtime port's stage (ports/judge.py)
        against, trainer = effect["rel_l2_departure"], effect["rel_l2_trainer"]
        if trainer is None:
            return f"at the port's {effect['stage']} graph: {effect['what']}"
        return (f"at the port's {effect['stage']} graph, rel L2 {_num(trainer)} from the checkpoint's" +
                (f", {_num(against)} from this departure recomputed" if against is not None else ""))
    if effect.get("buildable") is False:
        why = effect.get("reason") or effect.get("detail")
        return "it could not be applied alone" + (f" ({why})" if why else "")
    first = effect.get("first_divergence")
    moved = (f"alone it moves the velocity by rel L2 {_num(effect['velocity'])}; "
             if effect.get("velocity") is not None else "alone ")
    return moved + (f"first divergence: {first}" if first else "no stage diverges")


def render_run_summary(data: RunReport, console) -> None:
    """The run's result on the terminal. Every value from the run is escaped: a factor named [text] or a note
    with brackets is printed as written, not taken for rich markup."""
    from rich.markup import escape as e
    from rich.table import Table

    verdict = data.verdict
    colour = "green" if verdict == "pass" else "red"
    culprits = ", ".join(data.culprits) or "none"
    env = data.environment or {}
    if env:  # the first line: which f5-tts was judged (README, "In your own F5 environment")
        trusted = (env.get("f5_tts") or {}).get("trusted")
        console.print(f"[{'bold' if trusted else 'bold yellow'}]f5-tts:[/] {e(str(env['summary']))} | trainer side: "
                      f"{e(str(env.get('trainer_side')))}", highlight=False)
    failed_checks = e("; ".join(failed_check_text(c) for c in data.gate_failures[:5]))
    if data.parity_verdict == "undecided":  # the stages cannot vouch for the path: say why, first
        console.print(f"[bold yellow]NOT DECIDED[/] parity of trainer and infer paths ({data.mode} mode) | culprits: "
                      f"{e(culprits)}" + (f" | gate failed: {failed_checks}" if failed_checks else ""), soft_wrap=True)
        for why in data.undecided:
            console.print(f"  not decided: {e(why)}", highlight=False)
    elif verdict != "pass" and data.parity_verdict == "pass":  # parity held: only the gate failed; name it
        console.print(f"[bold red]FAILED[/] the gate ({data.mode} mode; parity of trainer and infer paths passed) | "
                      f"failed checks: {failed_checks or 'see the report'}", soft_wrap=True)
    else:
        console.print(f"[bold {colour}]{'PASSED' if verdict == 'pass' else 'FAILED'}[/] parity of trainer and infer paths "
                      f"({data.mode} mode) | culprits: {e(culprits)}"
                      + (f" | gate failed: {failed_checks}" if failed_checks else ""), soft_wrap=True)
    for fid in data.culprits:
        f = data.factors[fid]
        train, infer = _sides(f.train, f.infer)
        console.print(f"  [bold]{e(fid)}[/]: train {e(train)} vs infer {e(infer)}; "
                      f"{e(_effect_text(f.effect))}")
        if f.fix:
            console.print(f"    fix: {e(f.fix)}")
    observed = data.observed_infer
    failure = observed.failure if observed else None
    if failure:
        err = failure.error
        console.print(f"  [bold red]your infer path failed[/] ({e(str(failure.stage))}): "
                      f"{e(str(err.get('type')))}: {e(str(err.get('message')))}", highlight=False)
    for finding in observed.findings if observed else []:
        console.print(f"  your path: {e(str(finding.message))}", highlight=False)
    check = observed.mirror_check if observed else None
    if check is not None and check.checked and not check.passed:
        console.print(f"  [yellow]mirror check failed[/]: the engine's rebuild differs from your path's own model "
                      f"(rel L2 {_num(check.rel_l2)}, time grid "
                      f"{'equal' if check.time_grid and check.time_grid.passed else 'different'})")
    for case, comps in data.stages.items():
        if not comps:  # no empty table: say why nothing was compared
            why = data.unbuilt.get(case) or "no stage of this case could be compared"
            console.print(f"case {e(case)}: nothing compared: {e(why)}", highlight=False)
            continue
        table = Table(title=f"stages, case {e(case)} (trainer vs infer on identical inputs)")
        for col in ("stage", "ok", "rel L2", "max |a-b|", "cosine", "SNR dB", "note"):
            table.add_column(col)
        for c in comps:
            table.add_row(e(c.stage), "[green]yes[/]" if c.passed else "[red]no[/]", _num(c.rel_l2),
                          _num(c.max_abs_diff), _num(c.cosine, ".6f"), _num(c.snr_db, ".1f"),
                          e(c.note or (f"{c.mismatched} ids differ" if c.mismatched else "")))
        console.print(table)
    if data.by_design:
        console.print("[bold]by design[/] (differences the two paths have on purpose, measured apart):")
        for d in data.by_design:
            eff = d.effect
            first = eff.get("first_divergence")
            shows = f"first shows at {first}" if first else "shows at no stage"
            console.print(e(f"  {d.factor}.{d.key}: {_value(d.train)} vs {_value(d.infer)} -> {shows}"
                            + (f", velocity rel L2 {_num(eff['velocity'])}" if eff.get("velocity") is not None else "")),
                          highlight=False)
    for w in data.warnings:
        console.print(f"[yellow]warning[/] {e('[' + str(w.factor) + ']')} {e(str(w.case))}: {e(str(w.message))}",
                      highlight=False)
    for n in data.notes:
        console.print(f"[dim]note: {e(str(n))}[/]", highlight=False)
    console.print(f"[dim]tolerance rule: {e(data.tolerance_rule)}[/]", highlight=False)


STATUS_STYLE = {
    Status.PASS: "bold green",
    Status.FAIL: "bold red",
    Status.WARN: "bold yellow",
    Status.INFO: "cyan",
    Status.SKIP: "dim",
    Status.ERROR: "bold magenta",
}


def render_inspect(report, console) -> None:
    from rich.markup import escape
    from rich.table import Table

    ck = report.checkpoint
    console.print(f"[bold]{escape(ck['path'])}[/]  {ck['format']}, {ck['bytes']:,} bytes, sha256 {ck['sha256']}",
                  soft_wrap=True)
    table = Table(show_lines=True, expand=False)
    table.add_column("probe", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("finding", overflow="fold")
    for r in report.results:
        finding = escape(r.summary)
        if r.fix and r.status in (Status.FAIL, Status.WARN, Status.ERROR, Status.INFO):
            finding += f"\n[bold]fix:[/] {escape(r.fix)}"
        table.add_row(r.probe, f"[{STATUS_STYLE[r.status]}]{r.status.value.upper()}[/]", finding)
    console.print(table)
    for b in report.broken_probes:
        console.print(f"[magenta]probe module failed to import:[/] {escape(b['module'])}: {escape(b['reason'])}")
    counts = {s: sum(r.status == s for r in report.results) for s in Status}
    line = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    verdict = "[bold red]FAILED[/]" if report.failed else "[bold green]PASSED[/]"
    console.print(f"{verdict} ({line})")


def render_sweep_summary(report: SweepReport, console, out: Path) -> None:
    """A sweep in a few lines: a row per checkpoint, the first break, the recommendation, the gate, the report."""
    from rich.markup import escape  # check names hold brackets (cer[infer]) that rich would eat

    for c in report.checkpoints:
        culprits = ", ".join(c.culprits or [f.name for f in c.failed_checks if f.name != "parity"])
        ema = c.ema.rel_l2 if c.ema else None
        console.print(escape(f"{c.name:<28} update {str(c.update):>8}  {c.verdict:<7} "
                             f"EMA-raw {ema if ema is not None else '-'}  {culprits}"))
    rec = report.recommendation
    for b in report.parity_breaks[:1] + report.check_failures[:1]:
        what = "parity first breaks" if b.kind == "parity" else "a check first fails"
        console.print(escape(f"{what} at {b.checkpoint} (update {b.update if b.update is not None else '-'}):"
                             f" {', '.join(b.culprits)}"))
    if report.quality_break:
        qb = report.quality_break
        console.print(escape(f"quality breaks at {qb.checkpoint} ({qb.weights}): flow loss "
                             f"{qb.value['mean']} vs {qb.best_before['value']['mean']} at "
                             f"{qb.best_before['checkpoint']}"))
    if rec:
        console.print(escape(f"recommended: {rec.checkpoint} with the {rec.weights} weights — {rec.reason}"))
    else:
        console.print(escape(f"no checkpoint to recommend: {report.no_recommendation}"))
    e = report.execution
    console.print(f"gate {report.gate.mode}: {'PASS' if report.passed else 'FAIL'} "
                  + escape(f"(it judges {report.gate.judges})") + f"  ({e.get('units_computed')} units "
                  f"computed, {e.get('units_from_cache')} cached, {e.get('processes')} process(es))")
    if report.gate.condition:
        console.print(f"[bold yellow]{escape(report.gate.condition)}[/]")
    for note in report.notes:
        console.print(escape(f"note: {note}"), highlight=False)
    console.print(f"report: {out / 'sweep.md'}")
