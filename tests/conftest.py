"""Shared fixtures: one tiny fixture set per session, built by the package's own factory."""

from __future__ import annotations

import os

import pytest

# No model hub is reachable here or in CI: fail fast instead of retrying for 25 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def fixture_set(tmp_path_factory):
    from f5_parity.testing.fixtures import build_fixture_set

    return build_fixture_set(tmp_path_factory.mktemp("fixture-set"))


@pytest.fixture(scope="session")
def vocos_dir(tmp_path_factory):
    from f5_parity.testing.fixtures import random_vocos_dir

    return random_vocos_dir(tmp_path_factory.mktemp("vocos"))


@pytest.fixture(scope="session")
def pt_cases(tmp_path_factory):
    from f5_parity.cases.speech import build_cases

    return build_cases(tmp_path_factory.mktemp("pt-cases"), count=4)


@pytest.fixture(scope="module")
def asr_cache(tmp_path_factory):
    """One model cache for the whole session: the embedded Whisper is assembled once."""
    path = tmp_path_factory.getbasetemp() / "asr-cache"
    path.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("F5_PARITY_CACHE", str(path))
        yield path
