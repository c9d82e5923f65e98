"""A whole parity run as users meet it: engine, probes, full-mode audio and scores, gate, report files.

It returns one RunReport (parity/result.py), the single source of truth; report.md, the JUnit file, the
GitHub step summary and the PNGs are rendered from it by the render layer. Progress goes to a callback;
nothing here prints.
"""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

from f5_parity.probe import ProbeContext, discover, run_group
from f5_parity.parity.result import ByDesignDifference, CheckpointRef, Factor, GateResult, Reproducibility, RunReport
from f5_parity.parity.session import ParitySession

Progress = Callable[[str, float | None], None]  # (what, fraction done or None)


@dataclass
class PipelineOptions:
    out_dir: Path
    command: str
    seed: int = 0
    seeds: int = 1  # full mode: noise seeds per generated path (seed, seed+1, ...); parity/seeds.py
    device: str = "cpu"
    asr_model: str | None = None
    asr_backend: str = "faster-whisper"
    language: str = "pt"
    thresholds: Any = None  # gate.Thresholds
    threshold_source: str = "defaults"
    junit: Path | None = None
    json_path: Path | None = None
    inspect_config: str | None = None
    infer_runner: Any = None  # generation.InferRunner: infer_cli (default), the F5TTS class, or module:function
    fingerprint: dict[str, Any] | None = None  # what the fingerprint settled, when it ran
    observation: Any = None  # observe.path.InferObservation: what the user's infer path really did
    reuse: Any = None  # the infer path's generation of the first case (full mode), not generated again
    cross_paths: bool = False  # full mode: also trainer settings on the held-out text, infer path on the copy task
    extra: dict[str, Any] = field(default_factory=dict)  # demo/fixture facts to keep in the JSON


def _versions(asr_backend: str) -> dict[str, str | None]:
    def v(dist: str) -> str | None:
        try:
            return version(dist)
        except PackageNotFoundError:
            return None

    return {"f5-parity": v("f5-parity"), "f5-tts": v("f5-tts"), "torch": v("torch"), "torchaudio": v("torchaudio"),
            asr_backend: v(asr_backend), "python": platform.python_version()}


def run_pipeline(session: ParitySession, checkpoint: str | Path, opts: PipelineOptions,
                 progress: Progress | None = None) -> RunReport:
    """The whole run as one typed RunReport. Wavs and mel data land under opts.out_dir; writing run.json,
    report.md, the PNGs and the JUnit file is the render layer's job."""
    from f5_parity.checkpoint.inspect import inspect_checkpoint
    from f5_parity.parity.gate import evaluate_gate, too_few_units

    say = progress or (lambda what, frac=None: None)
    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = Path(checkpoint)

    from f5_parity.parity import trainer_side

    side = trainer_side.decide(opts.device)
    if side.source == "installed-trainer":  # unknown or edited f5-tts: its own Trainer produces the trainer side
        say("running the installed Trainer's sample code", None)
        trainer_side.apply_installed_trainer(side, session, session.cases[0], opts.seed)
    trainer_samples = {}
    if session.mode == "full" and session.infer_failure is None and session.port is None:
        trainer_samples = _trainer_samples(session, opts, say)
    say("comparing stages and isolating", None)
    result = session.run()

    say("inspecting the checkpoint", None)
    texts = sorted({t for c in session.cases for t in (c.ref_text, c.gen_text)})
    inspected = inspect_checkpoint(checkpoint, config=opts.inspect_config,
                                   vocab=session.infer.locate("vocab", "path"),
                                   train_vocab=session.train.locate("vocab", "path"), texts=texts,
                                   opened=session.runner.pool.checkpoint(checkpoint))
    ck = inspected.context["checkpoint"]
    run = result.to_dict()
    report = RunReport(
        verdict=result.verdict, parity_verdict=result.verdict, culprits=run["culprits"],
        factors={fid: Factor.from_dict(f) for fid, f in run["factors"].items()},
        warnings=list(result.warnings), first_divergence=run["first_divergence"],
        stages={case: list(comps) for case, comps in result.stages.items()},
        by_design=[ByDesignDifference.from_dict(b) for b in run["by_design"]], isolation=result.isolation, specs=run["specs"], notes=run["notes"],
        mode=run["mode"], tolerance_rule=run["tolerance_rule"], seconds=run["seconds"], unbuilt=run["unbuilt"],
        undecided=list(result.undecided),
        fingerprint=opts.fingerprint,
        checkpoint=CheckpointRef(str(checkpoint), checkpoint.stem, ck.sha256),
        cases=[c.to_dict() for c in session.cases], probes=list(inspected.results), gate=None, reproducibility=None,
        extra=dict(opts.extra),
    )
    if opts.observation is not None:
        report.observed_infer = replace(opts.observation)  # a copy: full mode adds its runs to the report's
    if session.mode == "full" and session.port is not None:
        report.notes.append("full mode: a runtime port's wavs are not generated or scored over seeds here; its "
                            "stages are judged graph by graph (fast mode judges the same)")
    if session.mode == "full" and session.infer_failure is None and session.port is None:
        _generate_and_score(session, report, opts, out, say, side, trainer_samples)
    report.environment = side.to_dict()

    say("running the run probes", None)
    report.probes += run_group("run", ProbeContext(resources={"run": report}), catalog=discover())
    gate = evaluate_gate(report.parity_verdict, report.probes, report.scores, opts.thresholds,
                         source=opts.threshold_source)
    report.gate = GateResult.from_dict(gate)
    if (few := too_few_units(gate["checks"])) is not None:
        report.notes.append(few)
    report.verdict = "pass" if report.parity_verdict == "pass" and report.gate.passed else "fail"
    report.reproducibility = Reproducibility(
        versions=_versions(opts.asr_backend),
        asr_model=report.scores.asr.get("model") if report.scores else None,
        checkpoint_sha256=ck.sha256,
        seed=opts.seed,
        device=opts.device,
        command=opts.command,
        created=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return report


def _trainer_samples(session: ParitySession, opts: PipelineOptions, say) -> dict[str, Any]:
    """Full mode generates the trainer sample of each case once: its wav is scored, and its mel is the trainer
    side's final-mel stage (equal to what the stage engine computes at the same seed; tests/test_full_mode.py)."""
    from f5_parity.parity.generate import trainer_case_sample

    made = {}
    for case in session.cases:
        say(f"generating {case.name} through the trainer path", None)
        made[case.name] = trainer_case_sample(session.train, case, session.runner.pool, opts.seed, opts.device)
        if session.train.value("sampler").get("seed") == opts.seed:  # the stages draw their noise from this seed
            session.runner.plant_final_mel(session.train, case, made[case.name].sample.gen_mel.permute(0, 2, 1))
    return made


def _generate_and_score(session: ParitySession, report: RunReport, opts: PipelineOptions, out: Path, say,
                        side=None, trainer_samples: dict[str, Any] | None = None) -> None:
    """Full mode: both real paths generate every case, the ASR scores every wav; final mels kept as data."""
    import numpy as np

    from f5_parity.parity.generate import generate_case, score_all
    from f5_parity.observe.path import InferObservation, InferRunner
    from f5_parity.scoring.asr import load_asr

    runner = opts.infer_runner or InferRunner()
    reuse = {(session.cases[0].name, "infer"): opts.reuse} if opts.reuse is not None else {}
    wavs = []
    for i, case in enumerate(session.cases):
        say(f"generating {case.name} through both paths", i / max(1, len(session.cases)))
        wavs += generate_case(session.train, session.infer, case, out, session.runner.pool, opts.seed, opts.device,
                              runner, reuse=reuse, trainer=(trainer_samples or {}).get(case.name),
                              cross_paths=opts.cross_paths)
        if side is not None:  # unknown or edited f5-tts: the trainer wav is the one its own Trainer wrote
            from f5_parity.parity.trainer_side import replace_trainer_wav

            replace_trainer_wav(side, session, wavs, case, opts.seed)
    if report.observed_infer is None:
        report.observed_infer = InferObservation(runner.kind, runner.target, "observed", session.mode)
    report.observed_infer.runs = runner.observed
    say("loading the ASR", None)
    asr = load_asr(opts.asr_model, backend=opts.asr_backend, language=opts.language, device=opts.device)
    done = [0]

    def tick(what: str) -> None:
        say(f"transcribing {what}", done[0] / max(1, len(wavs)))
        done[0] += 1

    report.scores = score_all(wavs, asr, out, on_progress=tick)
    from f5_parity.parity.seeds import score_seeds  # acoustic metrics, and every path over opts.seeds seeds

    report.scores.acoustic, report.scores.seeds = score_seeds(session, opts, out, wavs, report.scores.rows, asr, say)
    for w in wavs:
        report.artifacts["wavs"][f"{w.case}/{w.path}"] = str(w.wav.relative_to(out))
    # The final mels of both paths on aligned inputs, as data: the render layer draws them.
    for case in session.cases:
        trainer_mel = dict(session.baseline(case)).get("final_mel")
        infer_mel = session.aligned_values.get(case.name, {}).get("final_mel")
        if trainer_mel is None or infer_mel is None:
            continue
        for side, mel in (("trainer", trainer_mel), ("infer", infer_mel)):
            path = out / "mels" / f"{case.name}_{side}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, mel[0].float().numpy())  # [frames, mels]
            report.artifacts.setdefault("mels", {})[f"{case.name}_{side}"] = str(path.relative_to(out))


def exact_command() -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in ["parity-check", *sys.argv[1:]])
