"""What changed between f5-tts releases, in one place: read from the installed code where it shows there
(signatures), and from this table where only a release tells (the Trainer's sample block).

The table rows were read off the releases' sources (diff of the sample block, scripts/f5_known_digests.py
names the releases where its digest changes: 1.0.8, 1.1.16, 1.1.17); `make test-versions` proves the
trainer mirror against the real Trainer on one release of each series.
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


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split(".")[:3])


def trainer_sample_facts(release: str | None) -> TrainerSampleFacts:
    """The sample block's behaviour for a release (None: the loaded code's own release, as detected)."""
    if release is None:
        from f5_parity.f5.environment import detect

        env = detect()
        release = env.release or env.compared_with or env.version or "0"
    for first, facts in _TRAINER_SAMPLE:
        if _key(release) >= first:
            return facts
    return _TRAINER_SAMPLE[-1][1]


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
