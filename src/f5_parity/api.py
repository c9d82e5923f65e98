"""The Python API: what `parity-check` does, called from a notebook, a training script or a CI job
without a shell. Each function builds the engine's typed request from its arguments, validates it (the
same checks as the command line, so no output ever lands on an input) and runs it.

Bad input raises f5_parity.InputError(problem, fix); nothing here prints or exits. Paths may be given
as str or os.PathLike, relative to the working directory at the call.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from f5_parity.engine.environment import private_tempdir
from f5_parity.engine.requests import (ExportRequest, FingerprintRequest, InspectRequest, RunRequest,
                                       ScoreRequest, SweepRequest)

if TYPE_CHECKING:  # the types the functions return (imported lazily: torch and f5-tts load with them)
    from f5_parity.checkpoint.inspect import InspectReport
    from f5_parity.engine.run import Scored
    from f5_parity.parity.result import RunReport
    from f5_parity.parity.sweep_report import SweepReport

PathLike = str | os.PathLike

__all__ = ["check", "sweep", "inspect", "fingerprint", "score", "export"]


def _command(function: str, first: Any) -> str:
    """What run.json records as the command: the call, not the Python process's own argv."""
    return f"f5_parity.{function}({os.fspath(first)!r}, ...)" if first is not None else f"f5_parity.{function}(...)"


def check(checkpoint: PathLike, *, train_config: str | PathLike | None = None, train_vocab: PathLike | None = None,
          infer_cli: str | None = None, infer_script: PathLike | None = None, script_args: Iterable[str] = (),
          infer_path: str = "infer-cli", infer_config: str | PathLike | None = None,
          infer_vocab: PathLike | None = None, infer_ema: bool | None = None,
          ref_audio: PathLike | Iterable[PathLike] = (), ref_text: str | Iterable[str] = (),
          gen_text: str | Iterable[str] = (), cases: PathLike | None = None, vocoder: str = "auto",
          vocoder_path: PathLike | None = None, mode: str = "fast", seed: int = 0, seeds: int = 3,
          device: str = "cpu", out: PathLike | None = None, json: PathLike | None = None,
          junit: PathLike | None = None, **options: Any) -> "RunReport":
    """Compare the trainer path and your infer path on one checkpoint and name the culprits (`parity-check run`).

    The infer side is your f5-tts_infer-cli command line (`infer_cli`), your whole script (`infer_script`
    with `script_args`), `infer_path="api"` (the F5TTS class) or your wrapper ("my_pkg.tts:synthesize"),
    observed as it really runs. The report folder (`out`; default reports/<checkpoint>-<time>, relative to the
    working directory at the call, as the command line does) gets run.json and report.md. Every other `parity-check run` option is a keyword of the same name
    (`nfe_step`, `dataset`, `max_wer`, `cross_paths`, ...).

    Returns the RunReport: `.passed`, `.verdict`, `.culprits`, and per factor its evidence and fix;
    `print(report)` (and a notebook's display) gives the verdict, each culprit's fix and where report.md is.
    Raises InputError on bad input (nothing is written then).

    Example::

        import f5_parity

        report = f5_parity.check("ckpts/my_run/model_300.pt", train_config="F5TTS_v1_Base",
                                 infer_cli="f5-tts_infer-cli -p ckpts/my_run/model_300.pt -v data/vocab.txt",
                                 out="reports/model_300")
        if not report.passed:
            print(report.culprits)          # e.g. ['vocab']
    """
    from f5_parity.engine.run import check as run_check

    request = RunRequest(checkpoint=checkpoint, train_config=_opt(train_config), train_vocab=train_vocab,
                         infer_cli=infer_cli, infer_script=infer_script, script_args=list(script_args),
                         infer_path=infer_path, infer_config=_opt(infer_config), infer_vocab=infer_vocab,
                         infer_ema=infer_ema, ref_audio=ref_audio, ref_text=ref_text, gen_text=gen_text,
                         cases=cases, vocoder=vocoder, vocoder_path=vocoder_path, mode=mode, seed=seed, seeds=seeds,
                         device=device, out=out, json=json, junit=junit, **options)
    with private_tempdir():
        return run_check(request, command=_command("check", checkpoint)).report


def sweep(run: PathLike | Iterable[PathLike], *, out: PathLike | None = None, junit: PathLike | None = None,
          mode: str = "fast", gate: str = "best", weights: str = "raw,ema", seed: int = 0, seeds: int = 3,
          device: str = "cpu", **options: Any) -> "SweepReport":
    """Judge every checkpoint of a training run as `check` judges one (`parity-check sweep`).

    `run` is F5's ckpts/<exp>/ folder, a glob, or checkpoint files. The output folder (`out`, default
    reports/sweep-<folder>) holds sweep.json, sweep.md, the curves and the cache a rerun resumes from; it
    may not be the run folder or inside it. The infer side and the other options are `check`'s keywords.

    Returns the SweepReport: `.passed`, `.checkpoints`, `.first_bad`, `.recommendation`.

    Example::

        import f5_parity

        report = f5_parity.sweep("ckpts/my_run", train_config="F5TTS_v1_Base", out="reports/sweep")
        print(report.recommendation)        # the checkpoint (and weights) to ship
    """
    from f5_parity.engine.sweep import sweep as run_sweep

    request = SweepRequest(run=run, out=out, junit=junit, mode=mode, gate=gate, weights=weights, seed=seed,
                           seeds=seeds, device=device, **options)
    with private_tempdir():
        return run_sweep(request, command=_command("sweep", None)).report


def inspect(checkpoint: PathLike, *, config: str | PathLike | None = None, vocab: PathLike | None = None,
            train_vocab: PathLike | None = None, text: str | Iterable[str] = (),
            json: PathLike | None = None) -> "InspectReport":
    """What a checkpoint file holds and what F5-TTS's loaders will do with it (`parity-check inspect`),
    read without executing a pickle.

    Returns the InspectReport: `.failed`, `.results` (one per probe), `.to_dict()`.

    Example::

        import f5_parity

        report = f5_parity.inspect("ckpts/my_run/model_300.pt", config="F5TTS_v1_Base", vocab="data/vocab.txt")
        print([r.probe for r in report.results if r.status.failed])
    """
    from f5_parity.engine.run import inspect as run_inspect

    return run_inspect(InspectRequest(checkpoint=checkpoint, config=_opt(config), vocab=vocab,
                                      train_vocab=train_vocab, text=text, json=json))


def fingerprint(checkpoint: PathLike, *, dataset: PathLike | None = None, ref_audio: PathLike | Iterable = (),
                ref_text: str | Iterable[str] = (), vocab: PathLike | Iterable[PathLike] = (), **options: Any) -> list:
    """The training settings the weights cannot reveal (v0/v1 flags, vocab order, raw/EMA), settled by the
    checkpoint's own flow-matching loss on your audio (`parity-check fingerprint`). Returns one verdict per
    family (`.family`, `.winner`, `.decisive`).

    Example::

        import f5_parity

        for verdict in f5_parity.fingerprint("model_300.pt", dataset="data/my_dataset"):
            print(verdict.family, verdict.winner)
    """
    from f5_parity.engine.run import fingerprint as run_fingerprint

    request = FingerprintRequest(checkpoint=checkpoint, dataset=dataset, ref_audio=ref_audio, ref_text=ref_text,
                                 vocab=vocab, **options)
    with private_tempdir():
        return run_fingerprint(request).verdicts


def score(wavs: PathLike | Iterable[PathLike], text: str | Iterable[str], **options: Any) -> "Scored":
    """Transcribe wavs with the offline Whisper and score them against their texts (`parity-check score`).

    Example::

        import f5_parity

        scored = f5_parity.score(["out/gen.wav"], ["Olá, tudo bem?"])
        print(scored.pooled.wer_pooled)
    """
    from f5_parity.engine.run import score as run_score

    return run_score(ScoreRequest(wavs=wavs, text=text, **options))


def _opt(value: str | PathLike | None) -> str | None:
    return None if value is None else os.fspath(value)


def export(checkpoint: PathLike, out: PathLike, *, weights: str = "raw", for_: str = "infer-cli"):
    """Write `out`, a new checkpoint whose EMA slot holds `weights` ("raw": what the Trainer's samples came from)
    for f5-tts_infer-cli, which always loads that slot (`parity-check export`). The input is never written; an
    existing `out` is refused.

    Returns what was written (`.out`, `.weights`, `.slots`, `.source_sha256`). Raises InputError on bad input.

    Example::

        import f5_parity

        f5_parity.export("ckpts/my_run/model_300.pt", "ckpts/my_run/model_300_raw.pt")
        # then: f5-tts_infer-cli -p ckpts/my_run/model_300_raw.pt ...
    """
    from f5_parity.engine.run import export as run_export

    return run_export(ExportRequest(checkpoint=checkpoint, out=out, weights=weights, for_=for_))
