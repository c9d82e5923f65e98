"""`parity-check score WAV... --text "..."`: transcribe wavs offline and print WER, CER, similarity."""

from __future__ import annotations

import argparse
from pathlib import Path

from f5_parity.errors import InputError
from f5_parity.files import write_json_atomic

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


def _check_inputs(args):
    """Every input problem is found before Whisper loads (seconds), each as one InputError."""
    from f5_parity.scoring.audio import read_audio

    if len(args.text) != len(args.wavs):
        raise InputError(
            f"got {len(args.wavs)} wav(s) but {len(args.text)} --text value(s)",
            "pass one --text \"...\" per WAV, in the same order",
        )
    return [read_audio(path) for path in args.wavs]


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def execute(args, console) -> int:
    from rich.table import Table

    from f5_parity.scoring.metrics import check_reference, pool, score_report, score_wav
    from f5_parity.scoring.textnorm import normalizer

    norm = normalizer(strip_diacritics=args.strip_diacritics)
    audios = _check_inputs(args)
    for text in args.text:
        check_reference(text, norm)
    json_path = Path(args.json) if args.json else None
    if json_path is not None and json_path.is_dir():
        raise InputError(f"--json points at a folder: {json_path}", "pass a file name, e.g. --json scores.json")

    from f5_parity.scoring.asr import load_asr

    asr = load_asr(args.asr_model, args.asr_backend, args.language, args.device)
    from f5_parity.scoring.audio import audio_findings, levels
    from f5_parity.scoring.metrics import score_text

    findings = [audio_findings(audio) for audio in audios]
    scores = []
    for audio, text, found in zip(audios, args.text, findings):
        if any(f.startswith("silent") for f in found):  # Whisper invents words in silence: nothing was said
            score = score_text(text, "", norm)
            score.wav = audio.path
        else:
            score = score_wav(audio, text, asr, norm)
        scores.append(score)
    pooled = pool(scores)

    desc = asr.describe()
    console.print(
        f"ASR {desc['backend']} {desc['model']} ({desc['compute_type']}, language {desc['language'] or 'auto'}); "
        f"normalizer {norm.name}",
        soft_wrap=True,
    )
    table = Table(show_lines=False)
    for column, justify in (("wav", "left"), ("hypothesis", "left"), ("WER", "right"), ("CER", "right"), ("similarity %", "right")):
        table.add_column(column, justify=justify, overflow="fold")
    for s in scores:
        table.add_row(Path(s.wav).name if s.wav else "-", s.hypothesis or "(empty)", _fmt(s.wer), _fmt(s.cer), f"{s.similarity:.1f}")
    console.print(table)
    for audio, found in zip(audios, findings):
        if found:
            console.print(f"[yellow]{Path(audio.path).name}: {'; '.join(found)}"
                          f"{' (not transcribed: scored as saying nothing)' if any(f.startswith('silent') for f in found) else ''}[/]",
                          soft_wrap=True)
    console.print(
        f"pooled over {pooled.n}: WER {_fmt(pooled.wer_pooled)}, CER {_fmt(pooled.cer_pooled)}; "
        f"mean CER {_fmt(pooled.cer_mean)} (capped at 1: {_fmt(pooled.cer_mean_capped)}); "
        f"similarity {pooled.similarity_mean:.1f} %; broken (WER > 0.5) {pooled.broken_share:.0%}",
        soft_wrap=True,
    )
    if json_path is not None:
        report = score_report(scores, asr, norm)
        report["command"] = {"wavs": list(args.wavs), "texts": list(args.text)}
        for utterance, audio, found in zip(report["utterances"], audios, findings):
            utterance["audio"] = {"findings": found, **levels(audio)}
        try:
            write_json_atomic(json_path, report)
        except OSError as exc:
            raise InputError(f"cannot write {json_path} ({exc.strerror})", "pass a writable path to --json") from None
        console.print(f"wrote {json_path}", soft_wrap=True)
    return 0
