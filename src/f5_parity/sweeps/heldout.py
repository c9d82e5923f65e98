"""The trainer's model and settings on the held-out text (the copy task hides duration faults): one score costs
one generation.
"""

from __future__ import annotations

from f5_parity.cases.case import Case
from f5_parity.paths.spec import PathSpec


def trainer_heldout(train: PathSpec, case: Case, pool, seed: int, device: str):
    """The trainer's model and settings on the held-out text (the copy task hides duration faults): the
    trainer-heldout path of parity/generate.py generate_case, alone, so one score costs one generation."""
    import torch
    from f5_tts.model.utils import convert_char_to_pinyin

    from f5_parity.paths.stages import autocast_context, dataset_text
    from f5_parity.paths.trainer import dataset_item

    batch_mel, lengths, text_inputs = dataset_item(str(case.ref_audio), dataset_text(train, case), train.value("mel"))
    model = pool.model(train)
    vocoder = pool.vocoder(train)
    ref_len = int(lengths[0])
    held = convert_char_to_pinyin([case.gen_text])[0]
    ref_bytes = max(1, len(case.ref_text.encode("utf-8")))
    duration = ref_len + int(ref_len * len(case.gen_text.encode("utf-8")) / ref_bytes)
    sampler = train.value("sampler")
    torch.manual_seed(seed)
    with torch.inference_mode(), autocast_context(train, device):
        generated, _ = model.sample(cond=batch_mel.permute(0, 2, 1)[:, :ref_len].to(device),
                                    text=[text_inputs[0] + [" "] + held], duration=duration,
                                    steps=int(sampler["nfe"]), cfg_strength=sampler["cfg"],
                                    sway_sampling_coef=sampler["sway"])
        mel = generated.float()[:, ref_len:, :].permute(0, 2, 1)
        wav = vocoder.decode(mel) if hasattr(vocoder, "decode") else vocoder(mel).squeeze(0)
    return wav, int(train.value("mel")["target_sample_rate"])
