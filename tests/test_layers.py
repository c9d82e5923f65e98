"""The layering is enforced: import-linter's contract (pyproject.toml [tool.importlinter]) must hold,
and the probe catalog (probes/, shipped as f5_parity.probes, outside src/ so import-linter cannot see
it) must not reach up into the CLI or the test kit."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(cwd: Path, src: Path | None = None) -> subprocess.CompletedProcess:
    """import-linter run by this interpreter (a copied venv's `lint-imports` script can name another
    Python in its #! line, and so lint another checkout); `src`: the f5_parity to lint, put first on the path."""
    env = {**os.environ, "NO_COLOR": "1"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    proc = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                           "lint_imports_command()", "--config", str(cwd / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    proc.stdout = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
    return proc


def test_import_linter_contracts_are_kept():
    # this checkout's src/ first on the path: after the README's `pip install .` (no editable install) the
    # installed copy would be linted otherwise, an older one if the tree changed since
    proc = _lint_imports(ROOT, ROOT / "src")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "3 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize("bad_import, contract, needle", [
    # cli/ reaching past the engine: a command that could skip the requests' validation
    ("from f5_parity.paths.spec import infer_spec", "cli imports only the engine, render and errors",
     "f5_parity.cli is not allowed to import f5_parity.paths"),
    ("from f5_parity.testing.fixtures import build_fixture_set", "cli imports only the engine, render and errors",
     "f5_parity.cli is not allowed to import f5_parity.testing"),
])
def test_the_forbidden_contract_fails_when_cli_imports_below_the_engine(bad_import, contract, needle, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "f5_parity", src / "f5_parity", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "f5_parity" / "cli" / "commands" / "inspect.py"
    target.write_text(target.read_text(encoding="utf-8") + f"\n{bad_import}  # noqa: F401\n", encoding="utf-8")
    proc = _lint_imports(tmp_path, src)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 kept, 1 broken" in proc.stdout and f"{contract} BROKEN" in proc.stdout
    assert needle in proc.stdout and "f5_parity.cli.commands.inspect ->" in proc.stdout


def test_the_layers_contract_fails_when_the_engine_imports_the_cli(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "f5_parity", src / "f5_parity", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "f5_parity" / "engine" / "run.py"
    target.write_text(target.read_text(encoding="utf-8") + "\nimport f5_parity.cli.main  # noqa: F401\n",
                      encoding="utf-8")
    proc = _lint_imports(tmp_path, src)
    assert proc.returncode == 1 and "BROKEN" in proc.stdout
    assert "f5_parity.engine.run -> f5_parity.cli.main" in proc.stdout


def test_the_engine_may_not_import_the_test_kit(tmp_path):
    """The demo's own fixtures ship in f5_parity.demo; the engine reaching into the test kit breaks a contract."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "f5_parity", src / "f5_parity", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "f5_parity" / "engine" / "requests.py"
    target.write_text(target.read_text(encoding="utf-8") + "\nfrom f5_parity.testing.fixtures import build_fixture_set"
                      "  # noqa: F401\n", encoding="utf-8")
    proc = _lint_imports(tmp_path, src)
    assert proc.returncode == 1 and "the engine and the API never import the test kit BROKEN" in proc.stdout
    assert "f5_parity.engine.requests -> f5_parity.testing.fixtures" in proc.stdout


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
        # the entry point runs the CLI; the engine entry runs the demo and damage (testing/)
        if rel[0] in ("cli", "testing", "engine", "api.py", "__main__.py"):
            continue
        bad = {m for m in _imports(path) if m.startswith(("f5_parity.testing", "f5_parity.cli"))}
        assert not bad, f"{'/'.join(rel)} imports {sorted(bad)}"


_CYCLES = """
import grimp
graph = grimp.build_graph("f5_parity")
cycles = sorted({tuple(sorted((a, b))) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
                 if graph.chain_exists(importer=b, imported=a)})
print("\\n".join(" <-> ".join(c) for c in cycles))
"""


def _import_cycles(src: Path) -> list[str]:
    """Pairs of modules that import each other, directly or through others, imports inside functions included
    (grimp, import-linter's own graph): a circle broken only by a function-level import is still a circle."""
    proc = subprocess.run([sys.executable, "-c", _CYCLES], env={**os.environ, "PYTHONPATH": str(src)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [line for line in proc.stdout.splitlines() if line]


def test_no_module_is_in_an_import_circle():
    assert _import_cycles(ROOT / "src") == []


def test_the_circle_check_fails_on_a_planted_circle(tmp_path):
    """parity/gate.py importing the renderer, which imports the gate (a function-level import, as the three
    circles issue 34 found were written)."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "f5_parity", src / "f5_parity", ignore=shutil.ignore_patterns("__pycache__"))
    target = src / "f5_parity" / "parity" / "gate.py"
    target.write_text(target.read_text(encoding="utf-8") + "\n\ndef _planted():\n"
                      "    from f5_parity.render.junit import build_junit  # noqa: F401\n", encoding="utf-8")
    assert "f5_parity.parity.gate <-> f5_parity.render.junit" in _import_cycles(src)


def _long_functions(folder: Path, limit: int = 80) -> list[str]:
    found = []
    for f in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{f.name}:{node.name} ({lines} lines)")
    return found


@pytest.mark.parametrize("package", ["observe", "sweeps"])
def test_the_observation_and_the_sweep_have_no_function_over_80_lines(package):
    """Issue 34: observe() was 250 lines (every seam it patches in one body) and the sweep's Sweep class held
    discovery, the cache, processes, units and the report; each is now a set of functions a reader can hold."""
    assert _long_functions(ROOT / "src" / "f5_parity" / package) == []


def test_the_length_check_sees_a_long_function(tmp_path):
    (tmp_path / "long.py").write_text("def long():\n" + "    x = 1\n" * 80, encoding="utf-8")
    assert _long_functions(tmp_path) == ["long.py:long (81 lines)"]


def test_every_subpackage_is_shipped_in_the_wheel():
    """pyproject lists the packages (find() cannot see probes/, outside src/): a new folder of src/f5_parity left
    out of the list installs as an editable checkout and breaks after `pip install .` (observe/ and sweeps/ were,
    until this test)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    src = ROOT / "src"
    found = {".".join(p.parent.relative_to(src).parts) for p in src.glob("f5_parity/**/__init__.py")}
    assert found - listed == set(), sorted(found - listed)
