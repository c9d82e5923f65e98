"""Shared fixtures: one tiny fixture set per session, built by the package's own factory."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# No model hub is reachable here or in CI: fail fast instead of retrying for 25 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# An empty hub cache of the session's own: a vocoder the machine's cache happens to hold would change what the
# tool reads as the Trainer's vocoder weights (goldens, verdicts), a fact of the machine, not of the product.
# Tests that need a cached Vocos lay one out and point huggingface_hub at it themselves.
os.environ["HF_HUB_CACHE"] = tempfile.mkdtemp(prefix="f5-parity-test-hub-")
atexit.register(shutil.rmtree, os.environ["HF_HUB_CACHE"], True)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The bundled trained fixture is this checkout's fixtures/ptbr-tiny: after the README's `pip install .` (no editable
# install) the installed package cannot find it from where it lives, so the tests name it.
os.environ.setdefault("F5_PARITY_FIXTURE", str(Path(__file__).resolve().parents[1] / "fixtures" / "ptbr-tiny"))
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one pytest worker per core: each worker (and every parity-check it starts) keeps to one
    # OpenMP/BLAS thread, so two workers do not run four threads on two cores.
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")


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


@pytest.fixture
def wrapper_env(fixture_set, pt_cases, tmp_path, monkeypatch):
    """What the wrappers of tests/test_observe_infer.py read: the config, a permuted vocab, a trimmed reference."""
    import torchaudio

    from f5_parity.f5.vocab import read_vocab_chars

    monkeypatch.setenv("WRAPPER_CONFIG", str(fixture_set.config))
    chars = read_vocab_chars(fixture_set.vocab)
    permuted = tmp_path / "permuted_vocab.txt"
    permuted.write_text("".join(c + "\n" for c in [chars[0], *reversed(chars[1:])]), encoding="utf-8")
    monkeypatch.setenv("WRAPPER_PERMUTED_VOCAB", str(permuted))
    audio, sr = torchaudio.load(str(pt_cases[0].wav))
    trimmed = tmp_path / "trimmed_ref.wav"
    torchaudio.save(str(trimmed), audio[:, int(0.3 * sr):], sr)  # the user's own cut: 0.3 s off the start
    monkeypatch.setenv("WRAPPER_TRIMMED_REF", str(trimmed))
    return pt_cases[0]
