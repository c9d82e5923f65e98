"""`parity-check score WAV... --text "..."`: transcribe wavs offline and print WER, CER, similarity."""

from __future__ import annotations

import argparse

NAME = "score"
HELP = "Transcribe wavs with Whisper (offline by default) and score them against the expected text."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("wavs", nargs="+", metavar="WAV", help="audio files (wav/flac/ogg), decoded in-process")
    parser.add_argument(
        "--text", action="append", default=[], metavar="TEXT", help="expected text, once per WAV, in the same order"
    )
    parser.add_argument("--json", metavar="FILE", help="write the scores with their evidence as JSON")
    parser.add_argument(
        "--asr-model",
        metavar="NAME|PATH",
        help="Whisper model name (the backend downloads it; needs internet) or a local path; "
        "default: the embedded Whisper base installed through pip (offline)",
    )
    parser.add_argument(
        "--asr-backend", choices=("faster-whisper", "openai-whisper"), default="faster-whisper", help="default: %(default)s"
    )
    parser.add_argument("--language", default="pt", help="Whisper language code, or 'auto' (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    parser.add_argument("--strip-diacritics", action="store_true", help="compare texts without accents (não = nao)")


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def execute(args, console) -> int:
    from pathlib import Path

    from rich.table import Table

    from f5_parity.engine.run import score

    done = score(args.request, validated=True)
    desc = done.asr
    console.print(
        f"ASR {desc['backend']} {desc['model']} ({desc['compute_type']}, language {desc['language'] or 'auto'}); "
        f"normalizer {done.normalizer}",
        soft_wrap=True,
    )
    table = Table(show_lines=False)
    for column, justify in (("wav", "left"), ("hypothesis", "left"), ("WER", "right"), ("CER", "right"), ("similarity %", "right")):
        table.add_column(column, justify=justify, overflow="fold")
    for s in done.scores:
        table.add_row(Path(s.wav).name if s.wav else "-", s.hypothesis or "(empty)", _fmt(s.wer), _fmt(s.cer), f"{s.similarity:.1f}")
    console.print(table)
    for wav, found in zip(args.request.wavs, done.findings):
        if found:
            console.print(f"[yellow]{Path(wav).name}: {'; '.join(found)}"
                          f"{' (not transcribed: scored as saying nothing)' if any(f.startswith('silent') for f in found) else ''}[/]",
                          soft_wrap=True)
    pooled = done.pooled
    console.print(
        f"pooled over {pooled.n}: WER {_fmt(pooled.wer_pooled)}, CER {_fmt(pooled.cer_pooled)}; "
        f"mean CER {_fmt(pooled.cer_mean)} (capped at 1: {_fmt(pooled.cer_mean_capped)}); "
        f"similarity {pooled.similarity_mean:.1f} %; broken (WER > 0.5) {pooled.broken_share:.0%}",
        soft_wrap=True,
    )
    if done.json is not None:
        console.print(f"wrote {args.request.json}", soft_wrap=True)
    return 0
