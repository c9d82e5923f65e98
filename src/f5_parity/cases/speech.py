"""Portuguese test speech from espeak-ng (Debian package), at F5's 24 kHz.

espeak is robotic but deterministic and offline: good enough for Whisper base to understand,
and every case includes accented words (não, coração, você, ação) so vocab and Unicode faults show.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from f5_parity.scoring.audio import F5_SAMPLE_RATE, read_audio, resample, write_wav
from f5_parity.errors import InputError

# Reference sentences (spoken) and held-out sentences (only ever generated, never heard in training).
PT_BR_SENTENCES: tuple[str, ...] = (
    "Eu não sei se você vai gostar da ação.",
    "O coração da cidade bate mais forte à noite.",
    "Vamos pegar o ônibus das sete horas amanhã.",
    "A informação chegou depois da reunião.",
    "Minha mãe fez um bolo de maçã muito gostoso.",
    "Você já viu o pôr do sol na praia?",
    "O professor explicou a lição com paciência.",
    "Não esqueça de fechar a janela da cozinha.",
    "A criança brincava no jardim com o cachorro.",
    "Hoje o céu está azul e não vai chover.",
    "Ele comprou pão, café e açúcar na padaria.",
    "A canção fala de amor e de saudade.",
)

PT_BR_HELD_OUT: tuple[str, ...] = (
    "Amanhã nós vamos viajar para o interior.",
    "O médico disse que você está com boa saúde.",
    "A estação de trem fica perto do mercado.",
    "Eu gosto de ler livros antes de dormir.",
)


@dataclass(frozen=True)
class SpokenCase:
    """A reference recording with its transcript, plus a held-out text to generate."""

    name: str
    wav: Path
    text: str
    gen_text: str
    gen_wav: Path | None = None  # the held-out text spoken by the same voice: the acoustic truth


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, out_wav: str | Path, *, voice: str = "pt-br", words_per_minute: int = 130) -> Path:
    """Synthesize `text` with espeak-ng and write it as a 24 kHz mono wav."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise InputError("espeak-ng is not installed", "install it: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory(prefix="f5p-espeak-") as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            [exe, "-v", voice, "-s", str(words_per_minute), "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
        audio = read_audio(raw)
        samples = resample(audio.samples, audio.sample_rate, F5_SAMPLE_RATE)
    return write_wav(out_wav, samples, F5_SAMPLE_RATE)


def build_cases(out_dir: str | Path, count: int = 4, *, words_per_minute: int = 130) -> list[SpokenCase]:
    """Speak the first `count` sentences into out_dir (deterministic; cached by file name)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for i, text in enumerate(PT_BR_SENTENCES[:count]):
        wav = out / f"ptbr_{i:02d}.wav"
        if not wav.exists():
            speak(text, wav, words_per_minute=words_per_minute)
        held_out = PT_BR_HELD_OUT[i % len(PT_BR_HELD_OUT)]
        gen_wav = out / f"ptbr_heldout_{i % len(PT_BR_HELD_OUT):02d}.wav"
        if not gen_wav.exists():
            speak(held_out, gen_wav, words_per_minute=words_per_minute)
        cases.append(SpokenCase(f"ptbr_{i:02d}", wav, text, held_out, gen_wav))
    return cases
