"""Full mode: generate through both real paths, and score every wav beside baselines from the same ASR.

Per case, the wavs and what each should say:
  reference       the reference recording itself                               -> ref text
  copy-synthesis  the dataset mel of the reference through the trainer's vocoder (update_N_ref.wav)
  griffin-lim     the same mel through Griffin-Lim: no vocoder weights, tells a bad mel from a bad vocoder
  trainer         trainer_path.trainer_sample, the mirror of update_N_gen.wav (copy task) -> ref text
  infer           the user's real infer path, observed (its observation run reused)   -> gen text
and with --cross-paths (two more generations per seed, for like-with-like gaps):
  trainer-heldout the trainer's model and settings on the held-out text                 -> gen text
  infer-copy      the same infer path asked for the trainer's copy task                  -> ref text
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from f5_parity.scoring.audio import write_wav
from f5_parity.cases.case import Case
from f5_parity.paths.spec import PathSpec
from f5_parity.paths.stages import ModelPool
from f5_parity.observe.path import InferRunner, observe_generation
from f5_parity.parity.scores import PathScore, RunScores, ScoreRow
from f5_parity.parity.pathnames import BASELINE_PATHS, GENERATED_PATHS, PATH_LABELS  # noqa: F401 (re-exported)



@dataclass
class GeneratedWav:
    case: str
    path: str  # one of BASELINE_PATHS + GENERATED_PATHS
    expected: str
    wav: Path
    mel: np.ndarray | None = None  # (d, n) when the path produced a mel


def _accelerator(mixed_precision: str, device: str):
    """The Accelerator the Trainer samples under. accelerate keeps one process-wide state and refuses a second
    mixed precision ("AcceleratorState has already been initialized"); one parity-check process judges runs
    trained with different ones (a sweep, a test session), so the state is reset when it would conflict."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    if AcceleratorState._shared_state and AcceleratorState._shared_state.get("_mixed_precision") != mixed_precision:
        AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(mixed_precision=mixed_precision, cpu=device == "cpu")


def generation_summary(obs, *, checkpoint: str) -> dict[str, Any]:
    """What one observed generation really used, for the report's table (weights by exact comparison)."""
    from f5_parity.f5.configs import fixed_arch_flags
    from f5_parity.observe.spec import weight_set_of

    if not obs.samples:
        return {"sample_calls": 0, "error": (obs.error or {}).get("message")}
    call = obs.samples[-1]
    model = call.model
    weights, distances = weight_set_of(model, checkpoint)
    blocks = getattr(model.transformer, "transformer_blocks", None)
    processor = getattr(getattr(blocks[0], "attn", None), "processor", None) if blocks else None
    fixed = fixed_arch_flags(type(model.transformer).__name__)
    return {
        "sample_calls": len(obs.samples),
        "weights": weights,
        "weights_rel_distance": {k: v.get("rel_distance") for k, v in distances.items()},
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "autocast": call.autocast,
        "steps": call.steps,
        "cfg_strength": call.cfg_strength,
        "sway_sampling_coef": call.sway_sampling_coef,
        "seed": call.seed,
        # 0.x's modules have no such attributes: they compute the release's fixed (v0) behaviour.
        "pe_attn_head": getattr(processor, "pe_attn_head", fixed.get("pe_attn_head")),
        "text_mask_padding": getattr(getattr(model.transformer, "text_embed", None), "mask_padding",
                                     fixed.get("text_mask_padding")),
        "chunks": len(obs.samples),
    }


@dataclass
class TrainerCaseSample:
    """The trainer path's sample of one case (update_N_gen.wav's mirror) and what produced it."""

    sample: Any  # paths.trainer.TrainerSample; None until drawn (trainer_case_inputs)
    batch_mel: torch.Tensor
    lengths: torch.Tensor
    text_inputs: list[Any]
    vocoder_name: str
    accelerator: Any


def trainer_case_inputs(train: PathSpec, case: Case, device: str = "cpu") -> TrainerCaseSample:
    """What the Trainer samples from for this case (its dataset item and Accelerator), no sample drawn yet."""
    from f5_parity.paths.spec import decoder_name
    from f5_parity.paths.stages import dataset_text
    from f5_parity.paths.trainer import dataset_item

    batch_mel, lengths, text_inputs = dataset_item(str(case.ref_audio), dataset_text(train, case), train.value("mel"))
    accelerator = _accelerator(train.value("dtype").get("autocast", "no"), device)
    return TrainerCaseSample(None, batch_mel, lengths, text_inputs, decoder_name(train), accelerator)


def trainer_case_sample(train: PathSpec, case: Case, pool: ModelPool, seed: int, device: str = "cpu"
                        ) -> TrainerCaseSample:
    """What the Trainer writes as update_N_gen.wav for this case, its noise drawn after torch.manual_seed(seed)
    (the Trainer draws it unseeded). Full mode generates it once: the stages take its mel as the trainer's
    final mel (StageRunner.plant_final_mel) and the scores take its wav."""
    from f5_parity.paths.trainer import trainer_sample

    made = trainer_case_inputs(train, case, device)
    model = pool.model(train)
    vocoder = pool.vocoder(train)
    torch.manual_seed(seed)
    made.sample = trainer_sample(model, made.batch_mel.to(device), made.lengths, made.text_inputs, vocoder,
                                 made.vocoder_name, made.accelerator)
    return made


def trainer_heldout(train: PathSpec, case: Case, made: "TrainerCaseSample", pool: ModelPool, seed: int,
                    device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The trainer's model and settings on the case's held-out text (wav, mel (1, d, n)): the trainer sample's
    conditioning, its duration rule (reference frames scaled by the texts' UTF-8 lengths), noise after
    torch.manual_seed(seed). The gap baseline of the infer path, which speaks the same text."""
    from f5_tts.model.utils import convert_char_to_pinyin

    model, vocoder = pool.model(train), pool.vocoder(train)
    ref_len = int(made.lengths[0])
    held = convert_char_to_pinyin([case.gen_text])[0]
    ref_bytes = max(1, len(case.ref_text.encode("utf-8")))
    duration = ref_len + int(ref_len * len(case.gen_text.encode("utf-8")) / ref_bytes)
    torch.manual_seed(seed)
    with torch.inference_mode(), made.accelerator.autocast():
        generated, _ = model.sample(cond=made.batch_mel.permute(0, 2, 1)[:, :ref_len].to(device),
                                    text=[made.text_inputs[0] + [" "] + held], duration=duration,
                                    steps=int(train.value("sampler")["nfe"]),
                                    cfg_strength=train.value("sampler")["cfg"],
                                    sway_sampling_coef=train.value("sampler")["sway"])
        held_mel = generated.float()[:, ref_len:, :].permute(0, 2, 1)
        held_wav = vocoder.decode(held_mel) if hasattr(vocoder, "decode") else vocoder(held_mel).squeeze(0)
    return held_wav, held_mel


def generate_case(train: PathSpec, infer: PathSpec, case: Case, out_dir: Path, pool: ModelPool,
                  seed: int, device: str = "cpu", runner: InferRunner | None = None,
                  reuse: dict[tuple[str, str], Any] | None = None, trainer: TrainerCaseSample | None = None,
                  cross_paths: bool = False) -> list[GeneratedWav]:
    """Every wav of one case, written under out_dir/wavs/: one generation per path (the trainer sample, the
    infer path) unless `cross_paths` asks for the like-with-like pair too (trainer settings on the held-out
    text, the infer path on the copy task: two more generations)."""
    from f5_parity.paths.griffinlim import GriffinLimVocoder
    from f5_parity.paths.infer import load_infer_model, load_infer_vocoder

    wav_dir = out_dir / "wavs"
    sr = int(train.value("mel")["target_sample_rate"])
    out: list[GeneratedWav] = []

    def save(path: str, samples: torch.Tensor | np.ndarray, expected: str, mel: np.ndarray | None = None,
             rate: int = sr) -> None:
        data = samples.detach().float().cpu().numpy() if torch.is_tensor(samples) else np.asarray(samples)
        wav = write_wav(wav_dir / f"{case.name}_{path}.wav", data.reshape(-1), rate)
        out.append(GeneratedWav(case.name, path, expected, wav, mel))

    # baselines
    from f5_parity.scoring.audio import read_audio

    ref = read_audio(case.ref_audio)
    save("reference", ref.samples, case.ref_text, rate=ref.sample_rate)
    mel_cfg = train.value("mel")
    made = trainer or trainer_case_sample(train, case, pool, seed, device)
    sample = made.sample
    if made.vocoder_name != "griffin-lim":
        save("copy-synthesis", sample.ref_audio, case.ref_text)
    if mel_cfg.get("mel_spec_type", "vocos") == "vocos":
        gl = GriffinLimVocoder(mel_cfg)
        save("griffin-lim", gl.decode(made.batch_mel[:, :, : int(made.lengths[0])]), case.ref_text)
    save("trainer", sample.gen_audio, case.ref_text, sample.gen_mel[0].numpy())

    if cross_paths:  # the trainer's model and settings on the held-out text (the copy task hides duration faults)
        held_wav, held_mel = trainer_heldout(train, case, made, pool, seed, device)
        save("trainer-heldout", held_wav, case.gen_text, held_mel[0].cpu().numpy())

    # the real infer path (infer_cli's wiring, the F5TTS class, a wrapper or a script), observed as it runs;
    # the observation run of the first case is reused, not generated again
    runner = runner or InferRunner()
    model_and_vocoder = {}
    wanted = (("infer", case.gen_text, case.gen_text),) + ((("infer-copy", case.ref_text, case.ref_text),)
                                                          if cross_paths else ())
    for path, text, expected in wanted:
        gen = (reuse or {}).get((case.name, path))
        if gen is None:
            if runner.kind == "infer-cli" and not model_and_vocoder:  # loaded only when something generates
                model_and_vocoder = dict(model=load_infer_model(infer, device),
                                         vocoder=load_infer_vocoder(infer, device))
            obs, gen = observe_generation(runner, infer, case, seed=seed, device=device, gen_text=text,
                                          **model_and_vocoder)
            runner.observed.append({"case": case.name, "path": path, "runner": runner.kind,
                                    **generation_summary(obs, checkpoint=infer.locate("weights", "checkpoint"))})
            if obs.error or gen is None:
                continue  # the path failed here: no wav to score (the observation says why)
            if runner.kind == "script":
                continue  # a script writes its own wav; its generation is judged by the observation
        bad = int((~np.isfinite(np.asarray(gen.wav, dtype=np.float64))).sum())
        if bad:  # NaN/inf audio is the path's failure, not speech to transcribe
            runner.observed.append({"case": case.name, "path": path, "runner": runner.kind,
                                    "error": f"the path returned {bad} NaN/inf samples of {np.asarray(gen.wav).size}"})
            continue
        save(path, gen.wav, expected, gen.mel, rate=gen.sample_rate)
    return out


def score_all(wavs: list[GeneratedWav], asr, out_dir: Path,
              on_progress: Callable[[str], None] | None = None) -> RunScores:
    """Transcribe and score every wav; pool per path."""
    from f5_parity.scoring.metrics import pool, score_wav

    by_path: dict[str, list] = {}
    rows = []
    for item in wavs:
        if on_progress:
            on_progress(f"{item.case} {item.path}")
        s = score_wav(item.wav, item.expected, asr)
        by_path.setdefault(item.path, []).append(s)
        rows.append(ScoreRow(case=item.case, path=item.path, label=PATH_LABELS[item.path], expected=item.expected,
                             hypothesis=s.hypothesis, wer=s.wer, cer=s.cer, cer_capped=s.cer_capped,
                             similarity=s.similarity, wav=str(item.wav.relative_to(out_dir))))
    pooled = {}
    for path, scores in by_path.items():
        p = pool(scores)
        pooled[path] = PathScore(wer=p.wer_pooled, cer=p.cer_pooled, cer_capped=p.cer_mean_capped,
                                 similarity=p.similarity_mean, broken_share=p.broken_share, n=p.n)
    from f5_parity.scoring.textnorm import DEFAULT_NORMALIZER

    described = dict(asr.describe()) if hasattr(asr, "describe") else {}
    described.setdefault("normalizer", DEFAULT_NORMALIZER.name)
    return RunScores(asr=described, rows=rows, pooled=pooled)
