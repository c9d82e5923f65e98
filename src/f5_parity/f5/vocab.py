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


def trainer_vocab_candidates(config: str | Path | None, checkpoint: str | Path) -> list[tuple[Path, str]]:
    """Where the Trainer read its vocab, most telling first: (path, what says so). Only existing files.

    train.py (1.1.22 L31-36): `custom` reads model.tokenizer_path; `pinyin`/`char` read
    get_tokenizer's `<f5 data>/{datasets.name}_{tokenizer}/vocab.txt`, where <f5 data> is the repo's data/
    beside src/ (a user trains from a clone: data/ under the working directory, too). A training run's
    checkpoints live in ckpts/<exp>/, beside that data/ (finetune_gradio names both after the project)."""
    import yaml
    from importlib.resources import files

    found: list[tuple[Path, str]] = []

    def add(path: Path, why: str) -> None:
        if path.is_file() and all(path.resolve() != p.resolve() for p, _ in found):
            found.append((path, why))

    data_roots = [Path(str(files("f5_tts").joinpath("../../data"))), Path.cwd() / "data"]
    if config is not None and Path(str(config)).suffix in (".yaml", ".yml") and Path(str(config)).is_file():
        try:
            cfg = yaml.safe_load(Path(str(config)).read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError):
            cfg = {}
        model, datasets = cfg.get("model") or {}, cfg.get("datasets") or {}
        tokenizer = model.get("tokenizer")
        if tokenizer == "custom" and model.get("tokenizer_path"):
            path = Path(str(model["tokenizer_path"]))
            for candidate in ([path] if path.is_absolute() else [Path.cwd() / path, Path(str(config)).parent / path]):
                add(candidate, f"the training config's model.tokenizer_path ({config})")
        elif tokenizer in ("pinyin", "char") and datasets.get("name"):
            for root in data_roots:
                add(root / f"{datasets['name']}_{tokenizer}" / "vocab.txt",
                    f"the training config's datasets.name and tokenizer ({config})")
    ckpt_dir = Path(str(checkpoint)).resolve().parent
    add(ckpt_dir / "vocab.txt", "the checkpoint's folder")
    for tokenizer in ("pinyin", "char"):  # ckpts/<exp>/ beside data/<exp>_<tokenizer>/
        add(ckpt_dir.parent.parent / "data" / f"{ckpt_dir.name}_{tokenizer}" / "vocab.txt",
            f"the data folder of the checkpoint's run ({ckpt_dir.name})")
    return found
