"""One function per command: validate the request, assemble what it runs on, run it, write its files
through render/, and return the typed result. Nothing here prints or exits; progress goes to the
`progress(what, fraction)` callback the caller gives (the CLI's rich display, or nothing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from f5_parity.engine.requests import (DamageRequest, DemoRequest, ExportRequest, FingerprintRequest, InspectRequest,
                                       RunRequest,
                                       ScoreRequest)
from f5_parity.errors import InputError

if TYPE_CHECKING:  # the results' types (their modules load torch and f5-tts)
    from f5_parity.demo.damage import DamageTable
    from f5_parity.parity.fingerprint import FamilyVerdict
    from f5_parity.parity.result import RunReport
    from f5_parity.render.outputs import RunFiles
    from f5_parity.scoring.metrics import PooledScore, UtteranceScore

Progress = Callable[[str, "float | None"], None]


def _quiet(what: str, fraction: float | None = None) -> None:
    """No display: the API's default progress."""


def _command(command: str | None) -> str:
    from f5_parity.parity.pipeline import exact_command

    return command if command is not None else exact_command()


# --- run ----------------------------------------------------------------------------------------------


@dataclass
class Checked:
    """What `run` produced: the report, the folder it was written to, and its files."""

    report: RunReport
    out: Path
    files: RunFiles


def check(request: RunRequest, progress: Progress | None = None, *, command: str | None = None,
          validated: bool = False) -> Checked:
    """Validate the run request, assemble the session (the user's infer path observed), run it and write
    run.json, report.md (and --json/--junit). Bad input raises InputError before anything is written."""
    from f5_parity.engine.assemble import build_session, gate_flags
    from f5_parity.parity.gate import load_thresholds
    from f5_parity.parity.pipeline import PipelineOptions, run_pipeline
    from f5_parity.render.markdown import report_dir_name
    from f5_parity.render.outputs import write_run_files

    if not validated:
        request.validate()
    progress = progress or _quiet
    thresholds, source = load_thresholds(gate_flags(request), request.cwd)
    out = Path(request.out) if request.out else Path("reports") / report_dir_name(Path(request.checkpoint).stem,
                                                                                dt.datetime.now())
    built = build_session(request, thresholds, workdir=out / "observed")
    opts = PipelineOptions(out_dir=out, command=_command(command), seed=request.seed, device=request.device,
                           infer_runner=built.runner, observation=built.observation, reuse=built.generation,
                           asr_model=request.asr_model, asr_backend=request.asr_backend, language=request.language,
                           thresholds=thresholds, threshold_source=source,
                           junit=Path(request.junit) if request.junit else None,
                           json_path=Path(request.json) if request.json else None,
                           inspect_config=request.train_config, fingerprint=built.fingerprint,
                           seeds=request.seeds, cross_paths=bool(request.cross_paths))
    report = run_pipeline(built.session, request.checkpoint, opts, progress)
    files = write_run_files(report, out, json_path=opts.json_path, junit=opts.junit)
    report.report_dir = out
    return Checked(report, out, files)


# --- demo ---------------------------------------------------------------------------------------------


@dataclass
class Demoed(Checked):
    injected: tuple[str, ...] = ()
    missing: list[str] = field(default_factory=list)  # injected faults the report did not name


def demo(request: DemoRequest, progress: Progress | None = None, *, command: str | None = None,
         validated: bool = False) -> Demoed:
    """The whole tool on the bundled fixture, its infer side broken on purpose (demo/fixture.py)."""
    from f5_parity.cases.case import builtin_cases
    from f5_parity.demo.fixture import INJECTED, prepare_inputs
    from f5_parity.engine.assemble import build_session
    from f5_parity.files import cache_dir
    from f5_parity.parity.gate import load_thresholds
    from f5_parity.parity.pipeline import PipelineOptions, run_pipeline
    from f5_parity.render.outputs import write_run_files

    if not validated:
        request.validate()
    progress = progress or _quiet
    out = Path(request.out)
    inputs = prepare_inputs(out)
    thresholds, source = load_thresholds({}, Path.cwd())
    # The demo is a run like a user's, assembled by the same code: its inputs are the bundled fixture's files
    # with the infer side broken on purpose, its infer path infer_cli's real wiring, observed.
    run = RunRequest(checkpoint=inputs.checkpoint, train_config=str(inputs.train_config),
                     train_vocab=inputs.train_vocab, infer_config=str(inputs.infer_config),
                     infer_vocab=inputs.infer_vocab, infer_ema=True, mode=request.mode, seed=request.seed,
                     seeds=request.seeds, asr_backend=request.asr_backend)
    run.validate()  # the prepared files, checked as a user's are
    built = build_session(run, thresholds, workdir=out / "observed",
                          cases=builtin_cases(cache_dir() / "cases", request.cases))
    session, runner, observation, generation = built.session, built.runner, built.observation, built.generation
    session.notes.append("demo: the infer side is broken on purpose (v1 flags on a v0 model, EMA weights, "
                         "permuted vocab); the vocoder is Griffin-Lim because no vocoder weights can be downloaded")
    opts = PipelineOptions(out_dir=out, command=_command(command), seed=request.seed, seeds=request.seeds,
                           asr_backend=request.asr_backend, thresholds=thresholds, threshold_source=source,
                           junit=Path(request.junit) if request.junit else None,
                           inspect_config=str(inputs.train_config),
                           infer_runner=runner, observation=observation, reuse=generation,
                           cross_paths=True,  # the demo shows every path, like with like
                           extra={"demo": {"injected": list(INJECTED)}})
    report = run_pipeline(session, inputs.checkpoint, opts, progress)
    files = write_run_files(report, out, junit=opts.junit)
    report.report_dir = out
    found = set(report.culprits)
    return Demoed(report, out, files, tuple(INJECTED), [f for f in INJECTED if f not in found])


# --- damage -------------------------------------------------------------------------------------------


@dataclass
class Damaged:
    table: DamageTable
    out: Path
    markdown: Path


def damage(request: DamageRequest, progress: Progress | None = None, *, validated: bool = False) -> Damaged:
    """Each single infer-side fault injected on the bundled fixture, generated and scored (damage.json/.md)."""
    from f5_parity.cases.case import builtin_cases
    from f5_parity.files import cache_dir, write_json_atomic, write_text_atomic
    from f5_parity.paths.spec import infer_spec, trainer_spec
    from f5_parity.scoring.asr import load_asr
    from f5_parity.demo.damage import damage_table
    from f5_parity.demo.fixture import fixture_dir

    if not validated:
        request.validate()
    progress = progress or _quiet
    fx = fixture_dir()
    ckpt, cfg, vocab = fx / "model_ptbr_tiny.pt", fx / "F5TTS_ptbr_tiny.yaml", fx / "vocab.txt"
    train = trainer_spec(ckpt, train_config=cfg, train_vocab=vocab, vocoder_path=None, seed=request.seed)
    clean = infer_spec(ckpt, infer_config=cfg, infer_vocab=vocab, use_ema=False, vocoder_path=None, seed=request.seed)
    cases = builtin_cases(cache_dir() / "cases", request.cases)
    out = Path(request.out)
    asr = load_asr(None, backend=request.asr_backend)
    table = damage_table(train, clean, cases, out, asr, seed=request.seed, seeds=request.seeds,
                         factors=request.factor or None, progress=lambda what: progress(what, None))
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "damage.json", table.to_dict())
    md = write_text_atomic(out / "damage.md", table.markdown() + "\n")
    return Damaged(table, out, Path(md))


# --- inspect ------------------------------------------------------------------------------------------


def inspect(request: InspectRequest, *, validated: bool = False):
    """The checkpoint's anatomy and what F5's loaders do with it (InspectReport); --json written when asked."""
    from f5_parity.checkpoint.inspect import inspect_checkpoint
    from f5_parity.files import write_json_atomic

    if not validated:
        request.validate()
    report = inspect_checkpoint(request.checkpoint, request.config, request.vocab, request.train_vocab,
                                request.text or None)
    if request.json:
        write_json_atomic(request.json, report.to_dict())
    return report


# --- fingerprint --------------------------------------------------------------------------------------


@dataclass
class Fingerprinted:
    verdicts: list[FamilyVerdict]  # one per family
    skipped: list[str]  # candidate vocabs left out, and why


def fingerprint(request: FingerprintRequest, progress: Progress | None = None, *,
                validated: bool = False) -> Fingerprinted:
    """Which training settings the checkpoint's own flow-matching loss prefers."""
    from f5_parity.cases.case import cases_from_flags, dataset_cases
    from f5_parity.checkpoint.file import open_checkpoint
    from f5_parity.checkpoint.loads import architecture
    from f5_parity.f5.configs import fixed_arch_flags
    from f5_parity.f5.vocab import official_vocab_path, read_vocab_chars
    from f5_parity.parity.fingerprint import fingerprint as run_fingerprint
    from f5_parity.paths.spec import trainer_spec

    if not validated:
        request.validate()
    vocab_files: dict[str, str] = {f"given: {v}": v for v in request.vocab}
    if request.dataset:
        cases = dataset_cases(request.dataset, count=request.cases)
        if (Path(request.dataset) / "vocab.txt").is_file():
            vocab_files[f"dataset: {Path(request.dataset) / 'vocab.txt'}"] = str(Path(request.dataset) / "vocab.txt")
    else:
        cases = cases_from_flags(request.ref_audio, request.ref_text, None)
    default = str(official_vocab_path())
    first = next(iter(vocab_files.values()), default)
    ck = open_checkpoint(request.checkpoint)
    sets = ck.weight_sets()
    arch = architecture(ck)
    spec = trainer_spec(request.checkpoint, train_config=None, train_vocab=first, vocoder_path=None,
                        detected_arch={"backbone": arch.backbone, **arch.settings})
    # Start from v1 (the 1.x default); a release that builds v0 only (0.x) starts from what it builds.
    spec = spec.with_value("arch", **(fixed_arch_flags(arch.backbone) or dict(pe_attn_head=None, text_mask_padding=True)))
    if "raw" not in sets:
        spec = spec.with_value("weights", set="ema")
    has_ema = "raw" in sets and "ema" in sets
    size = arch.text_num_embeds  # vocab entries the text embedding was built for (rows minus the filler)
    if size == len(read_vocab_chars(default)):
        vocab_files.setdefault(f"f5-tts default: {default}", default)
    if not vocab_files:
        raise InputError(f"no candidate vocab fits the embedding ({size} entries)", "give the training vocab with --vocab")
    skipped = []
    for k in [k for k, p in vocab_files.items() if size is not None and len(read_vocab_chars(p)) != size]:
        skipped.append(f"skipping vocab {k}: {len(read_vocab_chars(vocab_files[k]))} entries, the embedding has {size}")
        vocab_files.pop(k)
    if not vocab_files:
        raise InputError(f"no candidate vocab has {size} entries like the embedding", "give the training vocab with --vocab")
    spec = spec.with_value("vocab", locator={"path": next(iter(vocab_files.values()))})
    if progress:
        progress("computing the flow-matching loss of each candidate...", None)
    verdicts = run_fingerprint(spec, cases, vocab_files=vocab_files, include_ema=has_ema, draws=request.draws,
                               max_draws=max(request.draws, request.max_draws), seed=request.seed)
    if request.json:
        from f5_parity.files import write_json_atomic

        write_json_atomic(request.json, {"checkpoint": request.checkpoint, "families": [v.to_dict() for v in verdicts]})
    return Fingerprinted(list(verdicts), skipped)


# --- score --------------------------------------------------------------------------------------------


@dataclass
class Scored:
    scores: list[UtteranceScore]  # one per wav
    pooled: PooledScore
    findings: list[list[str]]  # per wav: what the audio itself shows (silent, clipped, ...)
    asr: dict[str, Any]  # the ASR's description
    normalizer: str
    json: Path | None = None


def score(request: ScoreRequest, *, validated: bool = False) -> Scored:
    """Transcribe the wavs with the offline Whisper and score them against their texts."""
    from f5_parity.files import write_json_atomic
    from f5_parity.scoring.asr import load_asr
    from f5_parity.scoring.audio import audio_findings, levels, read_audio
    from f5_parity.scoring.metrics import check_reference, pool, score_report, score_text, score_wav
    from f5_parity.scoring.textnorm import normalizer

    if not validated:
        request.validate()
    norm = normalizer(strip_diacritics=request.strip_diacritics)
    audios = [read_audio(path) for path in request.wavs]  # every input problem before Whisper loads
    for text in request.text:
        check_reference(text, norm)
    asr = load_asr(request.asr_model, request.asr_backend, request.language, request.device)
    findings = [audio_findings(audio) for audio in audios]
    scores = []
    for audio, text, found in zip(audios, request.text, findings):
        if any(f.startswith("silent") for f in found):  # Whisper invents words in silence: nothing was said
            s = score_text(text, "", norm)
            s.wav = audio.path
        else:
            s = score_wav(audio, text, asr, norm)
        scores.append(s)
    json_path = None
    if request.json:
        report = score_report(scores, asr, norm)
        report["command"] = {"wavs": list(request.wavs), "texts": list(request.text)}
        for utterance, audio, found in zip(report["utterances"], audios, findings):
            utterance["audio"] = {"findings": found, **levels(audio)}
        try:
            json_path = write_json_atomic(request.json, report)
        except OSError as exc:
            raise InputError(f"cannot write {request.json} ({exc.strerror})", "pass a writable path to --json") from None
    return Scored(scores, pool(scores), findings, asr.describe(), norm.name, json_path)


# --- export -------------------------------------------------------------------------------------------


@dataclass
class Exported:
    """What `export` wrote: the new file, the set it holds in which slots, and the input's hash (unchanged)."""

    out: Path
    weights: str
    slots: tuple[str, ...]
    tensors: int
    source_sha256: str


def export(request: ExportRequest, *, validated: bool = False) -> Exported:
    """A new checkpoint whose EMA slot (what f5's load_checkpoint reads with use_ema=True, infer_cli's only way)
    holds the chosen set, keyed as ema_pytorch keys it; its model_state_dict slot holds the same set, so either
    loader setting loads it. The input is opened read-only (no pickle executed) and never written."""
    import torch

    from f5_parity.checkpoint.file import open_checkpoint
    from f5_parity.files import sha256_file, write_atomic

    if not validated:
        request.validate()
    ck = open_checkpoint(request.checkpoint)
    try:
        weights = ck.state_dict(request.weights)
    except KeyError as exc:
        raise InputError(f"{request.checkpoint} has no {request.weights} weights ({exc})",
                         "`parity-check inspect` lists the sets the file holds") from None
    # load_checkpoint(use_ema=True) strips "ema_model." and drops ema_pytorch's own two buffers
    ema = {f"ema_model.{k}": v for k, v in weights.items()}
    ema.update(initted=torch.tensor(True), step=torch.tensor(0))
    data = {"model_state_dict": dict(weights), "ema_model_state_dict": ema,
            "exported_by": {"tool": "f5-parity export", "weights": request.weights, "for": request.for_,
                            "source_sha256": ck.sha256}}
    if ck.update is not None:
        data["update"] = ck.update
    write_atomic(request.out, lambda f: torch.save(data, f))
    return Exported(Path(request.out), request.weights, ("model_state_dict", "ema_model_state_dict"), len(weights),
                    sha256_file(request.checkpoint))
