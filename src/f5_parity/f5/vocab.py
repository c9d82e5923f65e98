"""How f5-tts reads a vocab, and which one it uses when none is given."""

from __future__ import annotations

from pathlib import Path


def official_vocab_path() -> Path:
    """The 2545-entry vocab f5-tts's load_model uses when no vocab_file is given."""
    from importlib.resources import files

    return Path(str(files("f5_tts").joinpath("infer/examples/vocab.txt")))


def read_vocab_chars(path: str | Path) -> list[str]:
    """Read a vocab exactly as f5-tts's get_tokenizer does (each line minus its last character)."""
    with open(path, "r", encoding="utf-8") as f:
        return [line[:-1] for line in f]
