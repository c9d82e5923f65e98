"""make test-versions: f5-parity inside a user's F5 environment, one per supported f5-tts series.

For each version: build (once, cached) a venv that looks like a user's environment of that release
(scripts/f5_version_venv.sh: torch 2.11 trio + that f5-tts + the bounds its era needed), record `pip freeze`,
install this project's wheel with a real resolve (no constraints, no --no-deps), record `pip freeze` again
(f5-tts and torch must be unchanged), then run the version-sensitive tests there against the installed wheel.
The wheel and the tests come from a clean export of HEAD, so work in progress never leaks into the results.
Results: reports/versions.md (and reports/versions.json).

    python scripts/test_versions.py [VERSION ...]      (default: 0.6.2 1.0.8 1.1.0 1.1.22)
Venvs live under $F5_PARITY_CACHE (default /work/venvs-cache), about 5 GB each; pip's cache is reused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from f5_parity.f5.matrix import CHECKS  # what can differ between f5-tts releases, and the tests that check it

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("F5_PARITY_CACHE", "/work/venvs-cache"))
DEFAULT_VERSIONS = ("0.6.2", "1.0.8", "1.1.0", "1.1.22")
WATCHED = ("f5-tts", "torch", "torchaudio", "torchcodec")  # must be unchanged by installing f5-parity

def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def freeze(venv: Path) -> dict[str, str]:
    out = sh([str(venv / "bin/python"), "-m", "pip", "freeze", "--all"]).stdout
    pins = {}
    for line in out.splitlines():
        if "==" in line:
            name, ver = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = ver
        elif " @ " in line:
            name, url = line.split(" @ ", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = url
    return pins


def export_head(dest: Path) -> str:
    commit = sh(["git", "-C", str(REPO), "rev-parse", "HEAD"]).stdout.strip()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return commit


def build_wheel(src: Path, out: Path) -> Path:
    done = sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
               str(src)])
    if done.returncode != 0:
        raise SystemExit(f"building the wheel failed:\n{done.stderr[-3000:]}")
    return next(out.glob("f5_parity-*.whl"))


def run_checks(venv: Path, src: Path) -> list[dict]:
    results = []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": "", "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    for title, tests in CHECKS:
        start = time.perf_counter()
        done = sh([str(venv / "bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                   "-m", "not bench and not gpu", *tests], cwd=src, env=env, timeout=3600)
        tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
        passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", tail)) else 0
        failed = sum(int(x) for x in re.findall(r"(\d+) (?:failed|error)", tail))
        failures = re.findall(r"^(?:FAILED|ERROR) (\S+)(?: - (.*))?$", done.stdout, re.M)
        results.append({"check": title, "tests": tests, "passed": passed, "failed": failed,
                        "ok": done.returncode == 0, "summary": tail, "seconds": round(time.perf_counter() - start, 1),
                        "failures": [{"test": t, "why": (w or "")[:300]} for t, w in failures]})
    return results


def one_version(version: str, wheel: Path, src: Path) -> dict:
    row: dict = {"version": version}
    start = time.perf_counter()
    made = sh([str(REPO / "scripts/f5_version_venv.sh"), version])
    if made.returncode != 0:
        row.update(installs=False, why=made.stderr.strip().splitlines()[-5:])
        return row
    venv = Path(made.stdout.strip().splitlines()[-1])
    row["venv_seconds"] = round(time.perf_counter() - start, 1)
    # "before" is the environment as built, kept from the first run (later runs find f5-parity installed)
    base = venv / ".base-freeze.json"
    if not base.exists():
        pristine = freeze(venv)
        if "f5-parity" in pristine:
            raise SystemExit(f"{venv} already holds f5-parity and has no record of its pristine state: delete it")
        base.write_text(json.dumps(pristine, indent=1))
    before = json.loads(base.read_text())
    # an earlier run's f5-parity (same version number) would count as already satisfied: remove it first
    sh([str(venv / "bin/python"), "-m", "pip", "uninstall", "-q", "-y", "f5-parity"])
    # the real resolve: the wheel's declared ranges against what the environment holds
    inst = sh([str(venv / "bin/python"), "-m", "pip", "install", "-q", f"{wheel}[test]"])
    after = freeze(venv)
    row["install_ok"] = inst.returncode == 0
    row["install_error"] = inst.stderr.strip().splitlines()[-5:] if inst.returncode else None
    row["watched_before"] = {k: before.get(k) for k in WATCHED}
    row["watched_after"] = {k: after.get(k) for k in WATCHED}
    row["watched_unchanged"] = row["watched_before"] == row["watched_after"]
    row["changed"] = {k: [before[k], after[k]] for k in sorted(before) if k in after and before[k] != after[k]
                      and k != "f5-parity"}
    row["added"] = sorted(f"{k}=={after[k]}" for k in after if k not in before and k != "f5-parity")
    row["removed"] = sorted(k for k in before if k not in after)
    row["checks"] = run_checks(venv, src) if row["install_ok"] else []
    row["green"] = row["install_ok"] and row["watched_unchanged"] and all(c["ok"] for c in row["checks"])
    return row


def write_report(rows: list[dict], commit: str, seconds: float) -> None:
    out = REPO / "reports"
    out.mkdir(exist_ok=True)
    # versions not run this time keep their last result (each row names its commit)
    saved = json.loads((out / "versions.json").read_text()) if (out / "versions.json").exists() else {}
    previous = [{"commit": saved.get("commit"), **r} for r in saved.get("rows", [])]
    ran = {r["version"] for r in rows}
    rows = sorted([r for r in previous if r["version"] not in ran and r.get("commit")] + rows,
                  key=lambda r: [int(x) for x in r["version"].split(".")])
    (out / "versions.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    lines = ["# f5-parity inside users' F5 environments (make test-versions)", "",
             f"Last run: commit {commit[:10]}{commit[40:]}, {dt.date.today().isoformat()}, {seconds / 60:.0f} min on "
             "this machine (2 CPU cores, no GPU); each row names the commit it ran. Each environment: torch 2.11.0 / torchaudio 2.11.0 / torchcodec 0.17.0 and the "
             "f5-tts release, plus the bounds its era needed (pyarrow<20, datasets<4 up to 1.1.9 to import; accelerate<1.7 "
             "up to 1.1.6, whose Trainer.save_checkpoint today's accelerate refuses); "
             "then the f5-parity wheel installed with a real resolve (its ranges, no constraints).", "",
             "| f5-tts | installs | f5-tts/torch unchanged | other packages changed | checks | result |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if not r.get("install_ok"):
            lines.append(f"| {r['version']} | no | - | - | - | {'; '.join(r.get('install_error') or r.get('why') or [])} |")
            continue
        checks = sum(c["ok"] for c in r["checks"])
        changed = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in r["changed"].items()) or "none"
        lines.append(f"| {r['version']} | yes | {'yes' if r['watched_unchanged'] else 'NO'} | {changed} "
                     f"| {checks}/{len(r['checks'])} | {'green' if r['green'] else 'RED'} |")
    for r in rows:
        lines += ["", f"## f5-tts {r['version']} (commit {r.get('commit', '?')[:10]})", ""]
        if not r.get("install_ok"):
            lines += ["Did not install: " + "; ".join(r.get("install_error") or r.get("why") or [])]
            continue
        lines += [f"- before/after: {r['watched_before']} -> {r['watched_after']}",
                  f"- added by the install: {', '.join(r['added']) or 'nothing'}", ""]
        lines += ["| check | tests | passed | failed | s |", "|---|---|---|---|---|"]
        for c in r["checks"]:
            lines.append(f"| {c['check']} | {len(c['tests'])} | {c['passed']} | {c['failed']} | {c['seconds']} |")
            for f in c["failures"]:
                lines.append(f"|  | `{f['test']}` | | {f['why'].replace('|', '/')} | |")
    (out / "versions.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("versions", nargs="*", default=list(DEFAULT_VERSIONS))
    ap.add_argument("--src", help="test this source tree (e.g. a git worktree) instead of a clean export of HEAD")
    args = ap.parse_args()
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="f5-parity-versions-") as tmp:
        if args.src:
            src = Path(tmp) / "src"
            shutil.copytree(args.src, src, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info",
                                                                         "reports", "build"))
            head = sh(["git", "-C", args.src, "rev-parse", "HEAD"]).stdout.strip()
            dirty = sh(["git", "-C", args.src, "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
            commit = head + (" + uncommitted changes" if dirty else "")
        else:
            src = Path(tmp) / "src"
            src.mkdir()
            commit = export_head(src)
        wheel = build_wheel(src, Path(tmp) / "dist")
        for version in args.versions:  # one at a time: each install is minutes and gigabytes
            print(f"f5-tts {version} ...", flush=True)
            rows.append({**one_version(version, wheel, src), "commit": commit})
            r = rows[-1]
            print(f"  install {'ok' if r.get('install_ok') else 'FAILED'}, f5-tts/torch unchanged "
                  f"{r.get('watched_unchanged')}, checks "
                  f"{sum(c['ok'] for c in r.get('checks', []))}/{len(r.get('checks', []))}", flush=True)
            write_report(rows, commit, time.perf_counter() - start)
        write_mirror_runs(rows, commit, src)
    return 0 if all(r.get("green") for r in rows) else 1


def write_mirror_runs(rows: list[dict], commit: str, src: Path) -> None:
    """src/f5_parity/f5/mirror_runs.json: the releases whose real Trainer was run against the mirror, green, at
    this commit, and the sha256 of the version-sensitive files it ran (f5/matrix.py). Only a clean commit
    counts: a run on uncommitted changes proves nothing about any commit."""
    import importlib.util

    if " + " in commit:
        print("uncommitted changes: mirror_runs.json not updated", flush=True)
        return
    spec = importlib.util.spec_from_file_location("matrix", src / "src" / "f5_parity" / "f5" / "matrix.py")
    matrix = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(matrix)
    ran = [r["version"] for r in rows if r.get("green") and any(
        c["check"].startswith("trainer mirror") and c["ok"] for c in r.get("checks", []))]
    data = {"commit": commit, "report": "reports/versions.md", "releases": ran, "sources": matrix.fingerprint(src)}
    (REPO / "src" / "f5_parity" / "f5" / "mirror_runs.json").write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
