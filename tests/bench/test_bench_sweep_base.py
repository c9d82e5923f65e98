"""Benchmark (make bench): what one checkpoint costs a sweep at F5TTS_v1_Base size (issue 22 item 6).

Three checkpoints of F5TTS_v1_Base size in F5's Trainer format (random weights, raw and a perturbed EMA set,
the later two with their raw set perturbed again, the official vocab) in one folder; in one process: one infer_process generation at nfe 32 (infer_cli's
wiring, model and vocoder loaded beforehand, as tests/bench/test_bench_run.py), then `parity-check sweep`
in fast mode with its quality signal (the flow-matching loss of both weight sets, the default number of fixed
draws on the case's clip, sweeps/quality.py DEFAULT_DRAWS) from a cold cache. Two ratios over that generation's seconds (goal <= 0.3x): the whole
sweep's seconds over its 3 checkpoints (the one-time setup shared by 3 only), and what one more checkpoint
adds: the two newer files' units (each observes the user's path on its own file) and their sha256 (read while
the sweep plans, so counted in the setup otherwise), their mean. Written to reports/bench/sweep_base.json; nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.bench

OUT = Path(__file__).resolve().parents[2] / "reports" / "bench" / "sweep_base.json"
REF_TEXT = "Eu não sei se você vai gostar da ação, mas a informação chegou depois da reunião."
GEN_TEXT = "Amanhã nós vamos viajar para o interior."


def test_bench_sweep_per_checkpoint_against_one_generation(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_bench_run import _base_checkpoint

    from f5_parity import cli
    from f5_parity.cases.case import Case
    from f5_parity.cases.speech import speak
    from f5_parity.f5.vocab import official_vocab_path, read_vocab_chars
    from f5_parity.sweeps.quality import DEFAULT_DRAWS
    from f5_parity.paths.infer import load_infer_model, load_infer_vocoder, run_infer_cli
    from f5_parity.paths.spec import infer_spec
    from f5_parity.testing.fixtures import random_vocos_dir

    vocab = official_vocab_path()
    run = tmp_path / "ckpts" / "base_run"
    run.mkdir(parents=True)
    first = _base_checkpoint(run / "model_25400.pt", len(read_vocab_chars(vocab)))
    later = ["model_25500.pt", "model_25600.pt"]
    ck = torch.load(str(first), map_location="cpu", weights_only=True)
    g = torch.Generator().manual_seed(2)
    for name in later:
        ck["model_state_dict"] = {k: v + 0.01 * v.std() * torch.randn(v.shape, generator=g) if v.is_floating_point()
                                  and v.numel() > 1 else v for k, v in ck["model_state_dict"].items()}
        ck["update"] = int(name[6:-3])
        torch.save(ck, run / name)
    del ck
    vocos = random_vocos_dir(tmp_path / "vocos")
    wav = speak(REF_TEXT, tmp_path / "ref.wav", words_per_minute=140)
    case = Case("ref", wav, REF_TEXT, GEN_TEXT)

    infer = infer_spec(first, infer_config="F5TTS_v1_Base", infer_vocab=vocab, use_ema=True, vocoder_path=vocos)
    model, vocoder = load_infer_model(infer), load_infer_vocoder(infer)
    t0 = time.perf_counter()
    gen = run_infer_cli(infer, case, model=model, vocoder=vocoder)
    generation_s = time.perf_counter() - t0
    del model, vocoder

    out = tmp_path / "sweep"
    t0 = time.perf_counter()
    rc = cli.main(["sweep", str(run), "--train-config", "F5TTS_v1_Base", "--train-vocab", str(vocab),
                   "--infer-config", "F5TTS_v1_Base", "--infer-vocab", str(vocab), "--vocoder-path", str(vocos),
                   "--ref-audio", str(wav), "--ref-text", REF_TEXT, "--gen-text", GEN_TEXT, "--out", str(out)])
    sweep_s = time.perf_counter() - t0
    report = json.loads((out / "sweep.json").read_text())
    assert rc in (0, 1) and len(report["checkpoints"]) == 3
    assert all(c.get("quality") for c in report["checkpoints"])  # the quality signal was computed for each
    per_checkpoint = sweep_s / 3
    # what one more checkpoint adds: a newer file's own units (its verdict observes the user's path on it);
    # the oldest's verdict takes the observation made while the run was assembled, which setup_s holds
    # ... plus its sha256, which the sweep reads while it plans (the cache key), before any unit runs: timed
    # again here through the same function, its per-process memo of the digest emptied first
    from f5_parity import files

    hashed = []
    for name in later:
        files._SHA256.clear()
        t0 = time.perf_counter()
        files.sha256_file(run / name)
        hashed.append(time.perf_counter() - t0)
    added = [report["execution"]["seconds_per_checkpoint"][name] + h for name, h in zip(later, hashed)]
    marginal = sum(added) / len(added)

    result = {
        "what": f"parity-check sweep, fast mode with the flow-loss quality signal (raw and EMA, {DEFAULT_DRAWS} "
                "draws, the default), per checkpoint, against one infer_process generation (nfe 32) of the same size",
        "quality_draws": ((report.get("settings") or {}).get("quality") or {}).get("draws"),
        "model": "F5TTS_v1_Base (random weights), official vocab", "checkpoints": 3,
        "generation_s": round(generation_s, 2), "generated_audio_s": round(len(gen.wav) / gen.sample_rate, 2),
        "sweep_s": round(sweep_s, 2), "sweep_per_checkpoint_s": round(per_checkpoint, 2),
        "execution": report.get("execution"),
        # what the sweep spent before it planned its checkpoints (assembling the run, observing the user's
        # path once on the oldest checkpoint, whose verdict reuses it)
        "setup_s": round(sweep_s - report["execution"]["seconds"], 2),
        "ratio_per_checkpoint_to_generation": round(per_checkpoint / generation_s, 3),
        "added_checkpoint_s": round(marginal, 2), "added_checkpoints_s": [round(a, 2) for a in added],
        "added_checkpoints_sha256_s": [round(h, 2) for h in hashed],
        "ratio_added_checkpoint_to_generation": round(marginal / generation_s, 3), "goal": "<= 0.3",
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
                    "torch": torch.__version__},
        "command": "make bench (tests/bench/test_bench_sweep_base.py)",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")


FLOPS_OUT = OUT.with_name("sweep_base_flops.json")


def test_bench_arithmetic_of_the_passes_a_checkpoint_needs():
    """The floor under the ratio above: the floating-point operations of the forward passes one checkpoint
    needs in fast mode (the default quality draws x raw and EMA on the 6.6 s clip; the trainer's and the infer path's
    guided velocity on the copy task, twice the clip) against the 32 guided steps of the generation, counted by
    torch's FlopCounterMode on an F5TTS_v1_Base-sized model at the bench's shapes. Counts, not time: the same
    on every machine. Written to reports/bench/sweep_base_flops.json."""
    from torch.utils.flop_counter import FlopCounterMode

    from f5_parity.f5.configs import MEL_SPEC_KWARGS
    from f5_parity.f5.vocab import official_vocab_path, read_vocab_chars
    from f5_parity.sweeps.quality import DEFAULT_DRAWS
    from f5_tts.model import CFM, DiT

    clip, generated, draws = 620, 271, DEFAULT_DRAWS  # frames: the spoken 6.6 s reference, the 2.89 s generated
    dit = DiT(dim=1024, depth=22, heads=16, ff_mult=2, text_dim=512, conv_layers=4,
              text_num_embeds=len(read_vocab_chars(official_vocab_path())), mel_dim=100)
    model = CFM(transformer=dit, mel_spec_kwargs=dict(MEL_SPEC_KWARGS)).eval()

    def flops(run) -> int:
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            run()
        return counter.get_total_flops()

    def guided(frames: int, text: int) -> int:
        return flops(lambda: dit(x=torch.randn(1, frames, 100), cond=torch.randn(1, frames, 100),
                                 text=torch.randint(0, 100, (1, text)), time=torch.tensor(0.5), mask=None,
                                 cfg_infer=True, cache=False))

    quality = flops(lambda: model(torch.randn(1, clip, 100), torch.randint(0, 100, (1, 80))))
    velocity = guided(2 * clip, 160)
    step = guided(clip + generated, 120)
    per_checkpoint = 2 * draws * quality + 2 * velocity
    result = {
        "what": "floating-point operations (torch FlopCounterMode) of the forward passes one checkpoint needs in "
                "fast mode with the quality signal, against one nfe-32 generation, F5TTS_v1_Base size",
        "quality_pass_gflop": round(quality / 1e9, 1), "quality_passes": 2 * draws,
        "guided_velocity_gflop": round(velocity / 1e9, 1), "guided_velocities": 2,
        "generation_step_gflop": round(step / 1e9, 1), "generation_steps": 32,
        "per_checkpoint_tflop": round(per_checkpoint / 1e12, 2), "generation_tflop": round(32 * step / 1e12, 2),
        "ratio": round(per_checkpoint / (32 * step), 3),
        "quality_draws": draws,
        "ratio_at_8_draws": round((16 * quality + 2 * velocity) / (32 * step), 3),  # the default before 6
        "command": ".venv/bin/python -m pytest -q -m bench -o addopts= "
                   "tests/bench/test_bench_sweep_base.py::test_bench_arithmetic_of_the_passes_a_checkpoint_needs",
    }
    FLOPS_OUT.write_text(json.dumps(result, indent=1) + "\n")
