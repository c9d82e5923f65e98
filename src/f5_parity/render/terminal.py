"""Terminal rendering of results (rich). Reads the JSON result; computes nothing itself."""

from __future__ import annotations

from typing import Any

from f5_parity.parity.result import RunReport
from f5_parity.results import Status


def _num(x: Any, fmt: str = ".3g") -> str:
    if isinstance(x, bool) or x is None:
        return "-" if x is None else str(x)
    if isinstance(x, (int, float)):
        return format(x, fmt)
    return str(x)


def render_run_summary(data: RunReport, console) -> None:
    from rich.table import Table

    verdict = data.verdict
    colour = "green" if verdict == "pass" else "red"
    culprits = ", ".join(data.culprits) or "none"
    env = data.environment or {}
    if env:
        trusted = (env.get("f5_tts") or {}).get("trusted")
        console.print(f"[{'bold' if trusted else 'bold yellow'}]f5-tts:[/] {env['summary']} | trainer side: "
                      f"{env.get('trainer_side')}", highlight=False)
    failed_checks = "; ".join(f"{c.get('name')} {_num(c.get('value'))} {c.get('op')} {c.get('threshold')}"
                              for c in data.gate_failures[:5])
    if verdict != "pass" and data.parity_verdict == "pass":  # parity held: only the gate failed; name it
        console.print(f"[bold red]FAILED[/] the gate ({data.mode} mode; parity of trainer and infer paths passed) | "
                      f"failed checks: {failed_checks or 'see the report'}")
    else:
        console.print(f"[bold {colour}]{'PASSED' if verdict == 'pass' else 'FAILED'}[/] parity of trainer and infer paths "
                      f"({data.mode} mode) | culprits: {culprits}"
                      + (f" | gate failed: {failed_checks}" if failed_checks else ""))
    for fid in data.culprits:
        f = data.factors[fid]
        eff = f.get("effect") or {}
        console.print(f"  [bold]{fid}[/]: train {f['train']} vs infer {f['infer']}; alone it moves the velocity by "
                      f"rel L2 {_num(eff.get('velocity'))} (first divergence: {eff.get('first_divergence')})")
        console.print(f"    fix: {f['fix']}")
    observed = data.observed_infer or {}
    failure = observed.get("failure")
    if failure:
        err = failure.get("error") or {}
        console.print(f"  your infer path failed ({failure.get('stage')}): {err.get('type')}: "
                      f"{err.get('message')}", highlight=False, markup=False)
    for finding in observed.get("findings") or []:
        console.print(f"  your path: {finding['message']}", highlight=False, markup=False)
    check = observed.get("mirror_check") or {}
    if check.get("checked") and not check.get("passed"):
        console.print(f"  [yellow]mirror check failed[/]: the engine's rebuild differs from your path's own model "
                      f"(rel L2 {_num(check.get('rel_l2'))}, time grid "
                      f"{'equal' if (check.get('time_grid') or {}).get('passed') else 'different'})")
    for case, comps in data.stages.items():
        table = Table(title=f"stages, case {case} (trainer vs infer on identical inputs)")
        for col in ("stage", "ok", "rel L2", "max |a-b|", "cosine", "SNR dB", "note"):
            table.add_column(col)
        for c in comps:
            table.add_row(c.stage, "[green]yes[/]" if c.passed else "[red]no[/]", _num(c.rel_l2),
                          _num(c.max_abs_diff), _num(c.cosine, ".6f"), _num(c.snr_db, ".1f"),
                          c.note or (f"{c.mismatched} ids differ" if c.mismatched else ""))
        console.print(table)
    if data.by_design:
        console.print("[bold]by design[/] (differences the two paths have on purpose, measured apart):")
        for d in data.by_design:
            eff = d["effect"]
            console.print(f"  {d['factor']}.{d['key']}: {d['train']} vs {d['infer']} -> first shows at "
                          f"{eff.get('first_divergence')}" + (f", velocity rel L2 {_num(eff['velocity'])}"
                                                               if "velocity" in eff else ""))
    for w in data.warnings:
        console.print(f"[yellow]warning[/] [{w['factor']}] {w['case']}: {w['message']}")
    for n in data.notes:
        console.print(f"[dim]note: {n}[/]")
    console.print(f"[dim]tolerance rule: {data.tolerance_rule}[/]")


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
