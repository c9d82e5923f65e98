"""Which f5-tts is loaded: the distribution, where its code is, and whether that code is a known release.

A user may run a registry release, a `pip install -e .` checkout at some commit, a renamed fork, or a copy
they edited (put first on PYTHONPATH, it is what `import f5_tts` loads while importlib.metadata still names
the installed version). Only the source tells them apart: every function whose behaviour the probes rely on
is digested (sha256 of `ast.unparse` of its definition: formatting and comments do not count, code does) and
matched against known_sources.json, which scripts/f5_known_digests.py generates from the registry's wheels.

Nothing here imports f5_tts's modules (that costs seconds and may run a user's edited code): files are
located the way the import system would find them and parsed.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

# (name in reports, file under f5_tts/, qualified name in that file). The sample block is the `if` in
# Trainer.train that logs update_N_gen.wav: the trainer path mirrors it (paths/trainer.py).
PROBED_FUNCTIONS: tuple[tuple[str, str, str], ...] = (
    ("Trainer.train", "model/trainer.py", "Trainer.train"),
    ("Trainer.train sample block", "model/trainer.py", "Trainer.train#sample"),
    ("Trainer.load_checkpoint", "model/trainer.py", "Trainer.load_checkpoint"),
    ("utils_infer.load_model", "infer/utils_infer.py", "load_model"),
    ("utils_infer.load_checkpoint", "infer/utils_infer.py", "load_checkpoint"),
    ("utils_infer.infer_process", "infer/utils_infer.py", "infer_process"),
    ("utils_infer.infer_batch_process", "infer/utils_infer.py", "infer_batch_process"),
    ("utils_infer.preprocess_ref_audio_text", "infer/utils_infer.py", "preprocess_ref_audio_text"),
    ("utils_infer module defaults", "infer/utils_infer.py", "#constants"),
    ("CFM.sample", "model/cfm.py", "CFM.sample"),
    ("get_tokenizer", "model/utils.py", "get_tokenizer"),
    ("convert_char_to_pinyin", "model/utils.py", "convert_char_to_pinyin"),
    ("list_str_to_idx", "model/utils.py", "list_str_to_idx"),
)
SAMPLE_BLOCK_TEST = "self.log_samples and self.accelerator.is_local_main_process"
KNOWN_SOURCES = Path(__file__).with_name("known_sources.json")

# The releases this tool is tested against (make test-versions; README "Supported f5-tts versions"): 0.6.2,
# the newest 0.x that installs beside today's torch, and every 1.x. Where 0.x differs (v0-only DiT without
# the flag arguments, no EPSS grid, no batched CFG, *_train.yaml configs, infer_cli's -m F5-TTS/E2-TTS), the
# facts live in f5/versions.py and f5/configs.py. Older releases are recognized (digests known), not supported.
SUPPORTED_MIN = (0, 6, 2)


# --- digests of one source tree -----------------------------------------------------------------------------


def _digest_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _find_def(tree: ast.Module, qualname: str) -> ast.AST | None:
    node: ast.AST = tree
    for part in qualname.split("."):
        found = None
        for child in getattr(node, "body", []):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and child.name == part:
                found = child  # the last definition wins, as at import time
        if found is None:
            return None
        node = found
    return node


def _sample_block(fn: ast.AST) -> ast.AST | None:
    for node in ast.walk(fn):
        if isinstance(node, ast.If) and ast.unparse(node.test) == SAMPLE_BLOCK_TEST:
            return node
    return None


def _constants(tree: ast.Module) -> str:
    """utils_infer's module-level literal assignments (nfe_step, cfg_strength ...), in order."""
    lines = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                ast.literal_eval(node.value)
            except ValueError:
                continue
            lines.append(ast.unparse(node))
    return "\n".join(lines)


def source_digests(root: Path | str) -> dict[str, str | None]:
    """Digest of every probed function under an f5_tts package folder (None: absent in this tree)."""
    root = Path(root)
    trees: dict[str, ast.Module | None] = {}
    out: dict[str, str | None] = {}
    for name, rel, qualname in PROBED_FUNCTIONS:
        if rel not in trees:
            path = root / rel
            trees[rel] = ast.parse(path.read_text(encoding="utf-8")) if path.exists() else None
        tree = trees[rel]
        if tree is None:
            out[name] = None
        elif qualname == "#constants":
            out[name] = _digest_text(_constants(tree))
        else:
            base, _, part = qualname.partition("#")
            node = _find_def(tree, base)
            if node is not None and part == "sample":
                node = _sample_block(node)
            out[name] = _digest_text(ast.unparse(node)) if node is not None else None
    configs = root / "configs"
    for path in sorted(configs.glob("*.yaml")) if configs.is_dir() else []:
        text = "\n".join(line.rstrip() for line in path.read_text(encoding="utf-8").splitlines()).strip()
        out[f"configs/{path.name}"] = _digest_text(text)
    return out


# --- the loaded f5_tts ---------------------------------------------------------------------------------------


def loaded_package_dir() -> Path | None:
    """The f5_tts folder `import f5_tts.model` loads from (the first on sys.path that has it), without importing it.

    f5_tts is a namespace package: every sys.path entry with an f5_tts folder adds a portion, and the regular
    subpackages (model, infer) come from the first portion that has them.
    """
    loaded = sys.modules.get("f5_tts.model")
    if loaded is not None and getattr(loaded, "__file__", None):
        return Path(loaded.__file__).resolve().parent.parent
    spec = importlib.util.find_spec("f5_tts")
    if spec is None:
        return None
    portions = list(spec.submodule_search_locations or [])
    for portion in portions:
        if (Path(portion) / "model" / "__init__.py").exists():
            return Path(portion).resolve()
    return Path(portions[0]).resolve() if portions else None


@lru_cache(maxsize=1)
def _f5_distribution_names() -> tuple[str, ...]:
    """The distributions that install the top-level package f5_tts. Read once a process: scanning every
    installed distribution costs about 0.4 s, and detect() runs for every checkpoint a sweep judges; what
    this process has imported does not change under it."""
    return tuple(metadata.packages_distributions().get("f5_tts", []))


def _distribution_for(package_dir: Path | None) -> metadata.Distribution | None:
    """The installed distribution that provides f5_tts (f5-tts, or a fork under another name)."""
    names = _f5_distribution_names()
    dists = []
    for name in dict.fromkeys(names):
        try:
            dists.append(metadata.distribution(name))
        except metadata.PackageNotFoundError:
            continue
    if not dists:
        return None
    if package_dir is not None:  # prefer the one whose files are the loaded ones
        for dist in dists:
            if _dist_package_dir(dist) == package_dir:
                return dist
    return dists[0]


def _direct_url(dist: metadata.Distribution) -> dict[str, Any]:
    try:
        text = dist.read_text("direct_url.json")
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}


def _dist_package_dir(dist: metadata.Distribution) -> Path | None:
    """Where this distribution's f5_tts is: its own files, or (editable) the source tree it points at."""
    for f in dist.files or []:
        if f.parts[:1] == ("f5_tts",) and f.name == "__init__.py" and len(f.parts) == 3 and f.parts[1] == "model":
            return Path(dist.locate_file(f)).resolve().parent.parent
    url = _direct_url(dist).get("url", "")
    if url.startswith("file://"):
        src = Path(url[len("file://"):])
        for candidate in (src / "src" / "f5_tts", src / "f5_tts"):
            if candidate.is_dir():
                return candidate.resolve()
    return None


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _git_state(folder: Path) -> tuple[str | None, bool | None]:
    """(commit, has uncommitted changes) of the git checkout holding `folder`, if it is in one."""
    top = _git(folder, "rev-parse", "--show-toplevel")
    if not top or not _git(folder, "ls-files", "--", "model/trainer.py"):
        return None, None  # not in a checkout, or in one that does not track it (a venv inside a repo)
    commit = _git(folder, "rev-parse", "HEAD")
    status = _git(folder, "status", "--porcelain", "--", str(folder))
    return commit, (bool(status) if status is not None else None)


@lru_cache(maxsize=1)
def known_sources() -> dict[str, dict[str, str | None]]:
    return json.loads(KNOWN_SOURCES.read_text(encoding="utf-8"))["versions"]


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in v.split(".")[:3])


def is_supported(version: str | None) -> bool:
    return version is not None and version in known_sources() and _version_key(version) >= SUPPORTED_MIN


@dataclass
class F5Environment:
    distribution: str | None  # "f5-tts", or the name a fork installs under
    version: str | None  # what importlib.metadata reports (says nothing about the loaded code)
    location: str | None  # the f5_tts folder `import f5_tts.model` loads
    installed_location: str | None  # the f5_tts folder of the distribution
    shadowed: bool  # a copy elsewhere on sys.path is loaded instead of the installed one
    editable: bool
    source_url: str | None
    git_commit: str | None
    git_dirty: bool | None
    digests: dict[str, str | None]
    release: str | None  # the known release whose sources the loaded code matches exactly
    compared_with: str | None  # the release the differences are counted against
    differs: list[str] = field(default_factory=list)  # probed functions whose code is not that release's
    supported: bool = False

    @property
    def trusted(self) -> bool:
        """Known, unedited code of a supported release: the mirrors are proven for it."""
        return self.release is not None and is_supported(self.release) and not self.differs

    @property
    def mirror_proven(self) -> bool:
        """The trainer mirror (paths/trainer.py) may stand in for this Trainer's sample code: known, unedited
        code whose Trainer sample block has the digest of a release the matrix actually ran the mirror
        against (f5/matrix.py). A recognized release with another sample block is "recognized, mirror not
        run": the installed Trainer runs instead (parity/trainer_side.py)."""

        return self.trusted and self.digests.get("Trainer.train sample block") in run_sample_block_digests()

    def summary(self) -> str:
        """One line for the top of a report."""
        name = self.distribution or "f5-tts"
        where = []
        if self.editable:
            where.append("editable install")
        if self.git_commit:
            where.append(f"git {self.git_commit[:10]}{' with uncommitted changes' if self.git_dirty else ''}")
        if self.shadowed:
            where.append(f"loaded from {self.location}, not the installed copy")
        head = f"{name} {self.version or '(no version metadata)'}" + (f" ({', '.join(where)})" if where else "")
        if self.trusted and not self.mirror_proven:
            return (f"{head}: code matches release {self.release} (recognized, mirror not run: no matrix run on "
                    "its Trainer sample block, so the installed Trainer runs)")
        if self.trusted:
            return f"{head}: code matches release {self.release}"
        if self.differs:
            return (f"{head}: UNKNOWN CODE, differs from release {self.compared_with} in "
                    f"{', '.join(self.differs)}")
        if self.release:
            return f"{head}: code matches release {self.release}, which this tool does not support"
        return f"{head}: no known release to compare with"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(trusted=self.trusted, mirror_proven=self.mirror_proven, summary=self.summary())
        return d


def compare_with_known(digests: dict[str, str | None], version: str | None) -> tuple[str | None, str | None, list[str]]:
    """(exactly matching release, release compared with, functions that differ from it)."""
    known = known_sources()

    def differing(release: str) -> list[str]:
        ref = known[release]
        names = [n for n, _, _ in PROBED_FUNCTIONS] + sorted(k for k in set(ref) | set(digests) if k.startswith("configs/"))
        return [n for n in names if digests.get(n) != ref.get(n)]

    if version in known and not differing(version):
        return version, version, []
    exact = [r for r in known if not differing(r)]
    if exact:  # a checkout at a release commit, or wrong metadata: the code is what counts
        return max(exact, key=_version_key), max(exact, key=_version_key), []
    if version in known:
        return None, version, differing(version)
    nearest = min(known, key=lambda r: (len(differing(r)), [-x for x in _version_key(r)])) if known else None
    return None, nearest, differing(nearest) if nearest else sorted(digests)


def detect() -> F5Environment:
    """The f5-tts this process would import, described and judged against the known releases."""
    package_dir = loaded_package_dir()
    dist = _distribution_for(package_dir)
    installed_dir = _dist_package_dir(dist) if dist is not None else None
    direct = _direct_url(dist) if dist is not None else {}
    editable = bool(direct.get("dir_info", {}).get("editable"))
    commit = direct.get("vcs_info", {}).get("commit_id")
    dirty = None
    if package_dir is not None and commit is None:
        commit, dirty = _git_state(package_dir)
    digests = source_digests(package_dir) if package_dir is not None else {}
    version = dist.version if dist is not None else None
    release, compared, differs = compare_with_known(digests, version) if digests else (None, None, [])
    return F5Environment(
        distribution=dist.metadata["Name"] if dist is not None else None,
        version=version,
        location=str(package_dir) if package_dir else None,
        installed_location=str(installed_dir) if installed_dir else None,
        shadowed=bool(package_dir and installed_dir and package_dir != installed_dir),
        editable=editable,
        source_url=direct.get("url"),
        git_commit=commit,
        git_dirty=dirty,
        digests=digests,
        release=release,
        compared_with=compared,
        differs=differs,
        supported=is_supported(release or version),
    )


def run_sample_block_digests() -> dict[str, str]:
    """Trainer sample-block digest -> the release the matrix ran the mirror against for it."""
    from f5_parity.f5.matrix import mirror_runs

    known = known_sources()
    return {known[r]["Trainer.train sample block"]: r for r in mirror_runs()["releases"] if r in known}
