"""The judgement of a runtime port, stage by stage: each graph call the user's script made is recomputed from
the checkpoint with the same inputs (recompute.py) on the Trainer's settings, compared under the run's
tolerances, and a stage that differs is explained by the one known departure that reproduces it — or said to
be unexplained. A port that fuses stages is compared at the boundaries it exposes, and says what it could not
separate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from f5_parity.compare import StageComparison, compare_tensors
from f5_parity.ports.graphs import GraphRole, PortCall, calls_of, identify, reduced_precision
from f5_parity.ports.recompute import (Departure, decode_reference, f5_mel, fit_cfg, mel_departures, port_audio,
                                       quantized_int8, raise_rms, rounded_to, step_reference)

STAGE_NAMES = {"text": "port text ids", "mel": "port mel", "step": "port step", "decode": "port decode"}
# Per stage, rel L2 of the port's output against the checkpoint's recomputation. An fp32 export of f5's own modules
# agrees far inside these (the kit's clean export of the bundled fixture: mel 2.1e-6, step update 1.8e-6, decode
# 6.5e-7; docs/ports.md); a departure moves them by 1e-2 or more, fp16 compute by 1e-4 to 1e-3 on the fixture.
# The gate config's [tolerances] overrides them by these keys (port_mel, port_step, port_decode).
PORT_REL_TOL = {"port_mel": 1e-4, "port_step": 1e-4, "port_decode": 1e-4}
# fp16/bf16 compute explains a step that no other departure reproduces when the graph computes in that type (read
# off it) and the step is within this rel L2 of the fp32 checkpoint's. No recomputation can reproduce it: two fp16
# kernels never agree to fp32's tolerance (on the fixture, onnxruntime's CPU fp16 step is 8.6e-3 from fp32 where
# torch's fp16 is 1.5e-3); a wrong weight set or grid moves the step by 0.1 or more.
DTYPE_BOUND = 0.05


@dataclass
class PortCulprit:
    """A departure that reproduces what the port computed at one stage."""

    factor: str
    stage: str
    what: str
    fix: str
    value: dict[str, Any]
    rel_l2: float | None  # the port's output against the departure's recomputation (None: not recomputable)
    rel_l2_trainer: float | None  # ... against the Trainer's (None: an integer stage, its ids differ)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PortCulprit":
        return cls(**{k: d[k] for k in ("factor", "stage", "what", "fix", "value", "rel_l2", "rel_l2_trainer")})


@dataclass
class PortJudgement:
    """run.json's observed_infer.port: the graphs, each stage's comparison, the culprits, what was not judged."""

    graphs: list[GraphRole] = field(default_factory=list)
    stages: list[StageComparison] = field(default_factory=list)
    culprits: list[PortCulprit] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)  # stages that differ with no known departure
    not_separated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tolerances: dict[str, float] = field(default_factory=dict)  # rel L2 per port stage, as judged

    @property
    def passed(self) -> bool:
        return bool(self.stages) and all(s.passed for s in self.stages) and not self.culprits

    def to_dict(self) -> dict[str, Any]:
        return {"graphs": [g.to_dict() for g in self.graphs], "stages": [s.to_dict() for s in self.stages],
                "culprits": [c.to_dict() for c in self.culprits], "unexplained": self.unexplained,
                "not_separated": self.not_separated, "notes": self.notes, "tolerances": self.tolerances}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "PortJudgement | None":
        if not d:
            return None
        return cls([GraphRole.from_dict(g) for g in d.get("graphs") or []],
                   [StageComparison.from_dict(s) for s in d.get("stages") or []],
                   [PortCulprit.from_dict(c) for c in d.get("culprits") or []], list(d.get("unexplained") or []),
                   list(d.get("not_separated") or []), list(d.get("notes") or []), dict(d.get("tolerances") or {}))


def _rel(a: torch.Tensor | None, b: torch.Tensor) -> float:
    """||a - b|| / ||a|| (a: the recomputation; None where it cannot be made, e.g. a step past its grid's end)."""
    if a is None:
        return float("inf")
    a, b = a.double().flatten(), b.double().flatten()
    if a.shape != b.shape:
        return float("inf")
    diff, na = (a - b).norm().item(), a.norm().item()
    return diff / na if na > 0 else (0.0 if diff == 0 else float("inf"))


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _mels(a: np.ndarray, n_mels: int) -> torch.Tensor:
    """(1, frames, n_mels) whichever way round the port lays it out."""
    t = torch.from_numpy(np.asarray(a, dtype=np.float32))
    return t.transpose(1, 2) if t.shape[-1] != n_mels and t.shape[1] == n_mels else t


# A set of departures explains part of a stage when it brings the port's output this much closer than the Trainer's
# computation (the rest is said as unexplained); within the stage's tolerance, it explains all of it.
EXPLAINS_MOST = 0.1


def _explain(stage: str, got: torch.Tensor, trainer_rel: float, tol: float,
             candidates: list[tuple[tuple[Departure, ...], Any]]) -> tuple[list[PortCulprit], float | None]:
    """The departures whose recomputation comes closest to the port's output: (a culprit each, the rel L2 left)
    when they reproduce it within tolerance or bring it EXPLAINS_MOST closer; ([], None) otherwise. Of two sets
    about as close, the one with fewer departures is named."""
    scored = sorted(((_rel(compute(), got), deps) for deps, compute in candidates), key=lambda r: r[0])
    if not scored:
        return [], None
    best_rel = scored[0][0]
    if not (best_rel <= tol or best_rel <= EXPLAINS_MOST * trainer_rel):
        return [], None
    near = [r for r in scored if r[0] <= max(tol, 1.5 * best_rel)]
    rel, deps = min(near, key=lambda r: (len(r[1]), r[0]))
    return [PortCulprit(d.factor, stage, d.what, d.fix, d.value, rel, trainer_rel) for d in deps], rel


class _Judge:
    def __init__(self, calls: list[PortCall], train, pool, tolerances: dict[str, float], target_rms: float):
        self.calls, self.train, self.pool, self.target_rms = calls, train, pool, target_rms
        self.tol = {**PORT_REL_TOL, **{k: v for k, v in (tolerances or {}).items() if k in PORT_REL_TOL}}
        self.mel = dict(train.value("mel"))
        self.out = PortJudgement(tolerances=dict(self.tol))

    def tolerance(self, stage: str) -> float:
        return float(self.tol[f"port_{stage}"])

    def record(self, stage: str, role: GraphRole, cmp: StageComparison, culprits: list[PortCulprit],
               left: float | None, extra: dict[str, Any]) -> None:
        """One stage's comparison, its culprits (each fix naming the user's graph file) and what stays unexplained:
        a stage that differs with no culprit, or the rel L2 left after the departures named."""
        cmp.stage = STAGE_NAMES[stage]
        name = Path(role.graph).name
        cmp.extra.update(graph=name, calls=role.calls, **extra)
        self.out.stages.append(cmp)
        for c in culprits:
            c.fix = f"{role.graph}: {c.fix}"
        self.out.culprits.extend(culprits)
        if culprits:
            cmp.note = "; ".join(f"{c.factor}: {c.what}" for c in culprits)
        if cmp.passed:
            return
        if not culprits:
            self.out.unexplained.append(f"{STAGE_NAMES[stage]} ({name}): rel L2 "
                                        f"{_fmt(cmp.rel_l2) if cmp.rel_l2 is not None else cmp.note} against the "
                                        "checkpoint's, and no known port departure reproduces it")
        elif left is not None and left > self.tolerance(stage):
            self.out.unexplained.append(f"{STAGE_NAMES[stage]} ({name}): with "
                                        f"{' and '.join(c.what for c in culprits)} recomputed, the port still differs "
                                        f"by rel L2 {_fmt(left)} (from {_fmt(cmp.rel_l2)}): the rest departs in a way "
                                        "no known departure reproduces")

    def text_stage(self, case, roles: list[GraphRole]) -> None:
        """The text ids the port fed its graphs against f5's tokens of the case's texts as infer_process frames
        them (preprocess_ref_audio_text's suffix, convert_char_to_pinyin, the training vocab): compared only when
        the user named the texts the script speaks (--ref-audio/--ref-text/--gen-text or a cases file)."""
        from f5_parity.paths.stages import StageRunner

        source = next(((r, "text") for r in roles if r.stage == "conditioning" and "text" in r.inputs), None) or \
            next(((r, "text") for r in roles if r.stage == "step" and "text" in r.inputs), None)
        if source is None:
            return
        role, key = source
        ids = np.asarray(calls_of(self.calls, role.graph)[0].inputs[role.inputs[key]]).reshape(-1).astype(np.int64)
        ids = ids[: len(ids) - int(np.argmax(ids[::-1] != -1))] if (ids != -1).any() else ids[:0]  # list padding
        spec = self.train.with_value("text", framing="infer").with_value("ref-audio", preprocess="infer",
                                                                         target_rms=self.target_rms)
        _, tokens, _ = next(StageRunner(self.pool).iter_stages(spec, case, ("tokens",), gen_text=case.gen_text))
        want = tokens.reshape(-1).long()
        got = torch.from_numpy(ids)
        cmp = compare_tensors("tokens", want, got)
        culprits = [] if cmp.passed else [self._text_departure(want, got)]
        self.record("text", role, cmp, culprits, None, {
            "reference": "f5's tokens of the case's texts as infer_process frames them, with the training vocab",
            "text": case.ref_text + " | " + case.gen_text})

    def _text_departure(self, want: torch.Tensor, got: torch.Tensor) -> PortCulprit:
        """Another vocab order (the same token sequence under a one-to-one renaming) or another text (its framing,
        frontend or the text itself), with the first difference."""
        from f5_parity.f5.vocab import read_vocab_chars

        chars = read_vocab_chars(self.train.locate("vocab", "path"))

        def text(ids):
            return "".join(chars[i] if 0 <= i < len(chars) else "?" for i in ids.tolist())

        vocab = self.train.locate("vocab", "path")
        renamed = want.shape == got.shape and len(set(zip(want.tolist(), got.tolist()))) == len(set(want.tolist())) \
            == len(set(got.tolist()))
        if renamed:
            return PortCulprit("vocab", "text", "the same tokens under other ids: the port's tokenizer reads another "
                               "vocab order than the training vocab", f"tokenize with the training vocab {vocab}",
                               {"order": "the port's own"}, None, None)
        first = next((i for i, (a, b) in enumerate(zip(text(want), text(got))) if a != b), min(len(want), len(got)))
        return PortCulprit("text", "text", f"another text: f5 frames {text(want)!r}, the port feeds {text(got)!r} "
                           f"(first difference at character {first})", "frame the text as infer_process does "
                           "(preprocess_ref_audio_text adds '. ' to the reference, infer_batch_process a space after "
                           "a one-byte last character) and convert it with f5's convert_char_to_pinyin",
                           {"framing": "the port's own"}, None, None)

    def mel_stage(self, role: GraphRole) -> None:
        call = calls_of(self.calls, role.graph)[0]
        audio = port_audio(call.inputs[role.inputs["audio"]])
        got = _mels(call.outputs[role.output], self.mel["n_mel_channels"])
        ref = f5_mel(raise_rms(audio, self.target_rms, "conditional"), self.mel)
        tol = self.tolerance("mel")
        cmp = compare_tensors("cond_mel", ref, got, tol)
        culprits, left = [], None
        if not cmp.passed:
            culprits, left = _explain("mel", got, _rel(ref, got), tol, [
                ((d,), (lambda f=f: f(audio))) for d, f in mel_departures(self.mel, self.target_rms)])
        self.record("mel", role, cmp, culprits, left, {"reference": "f5's MelSpec of the trainer's mel settings, after "
                                                "infer_process's RMS raise"})

    def step_stage(self, role: GraphRole) -> None:
        from f5_parity.f5.versions import time_grid

        steps = calls_of(self.calls, role.graph)
        s = self.train.value("sampler")
        nfe, cfg = int(s["nfe"]), float(s["cfg"])
        model = self.pool.model(self.train)
        given = _StepInputs(role, steps, self._conditioning(role), self.mel)

        def grid_of(n: int, sway=s.get("sway")):
            return time_grid(n, use_epss=s.get("use_epss", True), sway=sway, dtype=torch.float32)

        def step(k: int, transformer, grid, mel_of=None, cfg_strength: float = cfg, method: str = "euler"):
            ins, td = given.inputs(k, mel_of or self.f5_cond_mel), given.t_dt(k, grid)
            if td is None:
                return None
            return step_reference(transformer, ins, td[0], td[1], cfg_strength, method) - ins["state"]

        grid = grid_of(nfe)
        tol = self.tolerance("step")
        rels, worst = [], None
        for k in range(len(steps)):
            ref = step(k, model.transformer, grid)
            got = given.update(k)
            cmp = compare_tensors("velocity", ref if ref is not None else torch.zeros_like(got), got, tol)
            rels.append(cmp.rel_l2)
            if worst is None or (cmp.rel_l2 or 0) > (worst[1].rel_l2 or 0):
                worst = (k, cmp)
        k, cmp = worst
        got = given.update(k)
        culprits, left = [], None
        if not cmp.passed:
            candidates = self._step_departures(role, k, step, model, grid_of, len(steps), nfe)
            fitted = self._port_cfg(given, k, model, grid, cfg)
            if fitted is not None:  # the guidance strength the port's update implies, recomputed
                candidates.append((fitted[0], lambda: step(k, model.transformer, grid, cfg_strength=fitted[1])))
            if given.fused:  # the reference mel is computed inside the port: its departures show in the step
                candidates += [((d,), (lambda f=f: step(k, model.transformer, grid, f)))
                               for d, f in mel_departures(self.mel, self.target_rms)]
            culprits, left = _explain("step", got, cmp.rel_l2, tol, candidates)
            if not culprits:
                dtype = self._reduced_precision(role, got, cmp.rel_l2, step(k, model.transformer, grid),
                                                lambda dt: step(k, (_cast(model, dt) if dt is not None else
                                                                    quantized_int8(model)).transformer, grid))
                culprits, left = ([dtype], None) if dtype else ([], None)
        self.record("step", role, cmp, culprits, left, {
            "worst_step": k, "steps": len(steps), "trainer_nfe": nfe, "per_step_rel_l2": rels,
            "compared": "each step's update x_next - x against the Trainer's model on the Trainer's time grid" +
                        (", its cond mel and text ids recomputed from the conditioning graph's audio and ids "
                         "(the port does not expose them)" if given.fused else "")})

    def f5_cond_mel(self, audio: torch.Tensor) -> torch.Tensor:
        return f5_mel(raise_rms(audio, self.target_rms, "conditional"), self.mel)

    def _conditioning(self, role: GraphRole) -> PortCall | None:
        """The call of the graph that takes the reference audio and the text ids, for a step without its own cond
        and text inputs (they were embedded there)."""
        if "cond" in role.inputs and "text" in role.inputs:
            return None
        graph = next((g for g in self.out.graphs if g.stage == "conditioning"), None)
        return None if graph is None else (graph, calls_of(self.calls, graph.graph)[0])

    def _step_departures(self, role, k, step, model, grid_of, steps_run: int, nfe: int):
        """Each known departure of a step, and each weight set with each time grid (a port that exports the EMA
        weights with its own grid, as DakeQQ's does, departs twice at once)."""
        ckpt = self.train.locate("weights", "checkpoint")
        weights = self.train.value("weights").get("set")
        sway = self.train.value("sampler").get("sway")
        other = "ema" if weights == "raw" else "raw"
        models = [((), model)]
        try:
            models.append(((Departure(
                "weights", f"the {other} weights, where the Trainer samples from the {weights} weights",
                f"export the port from the {weights} weights: `parity-check export {ckpt} "
                f"{Path(ckpt).with_name(Path(ckpt).stem + f'_{weights}.pt')} --weights {weights}`, then run the "
                "port's export on that file", {"set": other}),), self.pool.model(self.train.with_value("weights",
                                                                                                        set=other))))
        except Exception:  # noqa: BLE001 - a file without the other set: that departure cannot be it
            pass
        grids = [((), grid_of(nfe))]
        if steps_run != nfe:
            grids.append(((Departure("sampler", f"{steps_run} steps, where the Trainer samples with nfe {nfe}",
                                     f"export the transformer graph with the Trainer's time grid (nfe {nfe}: "
                                     f"{nfe + 1} points) and run it {nfe} times", {"nfe": steps_run}),),
                          grid_of(steps_run)))
        ode = self.train.value("sampler").get("ode", "euler")
        if ode == "euler":  # a port's own step rule: the midpoint rule (two velocity evaluations a step)
            out_rule = ((Departure("sampler", "the midpoint rule (two velocity evaluations a step), where the Trainer "
                                   "integrates with Euler", "export the transformer graph as one Euler step, "
                                   "x + dt * v(t, x)", {"ode": "midpoint"}),),
                        lambda: step(k, model.transformer, grid_of(steps_run if steps_run != nfe else nfe),
                                     method="midpoint"))
        for n in sorted({nfe, steps_run}):
            grids.append(((Departure("sampler", f"no sway sampling (sway 0) over {n} steps, where the Trainer uses "
                                     f"sway {sway} over {nfe}", f"export the transformer graph with "
                                     f"sway_sampling_coef {sway} and nfe {nfe}", {"sway": 0.0, "nfe": n}),),
                          grid_of(n, 0.0)))
        out = [(wd + gd, (lambda m=m, g=g: step(k, m.transformer, g)))
               for wd, m in models for gd, g in grids if wd + gd]
        if ode == "euler":
            out.append(out_rule)
        if {"int8", "uint8"} & set(reduced_precision(role.weight_dtypes)):
            stored = role.weight_dtypes.get("int8", 0) + role.weight_dtypes.get("uint8", 0)
            out.append(((Departure("dtype", f"int8 weights, symmetric per tensor (the graph stores {stored} weight "
                                   "tensors as int8)", "export the transformer graph with float weights (or accept "
                                   "int8)", {"weights": "int8"}),),
                        lambda: step(k, quantized_int8(model).transformer, grid_of(nfe))))
        for name in [n for n in reduced_precision(role.weight_dtypes) if "float" in n] or ["float16"]:
            dtype, label = (torch.float16, "fp16") if name == "float16" else (torch.bfloat16, "bf16")
            out.append(((Departure("dtype", f"{label} weights computed in fp32 (the graph stores "
                                   f"{role.weight_dtypes.get(name, 0)} weight tensors as {name})",
                                   "export the transformer graph with fp32 weights", {"weights": label}),),
                        lambda dtype=dtype: step(k, rounded_to(model, dtype).transformer, grid_of(nfe))))
        return out

    def _port_cfg(self, given: "_StepInputs", k: int, model, grid, cfg: float):
        """The CFG strength that fits the port's update best (least squares over the guided velocity's two passes),
        as a departure when it is not the Trainer's: a port that bakes another cfg_strength into its graph."""
        td = given.t_dt(k, grid)
        if td is None:
            return None
        strength = fit_cfg(model.transformer, given.inputs(k, self.f5_cond_mel), td[0], td[1], given.update(k))
        if strength is None or abs(strength - cfg) < 1e-3:
            return None
        strength = round(strength, 2)
        return (Departure("sampler", f"CFG strength {strength:g}, where the Trainer samples with {cfg:g}",
                          f"export the transformer graph with cfg_strength {cfg:g}", {"cfg": strength}),), strength

    def _reduced_precision(self, role: GraphRole, got: torch.Tensor, rel: float, fp32: torch.Tensor,
                           recompute) -> PortCulprit | None:
        """A graph that computes in fp16/bf16 or stores int8 weights (read off it) whose step no other departure
        reproduces and that stays within DTYPE_BOUND of the fp32 checkpoint's: its dtype is the departure, by
        elimination (said so), with what the same rounding does to the checkpoint's own step in torch beside it
        (`recompute(dtype)`; None: per-tensor int8 weights)."""
        for name in reduced_precision(role.weight_dtypes):
            if rel > DTYPE_BOUND:
                break
            stored = role.weight_dtypes.get(name, 0)
            if name in ("int8", "uint8"):  # weight-only quantisation: int8 weights, float compute
                alike = recompute(None)
                return PortCulprit("dtype", "step", f"int8 weights: the graph stores {stored} weight tensors as "
                                   f"{name}; the step differs from the fp32 checkpoint by rel {rel:.3g} (the "
                                   f"checkpoint's own step with per-tensor int8 weights: {_rel(fp32, alike):.3g}), "
                                   "and no other known departure reproduces it",
                                   "export the transformer graph with float weights (or accept int8: it moves each "
                                   f"step by about {rel:.1g} on this checkpoint)", {"weights": "int8"},
                                   _rel(alike, got), rel)
            dtype, label = (torch.float16, "fp16") if name == "float16" else (torch.bfloat16, "bf16")
            alike = recompute(dtype)
            rounding = _rel(fp32, alike)
            casts = role.weight_dtypes.get(f"cast to {name}", 0)
            return PortCulprit("dtype", "step", f"{label} compute: the graph casts to {name} {casts} times and "
                               f"stores {stored} weight tensors as {name}; the step differs from the fp32 checkpoint "
                               f"by rel {rel:.3g} (torch's own {label} step: {rounding:.3g}), and no other known "
                               "departure reproduces it",
                               f"export the transformer graph in fp32 (or accept {label}: it moves each step by about "
                               f"{rel:.1g} on this checkpoint)", {"weights": label, "compute": label},
                               _rel(alike, got), rel)
        return None

    def decode_stage(self, role: GraphRole) -> None:
        from f5_parity.paths.spec import decoder_name

        if decoder_name(self.train) == "griffin-lim":
            self.out.not_separated.append(f"port decode ({Path(role.graph).name}): the Trainer's vocoder weights are "
                                          "not available here, so the decode graph was not compared; pass "
                                          "--vocoder-path DIR (the vocos folder the Trainer's samples were made with)")
            return
        call = calls_of(self.calls, role.graph)[0]
        mel = _mels(call.inputs[role.inputs["mel"]], self.mel["n_mel_channels"])
        got = port_audio(np.asarray(call.outputs[role.output]))
        vocoder = self.pool.vocoder(self.train)
        ref, cut = decode_reference(vocoder, self.mel["mel_spec_type"], mel), 0
        start = int(np.asarray(call.inputs[role.inputs["start"]]).reshape(-1)[0]) if "start" in role.inputs else 0
        if ref.shape != got.shape and 0 < start < mel.shape[1]:
            # the graph decodes the generated part only, from the frame its index input names (DakeQQ's cut)
            ref, cut = decode_reference(vocoder, self.mel["mel_spec_type"], mel[:, start:]), start
        cmp = compare_tensors("wav", ref, got, self.tolerance("decode"))
        culprits = []
        if not cmp.passed and cmp.rel_l2 is not None:
            name = self.train.value("vocoder").get("name")
            culprits = [PortCulprit("vocoder", "decode", f"the decode graph departs from the Trainer's {name} on the "
                                    "same mel (its norms, its ISTFT or its weights)",
                                    f"export the decode graph from {name}'s own modules, with the weights the "
                                    "Trainer's samples were decoded with", {"name": f"the port's own decode of {name}"},
                                    None, cmp.rel_l2)]
        self.record("decode", role, cmp, culprits, None, {
            "reference": "the Trainer's vocoder on the port's own mel" +
                         (f", from frame {cut} (the graph decodes from its index input)" if cut else "")})


class _StepInputs:
    """What each step call was given, as f5's transformer takes it: the state, the cond mel and the text ids (from
    the call, or recomputed from the conditioning graph's audio and ids when the port embedded them there), and the
    time and step size."""

    def __init__(self, role: GraphRole, steps: list[PortCall], conditioning, mel: dict[str, Any]):
        self.role, self.steps, self.mel = role, steps, mel
        self.fused = conditioning is not None
        if self.fused:
            graph, call = conditioning
            self.audio = port_audio(call.inputs[graph.inputs["audio"]])
            self.ids = torch.from_numpy(np.asarray(call.inputs[graph.inputs["text"]])).long().reshape(1, -1)

    def array(self, k: int, role: str) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.steps[k].inputs[self.role.inputs[role]]))

    def update(self, k: int) -> torch.Tensor:
        out = torch.from_numpy(np.asarray(self.steps[k].outputs[self.role.output], dtype=np.float32))
        return out - self.array(k, "state").float()

    def inputs(self, k: int, cond_mel) -> dict[str, torch.Tensor]:
        state = self.array(k, "state").float()
        if not self.fused:
            return {"state": state, "cond": self.array(k, "cond").float(),
                    "text": self.array(k, "text").long() if "text" in self.role.inputs else None}
        frames = state.shape[1]
        mel = cond_mel(self.audio)[:, :frames]
        cond = torch.zeros_like(state)
        cond[:, : mel.shape[1]] = mel  # CFM.sample's step_cond: the reference mel, zeros after it
        text = torch.full((1, frames), -1, dtype=torch.long)  # list_str_to_idx's padding
        text[:, : min(frames, self.ids.shape[1])] = self.ids[:, :frames]
        return {"state": state, "cond": cond, "text": text}

    def t_dt(self, k: int, grid: torch.Tensor):
        if "time" not in self.role.inputs:  # no time input: the k-th call is the k-th step of the baked grid
            return (grid[k], grid[k + 1] - grid[k]) if k + 1 < len(grid) else None
        time = self.array(k, "time").reshape(-1)
        if not time.is_floating_point():  # a step index into the grid baked in the graph
            i = int(time[0])
            return (grid[i], grid[i + 1] - grid[i]) if i + 1 < len(grid) else None
        t = time[0].float()  # the time itself: dt to the next call's (1 at the end)
        nxt = self.array(k + 1, "time").reshape(-1)[0].float() if k + 1 < len(self.steps) else torch.tensor(1.0)
        return t, nxt - t


def _cast(model, dtype: torch.dtype):
    """A copy of the model in `dtype`, weights and compute."""
    import copy

    return copy.deepcopy(model).to(dtype)


def judge_port(calls: list[PortCall], train, pool, *, tolerances: dict[str, float] | None = None,
               mapping: dict[str, Any] | None = None, case=None) -> PortJudgement:
    """Every graph the port ran, its stage judged against the checkpoint on the Trainer's settings; `case`: the
    texts the user said the script speaks (its text ids are then compared with f5's), None when not said."""
    from f5_parity.paths.spec import INFER_DEFAULTS

    judge = _Judge(calls, train, pool, tolerances or {}, float(INFER_DEFAULTS["target_rms"]))
    roles = identify(calls, int(judge.mel["n_mel_channels"]), int(judge.mel["hop_length"]), mapping)
    judge.out.graphs = roles
    if case is not None:
        judge.text_stage(case, roles)
    else:
        judge.out.not_separated.append("text ids: not compared (the port tokenizes outside its graphs; give "
                                       "--ref-audio/--ref-text/--gen-text as your script speaks them to compare them)")
    for role in roles:
        if role.stage == "unknown":
            judge.out.not_separated.append(f"{Path(role.graph).name}: {role.how}")
        elif role.stage == "conditioning":
            judge.out.not_separated.append(
                f"{Path(role.graph).name}: the reference mel and the text embedding are computed inside it and not "
                "exposed; the steps are recomputed from its audio and text ids through f5, so a mel or text "
                "departure shows in the step and is told apart only where a known departure reproduces it")
        else:
            getattr(judge, f"{role.stage}_stage")(role)
    seen = {r.stage for r in roles}
    if "conditioning" in seen:
        seen.add("mel")  # fused into the step: said above
    for stage, what in (("mel", "the reference mel"), ("step", "one transformer step"), ("decode", "mel to wav")):
        if stage not in seen:
            judge.out.not_separated.append(f"no graph computes {what} alone (fused into another graph, or done "
                                           f"outside onnxruntime): {STAGE_NAMES[stage]} was not compared")
    judge.out.notes.append("the port draws its own noise: each step is recomputed from the state the port passed it, "
                           "with the port's own text ids")
    return judge.out
