"""The layering is enforced: import-linter's contract (pyproject.toml [tool.importlinter]) must hold,
and the probe catalog (probes/, shipped as f5_parity.probes, outside src/ so import-linter cannot see
it) must not reach up into the CLI or the test kit."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contract_is_kept():
    exe = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(exe), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 kept, 0 broken" in proc.stdout


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_probes_import_only_the_engine():
    for path in sorted((ROOT / "probes").glob("*.py")):
        bad = {m for m in _imports(path) if m.startswith(("f5_parity.cli", "f5_parity.testing", "f5_parity.render"))}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_no_engine_module_imports_the_test_kit():
    # import-linter checks this too; this names the file when it breaks.
    src = ROOT / "src" / "f5_parity"
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).parts
        if rel[0] in ("cli", "testing", "__main__.py"):  # the entry point runs the CLI
            continue
        bad = {m for m in _imports(path) if m.startswith(("f5_parity.testing", "f5_parity.cli"))}
        assert not bad, f"{'/'.join(rel)} imports {sorted(bad)}"
