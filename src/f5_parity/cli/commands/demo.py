"""`parity-check demo`: the whole tool on the bundled fixture, with the user's failure in miniature."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "demo"
HELP = "run parity-check on the bundled trained fixture with three injected infer-side faults; writes a report"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="reports/demo", help="report folder (default reports/demo)")
    p.add_argument("--mode", choices=["fast", "full"], default="full",
                   help="full (default): also generate, score and gate every path, minutes on CPU; fast: stages and "
                        "isolation only")
    p.add_argument("--cases", type=int, default=2, help="a COUNT (not a file, unlike run --cases): "
                        "built-in Portuguese sentences (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=3, help="full mode: noise seeds per generated path (default 3)")
    p.add_argument("--junit", help="also write a JUnit XML file")
    p.add_argument("--asr-backend", choices=["faster-whisper", "openai-whisper"], default="faster-whisper")


def execute(args, console) -> int:
    from f5_parity.cases.case import builtin_cases
    from f5_parity.testing.demo import INJECTED, prepare_inputs
    from f5_parity.files import cache_dir
    from f5_parity.parity.gate import load_thresholds
    from f5_parity.parity.pipeline import PipelineOptions, exact_command, run_pipeline
    from f5_parity.render.outputs import write_run_files
    from f5_parity.parity.session import ParitySession
    from f5_parity.paths.spec import infer_spec, trainer_spec
    from f5_parity.cli.commands.progress import progress_reporter

    out = Path(args.out)
    inputs = prepare_inputs(out)
    train = trainer_spec(inputs.checkpoint, train_config=inputs.train_config, train_vocab=inputs.train_vocab,
                         vocoder_path=None, seed=args.seed)
    infer = infer_spec(inputs.checkpoint, infer_config=inputs.infer_config, infer_vocab=inputs.infer_vocab,
                       use_ema=True, vocoder_path=None, seed=args.seed)
    cases = builtin_cases(cache_dir() / "cases", args.cases)
    thresholds, source = load_thresholds({}, Path.cwd())
    # The demo's infer path is infer_cli's real wiring, observed like a user's: the spec is what it did.
    from f5_parity.parity.observed import InferRunner, observe_infer_path

    runner = InferRunner()
    observation, observed, generation, _ = observe_infer_path(runner, infer, train, cases[0], mode=args.mode,
                                                              seed=args.seed, device="cpu", workdir=out / "observed")
    session = ParitySession(train, observed or infer, cases, mode=args.mode, tolerances=thresholds.tolerances or None,
                            infer_failure=observation.failure)
    session.notes.extend(observation.notes)
    session.notes.append("demo: the infer side is broken on purpose (v1 flags on a v0 model, EMA weights, "
                         "permuted vocab); the vocoder is Griffin-Lim because no vocoder weights can be downloaded")
    from f5_parity.cli.commands.run import check_seeds

    opts = PipelineOptions(out_dir=out, command=exact_command(), seed=args.seed, seeds=check_seeds(args.seeds),
                           asr_backend=args.asr_backend,
                           thresholds=thresholds, threshold_source=source,
                           junit=Path(args.junit) if args.junit else None,
                           inspect_config=str(inputs.train_config),
                           infer_runner=runner, observation=observation, reuse=generation,
                           cross_paths=True,  # the demo shows every path, like with like
                           extra={"demo": {"injected": list(INJECTED)}})
    with progress_reporter(console) as progress:
        report = run_pipeline(session, inputs.checkpoint, opts, progress)
        files = write_run_files(report, out, junit=opts.junit)
    from f5_parity.render.terminal import render_run_summary

    render_run_summary(report, console)
    found = set(report.culprits)
    missing = [f for f in INJECTED if f not in found]
    console.print(f"report: {files.report}")
    if missing:
        console.print(f"[bold red]demo self-check FAILED[/]: injected {', '.join(missing)} not named as culprit")
        return 1
    console.print(f"demo self-check passed: every injected fault ({', '.join(INJECTED)}) is named, with its fix")
    return 0
