"""A small F5 model really trained with f5-tts's own Trainer: the recipe behind fixtures/ptbr-tiny/.

Four stages, each deterministic for a seed and each the code path users run:
  generate_dataset  espeak-ng pt-br utterances -> wavs/ + metadata.csv ('audio_file|text', absolute paths)
  prepare_dataset   f5_tts.train.datasets.prepare_csv_wavs.prepare_and_save_set (is_finetune=False:
                    the vocab is built from the dataset) -> raw.arrow, duration.json, vocab.txt
  train             f5_tts CFM + DiT with the v0 flags (pe_attn_head 1, text_mask_padding False), run by
                    the real f5_tts.model.Trainer; its loss log is captured from accelerator.log
  export            the Trainer's checkpoint as raw + EMA in fp16, without optimizer/scheduler state

Verified against f5-tts 1.1.22 (see the notes at each f5 call for what that version needs).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from f5_parity.f5.configs import MEL_SPEC_KWARGS, V0_FLAGS

from f5_parity.testing.fixtures import random_vocos_dir

from f5_parity.f5.vocab import read_vocab_chars

from f5_parity.files import sha256_file
from f5_parity.cases.speech import PT_BR_HELD_OUT, PT_BR_SENTENCES, speak

# Everyday Brazilian Portuguese, 3-6 s each when spoken; every accented letter of the language occurs.
# PT_BR_HELD_OUT is never trained on: those sentences are kept for generation.
TRAINING_SENTENCES: tuple[str, ...] = PT_BR_SENTENCES + (
    "A padaria da esquina abre às seis horas da manhã.",
    "Meu irmão trabalha num escritório perto da praça.",
    "Ela sempre toma café com leite antes de sair de casa.",
    "O ônibus atrasou por causa da chuva forte.",
    "As crianças voltaram da escola cantando uma canção.",
    "Você lembra onde deixou as chaves do carro?",
    "O avô contou uma história engraçada durante o almoço.",
    "A feira de domingo tem frutas, verduras e flores.",
    "Precisamos comprar arroz, feijão e óleo no mercado.",
    "O gato dormiu o dia inteiro em cima do sofá.",
    "Ontem à noite assistimos a um filme muito bonito.",
    "A médica pediu que ele descansasse por três dias.",
    "O trânsito na avenida principal estava parado.",
    "Nós vamos passar as férias na casa da vovó.",
    "A lição de português foi mais fácil do que parecia.",
    "O jogador chutou a bola e marcou um gol incrível.",
    "Minha irmã está aprendendo a tocar violão.",
    "Depois do almoço, o céu ficou cinzento e frio.",
    "O pão de queijo saiu quentinho do forno.",
    "Ele não conseguiu dormir por causa do barulho.",
    "A biblioteca pública fica aberta até as nove da noite.",
    "Por favor, fale mais devagar para eu entender.",
    "O barco para a ilha sai do porto às dez horas.",
    "A reunião de amanhã foi adiada para sexta-feira.",
    "O menino pulou na piscina e espirrou água em todos.",
    "Eu prefiro suco de laranja sem açúcar.",
    "A cidade inteira comemorou a vitória do time.",
    "O vento derrubou as folhas secas do quintal.",
    "Quanto custa esse caderno de capa azul?",
    "A professora elogiou a atenção dos alunos.",
    "O barco atravessou o rio devagar e em silêncio.",
    "Ela guardou as fotos antigas numa caixa de papelão.",
    "O cachorro do vizinho late toda vez que alguém passa.",
    "Na próxima semana começa o inverno no sul do país.",
    "Meu pai conserta relógios numa loja do centro.",
    "A sopa de legumes estava quente e muito saborosa.",
    "Os pássaros cantam cedo quando o sol aparece.",
    "Eles construíram uma ponte nova sobre o córrego.",
    "A música tocava alto na festa de aniversário.",
    "O ar ficou úmido depois da tempestade.",
    "Comprei seis limões e duas melancias na feira.",
)
assert not set(TRAINING_SENTENCES) & set(PT_BR_HELD_OUT), "held-out sentences must stay out of training"

# The fixture's DiT: every structural feature of F5TTS_Base (text ConvNeXt, dim_head 64, ff_mult 2,
# text_dim = dim/2, the v0 flags) at a size whose raw + EMA weights fit 10 MB in fp16.
FIXTURE_ARCH: dict[str, Any] = dict(
    dim=176, depth=4, heads=3, dim_head=64, ff_mult=2, text_dim=88, conv_layers=2, **V0_FLAGS
)

MAX_FIXTURE_BYTES = 10_000_000
LOG_FIELDS = ("update", "loss", "lr", "seconds")  # seconds: training wall clock, summed over resumes


def words_per_minute(index: int) -> int:
    """A deterministic speaking rate per sentence, 120-150 wpm, so clips differ in tempo."""
    return 120 + (7 * index) % 31


# --- 1. dataset -----------------------------------------------------------------------------------


def generate_dataset(out_dir: str | Path, sentences: tuple[str, ...] = TRAINING_SENTENCES) -> Path:
    """Speak `sentences` into out_dir/wavs and write out_dir/metadata.csv; returns the csv path.

    prepare_csv_wavs (1.1.22) wants the header 'audio_file|text' and absolute wav paths.
    Wavs already present are kept (espeak-ng is deterministic), so a re-run costs nothing.
    """
    out = Path(out_dir).absolute()
    wavs = out / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(sentences):
        if "|" in text or "\n" in text:
            raise ValueError(f"sentence {i} holds a '|' or newline, which metadata.csv cannot carry")
        wav = wavs / f"ptbr_{i:03d}.wav"
        if not wav.exists():
            speak(text, wav, words_per_minute=words_per_minute(i))
        rows.append(f"{wav}|{text}")
    csv_path = out / "metadata.csv"
    csv_path.write_text("audio_file|text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return csv_path


def dataset_sha256(csv_path: str | Path) -> str:
    """One hash over the transcripts and the wav bytes (not the absolute paths): same data, same hash."""
    import hashlib

    h = hashlib.sha256()
    with open(csv_path, encoding="utf-8") as f:
        next(f)
        for line in f:
            wav, text = line.rstrip("\n").split("|", 1)
            h.update(text.encode("utf-8") + b"\0" + sha256_file(wav).encode() + b"\n")
    return h.hexdigest()


def espeak_version() -> str | None:
    import subprocess

    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    return out.split("Data at:")[0].strip() or None  # "eSpeak NG text-to-speech: 1.51  Data at: <path>"


def prepare_dataset(csv_path: str | Path, out_dir: str | Path, *, quiet: bool = False) -> Path:
    """Run F5's own preparation on metadata.csv; returns out_dir (raw.arrow, duration.json, vocab.txt).

    is_finetune=False builds vocab.txt from the dataset's characters (sorted, so ' ' comes first:
    F5 maps unknown characters to id 0 and its tokenizers expect ' ' there).
    """
    from f5_tts.train.datasets.prepare_csv_wavs import prepare_and_save_set

    out = Path(out_dir).absolute()
    sink = io.StringIO() if quiet else None
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        # One worker: durations come back in csv order either way, and the CPU is shared.
        prepare_and_save_set(str(Path(csv_path).absolute()), str(out), is_finetune=False, num_workers=1)
    vocab = read_vocab_chars(out / "vocab.txt")
    if not vocab or vocab[0] != " ":
        raise RuntimeError(f"prepared vocab {out / 'vocab.txt'} does not start with ' ' (got {vocab[:1]!r})")
    return out


def load_prepared(prepared_dir: str | Path):
    """The training set exactly as f5's load_dataset builds it for a prepared folder.

    f5-tts 1.1.22's load_dataset only finds folders under the package's ../../data (absent in a
    pip install), and its 'CustomDatasetPath' branch raises UnboundLocalError (preprocessed_mel is
    never set there); so this repeats its 'CustomDataset' branch line for line on our path.
    """
    from datasets import Dataset as Dataset_
    from datasets import load_from_disk

    from f5_tts.model.dataset import CustomDataset

    p = Path(prepared_dir)
    try:
        train_dataset = load_from_disk(f"{p}/raw")
    except Exception:  # noqa: BLE001 - the same fallback as f5's load_dataset
        train_dataset = Dataset_.from_file(f"{p}/raw.arrow")
    with open(p / "duration.json", "r", encoding="utf-8") as f:
        durations = json.load(f)["duration"]
    return CustomDataset(train_dataset, durations=durations, preprocessed_mel=False, **MEL_SPEC_KWARGS)


# --- 2. training ----------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Everything that decides the numbers a run logs (recorded in recipe.json)."""

    updates: int = 3000  # rounded up to whole epochs (the Trainer counts epochs): 3003 with 53 clips
    seed: int = 0
    arch: dict[str, Any] = field(default_factory=lambda: dict(FIXTURE_ARCH))
    batch_size_type: str = "sample"
    batch_size: int = 8
    max_samples: int = 8
    learning_rate: float = 5e-4  # F5 uses 7.5e-5 at batch 307k frames; a 2 M model at batch 8 takes more
    num_warmup_updates: int = 300  # > 50, so the first 50 logged losses do not depend on `updates`
    max_grad_norm: float = 1.0
    grad_accumulation_steps: int = 1
    save_per_updates: int = 500
    last_per_updates: int = 100
    keep_last_n_checkpoints: int = -1
    # torch's DataLoader refuses persistent_workers=True (hard-coded by the Trainer) with 0 workers.
    num_workers: int = 1
    log_samples: bool = True
    # Continue from an exported fixture, the way F5's finetune starts from pretrained_*.pt: its EMA
    # weights seed both the model and the EMA, the optimizer and LR schedule start afresh, and the
    # Trainer counts updates from 0 again. `init_update` is the update the exported file was at, so
    # the learning curve can put this stage after the earlier one.
    init_from: str | None = None
    init_update: int = 0
    # ema_pytorch's EMA settings as F5's Trainer takes them (ema_kwargs); None: the Trainer's defaults
    # (beta 0.9999, updated from update 100 on: a tiny run's EMA is then a copy of an early model)
    ema_kwargs: dict[str, Any] | None = None


def seed_everything(seed: int) -> None:
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


class StopTraining(Exception):
    """Raised by LossRecorder once `stop_after` updates are logged (short reproduction runs)."""


class LossRecorder:
    """Stands in for accelerator.log when logger=None: appends {update, loss, lr} to a CSV, line-buffered.

    Only the logging sink changes; the Trainer computes and passes the numbers as it would to wandb.
    `resume_from`: keep the rows up to that update (the checkpoint resumed from) and append after them.
    """

    def __init__(self, path: str | Path, *, resume_from: int | None = None, stop_after: int | None = None):
        self.path = Path(path)
        self.stop_after = stop_after
        self.last_update = resume_from or 0
        kept = []
        if resume_from is not None and self.path.exists():
            kept = [r for r in read_loss_log(self.path) if r["update"] <= resume_from]
        self._f = open(self.path, "w", encoding="utf-8", newline="")
        self._w = csv.writer(self._f)
        self._w.writerow(LOG_FIELDS)
        offset = kept[-1]["seconds"] if kept else 0.0
        for r in kept:
            self._w.writerow([r["update"], repr(r["loss"]), repr(r["lr"]), f"{r['seconds']:.2f}"])
        self._f.flush()
        self._t0 = time.perf_counter() - offset

    def __call__(self, values: dict, step: int | None = None, log_kwargs: dict | None = None) -> None:
        if "loss" not in values:
            return
        self._w.writerow([step, repr(float(values["loss"])), repr(float(values.get("lr", float("nan")))),
                          f"{time.perf_counter() - self._t0:.2f}"])
        self._f.flush()
        self.last_update = step if step is not None else self.last_update
        if self.stop_after is not None and step is not None and step >= self.stop_after:
            raise StopTraining(step)

    def close(self) -> None:
        self._f.close()


def read_loss_log(path: str | Path) -> list[dict[str, float]]:
    with open(path, encoding="utf-8", newline="") as f:
        return [{"update": int(r["update"]), "loss": float(r["loss"]), "lr": float(r["lr"]),
                 "seconds": float(r.get("seconds") or "nan")} for r in csv.DictReader(f)]


def build_model(vocab_path: str | Path, arch: dict[str, Any]):
    """CFM + DiT as f5's train.py builds them (custom tokenizer = the prepared vocab.txt)."""
    from f5_tts.model import CFM
    from f5_tts.model.utils import get_tokenizer

    from f5_parity.f5.configs import build_backbone

    vocab_char_map, vocab_size = get_tokenizer(str(vocab_path), "custom")
    return CFM(
        transformer=build_backbone("DiT", arch, text_num_embeds=vocab_size, mel_dim=MEL_SPEC_KWARGS["n_mel_channels"]),
        mel_spec_kwargs=dict(MEL_SPEC_KWARGS),
        vocab_char_map=vocab_char_map,
    )


@dataclass
class TrainResult:
    checkpoint_dir: Path
    log: Path
    updates: int
    epochs: int
    batches_per_epoch: int
    seconds: float
    params: int


def train(prepared_dir: str | Path, out_dir: str | Path, config: TrainConfig | None = None, *,
          threads: int | None = None, quiet: bool = False, stop_after: int | None = None,
          tensorboard_run: str | None = None) -> TrainResult:
    """Train with the real f5_tts Trainer into out_dir/ckpts (model_N.pt, model_last.pt, samples/).

    Re-running on the same out_dir resumes from model_last.pt (the Trainer's own resume, which skips
    the batches already seen thanks to resumable_with_seed); the loss log is then appended to. The
    global RNG is not part of a Trainer checkpoint, so losses after a resume differ from those of an
    uninterrupted run (the data order does not).
    `stop_after` interrupts the run once that many updates are logged (nothing is saved then).
    """
    cfg = config or TrainConfig()
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _train(prepared_dir, out_dir, cfg, quiet=quiet, stop_after=stop_after, tensorboard_run=tensorboard_run)
    finally:
        torch.set_num_threads(previous_threads)


def _train(prepared_dir, out_dir, cfg: TrainConfig, *, quiet: bool, stop_after: int | None,
           tensorboard_run: str | None = None) -> TrainResult:
    from f5_tts.model import Trainer

    out = Path(out_dir).absolute()
    ckpt_dir = out / "ckpts"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    prepared = Path(prepared_dir).absolute()
    vocos = random_vocos_dir(out / "vocos-random")  # no hub here: a real Vocos with random weights
    if cfg.init_from and not any(ckpt_dir.glob("model_*.pt")):
        _place_pretrained(Path(cfg.init_from), ckpt_dir)

    seed_everything(cfg.seed)
    model = build_model(prepared / "vocab.txt", cfg.arch)
    dataset = load_prepared(prepared)
    if cfg.batch_size_type == "sample":
        batches_per_epoch = math.ceil(len(dataset) / cfg.batch_size)
    else:
        raise ValueError("the fixture recipe uses batch_size_type 'sample' (see TrainConfig)")
    epochs = math.ceil(cfg.updates / batches_per_epoch)

    sink = io.StringIO() if quiet else None
    # tensorboard_run: the Trainer's own tensorboard logger too, as a user runs it (logger="tensorboard"); it
    # writes runs/<wandb_run_name>/ under the folder training runs in, here out_dir
    logging = (dict(logger="tensorboard", wandb_run_name=tensorboard_run) if tensorboard_run else dict(logger=None))
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext(), \
            contextlib.chdir(out) if tensorboard_run else contextlib.nullcontext():
        trainer = Trainer(
            model,
            epochs=epochs,
            learning_rate=cfg.learning_rate,
            num_warmup_updates=cfg.num_warmup_updates,
            save_per_updates=cfg.save_per_updates,
            keep_last_n_checkpoints=cfg.keep_last_n_checkpoints,
            checkpoint_path=str(ckpt_dir),
            batch_size_per_gpu=cfg.batch_size,
            batch_size_type=cfg.batch_size_type,
            max_samples=cfg.max_samples,
            grad_accumulation_steps=cfg.grad_accumulation_steps,
            max_grad_norm=cfg.max_grad_norm,
            **logging,
            log_samples=cfg.log_samples,
            last_per_updates=cfg.last_per_updates,
            mel_spec_type=MEL_SPEC_KWARGS["mel_spec_type"],
            is_local_vocoder=True,
            local_vocoder_path=str(vocos),
            **({"ema_kwargs": dict(cfg.ema_kwargs)} if cfg.ema_kwargs else {}),
        )
        log_path = out / "train_log.csv"
        last = ckpt_dir / "model_last.pt"
        resume_from = None
        if last.exists():
            resume_from = int(torch.load(str(last), map_location="cpu", weights_only=True, mmap=True)["update"])
        recorder = LossRecorder(log_path, resume_from=resume_from, stop_after=stop_after)
        trainer.accelerator.log = recorder
        start = time.perf_counter()
        try:
            trainer.train(dataset, num_workers=cfg.num_workers, resumable_with_seed=cfg.seed)
        except StopTraining:
            pass
        finally:
            recorder.close()
            if getattr(trainer, "writer", None) is not None:  # F5 never closes it; a finished process would flush
                trainer.writer.close()
    return TrainResult(
        checkpoint_dir=ckpt_dir,
        log=log_path,
        updates=recorder.last_update,
        epochs=epochs,
        batches_per_epoch=batches_per_epoch,
        seconds=time.perf_counter() - start,
        params=sum(p.numel() for p in model.transformer.parameters()),
    )


def _place_pretrained(exported: Path, ckpt_dir: Path) -> Path:
    """Put an exported fixture where the Trainer's load_checkpoint looks for a pretrained model.

    Only its EMA state goes in (fp32): that is the branch of load_checkpoint F5's finetune takes, which
    loads the EMA and copies it, without the `ema_model.` prefix, into the model it trains.
    """
    ckpt = torch.load(str(exported), map_location="cpu", weights_only=True, mmap=True)
    ema = {k: (v.float() if v.is_floating_point() else v) for k, v in ckpt["ema_model_state_dict"].items()}
    target = ckpt_dir / f"pretrained_{exported.stem}.pt"
    torch.save({"ema_model_state_dict": ema}, target)
    return target


# --- 3. export ------------------------------------------------------------------------------------


def _fp16(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: (v.half() if v.is_floating_point() else v).contiguous().clone() for k, v in sd.items()}


def export(checkpoint_path: str | Path, out_path: str | Path) -> Path:
    """Write a Trainer checkpoint as the fixture: raw + EMA (with initted, step) + update, fp16.

    The optimizer and scheduler state are dropped (they would triple the size and no probe reads
    them). The result loads with utils_infer.load_checkpoint both with use_ema=True and False.
    """
    ckpt = torch.load(str(checkpoint_path), map_location="cpu", weights_only=True, mmap=True)
    missing = {"model_state_dict", "ema_model_state_dict", "update"} - set(ckpt)
    if missing:
        raise ValueError(f"{checkpoint_path} is not a Trainer checkpoint (missing {sorted(missing)})")
    slim = {
        "model_state_dict": _fp16(ckpt["model_state_dict"]),
        "ema_model_state_dict": _fp16(ckpt["ema_model_state_dict"]),
        "update": int(ckpt["update"]),
    }
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    torch.save(slim, tmp)
    tmp.replace(out)
    size = out.stat().st_size
    if size > MAX_FIXTURE_BYTES:
        raise ValueError(f"exported checkpoint is {size} bytes, over the {MAX_FIXTURE_BYTES} byte budget")
    return out


def check_loads(checkpoint_path: str | Path, vocab_path: str | Path, arch: dict[str, Any]) -> dict[str, int]:
    """Load the file with f5's inference loader, EMA and raw; returns how many tensors each side has."""
    from f5_tts.infer.utils_infer import load_checkpoint

    counts = {}
    for use_ema in (True, False):
        model = build_model(vocab_path, arch)
        with contextlib.redirect_stdout(io.StringIO()):
            load_checkpoint(model, str(checkpoint_path), "cpu", dtype=torch.float32, use_ema=use_ema)
        counts["ema" if use_ema else "raw"] = len(model.state_dict())
    return counts


def model_yaml(cfg: TrainConfig, vocab_path: str, vocoder_path: str | None = None) -> dict[str, Any]:
    """The run's settings in f5-tts's own config schema (the shape of configs/F5TTS_Base.yaml)."""
    return {
        "datasets": {
            "name": "ptbr_tiny_espeak",
            "batch_size_per_gpu": cfg.batch_size,
            "batch_size_type": cfg.batch_size_type,
            "max_samples": cfg.max_samples,
            "num_workers": cfg.num_workers,
        },
        "optim": {
            "updates": cfg.updates,
            "learning_rate": cfg.learning_rate,
            "num_warmup_updates": cfg.num_warmup_updates,
            "grad_accumulation_steps": cfg.grad_accumulation_steps,
            "max_grad_norm": cfg.max_grad_norm,
            "bnb_optimizer": False,
        },
        "model": {
            "name": "F5TTS_ptbr_tiny",
            "tokenizer": "custom",
            "tokenizer_path": vocab_path,
            "backbone": "DiT",
            "arch": dict(cfg.arch),
            "mel_spec": dict(MEL_SPEC_KWARGS),
            "vocoder": {"is_local": vocoder_path is not None, "local_path": vocoder_path},
        },
        "ckpts": {
            "logger": None,
            "log_samples": cfg.log_samples,
            "save_per_updates": cfg.save_per_updates,
            "keep_last_n_checkpoints": cfg.keep_last_n_checkpoints,
            "last_per_updates": cfg.last_per_updates,
        },
    }


def _version(pkg: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def save_run_config(work_dir: str | Path, cfg: TrainConfig, threads: int | None) -> Path:
    """What the train stage ran with, so a later export needs no flags repeated."""
    p = Path(work_dir) / "run_config.json"
    p.write_text(json.dumps({"config": asdict(cfg), "threads": threads}, indent=2) + "\n", encoding="utf-8")
    return p


def load_run_config(work_dir: str | Path) -> tuple[TrainConfig, int | None]:
    p = Path(work_dir) / "run_config.json"
    if not p.exists():
        raise FileNotFoundError(f"{p} not found: train this work dir first (make_fixture.py --stage train)")
    saved = json.loads(p.read_text(encoding="utf-8"))
    return TrainConfig(**saved["config"]), saved.get("threads")


def newest_saved_checkpoint(ckpt_dir: str | Path) -> Path:
    """The highest model_N.pt (the Trainer wrote its samples with it), else model_last.pt.

    model_last.pt may be a few updates newer (the run's end is rarely a multiple of save_per_updates)
    but has no samples beside it; pass it explicitly to export it anyway.
    """
    d = Path(ckpt_dir)
    numbered = [p for p in d.glob("model_*.pt") if p.stem.split("_", 1)[1].isdigit()]
    if numbered:
        return max(numbered, key=lambda p: int(p.stem.split("_", 1)[1]))
    if (d / "model_last.pt").exists():
        return d / "model_last.pt"
    raise FileNotFoundError(f"no Trainer checkpoint in {d}")


def write_fixture(work_dir: str | Path, fixture_dir: str | Path, *, checkpoint: str | Path | None = None) -> dict[str, Any]:
    """Export a run's checkpoint (default: newest_saved_checkpoint) plus vocab, YAML, the loss log up to
    that update, the Trainer's samples at that update and recipe.json into fixture_dir."""
    import yaml

    work = Path(work_dir)
    cfg, threads = load_run_config(work)
    fx = Path(fixture_dir)
    fx.mkdir(parents=True, exist_ok=True)
    src = Path(checkpoint) if checkpoint else newest_saved_checkpoint(work / "ckpts")
    model_out = export(src, fx / "model_ptbr_tiny.pt")
    exported = torch.load(str(model_out), map_location="cpu", weights_only=True)
    update = int(exported["update"])
    params = sum(v.numel() for k, v in exported["model_state_dict"].items() if k.startswith("transformer."))
    shutil.copyfile(work / "prepared" / "vocab.txt", fx / "vocab.txt")
    check_loads(model_out, fx / "vocab.txt", cfg.arch)
    (fx / "F5TTS_ptbr_tiny.yaml").write_text(
        yaml.safe_dump(model_yaml(cfg, "vocab.txt"), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    # The loss log up to the exported update (a run still going on has logged further).
    rows = [r for r in read_loss_log(work / "train_log.csv") if r["update"] <= update]
    with open(fx / "train_log.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(LOG_FIELDS)
        for r in rows:
            w.writerow([r["update"], repr(r["loss"]), repr(r["lr"]), f"{r['seconds']:.2f}"])
    # The Trainer's own samples at the exported update (random Vocos: noise, but what it wrote).
    samples = fx / "samples"
    if samples.exists():
        shutil.rmtree(samples)
    for kind in ("gen", "ref"):
        s = work / "ckpts" / "samples" / f"update_{update}_{kind}.wav"
        if s.exists():
            samples.mkdir(exist_ok=True)
            shutil.copyfile(s, samples / s.name)
    metadata = work / "dataset" / "metadata.csv"
    n_sentences = sum(1 for _ in open(metadata, encoding="utf-8")) - 1
    batches_per_epoch = math.ceil(n_sentences / cfg.batch_size)
    tail = [r["loss"] for r in rows[-100:]]
    recipe = {
        "script": "fixtures/ptbr-tiny/make_fixture.py",
        "seed": cfg.seed,
        "updates_planned": cfg.updates,
        "updates_total": math.ceil(cfg.updates / batches_per_epoch) * batches_per_epoch,  # whole epochs
        "update_exported": update,
        "config": asdict(cfg),
        "params": params,
        "sentences": n_sentences,
        "dataset_sha256": dataset_sha256(metadata),
        "espeak_ng": espeak_version(),
        "loss_first": rows[0]["loss"] if rows else None,
        "loss_mean_last_100": sum(tail) / len(tail) if tail else None,
        "train_seconds": rows[-1]["seconds"] if rows else None,
        "seconds_per_update": rows[-1]["seconds"] / rows[-1]["update"] if rows else None,
        "threads": threads,
        "versions": {p: _version(p) for p in ("f5-tts", "torch", "torchaudio", "accelerate", "ema-pytorch")},
        "checkpoint": model_out.name,
        "checkpoint_bytes": model_out.stat().st_size,
        "sha256": sha256_file(model_out),
        "vocab_sha256": sha256_file(fx / "vocab.txt"),
        "samples": sorted(p.name for p in samples.glob("*.wav")) if samples.exists() else [],
    }
    (fx / "recipe.json").write_text(json.dumps(recipe, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return recipe
