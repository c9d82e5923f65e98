"""One injectable fault per factor id: the mistakes users make on the infer side, made on purpose.

Used by the damage table (what each mistake costs, in CER), the demo and the engine's tests.
Each fault returns the infer spec with that one factor changed; files it needs (a permuted vocab,
a second vocoder) are written under `work_dir`, never next to the user's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from f5_parity.f5.configs import V0_FLAGS, V1_FLAGS
from f5_parity.paths.spec import PathSpec
from f5_parity.demo.fixture import permuted_vocab

FaultFn = Callable[[PathSpec, Path], PathSpec]


def _weights(spec: PathSpec, work: Path) -> PathSpec:
    return spec.with_value("weights", set="ema" if spec.value("weights")["set"] == "raw" else "raw")


def _arch(spec: PathSpec, work: Path) -> PathSpec:
    arch = spec.value("arch")
    v0 = arch.get("pe_attn_head") == 1 and arch.get("text_mask_padding") is False
    flags = V1_FLAGS if v0 else V0_FLAGS
    return spec.with_value("arch", **flags)


def _vocab(spec: PathSpec, work: Path) -> PathSpec:
    from f5_parity.files import sha256_file

    path = permuted_vocab(spec.locate("vocab", "path"), work / "vocab_permuted.txt")
    return spec.with_value("vocab", locator={"path": str(path)}, sha256=sha256_file(path))


def _text(spec: PathSpec, work: Path) -> PathSpec:
    return spec.with_value("text", unicode="NFD")


def _mel(spec: PathSpec, work: Path) -> PathSpec:
    other = "bigvgan" if spec.value("mel")["mel_spec_type"] == "vocos" else "vocos"
    return spec.with_value("mel", mel_spec_type=other)


def _vocoder(spec: PathSpec, work: Path) -> PathSpec:
    from f5_parity.demo.fixture import random_vocos_dir
    from f5_parity.files import sha256_file

    path = random_vocos_dir(work / "vocos-other", seed=7)
    return spec.with_value("vocoder", locator={"path": str(path)}, name="vocos",
                           weights=sha256_file(path / "pytorch_model.bin"))


def _ref_audio(spec: PathSpec, work: Path) -> PathSpec:
    return spec.with_value("ref-audio", target_rms=0.5)


def _duration(spec: PathSpec, work: Path) -> PathSpec:
    return spec.with_value("duration", speed=0.5)


def _sampler(spec: PathSpec, work: Path) -> PathSpec:
    return spec.with_value("sampler", cfg=0.5)


def _dtype(spec: PathSpec, work: Path) -> PathSpec:
    return spec.with_value("dtype", autocast="bf16")


FAULTS: dict[str, tuple[str, FaultFn]] = {
    "weights": ("the other weight set (EMA where raw was sampled)", _weights),
    "arch": ("the other flag set (v1 on v0, or v0 on v1)", _arch),
    "vocab": ("the vocab in another order, same size", _vocab),
    "text": ("NFD input text (decomposed accents)", _text),
    "mel": ("the other mel type (bigvgan features for vocos)", _mel),
    "vocoder": ("another Vocos (random weights, seed 7)", _vocoder),
    "ref-audio": ("reference RMS raised to 0.5", _ref_audio),
    "duration": ("speed 0.5 (twice the duration)", _duration),
    "sampler": ("cfg_strength 0.5", _sampler),
    "dtype": ("bf16 autocast", _dtype),
}


def inject(spec: PathSpec, factor: str, work_dir: str | Path, label: str | None = None) -> PathSpec:
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    out = FAULTS[factor][1](spec, work)
    return PathSpec(label or spec.label, out.values, out.locators, out.unknown)
