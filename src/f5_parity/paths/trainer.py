"""The trainer path: what f5_tts.model.trainer.Trainer.train does when it writes update_N_gen.wav.

The Trainer has no function for this, so `trainer_sample` mirrors its lines (f5-tts 1.1.22,
trainer.py ~L412-435, with the two differences of older releases taken from f5/versions.py) in this one place.
On code that matches no known release the installed Trainer runs instead (paths/trainer_run.py). tests/test_trainer_mirror.py proves the mirror: it trains a
tiny model with the real Trainer (log_samples on), then reproduces a logged sample from the saved
checkpoint; and it fails loudly when the installed trainer.py's sampling block changes.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

# The sampling block of Trainer.train as mirrored below, whitespace-normalized (f5-tts 1.1.22).
MIRRORED_F5_VERSION = "1.1.22"
MIRRORED_BLOCK = """
if self.log_samples and self.accelerator.is_local_main_process:
ref_audio_len = mel_lengths[0]
infer_text = [
text_inputs[0] + ([" "] if isinstance(text_inputs[0], list) else " ") + text_inputs[0]
]
with torch.inference_mode(), self.accelerator.autocast():
generated, _ = self.accelerator.unwrap_model(self.model).sample(
cond=mel_spec[0][:ref_audio_len].unsqueeze(0),
text=infer_text,
duration=ref_audio_len * 2,
steps=nfe_step,
cfg_strength=cfg_strength,
sway_sampling_coef=sway_sampling_coef,
)
generated = generated.to(torch.float32)
gen_mel_spec = generated[:, ref_audio_len:, :].permute(0, 2, 1).to(self.accelerator.device)
ref_mel_spec = batch["mel"][0, :, :ref_audio_len].unsqueeze(0)
if self.vocoder_name == "vocos":
gen_audio = vocoder.decode(gen_mel_spec).cpu()
ref_audio = vocoder.decode(ref_mel_spec).cpu()
elif self.vocoder_name == "bigvgan":
gen_audio = vocoder(gen_mel_spec).squeeze(0).cpu()
ref_audio = vocoder(ref_mel_spec).squeeze(0).cpu()
"""


def _normalize(block: str) -> str:
    return "\n".join(line.strip() for line in block.strip().splitlines() if line.strip())


def installed_sampling_block() -> str:
    """The sampling block of the installed Trainer.train, whitespace-normalized."""
    from f5_tts.model.trainer import Trainer

    source = inspect.getsource(Trainer.train)
    start = source.index("if self.log_samples and self.accelerator.is_local_main_process:")
    end = source.index("torchaudio.save(", start)
    return _normalize(source[start:end])


def mirrored_block() -> str:
    return _normalize(MIRRORED_BLOCK)


@dataclass
class TrainerSample:
    gen_mel: torch.Tensor  # (1, d, n) float32: the second half of the generated mel
    gen_audio: torch.Tensor  # (1, samples)
    ref_audio: torch.Tensor  # the vocoder resynthesis of the dataset mel (update_N_ref.wav)
    infer_text: list[Any]
    duration: int
    ref_audio_len: int


def trainer_sample(
    model,
    batch_mel: torch.Tensor,
    mel_lengths: torch.Tensor,
    text_inputs: list[Any],
    vocoder,
    vocoder_name: str,
    accelerator=None,
    *,
    nfe_step: int | None = None,
    cfg_strength: float | None = None,
    sway_sampling_coef: float | None = None,
) -> TrainerSample:
    """Mirror of the Trainer's sample step. `batch_mel` is batch['mel'] (b, d, n), as the Trainer holds it.

    The Trainer leaves the noise unseeded: seed torch's global RNG before calling for a reproducible draw.
    """
    import contextlib

    from accelerate import Accelerator
    from f5_tts.infer import utils_infer

    from f5_parity.f5.versions import trainer_sample_facts

    # Releases before 1.1.17 sample outside autocast, and before 1.1.16 decode the whole padded mel for
    # update_N_ref.wav (f5/versions.py); the loaded release decides.
    facts = trainer_sample_facts(None)
    accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
    # trainer.py imports these three from utils_infer inside train().
    nfe_step = utils_infer.nfe_step if nfe_step is None else nfe_step
    cfg_strength = utils_infer.cfg_strength if cfg_strength is None else cfg_strength
    sway_sampling_coef = utils_infer.sway_sampling_coef if sway_sampling_coef is None else sway_sampling_coef
    mel_spec = batch_mel.permute(0, 2, 1)  # rearrange(batch["mel"], "b d n -> b n d")

    ref_audio_len = mel_lengths[0]
    infer_text = [text_inputs[0] + ([" "] if isinstance(text_inputs[0], list) else " ") + text_inputs[0]]
    with torch.inference_mode(), accelerator.autocast() if facts.autocast else contextlib.nullcontext():
        generated, _ = accelerator.unwrap_model(model).sample(
            cond=mel_spec[0][:ref_audio_len].unsqueeze(0),
            text=infer_text,
            duration=ref_audio_len * 2,
            steps=nfe_step,
            cfg_strength=cfg_strength,
            sway_sampling_coef=sway_sampling_coef,
        )
        generated = generated.to(torch.float32)
        gen_mel_spec = generated[:, ref_audio_len:, :].permute(0, 2, 1).to(accelerator.device)
        ref_mel_spec = batch_mel[0, :, :ref_audio_len].unsqueeze(0) if facts.ref_mel_cut else batch_mel[0].unsqueeze(0)
        if vocoder_name == "vocos":
            gen_audio = vocoder.decode(gen_mel_spec).cpu()
            ref_audio = vocoder.decode(ref_mel_spec).cpu()
        elif vocoder_name == "bigvgan":
            gen_audio = vocoder(gen_mel_spec).squeeze(0).cpu()
            ref_audio = vocoder(ref_mel_spec).squeeze(0).cpu()
        else:  # griffin-lim: this tool's vocoder-free resynthesis, same calling convention as vocos
            gen_audio = vocoder.decode(gen_mel_spec).cpu()
            ref_audio = vocoder.decode(ref_mel_spec).cpu()
    return TrainerSample(gen_mel_spec.cpu(), gen_audio, ref_audio, infer_text, int(ref_audio_len) * 2, int(ref_audio_len))


def dataset_item(audio_path: str, text: list[str], mel: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, list[Any]]:
    """One item as CustomDataset + collate_fn deliver it: (batch['mel'] (1,d,n), mel_lengths, text_inputs).

    `text` is the transcript as the dataset stores it (paths/stages.py dataset_text: what prepare_csv_wavs
    wrote, convert_char_to_pinyin of the transcript for a folder prepared by the installed release).
    """
    import torchaudio
    from f5_tts.model.modules import MelSpec

    audio, sr = torchaudio.load(audio_path)
    if audio.shape[0] > 1:
        audio = torch.mean(audio, dim=0, keepdim=True)
    if sr != mel["target_sample_rate"]:
        audio = torchaudio.transforms.Resample(sr, mel["target_sample_rate"])(audio)
    mel_spec = MelSpec(**mel)(audio)  # (1, d, n)
    lengths = torch.tensor([mel_spec.shape[-1]])
    return mel_spec, lengths, [list(text)]

