"""Which code stands for the trainer side of a run, and the environment block of the report.

On a known, unedited, supported f5-tts the trainer mirror (paths/trainer.py) is proven (tests/test_trainer_run.py,
make test-versions) and used. On anything else (edited functions, a checkout between releases, a fork, an
unsupported release) the installed Trainer's own sample code runs once per run (paths/trainer_run.py): what it
sampled with (steps, cfg, sway, duration, text) becomes the trainer spec the stages compare against, and in full
mode its update_N_gen.wav is the trainer wav that gets scored.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from f5_parity.f5.environment import F5Environment, detect
from f5_parity.paths.spec import PathSpec, align_by_design


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


@dataclass
class TrainerSide:
    environment: F5Environment
    source: str  # "mirror" (proven on this release) or "installed-trainer" (its own code ran)
    device: str
    runs: dict[str, Any] = field(default_factory=dict)  # case -> paths.trainer_run.TrainerCall it produced
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        env = self.environment
        out: dict[str, Any] = {
            "summary": env.summary(),
            "f5_tts": {k: v for k, v in env.to_dict().items() if k not in ("digests", "summary")},
            "torch": _version("torch"), "torchaudio": _version("torchaudio"), "python": platform.python_version(),
            "device": self.device,
            "trainer_side": self.source,
            "trainer_side_why": self._why(),
            "notes": self.notes,
        }
        if self.runs:
            out["installed_trainer"] = {case: {**run.settings(), "loaded_by": run.loaded_by}
                                        for case, run in self.runs.items()}
        return out


    def _why(self) -> str:
        env = self.environment
        if self.source == "mirror":
            from f5_parity.f5.environment import run_sample_block_digests
            from f5_parity.f5.matrix import mirror_runs

            ran = run_sample_block_digests().get(env.digests.get("Trainer.train sample block"))
            return (f"the mirror of Trainer.train's sample block was run against the real Trainer of release {ran} "
                    f"(same sample block as {env.release}; make test-versions at {mirror_runs()['commit'][:10]})")
        if env.trusted:
            reason = (f"release {env.release} is recognized, but the mirror was never run against its Trainer "
                      "sample block")
        elif env.differs:
            reason = f"the loaded code differs from release {env.compared_with} in {', '.join(env.differs)}"
        elif env.release:
            reason = f"release {env.release} is not one this tool supports"
        else:
            reason = "no known release matches the loaded code"
        return f"{reason}: the installed Trainer's own sample code produced the trainer side"


def decide(device: str) -> TrainerSide:
    env = detect()
    return TrainerSide(env, "mirror" if env.mirror_proven else "installed-trainer", device)


def apply_installed_trainer(side: TrainerSide, session, case, seed: int) -> None:
    """Run the installed Trainer on the first case; the session's trainer spec takes what it sampled with."""
    from f5_parity.paths.stages import dataset_text
    from f5_parity.paths.trainer_run import installed_trainer_sample

    call = installed_trainer_sample(session.train, str(case.ref_audio), dataset_text(session.train, case), seed=seed,
                                    device=side.device)
    side.runs[case.name] = call
    spec: PathSpec = session.train
    sampler = spec.value("sampler")
    observed = {"nfe": call.steps, "cfg": call.cfg_strength, "sway": call.sway_sampling_coef}
    changed = {k: v for k, v in observed.items() if sampler.get(k) != v}
    if changed:
        spec = spec.with_value("sampler", label=spec.label, **changed)
        side.notes.append("the installed Trainer samples with " + ", ".join(
            f"{k} {v} (the release's trainer: {sampler.get(k)})" for k, v in changed.items()))
    if call.duration != 2 * call.ref_len:
        side.notes.append(f"the installed Trainer asks for {call.duration} frames on a {call.ref_len}-frame "
                          "reference (2x in every release): the stage comparison keeps 2x, full mode scores its wav")
    if spec is not session.train:
        _retarget(session, spec)


def _retarget(session, spec: PathSpec) -> None:
    """The session compares against `spec` from now on (its alignment and baseline recomputed)."""
    session.train = spec
    session.aligned, session.by_design_diffs = align_by_design(spec, session.infer)
    session._baseline.clear()


def replace_trainer_wav(side: TrainerSide, session, wavs: list, case, seed: int) -> None:
    """Full mode: the case's trainer wav is the update_N_gen.wav the installed Trainer wrote for it."""
    import numpy as np

    from f5_parity.paths.stages import dataset_text
    from f5_parity.paths.trainer_run import installed_trainer_sample
    from f5_parity.scoring.audio import write_wav

    if side.source != "installed-trainer":
        return
    if case.name not in side.runs:
        side.runs[case.name] = installed_trainer_sample(session.train, str(case.ref_audio),
                                                        dataset_text(session.train, case), seed=seed,
                                                        device=side.device)
    run = side.runs[case.name]
    if run.gen_wav is None:
        return
    for item in wavs:
        if item.case == case.name and item.path == "trainer":
            write_wav(item.wav, run.gen_wav.reshape(-1).numpy(), run.sample_rate)
            item.mel = np.asarray(run.gen_mel[0].numpy())
