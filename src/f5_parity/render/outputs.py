"""Every file of a run, rendered from its RunReport: run.json, report.md, mel PNGs, JUnit, step summary."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from f5_parity.files import write_json_atomic
from f5_parity.parity.result import RunReport
from f5_parity.render.junit import write_junit
from f5_parity.render.markdown import append_github_summary, mel_diff_png, mel_png, write_report


@dataclass
class RunFiles:
    json_path: Path
    report: Path
    junit: Path | None


def draw_mels(report: RunReport, out_dir: Path) -> None:
    """The trainer/infer/diff PNGs of each case, from the mel data the run saved (artifacts["mels"])."""
    import numpy as np

    mels = report.artifacts.get("mels") or {}
    for case in report.first_divergence:
        if f"{case}_trainer" not in mels or f"{case}_infer" not in mels:
            continue
        a = np.load(out_dir / mels[f"{case}_trainer"])
        b = np.load(out_dir / mels[f"{case}_infer"])
        for name, draw in ((f"{case}_trainer", lambda p: mel_png(a, p, f"{case}: trainer path (final mel)")),
                           (f"{case}_infer", lambda p: mel_png(b, p, f"{case}: infer path, aligned inputs")),
                           (f"{case}_diff", lambda p: mel_diff_png(a, b, p, f"{case}: infer - trainer"))):
            path = out_dir / "mels" / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            draw(path)
            report.artifacts["pngs"][name] = str(path.relative_to(out_dir))


def write_run_files(report: RunReport, out_dir: str | Path, *, json_path: str | Path | None = None,
                    junit: str | Path | None = None) -> RunFiles:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    draw_mels(report, out)
    data = report.to_json()
    main_json = out / "run.json"
    write_json_atomic(main_json, data)
    if json_path and Path(json_path).resolve() != main_json.resolve():
        write_json_atomic(json_path, data)
    md = write_report(report, out)
    if junit:
        write_junit(report, junit)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        append_github_summary(report)
    return RunFiles(Path(json_path) if json_path else main_json, md, Path(junit) if junit else None)
