"""The F5TTS class as an infer path: real construction and real infer(), observed at CFM.sample.

F5TTS only loads shipped configs, so this builds a random-weight F5TTS_v1_Small checkpoint (158 M
parameters, the smallest official DiT) with f5-tts's own vocab; nfe 4 keeps the generation short.
"""

from __future__ import annotations

import pytest
import torch


@pytest.mark.slow
def test_f5tts_class_path_runs_and_is_observed(tmp_path, pt_cases):
    from f5_tts.model import CFM, DiT

    from f5_parity.cases.case import Case
    from f5_parity.f5.configs import load_config
    from f5_parity.f5.configs import MEL_SPEC_KWARGS
    from f5_parity.f5.vocab import official_vocab_path, read_vocab_chars
    from f5_parity.testing.fixtures import random_vocos_dir
    from f5_parity.parity.generate import generation_summary
    from f5_parity.paths.infer import run_api
    from f5_parity.paths.spec import infer_spec

    vocab = official_vocab_path()
    torch.manual_seed(0)
    model = CFM(transformer=DiT(**load_config("F5TTS_v1_Small")["arch"], text_num_embeds=len(read_vocab_chars(vocab)),
                                mel_dim=100), mel_spec_kwargs=MEL_SPEC_KWARGS)
    sd = model.state_dict()
    ckpt = tmp_path / "model_1250000.safetensors"  # the official EMA-only layout F5TTS() loads by default
    from safetensors.torch import save_file

    save_file({f"ema_model.{k}": v.contiguous() for k, v in sd.items()}, str(ckpt))
    del model, sd
    spec = infer_spec(ckpt, infer_config="F5TTS_v1_Small", infer_vocab=vocab, vocoder_path=random_vocos_dir(tmp_path / "v"),
                      nfe=4)
    case = pt_cases[0]
    from f5_parity.observe.calls import run_observed

    obs, gen = run_observed(lambda: run_api(spec, Case(case.name, case.wav, case.text, "Sim, claro."),
                                            model_name="F5TTS_v1_Small"), stop_at_first_sample=False)
    assert obs.error is None and obs.tool_limit is None, (obs.error, obs.tool_limit)
    assert gen.path == "api" and gen.sample_rate == 24000 and gen.wav.size > 0
    seen = generation_summary(obs, checkpoint=str(ckpt))
    assert seen["sample_calls"] == 1 and seen["steps"] == 4 and seen["weights"] == "ema"
    assert seen["pe_attn_head"] is None and seen["text_mask_padding"] is True  # the v1 flags F5TTS applied
    built = obs.constructions[-1]
    assert built["backbone"] == "DiT" and built["backbone_kwargs"]["text_mask_padding"] is True
