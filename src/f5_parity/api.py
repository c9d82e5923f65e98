"""The Python API: what `parity-check` does, called from a notebook, a training script or a CI job
without a shell. Each function builds the engine's typed request from its arguments, validates it (the
same checks as the command line, so no output ever lands on an input) and runs it.

Bad input raises f5_parity.InputError(problem, fix); nothing here prints or exits. Paths may be given
as str or os.PathLike, relative to the working directory at the call.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Literal

from f5_parity.engine.environment import private_tempdir
from f5_parity.engine.requests import (DEFAULT_DRAWS, ExportRequest, FingerprintRequest, InspectRequest, RunRequest,
                                       ScoreRequest, SweepRequest)
from f5_parity.errors import InputError

if TYPE_CHECKING:  # the types the functions return (imported lazily: torch and f5-tts load with them)
    from f5_parity.checkpoint.inspect import InspectReport
    from f5_parity.engine.run import Exported, Scored
    from f5_parity.parity.fingerprint import FamilyVerdict
    from f5_parity.parity.result import RunReport
    from f5_parity.sweeps.report import SweepReport

PathLike = str | os.PathLike
Mode = Literal["fast", "full"]
Precision = Literal["no", "fp16", "bf16"]
Vocoder = Literal["auto", "griffin-lim"]
AsrBackend = Literal["faster-whisper", "openai-whisper"]
WeightSet = Literal["raw", "ema"]
# A gate threshold: one number for every generated path, or per path ({"infer": 0.5, "trainer": 0.6}).
Threshold = float | Mapping[str, float] | None
# The largest infer-minus-trainer gap per metric ({"cer": 0.2, "mcd": 0.25}): the metrics have different scales.
Gaps = Mapping[str, float] | None

__all__ = ["check", "sweep", "inspect", "fingerprint", "score", "export"]


def _command(function: str, first: object) -> str:
    """What run.json records as the command: the call, not the Python process's own argv."""
    return f"f5_parity.{function}({os.fspath(first)!r}, ...)" if first is not None else f"f5_parity.{function}(...)"


@contextlib.contextmanager
def _keywords(function: str) -> Iterator[None]:
    """The engine's one-line errors name the command's flags (`--seed -1 is out of range`); called from Python,
    the same error names the keyword (`seed=-1 is out of range`), and the fix names it too."""
    import inspect as pyinspect

    names = set(pyinspect.signature(globals()[function]).parameters)
    try:
        yield
    except InputError as exc:
        raise type(exc)(_spelled(exc.problem, names, first=True), _spelled(exc.fix, names)) from exc.__cause__


def _spelled(text: str, keywords: set[str], *, first: bool = False) -> str:
    def flag(match: re.Match) -> str:
        name = match.group(1).replace("-", "_")
        name = "for_" if name == "for" else name
        if name not in keywords:
            return match.group(0)  # not this function's flag (e.g. one of infer_cli's own options)
        value = match.group(2)
        if value is None:
            return name
        # "--seed -1 is out of range" -> "seed=-1 ..."; "give --seeds 1 or more" -> "give seeds=1 or more";
        # "give --seed a whole number" -> "give seed a whole number"
        joined = (first and match.start() == 0) or re.match(r"[A-Z_.]+$|[-\d'\"]", value)
        return f"{name}={value}" if joined else f"{name} {value}"

    def positional(match: re.Match) -> str:
        name = match.group(0).lower()
        return name if name in keywords else match.group(0)

    text = text.replace("arguments after `--`", "script_args")
    text = re.sub(r"(?<![\w-])--([a-z][a-z0-9-]*)(?: (\S+))?", flag, text)
    return re.sub(r"\b(?:CHECKPOINT|OUT)\b", positional, text)


def _joined(values: str | Iterable[str]) -> str:
    return values if isinstance(values, str) else ",".join(values)


def check(checkpoint: PathLike, *,
          # the trainer side
          train_config: str | PathLike | None = None, train_vocab: PathLike | None = None,
          mixed_precision: Precision = "no",
          # the infer side: an infer_cli line or TOML, the F5TTS class ("api"), a wrapper, or a whole script
          infer_cli: str | None = None, infer_cli_config: PathLike | None = None, infer_path: str = "infer-cli",
          infer_script: PathLike | None = None, script_args: Iterable[str] = (), port_map: PathLike | None = None,
          infer_config: str | PathLike | None = None, infer_vocab: PathLike | None = None,
          infer_ema: bool | None = None, nfe_step: int | None = None, cfg_strength: float | None = None,
          sway_sampling_coef: float | None = None, speed: float | None = None, fix_duration: float | None = None,
          # the vocoder
          vocoder: Vocoder = "auto", vocoder_path: PathLike | None = None,
          # the cases
          ref_audio: PathLike | Iterable[PathLike] = (), ref_text: str | Iterable[str] = (),
          gen_text: str | Iterable[str] = (), cases: PathLike | None = None, dataset: PathLike | None = None,
          samples: PathLike | None = None, sample_text: str | None = None, sample_update: int | None = None,
          # scoring (full mode)
          asr_model: str | None = None, asr_backend: AsrBackend = "faster-whisper", language: str = "pt",
          # the gate (these beat parity.toml, which beats pyproject.toml [tool.parity-check])
          max_wer: Threshold = None, max_cer: Threshold = None, min_similarity: Threshold = None,
          max_gap: Gaps = None, max_mcd: Threshold = None, min_speaker_similarity: Threshold = None,
          # how, and where
          mode: Mode = "fast", seed: int = 0, seeds: int = 3, cross_paths: bool = False, device: str = "cpu",
          out: PathLike | None = None, json: PathLike | None = None, junit: PathLike | None = None) -> RunReport:
    """Compare the trainer path and your infer path on one checkpoint and name the culprits (`parity-check run`).

    The infer side is your f5-tts_infer-cli command line (`infer_cli`), your whole script (`infer_script`
    with `script_args`; an ONNX port it runs through onnxruntime is judged graph by graph, `port_map` naming
    each graph's stage where its names do not), `infer_path="api"` (the F5TTS class) or your wrapper ("my_pkg.tts:synthesize"),
    observed as it really runs. The report folder (`out`; default reports/<checkpoint>-<time>, relative to the
    working directory at the call, as the command line does) gets run.json and report.md. Each keyword is the
    `parity-check run` flag of the same name, with the same default; thresholds are a number, or a dict per
    path (`max_wer={"infer": 0.5, "trainer": 0.6}`), and `max_gap` a dict per metric
    (`{"cer": 0.2, "mcd": 0.25}`).

    Returns the RunReport: `.passed`, `.verdict`, `.culprits`, and per factor its evidence and fix;
    `print(report)` (and a notebook's display) gives the verdict, each culprit's fix and where report.md is.
    Raises InputError naming the keyword on bad input (nothing is written then).

    Example::

        import f5_parity

        report = f5_parity.check("ckpts/my_run/model_300.pt", train_config="F5TTS_v1_Base",
                                 infer_cli="f5-tts_infer-cli -p ckpts/my_run/model_300.pt -v data/vocab.txt",
                                 out="reports/model_300")
        if not report.passed:
            print(report.culprits)          # e.g. ['vocab']
    """
    given = dict(locals())  # the arguments, before anything else is a local
    from f5_parity.engine.run import check as run_check

    with _keywords("check"):
        request = RunRequest(**given)
        with private_tempdir():
            return run_check(request, command=_command("check", checkpoint)).report


def sweep(run: PathLike | Iterable[PathLike], *,
          # the trainer side
          train_config: str | PathLike | None = None, train_vocab: PathLike | None = None,
          mixed_precision: Precision = "no",
          # the infer side, as `check`
          infer_cli: str | None = None, infer_cli_config: PathLike | None = None, infer_path: str = "infer-cli",
          infer_script: PathLike | None = None, script_args: Iterable[str] = (), port_map: PathLike | None = None,
          infer_config: str | PathLike | None = None, infer_vocab: PathLike | None = None,
          infer_ema: bool | None = None, nfe_step: int | None = None, cfg_strength: float | None = None,
          sway_sampling_coef: float | None = None, speed: float | None = None, fix_duration: float | None = None,
          # the vocoder
          vocoder: Vocoder = "auto", vocoder_path: PathLike | None = None,
          # the cases
          ref_audio: PathLike | Iterable[PathLike] = (), ref_text: str | Iterable[str] = (),
          gen_text: str | Iterable[str] = (), cases: PathLike | None = None, dataset: PathLike | None = None,
          samples: PathLike | None = None, sample_text: str | None = None, sample_update: int | None = None,
          # scoring (full mode)
          asr_model: str | None = None, asr_backend: AsrBackend = "faster-whisper", language: str = "pt",
          # each checkpoint's gate, as `check`
          max_wer: Threshold = None, max_cer: Threshold = None, min_similarity: Threshold = None,
          max_gap: Gaps = None, max_mcd: Threshold = None, min_speaker_similarity: Threshold = None,
          # the sweep
          mode: Mode = "fast", seed: int = 0, seeds: int = 3,
          weights: str | Iterable[WeightSet] = ("raw", "ema"), held_out: PathLike | None = None,
          quality_draws: int = DEFAULT_DRAWS, train_log: PathLike | None = None,
          gate: Literal["best", "all", "last"] = "best", device: str = "cpu",
          out: PathLike | None = None, junit: PathLike | None = None,
          watch: bool = False, poll: float = 10.0, watch_timeout: float = 3600.0) -> SweepReport:
    """Judge every checkpoint of a training run as `check` judges one (`parity-check sweep`).

    `run` is F5's ckpts/<exp>/ folder, a glob, or checkpoint files. The output folder (`out`, default
    reports/sweep-<folder>) holds sweep.json, sweep.md, the curves and the cache a rerun resumes from; it
    may not be the run folder or inside it. Each keyword is the `parity-check sweep` flag of the same name,
    with the same default; `weights` is a list of "raw" and "ema". Several processes: `parity-check sweep
    --launch N` (torchrun), which a Python call cannot start on itself.

    Returns the SweepReport: `.passed`, `.checkpoints` (a CheckpointResult each: `.verdict`, `.culprits`,
    `.quality`, `.scores`), `.first_bad`, `.recommendation` (`.checkpoint`, `.weights`, `.reason`), `.gate`.
    Raises InputError naming the keyword on bad input (nothing is written then).

    Example::

        import f5_parity

        report = f5_parity.sweep("ckpts/my_run", train_config="F5TTS_v1_Base", out="reports/sweep")
        print(report.recommendation)        # the checkpoint (and weights) to ship
    """
    given = dict(locals())  # the arguments, before anything else is a local
    from f5_parity.engine.sweep import sweep as run_sweep

    with _keywords("sweep"):
        request = SweepRequest(**{**given, "weights": _joined(weights)})
        with private_tempdir():
            return run_sweep(request, command=_command("sweep", None)).report


def inspect(checkpoint: PathLike, *, config: str | PathLike | None = None, vocab: PathLike | None = None,
            train_vocab: PathLike | None = None, text: str | Iterable[str] = (),
            json: PathLike | None = None) -> InspectReport:
    """What a checkpoint file holds and what F5-TTS's loaders will do with it (`parity-check inspect`),
    read without executing a pickle.

    Returns the InspectReport: `.failed`, `.results` (one per probe), `.to_dict()`.
    Raises InputError naming the keyword on bad input.

    Example::

        import f5_parity

        report = f5_parity.inspect("ckpts/my_run/model_300.pt", config="F5TTS_v1_Base", vocab="data/vocab.txt")
        print([r.probe for r in report.results if r.status.failed])
    """
    given = dict(locals())
    from f5_parity.engine.run import inspect as run_inspect

    with _keywords("inspect"):
        return run_inspect(InspectRequest(**given))


def fingerprint(checkpoint: PathLike, *, vocab: PathLike | Iterable[PathLike] = (), dataset: PathLike | None = None,
                ref_audio: PathLike | Iterable[PathLike] = (), ref_text: str | Iterable[str] = (), cases: int = 3,
                draws: int = 6, max_draws: int = 30, seed: int = 0, device: str = "cpu",
                json: PathLike | None = None) -> list[FamilyVerdict]:
    """The training settings the weights cannot reveal (v0/v1 flags, vocab order, raw/EMA), settled by the
    checkpoint's own flow-matching loss on your audio (`parity-check fingerprint`). `cases` is a count of clips
    (from `dataset`, or the `ref_audio`/`ref_text` pairs); each keyword is the flag of the same name.

    Returns one FamilyVerdict per family (`.family`, `.winner`, `.decisive`, `.margin`).
    Raises InputError naming the keyword on bad input.

    Example::

        import f5_parity

        for verdict in f5_parity.fingerprint("model_300.pt", dataset="data/my_dataset"):
            print(verdict.family, verdict.winner)
    """
    given = dict(locals())
    from f5_parity.engine.run import fingerprint as run_fingerprint

    with _keywords("fingerprint"):
        request = FingerprintRequest(**given)
        with private_tempdir():
            return run_fingerprint(request).verdicts


def score(wavs: PathLike | Iterable[PathLike], text: str | Iterable[str], *, asr_model: str | None = None,
          asr_backend: AsrBackend = "faster-whisper", language: str = "pt", device: str = "cpu",
          strip_diacritics: bool = False, json: PathLike | None = None) -> Scored:
    """Transcribe wavs with the offline Whisper and score them against their texts (`parity-check score`),
    one text per wav.

    Returns the Scored result: `.scores` (one per wav, with the transcript), `.pooled`, `.findings`.
    Raises InputError naming the keyword on bad input.

    Example::

        import f5_parity

        scored = f5_parity.score(["out/gen.wav"], ["Olá, tudo bem?"])
        print(scored.pooled.wer_pooled)
    """
    given = dict(locals())
    from f5_parity.engine.run import score as run_score

    with _keywords("score"):
        return run_score(ScoreRequest(**given))


def export(checkpoint: PathLike, out: PathLike, *, weights: WeightSet = "raw",
           for_: Literal["infer-cli"] = "infer-cli") -> Exported:
    """Write `out`, a new checkpoint whose EMA slot holds `weights` ("raw": what the Trainer's samples came from)
    for f5-tts_infer-cli, which always loads that slot (`parity-check export`). The input is never written; an
    existing `out` is refused.

    Returns what was written (`.out`, `.weights`, `.slots`, `.source_sha256`).
    Raises InputError naming the keyword on bad input.

    Example::

        import f5_parity

        f5_parity.export("ckpts/my_run/model_300.pt", "ckpts/my_run/model_300_raw.pt")
        # then: f5-tts_infer-cli -p ckpts/my_run/model_300_raw.pt ...
    """
    given = dict(locals())
    from f5_parity.engine.run import export as run_export

    with _keywords("export"):
        return run_export(ExportRequest(**given))
