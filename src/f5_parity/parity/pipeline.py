"""A whole parity run as users meet it: engine, probes, full-mode audio and scores, gate, report files.

The JSON assembled here is the single source of truth; report.md, the JUnit file and the GitHub
step summary are rendered from it. Progress goes to a callback; nothing here prints.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

from f5_parity.probe import ProbeContext, discover, run_group
from f5_parity.results import jsonable
from f5_parity.parity.session import ParitySession

Progress = Callable[[str, float | None], None]  # (what, fraction done or None)


@dataclass
class PipelineOptions:
    out_dir: Path
    command: str
    seed: int = 0
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
    extra: dict[str, Any] = field(default_factory=dict)  # demo/fixture facts to keep in the JSON


@dataclass
class PipelineOutcome:
    data: dict[str, Any]
    report: Path
    json_path: Path
    junit: Path | None


def _versions(asr_backend: str) -> dict[str, str | None]:
    def v(dist: str) -> str | None:
        try:
            return version(dist)
        except PackageNotFoundError:
            return None

    return {"f5-parity": v("f5-parity"), "f5-tts": v("f5-tts"), "torch": v("torch"), "torchaudio": v("torchaudio"),
            asr_backend: v(asr_backend), "python": platform.python_version()}


def run_pipeline(session: ParitySession, checkpoint: str | Path, opts: PipelineOptions,
                 progress: Progress | None = None) -> PipelineOutcome:
    from f5_parity.cli.commands.inspect import inspect_checkpoint
    from f5_parity.parity.gate import evaluate_gate
    from f5_parity.render.junit import write_junit
    from f5_parity.render.markdown import append_github_summary, mel_diff_png, mel_png, write_report

    say = progress or (lambda what, frac=None: None)
    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = Path(checkpoint)

    say("comparing stages and isolating", None)
    result = session.run()
    data = result.to_dict()
    data["parity_verdict"] = data["verdict"]
    data["fingerprint"] = getattr(session, "fingerprint", None)

    say("inspecting the checkpoint", None)
    texts = sorted({t for c in session.cases for t in (c.ref_text, c.gen_text)})
    report = inspect_checkpoint(checkpoint, config=opts.inspect_config,
                                vocab=session.infer.locate("vocab", "path"),
                                train_vocab=session.train.locate("vocab", "path"), texts=texts)
    ck = report.context["checkpoint"]
    data["checkpoint"] = {"path": str(checkpoint), "name": checkpoint.stem, "sha256": ck.sha256}
    probes = [r.to_dict() for r in report.results]
    data["cases"] = [c.to_dict() for c in session.cases]

    data["scores"] = None
    artifacts: dict[str, dict[str, str]] = {"wavs": {}, "pngs": {}}
    if session.mode == "full":
        from f5_parity.scoring.asr import load_asr
        from f5_parity.parity.generate import InferRunner, generate_case, score_all

        runner = opts.infer_runner or InferRunner()
        wavs = []
        for i, case in enumerate(session.cases):
            say(f"generating {case.name} through both paths", i / max(1, len(session.cases)))
            wavs += generate_case(session.train, session.infer, case, out, session.runner.pool, opts.seed, opts.device,
                                  runner)
        data["observed_infer"] = {"runner": runner.kind, "target": runner.target, "runs": runner.observed}
        say("loading the ASR", None)
        asr = load_asr(opts.asr_model, backend=opts.asr_backend, language=opts.language, device=opts.device)
        done = [0]

        def tick(what: str) -> None:
            say(f"transcribing {what}", done[0] / max(1, len(wavs)))
            done[0] += 1

        data["scores"] = jsonable(score_all(wavs, asr, out, on_progress=tick).to_dict())
        for w in wavs:
            artifacts["wavs"][f"{w.case}/{w.path}"] = str(w.wav.relative_to(out))
        say("drawing mel spectrograms", None)
        for case in session.cases:
            trainer_mel = dict(session.baseline(case)).get("final_mel")
            infer_mel = session.aligned_values.get(case.name, {}).get("final_mel")
            if trainer_mel is None or infer_mel is None:
                continue
            a, b = trainer_mel[0].numpy(), infer_mel[0].numpy()  # [frames, mels]
            for name, fn in ((f"{case.name}_trainer", lambda p: mel_png(a, p, f"{case.name}: trainer path (final mel)")),
                             (f"{case.name}_infer", lambda p: mel_png(b, p, f"{case.name}: infer path, aligned inputs")),
                             (f"{case.name}_diff", lambda p: mel_diff_png(a, b, p, f"{case.name}: infer - trainer"))):
                path = out / "mels" / f"{name}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                fn(path)
                artifacts["pngs"][name] = str(path.relative_to(out))
    data["artifacts"] = artifacts

    say("running the run probes", None)
    run_results = run_group("run", ProbeContext(resources={"run": data}), catalog=discover())
    data["probes"] = probes + [r.to_dict() for r in run_results]

    data["gate"] = evaluate_gate(data, opts.thresholds)
    data["gate"]["source"] = opts.threshold_source
    data["verdict"] = "pass" if data["parity_verdict"] == "pass" and data["gate"]["passed"] else "fail"
    data["reproducibility"] = {
        "versions": _versions(opts.asr_backend),
        "asr_model": (data["scores"] or {}).get("asr", {}).get("model") if data["scores"] else None,
        "checkpoint_sha256": ck.sha256,
        "seed": opts.seed,
        "device": opts.device,
        "command": opts.command,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    data.update(opts.extra)
    data = jsonable(data)

    json_path = opts.json_path or out / "run.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if opts.json_path and opts.json_path.resolve() != (out / "run.json").resolve():
        (out / "run.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report_path = write_report(data, out)
    if opts.junit:
        write_junit(data, opts.junit)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        append_github_summary(data)
    return PipelineOutcome(data, report_path, json_path, opts.junit)


def exact_command() -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in ["parity-check", *sys.argv[1:]])
