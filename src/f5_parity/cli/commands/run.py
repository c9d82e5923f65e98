"""`parity-check run CHECKPOINT`: the trainer path and the infer path side by side, and the culprits."""

from __future__ import annotations

import argparse


NAME = "run"
HELP = "compare the trainer path and the infer path on one checkpoint, stage by stage, and isolate the cause"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the checkpoint (.pt or .safetensors)")
    g = p.add_argument_group("trainer side")
    g.add_argument("--train-config", help="official config name (F5TTS_Base, F5TTS_v1_Base, ...) or training YAML; "
                                          "when absent, shapes decide and pe_attn_head/text_mask_padding stay unknown")
    g.add_argument("--train-vocab", help="the vocab.txt the model was trained with")
    g.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"],
                   help="the training run's accelerate mixed precision (the trainer samples under its autocast)")
    g = p.add_argument_group("infer side")
    g.add_argument("--infer-cli", help="your f5-tts_infer-cli command line, parsed into the infer side "
                                       "(infer_cli's own defaulting, including its 0-falls-back quirk)")
    g.add_argument("--infer-cli-config", help="your infer_cli TOML (-c), parsed the same way")
    g.add_argument("--infer-path", default="infer-cli",
                   help="how full mode generates on the infer side: infer-cli (utils_infer as infer_cli wires it), "
                        "api (the f5_tts.api.F5TTS class; needs an official --infer-config name), or "
                        "MODULE:FUNCTION / path/to/file.py:FUNCTION, your own wrapper, called as "
                        "fn(ref_audio, ref_text, gen_text, *, checkpoint, vocab, seed, device) -> (wav, sample_rate)")
    g.add_argument("--infer-script", metavar="SCRIPT.py",  # its own arguments: after `--` (cli/main.py)
                   help="your whole inference script, run in this process with the arguments after `--` "
                        "(e.g. --infer-script my_infer.py -- --text 'Olá'); what it does is observed, an ONNX "
                        "port's onnxruntime calls included")
    g.add_argument("--port-map", metavar="FILE.json",
                   help="a runtime port whose graph names and shapes do not say which F5 stage each computes: "
                        '{"GRAPH.onnx": {"stage": "mel|step|decode", "inputs": {ROLE: NAME}, "output": NAME}}')
    g.add_argument("--infer-config", default=None, help="config the infer path uses (default F5TTS_v1_Base, infer_cli's -m default)")
    g.add_argument("--infer-vocab", help="vocab the infer path uses (default: f5-tts's own, as load_model; a "
                        "wrapper is handed the training vocab)")
    g.add_argument("--infer-ema", dest="infer_ema", action="store_true", default=None,
                   help="infer with the EMA weights (load_model's default, used when neither flag is given)")
    g.add_argument("--no-infer-ema", dest="infer_ema", action="store_false", default=None,
                   help="infer with the raw weights")
    g.add_argument("--nfe-step", type=int, default=None, help="default 32 (utils_infer)")
    g.add_argument("--cfg-strength", type=float, default=None, help="default 2.0")
    g.add_argument("--sway-sampling-coef", type=float, default=None, help="default -1.0")
    g.add_argument("--speed", type=float, default=None, help="default 1.0")
    g.add_argument("--fix-duration", type=float, default=None)
    g = p.add_argument_group("vocoder")
    g.add_argument("--vocoder-path", help="local vocoder folder (config.yaml + pytorch_model.bin), as load_vocoder(is_local=True)")
    g.add_argument("--vocoder", choices=["auto", "griffin-lim"], default="auto",
                   help="griffin-lim: a vocoder-free resynthesis (no weights needed), clearly labelled in results")
    g = p.add_argument_group("cases")
    g.add_argument("--ref-audio", action="append", default=[], help="reference wav (repeatable)")
    g.add_argument("--ref-text", action="append", default=[], help="its transcript (repeatable, same order)")
    g.add_argument("--gen-text", action="append", default=[], help="held-out text to generate (repeatable)")
    g.add_argument("--cases", help="a cases FILE (not a count): CSV/TSV with the header ref_audio,ref_text,gen_text"
                                 "[,gen_audio,name], or TOML [[case]] tables with those keys")
    g.add_argument("--dataset", help="an F5 dataset folder (metadata.csv + wavs/)")
    g.add_argument("--samples", help="the Trainer's samples folder (update_N_gen.wav / update_N_ref.wav)")
    g.add_argument("--sample-text", help="what the trainer's sample says (the transcript of its training clip)")
    g.add_argument("--sample-update", type=int, help="which update's samples (default: the latest)")
    g = p.add_argument_group("scoring (full mode)")
    g.add_argument("--asr-model", help="Whisper model name or local path (default: the embedded Whisper base)")
    g.add_argument("--asr-backend", choices=["faster-whisper", "openai-whisper"], default="faster-whisper")
    g.add_argument("--language", default="pt")
    g = p.add_argument_group("gate (flags beat parity.toml beat pyproject.toml [tool.parity-check])")
    g.add_argument("--max-wer", help="largest WER of a generated path: a number, or per path infer=0.5,trainer=0.6 "
                                  "(default 1.0)")
    g.add_argument("--max-cer", help="largest CER of a generated path: a number, or per path (default 0.6)")
    g.add_argument("--min-similarity", help="smallest transcript similarity, 0-100: a number, or per path (default 40)")
    g.add_argument("--max-gap", help="largest infer-minus-trainer gap per metric; in full mode a gap fails only "
                                  "beyond the noise (one-sided sign-flip test over its (case, seed) units) "
                                  "(default cer=0.2, similarity=20, mcd=0.25, speaker_similarity=0.03)")
    g.add_argument("--max-mcd", help="largest MCD-DTW to the truth in dB, or per path (default: not gated)")
    g.add_argument("--min-speaker-similarity", help="smallest GE2E cosine to the reference voice, or per path "
                                                    "(default: not gated)")
    p.add_argument("--mode", choices=["fast", "full"], default="fast",
                   help="fast (default): stages and isolation; full: also the generation of both paths, "
                        "scored and gated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=3,
                   help="full mode: noise seeds per generated path (seed, seed+1, ...); numbers are means with a "
                        "95%% interval and a gap counts only beyond the noise of its (case, seed) units (default 3)")
    p.add_argument("--cross-paths", action="store_true",
                   help="full mode: also generate the trainer's settings on the held-out text and the infer path on "
                        "the copy task, for like-with-like gaps (two more generations per seed)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="also write the result JSON to this file (it is always in the report folder)")
    p.add_argument("--junit", help="write a JUnit XML file (a testcase per probe, stage, gate check, case and path)")
    p.add_argument("--out", help="report folder (default reports/<checkpoint-name>-<timestamp>)")


def execute(args, console) -> int:
    """args.request: the validated engine.requests.RunRequest these flags make (cli/main.py)."""
    from f5_parity.cli.commands.progress import progress_reporter
    from f5_parity.engine.run import check
    from f5_parity.render.terminal import render_run_summary

    with progress_reporter(console) as progress:
        checked = check(args.request, progress, validated=True)
    render_run_summary(checked.report, console)
    console.print(f"report: {checked.files.report}")
    return 0 if checked.report.passed else 1
