"""What changed between f5-tts releases, in one place: read from the installed code where it shows there
(signatures), and from this table where only a release tells (the Trainer's sample block).

The table rows were read off the releases' sources (diff of the sample block, scripts/f5_known_digests.py
names the releases where its digest changes: 1.0.8, 1.1.16, 1.1.17); `make test-versions` runs the
trainer mirror against the real Trainer, and f5/matrix.py counts it proven only for the sample-block
digests that run covered (1.1.16's own block was never run: "recognized, mirror not run").
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class TrainerSampleFacts:
    """How Trainer.train's sample block (update_N_gen.wav / update_N_ref.wav) runs in a release."""

    autocast: bool  # sample inside accelerator.autocast() (1.1.17+); before, in the model's own dtype
    ref_mel_cut: bool  # update_N_ref.wav decodes batch['mel'][0, :, :ref_len] (1.1.16+); before, the padded mel


# (first release, facts), newest first.
_TRAINER_SAMPLE: tuple[tuple[tuple[int, int, int], TrainerSampleFacts], ...] = (
    ((1, 1, 17), TrainerSampleFacts(autocast=True, ref_mel_cut=True)),
    ((1, 1, 16), TrainerSampleFacts(autocast=False, ref_mel_cut=True)),
    ((0, 0, 0), TrainerSampleFacts(autocast=False, ref_mel_cut=False)),
)


@dataclass(frozen=True)
class InferCliFacts:
    """What infer_cli's -m means in a release, and what it loads without -m / -mc.

    1.x: -m names a config (configs/<model>.yaml, default F5TTS_v1_Base). 0.x: -m names a model family,
    "F5-TTS" (DiT, -mc or configs/F5TTS_Base_train.yaml) or "E2-TTS" (UNetT with a fixed arch, equal to
    configs/E2TTS_Base_train.yaml's; -mc on the command line stops it with an AssertionError).
    """

    model_default: str
    families: dict[str, str] | None  # 0.x: family -> the config whose arch it builds; None: -m is a config


_INFER_CLI: tuple[tuple[tuple[int, int, int], InferCliFacts], ...] = (
    ((1, 0, 0), InferCliFacts(model_default="F5TTS_v1_Base", families=None)),
    ((0, 0, 0), InferCliFacts(model_default="F5-TTS",
                              families={"F5-TTS": "F5TTS_Base_train", "E2-TTS": "E2TTS_Base_train"})),
)


def _loaded_release() -> str:
    from f5_parity.f5.environment import detect

    env = detect()
    return env.release or env.compared_with or env.version or "0"


def infer_cli_facts(release: str | None = None) -> InferCliFacts:
    """infer_cli's model naming for a release (None: the loaded code's own release)."""
    key = _key(release or _loaded_release())
    return next(facts for first, facts in _INFER_CLI if key >= first)


def default_infer_config(release: str | None = None) -> str:
    """The config infer_cli and the F5TTS API load when given none: F5TTS_v1_Base (1.x), F5TTS_Base_train (0.x)."""
    facts = infer_cli_facts(release)
    return facts.families[facts.model_default] if facts.families else facts.model_default


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split(".")[:3])


def trainer_sample_facts(release: str | None) -> TrainerSampleFacts:
    """The sample block's behaviour for a release (None: the loaded code's own release, as detected)."""
    if release is None:
        release = _loaded_release()
    for first, facts in _TRAINER_SAMPLE:
        if _key(release) >= first:
            return facts
    return _TRAINER_SAMPLE[-1][1]


@lru_cache(maxsize=1)
def trainer_checkpoint_suffixes() -> tuple[str, ...]:
    """The files Trainer.load_checkpoint considers, read off the installed source: .pt and .safetensors
    (1.x); .pt only (0.x, where a folder holding just pretrained_*.safetensors trains from scratch)."""
    from f5_tts.model.trainer import Trainer

    return (".pt", ".safetensors") if ".safetensors" in inspect.getsource(Trainer.load_checkpoint) else (".pt",)


@lru_cache(maxsize=1)
def word_segmenter() -> str:
    """The module convert_char_to_pinyin segments words with, read off the installed model/utils.py:
    rjieba (1.x) or jieba (0.x)."""
    import f5_tts.model.utils as utils

    source = inspect.getsource(utils)
    return "rjieba" if "import rjieba" in source else "jieba" if "import jieba" in source else "its word segmenter"


@lru_cache(maxsize=1)
def sampler_facts() -> dict[str, bool]:
    """How the installed CFM.sample steps, read from its signatures (no table to keep in step).

    epss: CFM.sample(use_epss=True) takes the Empirically Pruned Step grid at t_start 0 (1.1.5+), before: linspace.
    batched_cfg: DiT.forward(cfg_infer=...) evaluates the guided and the null flow in one batch (1.1.6+);
    before, two calls with drop_audio_cond/drop_text set for the null one.
    """
    from f5_tts.model import DiT
    from f5_tts.model.cfm import CFM

    use_epss = inspect.signature(CFM.sample).parameters.get("use_epss")
    dit = inspect.signature(DiT.forward).parameters
    return {"epss": bool(use_epss is not None and use_epss.default), "batched_cfg": "cfg_infer" in dit,
            "cache_arg": "cache" in dit}


def guided_velocity(transformer, *, x, cond, text, time, cfg_strength: float):
    """The velocity CFM.sample's fn(t, x) computes, as the installed release computes it.

    cfg < 1e-5: one conditioned pass (1.x passes cache=False there; 0.x's forward has no cache argument).
    1.1.6+: the guided and the null flow in one batched call (cfg_infer=True); before, two calls with
    drop_audio_cond/drop_text set for the null one. Called under the caller's inference_mode/autocast.
    """
    facts = sampler_facts()
    cache = {"cache": False} if facts["cache_arg"] else {}
    if cfg_strength < 1e-5:
        return transformer(x=x, cond=cond, text=text, time=time, mask=None, drop_audio_cond=False, drop_text=False,
                           **cache)
    if facts["batched_cfg"]:
        both = transformer(x=x, cond=cond, text=text, time=time, mask=None, cfg_infer=True, **cache)
        pred, null_pred = both.chunk(2, dim=0)
    else:
        pred = transformer(x=x, cond=cond, text=text, time=time, mask=None, drop_audio_cond=False, drop_text=False)
        null_pred = transformer(x=x, cond=cond, text=text, time=time, mask=None, drop_audio_cond=True,
                                drop_text=True)
    return pred + (pred - null_pred) * cfg_strength


def time_grid(nfe: int, *, use_epss: bool, sway: float | None, dtype, device: str = "cpu"):
    """CFM.sample's time grid at t_start 0 for its arguments: the EPSS grid when use_epss is asked and the
    release has it (1.1.5+; get_epss_timesteps itself falls back to linspace for an nfe it has no grid
    for), else linspace(0, 1, nfe + 1); then sway sampling t + sway * (cos(pi/2 t) - 1 + t)."""
    import torch

    if use_epss and sampler_facts()["epss"]:
        from f5_tts.model.utils import get_epss_timesteps

        t = get_epss_timesteps(int(nfe), device=device, dtype=dtype)
    else:
        t = torch.linspace(0, 1, int(nfe) + 1, device=device, dtype=dtype)
    if sway is not None:
        t = t + sway * (torch.cos(torch.pi / 2 * t) - 1 + t)
    return t
