"""What `make test-versions` (scripts/test_versions.py) actually ran, so that "proven" means run.

The trainer mirror (paths/trainer.py) is proven for a release only when the matrix ran the real Trainer
against it on a release whose Trainer sample block has the same digest (f5/known_sources.json), and only
for the code it ran: mirror_runs.json records the commit, the releases that were green there, and a
sha256 of every version-sensitive file at that commit. tests/test_matrix_current.py fails when one of
those files changed since, until the matrix is re-run (the script rewrites mirror_runs.json).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

RUNS = Path(__file__).with_name("mirror_runs.json")

# What can differ between f5-tts releases, and the tests that check it (scripts/test_versions.py runs these in a
# venv of each release).
CHECKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loaded code is recognized as its release (digests)", ("tests/test_environment.py",)),
    ("trainer mirror == the real Trainer's sample", (
        "tests/test_trainer_run.py::test_installed_trainer_sample_equals_the_mirror_on_a_known_release",)),
    ("loader replay == real load_checkpoint / Trainer.load_checkpoint", (
        "tests/test_checkpoint.py::test_simulated_load_checkpoint_equals_the_real_call",
        "tests/test_checkpoint.py::test_simulated_trainer_load_equals_the_real_call")),
    ("infer defaults == the installed infer_cli", (
        "tests/test_infercli.py::test_flags_mirror_the_installed_infer_cli",
        "tests/test_infercli.py::test_defaults_pinned_to_the_installed_utils_infer")),
    ("observation hooks attach, record and detach", ("tests/test_observe_infer.py",)),
    ("stage engine: a clean pair passes, an injected fault is found", ("tests/test_session.py",)),
    ("full mode: trainer sample == the engine's final mel, each path generated once per seed",
     ("tests/test_full_mode.py",)),
)
# Data the checked code reads at run time (no import graph shows it).
DATA_FILES = ("src/f5_parity/f5/known_sources.json",)
# Modules imported by name at run time, which a static import graph cannot see: importer -> what it loads.
DYNAMIC_IMPORTS = {"f5_parity": ("f5_parity.api",),  # the lazy public API (f5_parity/__init__.py)
                   "f5_parity.cli.main": ("f5_parity.cli.commands.*",),  # each command, discovered
                   "f5_parity.probe": ("f5_parity.probes.*",)}  # the probe catalog, discovered


def check_files(root: str | Path, checks=CHECKS) -> list[Path]:
    """The test files the checks run, and what pytest loads beside them (conftest.py, the tests' own helpers)."""
    tests = Path(root) / "tests"
    files = {Path(root) / t.split("::")[0] for _, ts in checks for t in ts}
    files |= {tests / "conftest.py"} if (tests / "conftest.py").is_file() else set()
    local = {p.stem: p for p in tests.glob("*.py")}
    todo = list(files)
    while todo:  # helpers imported by the tests (runjson.py, ...), and theirs
        for name in _imported_names(todo.pop()):
            helper = local.get(name.split(".")[0])
            if helper is not None and helper not in files:
                files.add(helper)
                todo.append(helper)
    return sorted(files)


def _imported_names(path: Path) -> set[str]:
    """Every module name a file imports, at top level or inside a function; `from a import b` gives a and a.b."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


@lru_cache(maxsize=None)
def _package_modules() -> tuple[Any, dict[str, Path]]:
    import importlib.util
    import pkgutil

    import grimp

    graph = grimp.build_graph("f5_parity")
    files = {m: Path(importlib.util.find_spec(m).origin).resolve() for m in graph.modules}
    for patterns in DYNAMIC_IMPORTS.values():  # a package mapped from another folder (probes/) is not in the graph
        for package in (p[:-2] for p in patterns if p.endswith(".*")):
            if package not in files:
                graph.add_module(package)
                files[package] = Path(importlib.util.find_spec(package).origin).resolve()
                for info in pkgutil.iter_modules([str(files[package].parent)]):
                    name = f"{package}.{info.name}"
                    graph.add_module(name)
                    files[name] = Path(importlib.util.find_spec(name).origin).resolve()
                    for imported in _imported_names(files[name]):
                        if imported in files:
                            graph.add_import(importer=name, imported=imported)
    return graph, files


def _repo_path(module: str, origin: Path) -> str:
    """Where a module's source lives in the repository (pyproject's package-dir), wherever it is installed from:
    an editable install and `pip install .` give the same list."""
    parts = module.split(".")
    if parts[:2] == ["f5_parity", "probes"]:
        parts = ["probes"] + parts[2:]
    else:
        parts = ["src"] + parts
    return "/".join(parts + ["__init__.py"] if origin.name == "__init__.py" else parts[:-1] + [f"{parts[-1]}.py"])


def module_closure(modules: set[str]) -> set[str]:
    """The f5_parity modules that importing `modules` runs: what each imports (at top level or inside a function,
    and the modules loaded by name: DYNAMIC_IMPORTS), each package's __init__ on the way, transitively."""
    import fnmatch

    graph, files = _package_modules()
    # (module, imported by name): a package run only as the parent of a submodule does not load its lazy names
    wanted, seen, named = {(m, True) for m in modules}, set(), set()
    while wanted:
        module, by_name = wanted.pop()
        if module in seen and (module in named or not by_name):
            continue
        seen.add(module)
        parts = module.split(".")
        more = {(m, True) for m in graph.find_modules_directly_imported_by(module)}
        more |= {(".".join(parts[:k]), False) for k in range(1, len(parts))}  # importing a.b.c runs a and a.b first
        if by_name:
            named.add(module)
            for pattern in DYNAMIC_IMPORTS.get(module, ()):
                more |= {(m, True) for m in files if fnmatch.fnmatch(m, pattern)}
        wanted |= {(m, b) for m, b in more if m in files and m not in named and (b or m not in seen)}
    return seen


def version_sensitive_files(root: str | Path, checks=CHECKS) -> tuple[str, ...]:
    """Every file the matrix's checks execute, derived (never hand-picked): the f5_parity modules the check
    files import, with everything those import in turn (grimp's import graph, imports inside functions
    included, plus the modules loaded by name: DYNAMIC_IMPORTS) and each package's __init__ on the way; the
    check files themselves; the data files the code reads. Paths relative to the repository root."""
    root = Path(root).resolve()
    _, files = _package_modules()
    seen = module_closure({n for f in check_files(root, checks) for n in _imported_names(f) if n in files})
    paths = {_repo_path(m, files[m]) for m in seen}
    paths |= {str(f.relative_to(root)) for f in check_files(root, checks)} | set(DATA_FILES)
    return tuple(sorted(paths))


def fingerprint(root: str | Path, files: tuple[str, ...] | None = None) -> dict[str, str | None]:
    """sha256 of each version-sensitive file under a source tree (None: the file is absent)."""
    root = Path(root)
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() if (root / p).is_file() else None
            for p in (files if files is not None else version_sensitive_files(root))}


@lru_cache(maxsize=1)
def mirror_runs() -> dict[str, Any]:
    return json.loads(RUNS.read_text(encoding="utf-8"))
