"""The infer side as the user's path really runs it: observed, turned into a spec, and judged.

`observe_infer_path` runs the user's real infer entry (infer_cli's wiring from their command line,
the F5TTS class, their wrapper, or their whole script) under observe/calls.py's hooks: in fast mode
it stops at the first CFM.sample; in full mode it lets the path finish and keeps the wav, so full
mode does not generate it twice. The observed spec then replaces the flags' prediction; where the
two differ, each difference is a finding with both values.

A path that cannot load or run is a parity failure with a culprit, never bad input: the exception
is quoted, and classified to the factor responsible (key format -> weights, vocab size -> vocab,
other shape errors -> arch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from f5_parity.cases.case import Case
from f5_parity.paths.factors import BY_ID
from f5_parity.observe.calls import Observation, run_observed
from f5_parity.observe.chunks import chunked_generation
from f5_parity.observe.spec import Finding, call_tokens, derive_spec
from f5_parity.paths.spec import PathSpec
from f5_parity.ports.judge import PortJudgement, judge_port


@dataclass
class InferRunner:
    """Which real infer path runs: infer_cli's wiring, the F5TTS class, a wrapper, or a script."""

    kind: str = "infer-cli"  # "infer-cli" | "api" | "custom" | "script"
    target: str | None = None  # api: the official config name; custom: module:function; script: its path
    script_args: list[str] = field(default_factory=list)
    observed: list[dict[str, Any]] = field(default_factory=list)  # what each generation really did
    # The factors the user's own input predicts (a wrapper or script: only those its flags set); None: every
    # factor (infer_cli's command line and wiring, the F5TTS class: their own defaulting is the prediction).
    # A factor nothing predicts has observations only: no "the flags predict" finding, no agreement to judge.
    predicted: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        return {"infer-cli": "infer_cli wiring", "api": "the F5TTS class", "custom": f"your wrapper {self.target}",
                "script": f"your script {self.target}"}[self.kind]


@dataclass
class PathFailure:
    """The infer path could not load or run: who is responsible, the path's own words, and the fix."""

    factor: str | None  # None: the path's own code failed, no setting of the two paths is to blame
    error: dict[str, Any]  # the exception as the path raised it: type, message, full_message, where
    fix: str
    stage: str  # "load", "run", "no-sample-call", "weights", "tool-limit"
    evidence: dict[str, Any] | None = None  # load failures: the model built against the checkpoint's shapes

    def to_dict(self) -> dict[str, Any]:
        out = {"factor": self.factor, "error": self.error, "fix": self.fix, "stage": self.stage}
        if self.evidence is not None:
            out["evidence"] = self.evidence
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "PathFailure | None":
        if not d:
            return None
        return cls(factor=d.get("factor"), error=dict(d.get("error") or {}), fix=d.get("fix") or "",
                   stage=d.get("stage") or "run", evidence=d.get("evidence"))


@dataclass
class ObservedFactor:
    """One factor as the flags predicted it and as the path really did it."""

    predicted: Any  # None: nothing the user gave predicts it (a wrapper run without that flag)
    observed: Any
    agrees: bool | None  # None: nothing to agree with

    def to_dict(self) -> dict[str, Any]:
        return {"predicted": self.predicted, "observed": self.observed, "agrees": self.agrees}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ObservedFactor":
        agrees = d.get("agrees")
        return cls(predicted=d.get("predicted"), observed=d.get("observed"),
                   agrees=None if agrees is None else bool(agrees))


@dataclass
class TimeGridCheck:
    """The engine's time grid against the one CFM.sample makes of the call's own arguments, point by point."""

    passed: bool
    points: list[int]  # [engine's, path's]
    max_abs_diff: float | None  # None: the grids have different lengths
    atol: float
    use_epss: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "points": self.points, "max_abs_diff": self.max_abs_diff, "atol": self.atol,
                "use_epss": self.use_epss}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "TimeGridCheck | None":
        if not d:
            return None
        return cls(passed=bool(d.get("passed")), points=list(d.get("points") or []), max_abs_diff=d.get("max_abs_diff"),
                   atol=d.get("atol", 1e-6), use_epss=d.get("use_epss"))


@dataclass
class MirrorCheck:
    """The engine's rebuild of the observed spec against the path's own model: the guided velocity at one
    fixed (x_t, t) and the whole time grid. `checked` False: the engine could not build the spec (reason)."""

    checked: bool
    passed: bool | None = None
    rel_l2: float | None = None
    rel_tol: float | None = None
    note: str = ""
    velocity_passed: bool | None = None
    time_grid: TimeGridCheck | None = None
    reason: str | None = None
    # A sweep's later checkpoints: the velocity was compared on `velocity_from` (a checkpoint whose observed
    # spec is this one's, its file aside), and here every weight the path loaded against the engine's model.
    weights_equal: bool | None = None
    velocity_from: str | None = None
    spec_key: str | None = None  # mirror_spec_key of the observed spec checked (not serialized)

    def to_dict(self) -> dict[str, Any]:
        if not self.checked:
            return {"checked": False, "reason": self.reason}
        out = {"checked": True, "passed": self.passed, "rel_l2": self.rel_l2, "rel_tol": self.rel_tol,
               "note": self.note, "velocity_passed": self.velocity_passed,
               "time_grid": self.time_grid.to_dict() if self.time_grid else None}
        if self.velocity_from is not None:
            out.update(weights_equal=self.weights_equal, velocity_from=self.velocity_from)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "MirrorCheck | None":
        if not d:
            return None
        return cls(checked=bool(d.get("checked")), passed=d.get("passed"), rel_l2=d.get("rel_l2"),
                   rel_tol=d.get("rel_tol"), note=d.get("note") or "", velocity_passed=d.get("velocity_passed"),
                   time_grid=TimeGridCheck.from_dict(d.get("time_grid")), reason=d.get("reason"),
                   weights_equal=d.get("weights_equal"), velocity_from=d.get("velocity_from"))


@dataclass
class NoiseSeeding:
    """Where the noise of the path's first CFM.sample call came from (F5-TTS #898, #995, #876: "results differ
    every run"). f5-tts's infer_process passes CFM.sample no seed, and infer_cli never seeds torch: its noise is
    whatever torch's global RNG holds, so two runs of the path differ unless its own code seeds."""

    seeded: bool
    by: str  # "CFM.sample(seed=...)", "torch.manual_seed in <module>", or "nothing"
    seed: int | None  # the seed the path set; None when unseeded

    def to_dict(self) -> dict[str, Any]:
        return {"seeded": self.seeded, "by": self.by, "seed": self.seed}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "NoiseSeeding | None":
        if not d:
            return None
        return cls(seeded=bool(d.get("seeded")), by=d.get("by") or "nothing", seed=d.get("seed"))

    @classmethod
    def of(cls, obs: Observation) -> "NoiseSeeding":
        call = obs.samples[0]
        if call.seed is not None:
            return cls(True, "CFM.sample(seed=...)", int(call.seed))
        before = [s for s in obs.seedings if s["before_call"] == 1]
        if before:
            return cls(True, f"torch.manual_seed in {before[-1]['by']}", before[-1]["seed"])
        return cls(False, "nothing", None)

    def warning(self, case: str, *, tool_seed: int, mode: str, seeds: int):
        """Unseeded noise as a sampler warning (not a culprit: both paths here draw the tool's seeded noise)."""
        from f5_parity.results import RunWarning

        if self.seeded:
            return None
        spread = (f"full mode generated {seeds} seeds and counts a score gap only beyond the noise (paired per "
                  "case and seed)" if mode == "full" and seeds > 1 else
                  "to judge the audio over several draws, run --mode full --seeds N: a score gap then counts only "
                  "beyond the noise of its (case, seed) units")
        return RunWarning("sampler", case,
                        "your path draws its noise unseeded (CFM.sample was passed no seed and the path called no "
                        "torch.manual_seed before it): two runs of it give different audio. parity-check seeded torch "
                        f"with --seed {tool_seed} before running it, so both paths here draw that seed's noise; "
                        f"{spread}. To reproduce one result, seed torch in your path before it samples "
                        "(torch.manual_seed(N), or F5TTS().infer(..., seed=N))",
                        {"seed": None, "tool_seed": tool_seed, "seeds": seeds if mode == "full" else 1})


@dataclass
class InferObservation:
    """What `run.json`'s observed_infer holds: what the user's infer path really did, beside the prediction."""

    runner: str
    target: str | None
    status: str  # "observed" | "failed" | "port" (it ran a runtime port's graphs, judged in `port`)
    mode: str
    factors: dict[str, ObservedFactor] = field(default_factory=dict)  # fid -> predicted, observed, agrees
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failure: PathFailure | None = None
    observation: dict[str, Any] = field(default_factory=dict)  # the raw record of every seam (evidence)
    mirror_check: MirrorCheck | None = None  # the engine's velocity of the observed spec vs the path's own
    runs: list[dict[str, Any]] | None = None  # full mode: what each generation really did (OBSERVED columns)
    noise: NoiseSeeding | None = None  # where the first call's noise came from; None when no call was made
    port: PortJudgement | None = None  # a runtime port's graphs, each judged against the checkpoint

    def to_dict(self) -> dict[str, Any]:
        out = {
            "runner": self.runner, "target": self.target, "status": self.status, "mode": self.mode,
            "factors": {fid: f.to_dict() for fid, f in self.factors.items()},
            "findings": [f.to_dict() for f in self.findings], "notes": self.notes,
            "failure": self.failure.to_dict() if self.failure else None, "observation": self.observation,
            "mirror_check": self.mirror_check.to_dict() if self.mirror_check else None,
            "noise": self.noise.to_dict() if self.noise else None,
        }
        if self.port is not None:
            out["port"] = self.port.to_dict()
        if self.runs is not None:
            out["runs"] = self.runs
        return out

    def unreconciled(self) -> list[str]:
        """Why the stages cannot stand for the user's path, from what was observed: a mirror check that failed
        (the engine's rebuild of the observed spec does not compute what the path computed) and each rule finding
        the engine cannot reproduce. The session's verdict is then never "pass" (parity/session.py)."""
        out = [f.message for f in self.findings if not f.reproduced]
        m = self.mirror_check
        if m is not None and m.checked and not m.passed:
            grid = m.time_grid
            out.append("the engine's rebuild of your path does not compute what it computed (mirror check: "
                       + ("weights differ" if m.weights_equal is False else
                          f"guided velocity rel L2 {m.rel_l2 if m.rel_l2 is not None else '-'} against tolerance "
                          f"{m.rel_tol}")
                       + (f"; time grid {'equal' if grid.passed else 'differs'}" if grid else "")
                       + "): the stages compare the rebuild, not your path")
        return out

    def path_warnings(self, case: str, *, seed: int, mode: str, seeds: int) -> list:
        """The session's warnings about what the path did that no spec holds (its noise unseeded)."""
        unseeded = self.noise.warning(case, tool_seed=seed, mode=mode, seeds=seeds) if self.noise else None
        return [unseeded] if unseeded else []

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "InferObservation | None":
        if not d:
            return None
        return cls(runner=d.get("runner") or "infer-cli", target=d.get("target"), status=d.get("status") or "observed",
                   mode=d.get("mode") or "fast",
                   factors={fid: ObservedFactor.from_dict(f or {}) for fid, f in (d.get("factors") or {}).items()},
                   findings=[Finding(factor=f.get("factor"), predicted=f.get("predicted"), observed=f.get("observed"),
                                     message=f.get("message") or "", rule=f.get("rule"),
                                     reproduced=f.get("reproduced", True))
                             for f in d.get("findings") or []],
                   notes=list(d.get("notes") or []), failure=PathFailure.from_dict(d.get("failure")),
                   observation=dict(d.get("observation") or {}), mirror_check=MirrorCheck.from_dict(d.get("mirror_check")),
                   runs=d.get("runs"), noise=NoiseSeeding.from_dict(d.get("noise")),
                   port=PortJudgement.from_dict(d.get("port")))


_MISSING_KEYS = re.compile(r"(Missing key\(s\)|Unexpected key\(s\)|KeyError)")


def classify_failure(obs: Observation, *, predicted: PathSpec | None = None, runner_kind: str = "infer-cli",
                     train_config: str | None = None, pool=None) -> PathFailure:
    """The factor responsible for a path that did not reach CFM.sample.

    A load failure is explained by what was observed (the model built against the checkpoint's shapes,
    observe/load_failure.py), never by the wording of the exception; an exception nothing explains is
    'unexplained' and quoted whole."""
    error = obs.error or {"type": "none", "message": "the path returned without calling CFM.sample",
                          "full_message": "", "where": None}
    failed_loads = [r for r in obs.loads if r.get("error")]
    stage = "load" if failed_loads else ("run" if obs.error else "no-sample-call")
    if obs.tool_limit is not None:  # the tool's own stand-in failed, not the user's path
        return PathFailure(None, obs.tool_limit, "not the path's fault: " + obs.tool_limit["message"], "tool-limit")
    if stage == "load" or (obs.error and obs.constructions and "state_dict" in (error.get("message") or "")):
        from f5_parity.observe.load_failure import diagnose_load

        load = failed_loads[-1] if failed_loads else {}
        checkpoint = load.get("checkpoint") or (predicted.locate("weights", "checkpoint") if predicted else None)
        use_ema = load.get("use_ema", predicted.value("weights")["set"] == "ema" if predicted else True)
        found = diagnose_load(obs, checkpoint=checkpoint, use_ema=use_ema, runner_kind=runner_kind, pool=pool,
                              train_config=train_config)
        if found is not None:
            return PathFailure(found.factor, error, f"{found.why}: {found.fix}", "load", evidence=found.evidence)
        text = f"{error.get('type')}: {error.get('full_message') or error.get('message')}"
        if stage == "load" and _MISSING_KEYS.search(text):
            keys = re.findall(r'"([^"]+)"', text)[:3]
            return PathFailure("weights", error, "the model built fits the checkpoint's shapes, but the file's key "
                               f"layout is not what load_checkpoint reads ({', '.join(keys) or 'see the error'}): "
                               "`parity-check inspect` shows the layout; re-save it the way f5's trainer does, or "
                               + BY_ID["weights"].fix, stage)
        if stage == "load":
            return PathFailure(None, error, "unexplained: f5's loader refused the file, and neither the model built "
                               "(its size, its vocab) nor the file's key layout explains it; the error, whole: "
                               + (error.get("full_message") or error.get("message") or ""), "load")
    if stage == "no-sample-call":
        return PathFailure(None, error, "the path never called CFM.sample (a port, a swallowed crash, or an early "
                           "exit): judge it by its wavs in full mode, or call f5-tts's infer_process", stage)
    return PathFailure(None, error, "your infer path raised before it generated: fix the error quoted here", stage)


def not_observed(obs: Observation) -> list[str]:
    """What the tool could not observe or reproduce of this path, and why (its limits, never the path's fault)."""
    notes = []
    for v in obs.vocoders:
        record = v.get("load_vocoder") or {}
        if record.get("note"):
            notes.append(record["note"])
        elif record.get("error"):
            err = record["error"]
            notes.append(f"your path's {record.get('vocoder_name')} vocoder could not be loaded here "
                         f"({err.get('type')}: {err.get('message')}): its wav was not observed; give a local copy "
                         "with --vocoder-path DIR")
    if obs.tool_limit is not None:
        notes.append("not observed: " + obs.tool_limit["message"])
    return notes


def nonfinite_failure(model) -> PathFailure | None:
    """Weights holding NaN/inf: every setting then gives NaN audio, so the weights are the culprit."""
    bad = {k: (int(torch.isnan(v).sum()), int(torch.isinf(v).sum())) for k, v in model.state_dict().items()
           if v.is_floating_point() and not bool(torch.isfinite(v).all())}
    if not bad:
        return None
    nan, inf = sum(n for n, _ in bad.values()), sum(i for _, i in bad.values())
    first = ", ".join(sorted(bad)[:3])
    return PathFailure("weights", {"type": "NonFiniteWeights", "message": f"the weights your path loaded hold {nan} "
                                   f"NaN and {inf} inf values in {len(bad)} tensors ({first}, ...)",
                                   "full_message": str(bad)[:4000], "where": None},
                       "the run diverged before this checkpoint was saved: take an earlier checkpoint "
                       "(`parity-check inspect` counts NaN/inf per weight set) or lower the learning rate", "weights")


def _run(runner: InferRunner, spec: PathSpec, case: Case, *, mode: str, seed: int, device: str,
         gen_text: str | None, model=None, vocoder=None, probe_velocity: bool = True,
         defer_velocity: bool = False) -> tuple[Observation, Any]:
    from f5_parity.paths.infer import run_api, run_custom, run_infer_cli, run_script

    def path():
        if runner.kind == "api":
            return run_api(spec, case, model_name=runner.target, device=device, gen_text=gen_text)
        if runner.kind == "custom":
            return run_custom(runner.target, case, checkpoint=spec.locate("weights", "checkpoint"),
                              vocab=spec.locate("vocab", "path"), seed=seed, device=device, gen_text=gen_text)
        if runner.kind == "script":
            return run_script(runner.target, runner.script_args, seed=seed)
        return run_infer_cli(spec, case, model=model, vocoder=vocoder, device=device, gen_text=gen_text)

    return run_observed(path, stop_at_first_sample=(mode == "fast"), velocity_seed=seed,
                        probe_velocity=probe_velocity and not defer_velocity, velocity_at_stop=not defer_velocity)


def script_case(obs: Observation, fallback: Case) -> Case:
    """The case a script generated (its own reference and texts), read off infer_process's arguments."""
    if obs.preprocess:
        p = obs.preprocess[0]
        gen = " ".join(obs.batches[0]["gen_text_batches"]) if obs.batches else fallback.gen_text
        # the script's own reference is the case, named after its file (the built-in sentence never ran)
        return Case(Path(p["ref_audio"]).stem, Path(p["ref_audio"]), p["ref_text"], gen)
    return fallback


def _never_sampled(report: InferObservation, obs: Observation, runner: InferRunner, predicted: PathSpec,
                   train: PathSpec, pool, tolerances: dict[str, float] | None, port_map: dict[str, Any] | None,
                   port_case: Case | None) -> None:
    """A path that never called CFM.sample: a runtime port whose graphs ran to the end (each judged against the
    checkpoint, ports/judge.py; its text ids against `port_case`'s texts when the user named them), or a failure
    with its factor."""
    if obs.port_calls and obs.error is None:
        report.status = "port"
        report.port = judge_port(obs.port_calls, train, pool, tolerances=tolerances, mapping=port_map, case=port_case)
        return
    report.status = "failed"
    report.failure = classify_failure(obs, predicted=predicted, runner_kind=runner.kind,
                                      train_config=train.locate("arch", "config"), pool=pool)


def observe_infer_path(runner: InferRunner, predicted: PathSpec, train: PathSpec, case: Case, *, mode: str,
                       seed: int, device: str, workdir: Path, pool=None,
                       mirror_reference: tuple[str, str] | None = None, tolerances: dict[str, float] | None = None,
                       port_map: dict[str, Any] | None = None, texts_given: bool = False
                       ) -> tuple[InferObservation, PathSpec | None, Any, Case]:
    """Run the user's infer path on `case` and derive the spec it really used.

    `mirror_reference` (a sweep's checkpoints after the first): (mirror_spec_key, checkpoint) of a passed
    mirror check. Where this observation derives the same spec (its file aside), the velocity comparison is
    that checkpoint's and this one compares the weights the path loaded, every tensor, and the time grid
    (weights_mirror_check): the path stops at its first CFM.sample without a forward pass. Any other spec,
    or weights that differ, gets the whole mirror check here.

    Returns (the observation for the report, the observed spec or None when the path failed, the
    path's generation in full mode for reuse, the case it generated — a script's own)."""
    defer = mirror_reference is not None and mode == "fast"
    obs, result = _run(runner, predicted, case, mode=mode, seed=seed, device=device, gen_text=case.gen_text,
                       defer_velocity=defer)
    report = InferObservation(runner.kind, runner.target, "observed", mode, observation=obs.to_dict())
    if obs.exit_code not in (None, 0):
        report.notes.append(f"the script exited with code {obs.exit_code}")
    report.notes.extend(not_observed(obs))
    if runner.kind == "infer-cli" and mode == "fast" and obs.tool_limit is None:
        from f5_parity.paths.griffinlim import supports

        from f5_parity.paths.spec import decoder_name

        if decoder_name(predicted) == "griffin-lim" and not supports(predicted.value("mel")):
            report.notes.append(f"not observed: the path's wav ({predicted.value('mel').get('mel_spec_type')} mel "
                                "features need that vocoder's weights; the tool's griffin-lim stand-in inverts vocos "
                                "features only): fast mode judges the mel, which needs no vocoder")
    if not obs.reached_sample:  # a runtime port, or a path that failed before it sampled
        _never_sampled(report, obs, runner, predicted, train, pool, tolerances, port_map,
                       case if texts_given else None)
        return report, None, None, case
    bad_weights = nonfinite_failure(obs.samples[0].model)
    if bad_weights is not None:
        report.status, report.failure = "failed", bad_weights
        return report, None, None, case
    report.noise = NoiseSeeding.of(obs)
    if runner.kind == "script":
        case = script_case(obs, case)
        report.notes.append(f"your script generated from {case.ref_audio} ({case.ref_text!r}); the stages use "
                            "the same reference")
    gen_text = (obs.batches[0]["gen_text_batches"][0] if obs.batches and obs.batches[0]["gen_text_batches"]
                else case.gen_text)
    chunked = chunked_generation(obs.batches, call_tokens(obs.samples[0]))
    if chunked is not None:  # a long text: the first call recorded may be any chunk's (worker threads)
        report.notes.append(chunked.note())
        if chunked.compared is not None:
            gen_text = chunked.chunks[chunked.compared]
    observed, findings, notes = derive_spec(obs, predicted, case, gen_text=gen_text, candidates=[train],
                                            workdir=workdir, case_is_truth=runner.kind != "script", pool=pool)
    given = set(predicted.values) if runner.predicted is None else set(runner.predicted)
    # the tool's own defaults are no prediction of a wrapper's or a script's: their findings are the rules' only
    report.findings = [f for f in findings if f.rule is not None or f.factor in given]
    report.notes = report.notes + notes
    report.factors = {fid: ObservedFactor(predicted.value(fid), observed.value(fid),
                                          predicted.value(fid) == observed.value(fid)) if fid in given else
                      ObservedFactor(None, observed.value(fid), None) for fid in predicted.values}
    first = obs.samples[0]
    key = mirror_spec_key(observed)
    if defer and mirror_reference[0] == key:
        report.mirror_check = weights_mirror_check(observed, case, first, gen_text=gen_text, pool=pool,
                                                   velocity_from=mirror_reference[1])
        if not report.mirror_check.passed:  # the weights or the grid differ: the whole check, here
            report.mirror_check = None
    if report.mirror_check is None and (first.velocity is not None or defer):
        if first.velocity is None:
            from f5_parity.observe.calls import path_velocity

            first.velocity = path_velocity(first, seed)
        report.mirror_check = mirror_check(observed, case, first, gen_text=gen_text, pool=pool)
    if report.mirror_check is not None:
        report.mirror_check.spec_key = key
    runner.observed.append({"case": case.name, "path": "infer", "runner": runner.kind,
                            **_run_summary(obs, observed)})
    return report, observed, result, case


def mirror_spec_key(spec: PathSpec) -> str:
    """What the engine computes a velocity from, its checkpoint file aside: every factor's value and locator
    (a reference the path wrote to a scratch folder by its bytes, not its per-checkpoint path)."""
    import hashlib

    from f5_parity.paths.stages import canonical

    locators = {f: dict(loc) for f, loc in spec.locators.items()}
    locators.get("weights", {}).pop("checkpoint", None)
    wav = locators.get("ref-audio", {}).get("wav")
    if wav is not None and Path(wav).is_file():
        locators["ref-audio"]["wav"] = hashlib.sha256(Path(wav).read_bytes()).hexdigest()
    return canonical((spec.values, locators))


def weights_mirror_check(observed: PathSpec, case: Case, call, *, gen_text: str, pool, velocity_from: str
                         ) -> MirrorCheck:
    """The mirror check of a checkpoint whose observed spec was velocity-checked on `velocity_from`: what can
    differ between the two is the file, so every tensor of the model the path loaded (its state_dict) must equal
    the engine's model of the observed spec exactly, and the time grid is compared as in mirror_check."""
    from f5_parity.paths.stages import StageRunner, UnbuildableSpec

    try:
        runner = StageRunner(pool)
        stages = {name: value for name, value, _ in runner.iter_stages(
            observed, case, ("tokens", "cond_mel", "duration", "noise", "timesteps"), gen_text=gen_text)}
        engine = pool.model(observed).state_dict()
    except UnbuildableSpec as exc:
        return MirrorCheck(checked=False, reason=f"the engine cannot build the observed spec: {exc}")
    path = call.model.state_dict()
    differing = sorted(set(path) ^ set(engine)) or [
        k for k in path if path[k].shape != engine[k].shape or path[k].dtype != engine[k].dtype
        or not torch.equal(path[k].detach().cpu(), engine[k].detach().cpu())]
    grid = _time_grid_check(call, stages["timesteps"])
    note = (f"velocity compared on {velocity_from} (the same observed spec); here the weights: "
            + ("all equal" if not differing else f"{len(differing)} tensors differ ({', '.join(differing[:3])})"))
    return MirrorCheck(checked=True, passed=bool(not differing and grid.passed), rel_tol=1e-4, note=note,
                       time_grid=grid, weights_equal=not differing, velocity_from=velocity_from)


def mirror_check(observed: PathSpec, case: Case, call, *, gen_text: str, pool=None) -> MirrorCheck:
    """The engine rebuilds the observed spec; its guided velocity at the fixed (x_t, t) must equal the one
    the path's own model computed on its own inputs, and its time grid must equal, point by point over the
    whole grid, the one CFM.sample makes of the call's own arguments (steps, use_epss, sway) — else the
    engine does not compute what the path does. tests/test_proofs_fail.py shows it failing on wrong rebuilds."""
    from f5_parity.compare import compare_tensors
    from f5_parity.paths.stages import ModelPool, StageRunner, UnbuildableSpec

    try:
        # the session's pool: the model built here is the one its stages use next (no second load)
        runner = StageRunner(pool or ModelPool(str(next(call.model.parameters()).device)))
        stages = {name: value for name, value, _ in runner.iter_stages(
            observed, case, ("tokens", "cond_mel", "duration", "noise", "timesteps", "velocity"), gen_text=gen_text)}
    except UnbuildableSpec as exc:
        return MirrorCheck(checked=False, reason=f"the engine cannot build the observed spec: {exc}")
    comp = compare_tensors("velocity", call.velocity, stages["velocity"], 1e-4)
    grid = _time_grid_check(call, stages["timesteps"])
    return MirrorCheck(checked=True, passed=bool(comp.passed and grid.passed), rel_l2=comp.rel_l2, rel_tol=1e-4,
                       note=comp.note, velocity_passed=comp.passed, time_grid=grid)


def _time_grid_check(call, engine_timesteps: torch.Tensor) -> TimeGridCheck:
    """The engine's time grid against the one CFM.sample makes of the call's own arguments, every point."""
    from f5_parity.f5.versions import time_grid

    dtype = next(call.model.parameters()).dtype
    path_grid = time_grid(call.steps, use_epss=call.use_epss, sway=call.sway_sampling_coef, dtype=dtype).float()
    engine_grid = engine_timesteps.float().cpu()
    same_points = path_grid.shape == engine_grid.shape
    grid_diff = float((path_grid - engine_grid).abs().max()) if same_points else None
    return TimeGridCheck(passed=bool(same_points and grid_diff <= 1e-6),
                         points=[int(engine_grid.numel()), int(path_grid.numel())], max_abs_diff=grid_diff,
                         atol=1e-6, use_epss=call.use_epss)


def _run_summary(obs: Observation, spec: PathSpec) -> dict[str, Any]:
    call = obs.samples[0]
    s = call.summary()
    return {"sample_calls": len(obs.samples), "weights": spec.value("weights")["set"], "dtype": s["dtype"],
            "autocast": s["autocast"], "steps": call.steps, "cfg_strength": call.cfg_strength,
            "sway_sampling_coef": call.sway_sampling_coef, "seed": call.seed,
            "pe_attn_head": spec.value("arch").get("pe_attn_head"),
            "text_mask_padding": spec.value("arch").get("text_mask_padding")}


def observe_generation(runner: InferRunner, spec: PathSpec, case: Case, *, seed: int, device: str,
                       gen_text: str, model=None, vocoder=None) -> tuple[Observation, Any]:
    """A full-mode generation of the infer path, observed like the first one."""
    return _run(runner, spec, case, mode="full", seed=seed, device=device, gen_text=gen_text, model=model,
                vocoder=vocoder, probe_velocity=False)
