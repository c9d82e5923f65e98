"""'Proven' means run: the trainer mirror is proven only for the Trainer sample blocks the versions matrix
ran, and only for the code it ran.

f5/mirror_runs.json records the commit of the last green `make test-versions`, its releases, and a sha256
of every version-sensitive file (f5/matrix.py VERSION_SENSITIVE) at that commit. The first test fails
when one of those files changed since: re-run `make test-versions` (it rewrites mirror_runs.json and
reports/versions.md). No git is needed, so a shallow CI clone checks the same thing.
"""

from __future__ import annotations

from pathlib import Path

from f5_parity.f5 import matrix
from f5_parity.f5.environment import F5Environment, known_sources

ROOT = Path(__file__).resolve().parents[1]


def test_version_sensitive_code_is_what_the_versions_matrix_ran():
    runs = matrix.mirror_runs()
    now = matrix.fingerprint(ROOT)
    changed = sorted(p for p in matrix.VERSION_SENSITIVE if now[p] != runs["sources"].get(p))
    assert not changed, (f"changed since the versions matrix ran at {runs['commit'][:10]}: {', '.join(changed)}; "
                         "re-run `make test-versions` (reports/versions.md, src/f5_parity/f5/mirror_runs.json)")
    assert runs["commit"][:10] in (ROOT / "reports" / "versions.md").read_text()


def _env(release: str) -> F5Environment:
    digests = dict(known_sources()[release])
    return F5Environment("f5-tts", release, None, None, False, False, None, None, None, digests, release, release,
                         [], True)


def test_mirror_proven_only_for_sample_blocks_the_matrix_ran():
    ran = matrix.run_sample_block_digests()
    releases = matrix.mirror_runs()["releases"]
    assert set(ran) == {known_sources()[r]["Trainer.train sample block"] for r in releases} and set(ran.values()) <= set(releases)
    # a release the matrix ran, and one sharing its sample-block digest, are proven
    assert _env("1.1.22").mirror_proven and _env("1.1.20").mirror_proven and _env("1.0.3").mirror_proven
    # 1.1.16's sample block is its own (known_sources.json): recognized, never run against the mirror
    assert known_sources()["1.1.16"]["Trainer.train sample block"] not in ran
    env = _env("1.1.16")
    assert env.trusted and not env.mirror_proven
    assert "recognized, mirror not run" in env.summary() and env.to_dict()["mirror_proven"] is False
