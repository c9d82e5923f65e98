"""--junit FILE: the run JSON as JUnit XML, so CI systems show each probe, stage, gate check and score.

One <testsuites> root holding one <testsuite name="parity-check"> (pytest's layout), with testcases:

* classname "probe", name = probe id: failure for status fail or error, skipped for skip;
* classname "stage.<case>", name = stage: failure when the stage is out of tolerance (a case whose
  infer spec could not be built gets one failing testcase named "build");
* classname "gate", name = check name plus [path] and [case] when it has them: failure when the check failed;
* classname "score.<case>", name = path: failure when a gate check on that case and path failed
  (only with per-case gating: pooled checks belong to the gate testcases).

Failures carry a one-line message and the details (the JSON entry) as their text. Rendered from the
JSON alone, like report.md.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from f5_parity.files import write_bytes_atomic
from f5_parity.compare import StageComparison
from f5_parity.parity.gate import GAP_RULE
from f5_parity.parity.result import GateCheck, RunReport

SUITE_NAME = "parity-check"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    """XML-safe text (ASR output can hold control characters that XML 1.0 forbids)."""
    return _XML_ILLEGAL.sub("\ufffd", value if isinstance(value, str) else str(value))


def _details(value: Any) -> str:
    return _text(json.dumps(value, indent=2, ensure_ascii=False))


def _num(x: Any) -> str:
    return format(x, ".4g") if isinstance(x, float) else "-" if x is None else str(x)


class _Suite:
    def __init__(self):
        self.suite = ET.Element("testsuite", name=SUITE_NAME)
        self.counts = {"tests": 0, "failures": 0, "skipped": 0}

    def case(self, classname: str, name: str, *, failure: tuple[str, str, str] | None = None,
             skipped: str | None = None, out: str | None = None, time: float | None = None) -> ET.Element:
        tc = ET.SubElement(self.suite, "testcase", classname=_text(classname), name=_text(name),
                           time=f"{time:.3f}" if isinstance(time, (int, float)) else "0")
        self.counts["tests"] += 1
        if failure is not None:
            message, kind, details = failure
            el = ET.SubElement(tc, "failure", message=_text(message), type=_text(kind))
            el.text = _text(details)
            self.counts["failures"] += 1
        elif skipped is not None:
            ET.SubElement(tc, "skipped", message=_text(skipped))
            self.counts["skipped"] += 1
        if out:
            ET.SubElement(tc, "system-out").text = _text(out)
        return tc


def _probe_cases(s: _Suite, d: RunReport) -> None:
    for p in d.probes or []:
        status = p.status.value
        payload = {k: getattr(p, k) for k in ("metrics", "threshold", "margin", "evidence", "fix")}
        failure = (p.summary, status, _details(payload)) if status in ("fail", "error") else None
        s.case("probe", p.probe, failure=failure,
               skipped=p.summary if status == "skip" else None,
               out=None if failure or status == "skip" else f"{status.upper()}: {p.summary}",
               time=round(p.duration_s, 4))


def _stage_message(c: StageComparison) -> str:
    if c.rule == "exact":
        what = c.note or (f"{c.mismatched} ids differ" if c.mismatched else "values differ")
        return f"{c.stage}: {what} (must be equal)"
    return f"{c.stage}: rel L2 {_num(c.rel_l2)} > rel_tol {_num(c.rel_tol)}" + (f" ({c.note})" if c.note else "")


def _stage_cases(s: _Suite, d: RunReport) -> None:
    culprits = ", ".join(d.culprits or []) or "none isolated"
    for case, comps in (d.stages or {}).items():
        if not comps:
            why = f"{case}: the infer spec cannot be built: {d.unbuilt[case]}" if case in d.unbuilt else "see the report's notes"
            s.case(f"stage.{case}", "build", failure=(f"{case}: the infer spec cannot be built", "build", why))
            continue
        for c in comps:
            failure = None
            if not c.passed:
                failure = (_stage_message(c), "stage", f"culprits: {culprits}\n" + _details(c.to_dict()))
            s.case(f"stage.{case}", str(c.stage), failure=failure,
                   out=None if failure else f"rule {c.rule}, rel L2 {_num(c.rel_l2)}, "
                                            f"max abs diff {_num(c.max_abs_diff)}")


def _check_name(c: GateCheck) -> str:
    return str(c.name) + (f"[{c.path}]" if c.path else "") + (f"[{c.case}]" if c.case else "")


def _check_line(c: GateCheck) -> str:
    spread = ""
    if c.interval:
        lo, hi = c.interval
        spread = f" (95% interval [{_num(lo)}, {_num(hi)}] over {c.seeds} seeds)"
    if c.units is not None:  # a gap judged by the gate's rule (parity/gate.py GAP_RULE)
        spread = (f" (mean over {c.units} (case, seed) units, 95% interval [{_num(c.interval[0])}, "
                  f"{_num(c.interval[1])}] over {c.seeds} seeds; one-sided sign-flip p {_num(c.p_value)}: "
                  f"{'beyond' if c.beyond_noise else 'within'} the noise)")
    return f"{_check_name(c)}: {_num(c.value)}{spread} {c.op} {json.dumps(c.threshold)} " \
           f"{'holds' if c.passed else 'does not hold'}"


def _gate_cases(s: _Suite, d: RunReport) -> None:
    factors = d.factors or {}
    for c in d.gate.checks if d.gate else []:
        failure = None
        if not c.passed:
            details = _details(c.to_dict())
            if c.name == "parity":
                fixes = [f"{fid}: {factors[fid].fix if fid in factors else None}" for fid in d.culprits or []]
                details = "\n".join(["culprits and fixes:"] + fixes + [details]) if fixes else details
            if c.units is not None:
                details = f"rule: {GAP_RULE}\n{details}"
            failure = (_check_line(c), "gate", details)
        s.case("gate", _check_name(c), failure=failure, out=None if failure else _check_line(c))


def _score_cases(s: _Suite, d: RunReport) -> None:
    scores = d.scores
    if scores is None:
        return
    checks = d.gate.checks if d.gate else []
    first_seed = scores.seeds.seeds[0] if scores.seeds and scores.seeds.seeds else None
    acoustic = {(a.case, a.path): a for a in (scores.acoustic.rows if scores.acoustic else [])
                if a.seed == first_seed}
    for r in scores.rows:
        failed = [c for c in checks if c.case == r.case and c.path == r.path and not c.passed]
        a = acoustic.get((r.case, r.path))
        beside = f", MCD {_num(a.mcd)} dB, speaker similarity {_num(a.speaker_similarity)}" if a else ""
        summary = (f"WER {_num(r.wer)}, CER {_num(r.cer)}, similarity {_num(r.similarity)}"
                   f"{beside}; expected: {r.expected!s}; heard: {r.hypothesis!s}")
        failure = None
        if failed:
            failure = ("; ".join(_check_line(c) for c in failed), "score", summary + "\n" + _details(r.to_dict()))
        s.case(f"score.{r.case}", str(r.path), failure=failure, out=None if failure else summary)


def build_junit(report: RunReport) -> ET.ElementTree:
    d = report
    s = _Suite()
    props = ET.SubElement(s.suite, "properties")
    repro = d.reproducibility
    ck = d.checkpoint
    for name, value in (("verdict", d.verdict), ("parity_verdict", d.parity_verdict),
                        ("culprits", ",".join(d.culprits or [])), ("mode", d.mode),
                        ("checkpoint", ck.path if ck else None),
                        ("checkpoint_sha256", (ck.sha256 if ck else None) or (repro.checkpoint_sha256 if repro else None)),
                        ("gate_source", d.gate.source if d.gate else None), ("command", repro.command if repro else None)):
        if value not in (None, ""):
            ET.SubElement(props, "property", name=name, value=_text(value))
    _probe_cases(s, d)
    _stage_cases(s, d)
    _gate_cases(s, d)
    _score_cases(s, d)
    attrs = {k: str(v) for k, v in s.counts.items()}
    attrs["errors"] = "0"  # an erroring probe is a failure of its testcase (type "error"), not a crash
    attrs["time"] = f"{d.seconds:.3f}" if isinstance(d.seconds, (int, float)) else "0"
    for k, v in attrs.items():
        s.suite.set(k, v)
    if repro and repro.created:
        s.suite.set("timestamp", _text(repro.created))
    root = ET.Element("testsuites", name=SUITE_NAME, tests=attrs["tests"], failures=attrs["failures"],
                      errors="0", skipped=attrs["skipped"], time=attrs["time"])
    root.append(s.suite)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: RunReport, path: str | Path) -> Path:
    """Write the JUnit XML for the run to `path` (parent folders created) and return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    build_junit(report).write(buffer, encoding="utf-8", xml_declaration=True)
    return write_bytes_atomic(p, buffer.getvalue())
