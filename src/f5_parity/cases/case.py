"""Cases: a reference recording, its transcript, and a held-out text to generate."""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path

from f5_parity.errors import InputError, syntax_error_line


@dataclass(frozen=True)
class Case:
    name: str
    ref_audio: Path
    ref_text: str
    gen_text: str  # held out: the copy task alone hides overfitting and duration problems
    gen_audio: Path | None = None  # the held-out text really spoken by the same voice: the acoustic truth
    # The token list a prepared dataset stores for ref_text (raw.arrow's `text`, converted by the f5-tts that
    # ran prepare_csv_wavs): what the Trainer really feeds the model, whatever f5-tts is installed now.
    prepared_text: tuple[str, ...] | None = None

    def __post_init__(self):
        # Absolute from the start: the installed Trainer runs after a chdir (paths/trainer_run.py), and a
        # relative reference would then be opened from the wrong folder. abspath, not resolve: the path the
        # user gave stays recognisable (symlinks are not followed).
        object.__setattr__(self, "ref_audio", Path(os.path.abspath(self.ref_audio)))
        if self.gen_audio is not None:
            object.__setattr__(self, "gen_audio", Path(os.path.abspath(self.gen_audio)))
        if not str(self.ref_text).strip():
            raise InputError(f"case {self.name!r} has an empty reference text", "give the transcript of the reference audio")
        check_reference_audio(self.ref_audio)

    def to_dict(self) -> dict:
        out = {"name": self.name, "ref_audio": str(self.ref_audio), "ref_text": self.ref_text, "gen_text": self.gen_text}
        if self.gen_audio is not None:
            out["gen_audio"] = str(self.gen_audio)
        if self.prepared_text is not None:
            out["prepared_text"] = "".join(self.prepared_text)
        return out


MIN_REF_SECONDS, MAX_REF_SECONDS = 0.3, 30.0  # F5's own dataset filter keeps 0.3-30 s clips
MIN_REF_RATE = 16_000  # below this, F5's 24 kHz mel has an empty top: the model never saw such audio


def check_reference_audio(path: str | Path) -> None:
    """A reference F5 can use: readable, 0.3-30 s, not silent, sampled at 16 kHz or more."""
    from f5_parity.scoring.audio import check_not_silent, read_audio

    audio = read_audio(path, min_seconds=MIN_REF_SECONDS, max_seconds=MAX_REF_SECONDS)
    check_not_silent(audio)
    if audio.sample_rate < MIN_REF_RATE:
        raise InputError(f"reference audio is sampled at {audio.sample_rate} Hz: {path}",
                         "use a recording at 24 kHz (F5's rate); upsampling cannot restore the missing band")


def reference_notes(cases) -> list[str]:
    """Odd references with their numbers (stereo, not 24 kHz, clipped): usable, but F5 changes them first."""
    from f5_parity.scoring.audio import audio_findings, read_audio

    notes = []
    for case in cases:
        found = audio_findings(read_audio(case.ref_audio), reference=True)
        if found:
            notes.append(f"reference {case.ref_audio}: {'; '.join(found)}")
    return notes


def cases_from_flags(ref_audio: list[str], ref_text: list[str], gen_text: list[str] | None) -> list[Case]:
    if len(ref_audio) != len(ref_text):
        raise InputError(
            f"{len(ref_audio)} --ref-audio but {len(ref_text)} --ref-text",
            "give one --ref-text per --ref-audio, in the same order",
        )
    gen = list(gen_text or [])
    if gen and len(gen) != len(ref_audio):
        raise InputError(f"{len(gen)} --gen-text for {len(ref_audio)} --ref-audio", "give one --gen-text per case, or none")
    return [
        Case(Path(a).stem, Path(a), t, gen[i] if gen else t)
        for i, (a, t) in enumerate(zip(ref_audio, ref_text))
    ]


def builtin_cases(out_dir: str | Path, count: int = 2) -> list[Case]:
    """The built-in Portuguese sentences, spoken by espeak-ng."""
    from f5_parity.cases.speech import build_cases

    return [Case(c.name, c.wav, c.text, c.gen_text, c.gen_wav) for c in build_cases(out_dir, count)]


def _case_from_row(row: dict, base: Path, index: int) -> Case:
    def pick(*names):
        for n in names:
            if row.get(n) not in (None, ""):
                return str(row[n])
        return ""

    audio = pick("ref_audio", "audio", "audio_path", "audio_file", "wav")
    text = pick("ref_text", "text")
    if not audio:
        raise InputError(f"case {index + 1} has no ref_audio", "give each case a ref_audio column/key")
    path = Path(audio) if Path(audio).is_absolute() else base / audio
    gen = pick("gen_text") or text
    gen_audio = pick("gen_audio")
    gen_path = None if not gen_audio else Path(gen_audio) if Path(gen_audio).is_absolute() else base / gen_audio
    if gen_path is not None and not gen_path.is_file():
        raise InputError(f"case {index + 1}: gen_audio {gen_path} not found", "give the wav that says gen_text, or no gen_audio")
    return Case(pick("name") or path.stem, path, text, gen, gen_path)


def load_cases(path: str | Path) -> list[Case]:
    """A cases file: CSV with a header (ref_audio, ref_text, gen_text[, gen_audio, name]) or TOML ([[case]]
    tables). gen_audio, when given, is the held-out text spoken by the reference's voice: the acoustic truth."""
    import csv
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise InputError(f"cases file not found: {p}", "check the path")
    if p.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"cases file is not valid TOML: {syntax_error_line(p, exc)}", "fix the TOML syntax") from None
        rows = data.get("case") or data.get("cases") or []
    elif p.suffix.lower() in (".csv", ".tsv"):
        with open(p, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t" if p.suffix.lower() == ".tsv" else ","))
    else:
        raise InputError(f"unknown cases file format: {p.suffix or p.name}", "use a .csv or .toml cases file")
    if not rows:
        raise InputError(f"cases file has no cases: {p}", "add at least one case")
    return [_case_from_row(dict(r), p.parent, i) for i, r in enumerate(rows)]


def _prepared_rows(root: Path) -> list[tuple[str, list[str]]]:
    """(audio_path, stored token list) of a folder prepare_csv_wavs wrote (raw.arrow + duration.json + vocab.txt)."""
    from datasets import Dataset

    try:
        data = Dataset.from_file(str(root / "raw.arrow"))
    except Exception as exc:
        raise InputError(f"cannot read {root / 'raw.arrow'} ({exc})", "re-run F5's prepare_csv_wavs on the dataset") from None
    return [(str(row["audio_path"]), list(row["text"]) if isinstance(row.get("text"), list) else list(str(row.get("text"))))
            for row in data]


def _metadata_rows(meta: Path) -> list[tuple[Path, str]]:
    """(audio path, transcript) of an F5 metadata.csv ('audio|text', header optional), paths made absolute."""
    import csv

    with open(meta, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f, delimiter="|") if len(r) >= 2]
    if rows and rows[0][0].strip().lower() in ("audio_file", "audio_path", "audio"):
        rows = rows[1:]
    return [(Path(a.strip()) if Path(a.strip()).is_absolute() else meta.parent / a.strip(), t.strip()) for a, t, *_ in rows]


def _transcripts_of(root: Path, stored: list[tuple[str, list[str]]]) -> dict[str, str]:
    """The raw transcripts of a prepared folder's clips, by resolved audio path: from the metadata.csv in the
    folder (finetune_gradio keeps it there) or beside the clips' wavs/ folder (prepare_csv_wavs's input)."""
    found: dict[str, str] = {}
    places = [root / "metadata.csv"] + [Path(a).parent.parent / "metadata.csv" for a, _ in stored]
    for meta in dict.fromkeys(places):
        if meta.is_file():
            for audio, text in _metadata_rows(meta):
                found.setdefault(str(audio.resolve()), text)
    return found


def dataset_cases(folder: str | Path, count: int = 2) -> list[Case]:
    """An F5 dataset folder: metadata.csv 'audio_path|text' (header optional) next to wavs/, or the
    prepared folder (raw.arrow, duration.json, vocab.txt) that F5's prepare_csv_wavs writes.

    A prepared folder's cases carry the stored, already converted text (prepared_text): the trainer side
    tokenizes it as the Trainer does, while an infer path converts the raw transcript with the f5-tts installed
    now. The raw transcript comes from the dataset's metadata.csv (matched by audio path); without one, the
    stored text joined is all there is."""
    root = Path(folder)
    meta = root / "metadata.csv"
    stored = _prepared_rows(root) if (root / "raw.arrow").is_file() else None
    if stored is not None and not stored:
        raise InputError(f"{root / 'raw.arrow'} holds no utterances", "prepare the dataset again")
    if stored is not None:
        raw = _transcripts_of(root, stored)
        rows = [(Path(a), raw.get(str(Path(a).resolve()), "".join(tokens)), tuple(tokens)) for a, tokens in stored]
    elif meta.is_file():
        rows = [(a, t, None) for a, t in _metadata_rows(meta)]
    else:
        raise InputError(f"no metadata.csv or raw.arrow in the dataset folder {root}",
                         "point --dataset at the folder with metadata.csv and wavs/, or F5's prepared folder")
    if not rows:
        raise InputError(f"metadata.csv has no 'audio|text' rows: {meta}", "write one 'wavs/x.wav|transcript' per line")
    # Held-out gen text: the next row's transcript, so no case only repeats its own reference; that row's
    # real audio is the acoustic truth of the generation (same speaker, same text).
    texts = [t for _, t, _ in rows]
    audios = [a for a, _, _ in rows]
    return [Case(audio.stem, audio, text, texts[(i + 1) % len(texts)] if len(texts) > 1 else text,
                 _held_out_audio(audios, i), prepared_text=tokens)
            for i, (audio, text, tokens) in enumerate(rows[:count])]


def _held_out_audio(audios: list[Path], i: int) -> Path | None:
    """The next row's clip (the one whose text case i generates), when it exists and is a different clip."""
    if len(audios) < 2:
        return None
    nxt = audios[(i + 1) % len(audios)]
    return nxt if nxt.is_file() else None
