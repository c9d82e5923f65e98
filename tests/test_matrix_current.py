"""'Proven' means run: the trainer mirror is proven only for the Trainer sample blocks the versions matrix
ran, and only for the code it ran.

f5/mirror_runs.json records the commit of the last green `make test-versions`, its releases, and a sha256
of every file the matrix's checks execute (f5/matrix.py version_sensitive_files: derived from the checks'
import graph, never hand-picked) at that commit. The first test fails
when one of those files changed since: re-run `make test-versions` (it rewrites mirror_runs.json and
reports/versions.md). No git is needed, so a shallow CI clone checks the same thing.
"""

from __future__ import annotations

from pathlib import Path

from f5_parity.f5 import matrix
from f5_parity.f5.environment import F5Environment, known_sources, run_sample_block_digests

ROOT = Path(__file__).resolve().parents[1]


def test_version_sensitive_code_is_what_the_versions_matrix_ran():
    runs = matrix.mirror_runs()
    now = matrix.fingerprint(ROOT)
    changed = sorted(p for p in now if now[p] != runs["sources"].get(p))
    assert not changed, (f"changed since the versions matrix ran at {runs['commit'][:10]}: {', '.join(changed)}; "
                         "re-run `make test-versions` (reports/versions.md, src/f5_parity/f5/mirror_runs.json)")
    assert runs["commit"][:10] in (ROOT / "reports" / "versions.md").read_text()


def _env(release: str) -> F5Environment:
    digests = dict(known_sources()[release])
    return F5Environment("f5-tts", release, None, None, False, False, None, None, None, digests, release, release,
                         [], True)


def test_mirror_proven_only_for_sample_blocks_the_matrix_ran():
    ran = run_sample_block_digests()
    releases = matrix.mirror_runs()["releases"]
    assert set(ran) == {known_sources()[r]["Trainer.train sample block"] for r in releases} and set(ran.values()) <= set(releases)
    # a release the matrix ran, and one sharing its sample-block digest, are proven
    assert _env("1.1.22").mirror_proven and _env("1.1.20").mirror_proven and _env("1.0.3").mirror_proven
    # 1.1.16's sample block is its own (known_sources.json): recognized, never run against the mirror
    assert known_sources()["1.1.16"]["Trainer.train sample block"] not in ran
    env = _env("1.1.16")
    assert env.trusted and not env.mirror_proven
    assert "recognized, mirror not run" in env.summary() and env.to_dict()["mirror_proven"] is False


def test_the_closure_follows_imports_inside_functions_and_stops_where_they_stop():
    """parity/seeds.py imports parity/generate.py and scoring/stats.py only inside its functions: both are in its
    closure, with every package __init__ on the way; the renderer, which nothing there imports, is not."""
    closure = matrix.module_closure({"f5_parity.parity.seeds"})
    assert {"f5_parity.parity.generate", "f5_parity.scoring.stats", "f5_parity.parity", "f5_parity"} <= closure
    assert "f5_parity.render.markdown" not in closure and "f5_parity.cli.main" not in closure


def test_the_matrix_fingerprints_the_modules_the_issue_found_missing():
    """engine/requests.py and parity/result.py changed after the hand-picked list's matrix ran (issue 37): the
    full-mode check runs the CLI, so both are executed and fingerprinted now; so is each discovered command."""
    files = set(matrix.version_sensitive_files(ROOT))
    assert {"src/f5_parity/engine/requests.py", "src/f5_parity/parity/result.py",
            "src/f5_parity/cli/commands/run.py", "probes/run_stage_parity.py"} <= files
    assert "src/f5_parity/testing/gate_power.py" not in files  # no check reaches the benchmark kit
