"""One parity run: both paths on the same cases, stage by stage, and the factors that break parity.

1. Align: the by-design differences (text framing, duration rule, reference preprocessing) are set to
   the trainer's values on the infer side, so stages compare identical inputs.
2. Compare: trainer spec vs aligned infer spec, every stage, every case; the first divergent stage.
3. Isolate: delta debugging over the factors that still differ (cheapest evidence first).
4. Measure: each differing factor's effect alone, and each by-design difference's effect, apart.
5. Warn: by-design differences that hit a known pathology (a reference below the model's sample rate,
   12 s clip with the text kept whole, a duration estimate far from the reference's own rate, characters
   outside the vocab, NFD text).
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from f5_parity.cases.case import Case
from f5_parity.f5.versions import word_segmenter
from f5_parity.parity.fixes import fix_for
from f5_parity.compare import DEFAULT_REL_TOL, StageComparison, compare_tensors, first_divergence, rule_text
from f5_parity.paths.factors import BY_ID, FACTOR_IDS
from f5_parity.parity.isolate import Isolation, Outcome, isolate
from f5_parity.parity.result import RunWarning
from f5_parity.paths.spec import PathSpec, align_by_design, decoder_name, resolve_unknown, vocoder_undecided
from f5_parity.paths.stages import FAST_STAGES, FULL_STAGES, INPUT_STAGES, ModelPool, StageRunner, UnbuildableSpec, framed_text, load_reference, total_duration

CLIP_SECONDS = 12.0  # preprocess_ref_audio_text's hard limit
DURATION_RATE_WARN = 0.25  # warn when the estimate is off the reference's own rate by more than 25 %


@dataclass
class RunResult:
    verdict: str
    culprits: list[str]
    factors: dict[str, dict[str, Any]]
    warnings: list[RunWarning]
    stages: dict[str, list[StageComparison]]
    first_divergence: dict[str, str | None]
    by_design: list[dict[str, Any]]
    isolation: Isolation
    specs: dict[str, Any]
    notes: list[str]
    mode: str
    tolerance_rule: str
    seconds: float
    unbuilt: dict[str, str] = field(default_factory=dict)  # case -> why the infer spec could not be built
    undecided: list[str] = field(default_factory=list)  # verdict "undecided": why the stages cannot vouch for it

    def to_dict(self) -> dict[str, Any]:
        from f5_parity.results import jsonable

        return jsonable({
            "verdict": self.verdict,
            "culprits": self.culprits,
            "factors": self.factors,
            "warnings": [w.to_dict() for w in self.warnings],
            "first_divergence": self.first_divergence,
            "stages": {case: [c.to_dict() for c in comps] for case, comps in self.stages.items()},
            "by_design": self.by_design,
            "isolation": self.isolation.to_dict(),
            "specs": self.specs,
            "notes": self.notes,
            "mode": self.mode,
            "tolerance_rule": self.tolerance_rule,
            "seconds": round(self.seconds, 3),
            "unbuilt": self.unbuilt,
            "undecided": self.undecided,
        })


class ParitySession:
    def __init__(self, train: PathSpec, infer: PathSpec, cases: list[Case], *, mode: str = "fast",
                 device: str = "cpu", tolerances: dict[str, float] | None = None, pool: ModelPool | None = None,
                 infer_failure: Any = None, unreconciled: list[str] | None = None, path_kind: str | None = None,
                 port: Any = None):
        # infer_failure: the user's infer path could not load or run (observe.path.PathFailure); then
        # nothing is compared and its factor is the culprit.
        if mode not in ("fast", "full"):
            raise ValueError("mode is fast or full")
        self.cases = cases
        self.mode = mode
        self.stages = FULL_STAGES if mode == "full" else FAST_STAGES
        self.tolerances = {**DEFAULT_REL_TOL, **(tolerances or {})}
        self.runner = StageRunner(pool or ModelPool(device))
        self.infer = infer
        self.infer_failure = infer_failure
        # port: a runtime port's judgement (ports/judge.py PortJudgement): its stages are the run's stages
        self.port = port
        # What the observation found the engine does not reproduce (a failed mirror check, a text it cannot
        # frame): a run whose stages all pass is then "undecided", never a pass (observe/path.py unreconciled)
        self.unreconciled = list(unreconciled or [])
        self.path_kind = path_kind  # the user's infer path's kind: each fix is written for it (parity/fixes.py)
        self.train, self.notes = resolve_unknown(train, infer)
        self.aligned, self.by_design_diffs = align_by_design(self.train, infer)
        # Factors the tool cannot decide (its limit, never the user's fault): no culprit. Both sides decode with
        # the trainer side's decoder, so the wav stage measures the mels, not a vocoder nobody could compare.
        self.undecided: dict[str, str] = {}
        if decoder_name(self.train) == "griffin-lim":
            decoded = "the final mel" if mode == "full" else "the reference mel (fast mode: a resynthesis)"
            self.notes.append(f"the wav stage decodes {decoded} through the tool's griffin-lim decoding aid on both "
                              "sides (no vocoder weights to decode with here): it judges the mel, not a vocoder")
        reason = vocoder_undecided(self.train, infer)
        if reason:
            self.undecided["vocoder"] = reason
            self.aligned = self.aligned.mix(self.train, ["vocoder"], label=self.aligned.label)
        self._baseline: dict[str, list[tuple[str, Any]]] = {}
        self.aligned_values: dict[str, dict[str, Any]] = {}  # stage outputs of the aligned infer spec, per case
        self.path_warnings: list[RunWarning] = []  # what the observed path did that no spec holds (unseeded noise)

    def _failed_path_result(self) -> RunResult:
        """The infer path did not run: no stage can pass beside it; its factor is the culprit."""
        failure = self.infer_failure
        why = f"the infer path failed ({failure.error.get('type')}: {failure.error.get('message')})"
        culprits = [failure.factor] if failure.factor else []  # none: the path's own code broke, no setting
        # said once: each case's "nothing compared" (unbuilt) carries it, not a note besides
        return self._nothing_compared(culprits, why, failure.fix, first="infer-path")

    def _trainer_weights_missing(self) -> tuple[str, list[str]] | None:
        """(the set the Trainer sampled from, the sets the file holds) when the file lacks the former: a pruned
        export (F5-TTS #895: the finetune tab's EMA-only copy) no longer has the weights the samples came from."""
        wanted = self.train.value("weights").get("set")
        checkpoint = self.train.locate("weights", "checkpoint")
        if not wanted or not checkpoint:
            return None
        held = sorted(self.runner.pool.checkpoint(checkpoint).weight_sets())  # the run's opened file
        return None if not held or wanted in held else (wanted, held)

    def _unreproducible_trainer_result(self, wanted: str, held: list[str]) -> RunResult:
        """The trainer side cannot be rebuilt from this file: the tool's limit on it, said as such. The culprit
        comes from the prediction: the weight set the infer path loads is not the one the samples came from."""
        infer_set = self.infer.value("weights").get("set")
        culprits = ["weights"] if infer_set != wanted else []
        why = (f"the trainer side cannot be rebuilt from this file: the Trainer's samples come from the {wanted} "
               f"weights and the file holds only: {', '.join(held)} (a pruned export keeps one set, F5-TTS #895)")
        fix = (f"your infer path loads the {infer_set} weights, not the {wanted} weights the samples were made of: "
               f"ship the {wanted} set (from the Trainer's model_N.pt: save its model_state_dict as "
               "ema_model_state_dict, which infer_cli loads, or load_model(..., use_ema=False)), or run parity-check "
               "on that full model_N.pt to measure what the two sets change")
        self.notes.append(why + "; nothing was compared" + ("" if culprits else
                          f" (the infer path loads the {infer_set} set too: no setting is named)"))
        return self._nothing_compared(culprits, why, fix, first="build")

    def _nothing_compared(self, culprits: list[str], why: str, fix: str, *, first: str) -> RunResult:
        """A run whose stages could not be compared at all: every factor's two values, the culprits named with
        `why` as their effect and `fix`, no stage, `first` as every case's first divergence."""
        factors = {}
        for f in FACTOR_IDS:
            tv, iv = self.train.value(f), self.infer.value(f)
            factors[f] = {"title": BY_ID[f].title, "train": tv, "infer": iv, "differs": tv != iv,
                          "differs_after_alignment": None, "by_design_keys": [], "unknown": [],
                          "culprit": f in culprits,
                          "effect": {"buildable": False, "reason": why} if f in culprits else None,
                          "fix": fix if f in culprits else None, "undecided": self.undecided.get(f)}
        return RunResult(
            verdict="fail", culprits=culprits, factors=factors, warnings=[],
            stages={c.name: [] for c in self.cases}, first_divergence={c.name: first for c in self.cases},
            by_design=[], isolation=Isolation(), specs={"trainer": self.train.to_dict(), "infer": self.infer.to_dict(),
                                                        "infer_aligned": self.aligned.to_dict()},
            notes=self.notes, mode=self.mode, tolerance_rule=rule_text(self.tolerances), seconds=0.0,
            unbuilt={c.name: why for c in self.cases},
        )

    # -- comparisons -------------------------------------------------------------------------------------------

    def baseline(self, case: Case, stages: tuple[str, ...] | None = None) -> list[tuple[str, Any]]:
        stages = stages or self.stages
        key = f"{case.name}|{','.join(stages)}"
        if key not in self._baseline:
            self._baseline[key] = [(n, v) for n, v, _ in self.runner.iter_stages(self.train, case, stages)]
        return self._baseline[key]

    def compare(self, spec: PathSpec, case: Case, *, early_exit: bool, record: dict[str, Any] | None = None,
                stages: tuple[str, ...] | None = None) -> list[StageComparison]:
        """Stages of `spec` against the trainer's, in order; stop at the first divergence if asked."""
        stages = stages or self.stages
        out = []
        reference = dict(self.baseline(case, stages))
        for name, value, _ in self.runner.iter_stages(spec, case, stages):
            if record is not None:
                record[name] = value
            comp = compare_tensors(name, reference[name], value, self.tolerances.get(name))
            out.append(comp)
            if early_exit and not comp.passed:
                break
            if comp.note.startswith("shape differs") and name in ("cond_mel", "duration", "noise"):
                break  # every later tensor differs in shape too: nothing more to measure, much to compute
            if name == "velocity" and "final_mel" in stages and not all(c.passed for c in out):
                # The final mel is a whole generation (nfe x the velocity's cost) and the divergence is already
                # shown: full mode's audio comes from the real paths' own generations instead.
                break
        return out

    def oracle(self, subset: tuple[str, ...]) -> tuple[Outcome, str]:
        """Delta debugging's test: the fast stages suffice (every factor shows before the final mel)."""
        mix = self.train.mix(self.aligned, list(subset))
        try:
            for case in self.cases:
                diverged = first_divergence(self.compare(mix, case, early_exit=True, stages=FAST_STAGES))
                if diverged:
                    return Outcome.FAIL, f"{case.name}: diverges at {diverged}"
        except UnbuildableSpec as exc:
            return Outcome.UNRESOLVED, f"cannot build: {exc}"
        return Outcome.PASS, "all stages within tolerance"

    def effect_of(self, spec: PathSpec, stages: tuple[str, ...] | None = None) -> dict[str, Any]:
        """How far `spec` moves each stage from the trainer's, on the first case (no early exit)."""
        case = self.cases[0]
        try:
            comps = self._compare_all_stages(spec, case, stages=stages)
        except UnbuildableSpec as exc:
            return {"buildable": False, "reason": str(exc)}
        effect: dict[str, Any] = {"buildable": True, "case": case.name, "first_divergence": first_divergence(comps)}
        for c in comps:
            effect[c.stage] = c.rel_l2 if c.rule != "exact" else (0 if c.passed else (c.mismatched if c.mismatched is not None else c.note))
        return effect

    def _compare_all_stages(self, spec: PathSpec, case: Case, record: dict[str, Any] | None = None,
                            stages: tuple[str, ...] | None = None) -> list[StageComparison]:
        try:
            return self.compare(spec, case, early_exit=False, record=record, stages=stages)
        except RuntimeError as exc:  # later stages on mismatched shapes: keep what was measured
            raise UnbuildableSpec(str(exc).splitlines()[0]) from None

    def _held_out_text_effect(self, case: Case) -> dict[str, Any] | None:
        """The tokens of the held-out prompt the infer path frames (its reference transcript and text to generate,
        as it fed them) against the same framing of the case's own texts, when the path rewrote the text to
        generate: {"tokens", "differing"}; None when they are equal or nothing was rewritten."""
        import difflib

        rewritten = (self.infer.value("text").get("rewritten") or {})
        if "gen_text" not in rewritten:
            return None
        truth_values = {k: v for k, v in self.infer.value("text").items() if k != "rewritten"}
        truth = PathSpec(self.infer.label, {**self.infer.values, "text": truth_values}, self.infer.locators,
                         self.infer.unknown)
        said, _, _ = framed_text(self.infer, load_reference(self.infer, case), case, gen_text=rewritten["gen_text"])
        meant, _, _ = framed_text(truth, load_reference(truth, case), case, gen_text=case.gen_text)
        if said == meant:
            return None
        matcher = difflib.SequenceMatcher(a=meant, b=said, autojunk=False)
        same = sum(block.size for block in matcher.get_matching_blocks())
        return {"tokens": len(meant), "differing": max(len(meant), len(said)) - same}

    # -- warnings ----------------------------------------------------------------------------------------------

    def pathology_warnings(self) -> list[RunWarning]:
        from f5_parity.f5.vocab import read_vocab_chars
        from f5_parity.paths.stages import apply_unicode, frontend

        warnings = []
        infer = self.infer
        vocab = set(read_vocab_chars(infer.locate("vocab", "path")))
        mel = infer.value("mel")
        stored_text = self.train.value("text").get("frontend") == "prepared"
        for case in self.cases:
            rate = _below_model_rate(case, mel["target_sample_rate"])
            if rate is not None:
                warnings.append(rate)
            if stored_text and case.prepared_text is not None:
                now = frontend(case.ref_text, "pinyin")
                changes = _text_changes(list(case.prepared_text), now)
                if changes:
                    warnings.append(RunWarning("text", case.name,
                        f"raw.arrow stores this clip's transcript converted otherwise than the installed "
                        f"{installed_f5_tts()} converts it: "
                        + "; ".join(f"stored {a!r}, now {b!r}" for a, b in changes), {"changes": changes}))
            ref = load_reference(infer, case)
            if ref.seconds_in > CLIP_SECONDS and ref.seconds_used < ref.seconds_in - 0.05:
                # at the limit itself: f5 found no pause to cut at and cut the sound at 12 s (F5-TTS #311, #306)
                hard_cut = ref.seconds_used >= CLIP_SECONDS
                warnings.append(RunWarning("ref-audio", case.name,
                    f"reference is {ref.seconds_in:.1f} s; infer clips it to {ref.seconds_used:.1f} s but keeps the whole "
                    "transcript, so text and audio no longer match"
                    + ("; it found no pause to cut at, so the cut at the 12 s limit falls inside the sound (the "
                       "reference's last word is likely cut off): give a reference under 12 s, cut at a pause, with "
                       "its own transcript" if hard_cut else ""),
                    {"seconds_in": ref.seconds_in, "seconds_used": ref.seconds_used, "cut_without_pause": hard_cut}))
            # duration: the estimate for the held-out text against the reference's own speaking rate
            tokens, framed_ref, gen = framed_text(infer, ref, case, gen_text=case.gen_text)
            total, ref_len = total_duration(infer, ref.wav.shape[-1] // mel["hop_length"] + 1, ref, framed_ref, gen)
            rate = (ref.seconds_in * mel["target_sample_rate"] / mel["hop_length"]) / max(1, len(case.ref_text.encode()))
            expected = rate * len(gen.encode())
            ratio = (total - ref_len) / expected if expected else float("inf")
            if abs(ratio - 1) > DURATION_RATE_WARN:
                message = (f"infer's duration estimate for the gen text is {ratio:.2f}x the reference's own rate "
                           f"({total - ref_len} frames for {len(gen.encode())} bytes)")
                metrics = {"ratio": ratio, "frames": total - ref_len}
                slowed = _speed_used(infer, ref_len, framed_ref, gen, total)
                if slowed is not None:  # F5-TTS #460, #1155: a short text gets frames for several times its words
                    speed = infer.value("duration").get("speed") or 1.0
                    message += (f": infer_process estimated it at speed {slowed:.2f}, not the path's speed {speed:g} "
                                 "(its byte-ratio rule slows a short gen text); give the path fix_duration (reference "
                                 "plus generated seconds) or a longer gen text")
                    metrics["speed_used"] = round(slowed, 2)
                warnings.append(RunWarning("duration", case.name, message, metrics))
            for label, text in (("ref text", case.ref_text), ("gen text", case.gen_text)):
                chars = frontend(apply_unicode(text, infer.value("text").get("unicode", "as-is")), "pinyin")
                outside = sorted({c for c in chars if c not in vocab})
                if outside:
                    warnings.append(RunWarning("text", case.name,
                        f"{label} has characters outside the infer vocab, read as id 0 (' ') without a word: "
                        + ", ".join(f"{c!r} U+{ord(c[0]):04X}" for c in outside), {"outside": outside}))
                split = _split_words(text, "".join(chars))
                if split:
                    warnings.append(RunWarning("text", case.name,
                        f"{label}: f5's frontend (convert_char_to_pinyin, {word_segmenter()} segmentation) inserts spaces inside "
                        f"words: {', '.join(f'{a!r} -> {b!r}' for a, b in split)}; the dataset was prepared the same "
                        "way only if it used this f5-tts version", {"split": split}))
                if not unicodedata.is_normalized("NFC", text):
                    warnings.append(RunWarning("text", case.name,
                        f"{label} is not NFC: decomposed accents (e.g. 'ã' as 'a'+U+0303) tokenize as two symbols",
                        {"nfc": unicodedata.normalize("NFC", text)}))
        return warnings

    # -- the run -----------------------------------------------------------------------------------------------

    def _port_result(self) -> RunResult:
        """The user's path ran a runtime port: its graphs' stages, judged against the checkpoint on the Trainer's
        settings, are the run's stages; each departure that reproduces a stage names its factor, with the port's
        value beside the Trainer's and the departure's fix."""
        port = self.port
        found = {c.factor: c for c in port.culprits}
        factors = {}
        for f in FACTOR_IDS:
            tv, c = self.train.value(f), found.get(f)
            iv = {**tv, **c.value} if c is not None else None  # a port has only the values its stages showed
            factors[f] = {"title": BY_ID[f].title, "train": tv, "infer": iv, "differs": c is not None,
                          "differs_after_alignment": c is not None, "by_design_keys": [], "unknown": [],
                          "culprit": c is not None,
                          "effect": {"stage": c.stage, "what": c.what, "rel_l2_trainer": c.rel_l2_trainer,
                                     "rel_l2_departure": c.rel_l2} if c is not None else None,
                          "fix": c.fix if c is not None else None, "undecided": self.undecided.get(f)}
        stages = {c.name: list(port.stages) for c in self.cases[:1]}
        verdict = "pass" if port.passed else "fail"
        undecided = []
        if not port.stages:
            verdict, undecided = "undecided", ["no graph of the port could be compared: " + "; ".join(port.not_separated)]
        notes = self.notes + [f"port: {n}" for n in port.notes + port.not_separated] + \
            [f"port: unexplained: {u}" for u in port.unexplained]
        return RunResult(
            verdict=verdict, culprits=list(found), factors=factors, warnings=[], stages=stages,
            first_divergence={name: first_divergence(comps) for name, comps in stages.items()}, by_design=[],
            isolation=Isolation(), specs={"trainer": self.train.to_dict()}, notes=notes, mode=self.mode,
            tolerance_rule=rule_text(port.tolerances), seconds=0.0, undecided=undecided)

    def run(self) -> RunResult:
        if self.infer_failure is not None:
            return self._failed_path_result()
        if self.port is not None:
            return self._port_result()
        missing = self._trainer_weights_missing()
        if missing is not None:
            return self._unreproducible_trainer_result(*missing)
        start = time.perf_counter()
        stages: dict[str, list[StageComparison]] = {}
        diverged: dict[str, str | None] = {}
        unbuilt: dict[str, str] = {}
        for case in self.cases:
            try:
                stages[case.name] = self._compare_all_stages(self.aligned, case,
                                                             record=self.aligned_values.setdefault(case.name, {}))
            except UnbuildableSpec as exc:
                stages[case.name] = []
                unbuilt[case.name] = str(exc)
                self.notes.append(f"{case.name}: the infer spec cannot be built: {exc}")
            diverged[case.name] = first_divergence(stages[case.name]) if stages[case.name] else "build"
        parity = all(d is None for d in diverged.values())

        differing = sorted(self.train.differing(self.aligned), key=lambda f: _stage_rank(BY_ID[f].first_stage))
        isolation = Isolation() if parity else isolate(differing, self.oracle)

        # Effects on the fast stages in both modes: one velocity per factor, not one generation each.
        effects = {f: self.effect_of(self.train.mix(self.aligned, [f]), FAST_STAGES) for f in differing}
        culprits = [f for s in isolation.culprit_sets for f in s]
        # What the copy task cannot show: a held-out text the path rewrote (the stages frame the reference twice)
        for case in self.cases:
            held_out = self._held_out_text_effect(case)
            if held_out is None:
                continue
            effects["text"] = {**(effects.get("text") or {}), "held_out_tokens": held_out}
            if "text" not in culprits:
                culprits.append("text")
            if diverged[case.name] is None:
                diverged[case.name] = "tokens"
            self.notes.append(f"{case.name}: the held-out text your path generated differs from the case's in "
                              f"{held_out['differing']} of {held_out['tokens']} tokens (the copy task the stages "
                              "compare frames the reference twice and cannot show it)")
        parity = parity and "text" not in culprits
        culprits.sort(key=lambda f: -_harm(effects.get(f, {})))
        skipped = [c for c, comps in stages.items()
                   if "final_mel" in self.stages and comps and "final_mel" not in {x.stage for x in comps}]
        if skipped:
            self.notes.append(f"{', '.join(skipped)}: the aligned infer side diverged before the final mel, so it "
                              "was not generated (a whole generation, the divergence already shown); the audio "
                              "evidence is the real paths' own generations")

        # By-design differences: where each first shows; their velocity effect (a forward pass each, and no
        # verdict depends on it) is measured in full mode only, which keeps fast mode under a third of a generation.
        by_design = []
        design_stages = FAST_STAGES if self.mode == "full" else INPUT_STAGES
        for d in self.by_design_diffs:
            spec = self.train.with_value(d.factor, label=f"trainer+{d.factor}.{d.key}", **{d.key: d.infer})
            by_design.append({"factor": d.factor, "key": d.key, "train": d.train, "infer": d.infer,
                              "effect": self.effect_of(spec, design_stages)})

        unknown_keys = {f: sorted(k for ff, k in self.train.unknown if ff == f) for f in FACTOR_IDS}
        factors = {}
        for f in FACTOR_IDS:
            tv, iv = self.train.value(f), self.infer.value(f)
            factors[f] = {
                "title": BY_ID[f].title,
                "train": tv,
                "infer": iv,
                "differs": tv != iv,
                "differs_after_alignment": f in differing,
                "by_design_keys": sorted(d.key for d in self.by_design_diffs if d.factor == f),
                "unknown": unknown_keys[f],
                "culprit": f in culprits,
                "effect": effects.get(f),
                "fix": fix_for(f, self.train, self.infer, self.path_kind) if f in culprits else None,
                "undecided": self.undecided.get(f),
            }
        verdict = "pass" if parity else "fail"
        if self.unreconciled:
            if verdict == "pass":
                verdict = "undecided"
            self.notes.extend(f"not decided: {why}" for why in self.unreconciled)
        return RunResult(
            verdict=verdict,
            culprits=culprits,
            factors=factors,
            warnings=self.pathology_warnings() + self.path_warnings,
            stages=stages,
            first_divergence=diverged,
            by_design=by_design,
            isolation=isolation,
            specs={"trainer": self.train.to_dict(), "infer": self.infer.to_dict(), "infer_aligned": self.aligned.to_dict()},
            notes=self.notes,
            mode=self.mode,
            tolerance_rule=rule_text(self.tolerances),
            seconds=time.perf_counter() - start,
            unbuilt=unbuilt,
            undecided=list(self.unreconciled) if verdict != "fail" else [],
        )


def _speed_used(infer: PathSpec, ref_len: int, framed_ref: str, gen: str, total: int) -> float | None:
    """The speed the byte-ratio estimate really used (frames the bytes alone give / frames it allotted), when it is
    not the path's own speed: infer_process's rule changed it (paths/stages.py total_duration holds the rule)."""
    d = infer.value("duration")
    if d.get("rule") != "bytes" or d.get("fix_duration") is not None or total <= ref_len:
        return None
    used = ref_len / max(1, len(framed_ref.encode())) * len(gen.encode()) / (total - ref_len)
    speed = d.get("speed") or 1.0
    return used if abs(used - speed) > 0.05 * speed else None  # int() of the frames moves it by under 5 %


_STAGE_ORDER = ("tokens", "cond_mel", "duration", "noise", "timesteps", "velocity", "final_mel", "wav")


def _stage_rank(stage: str) -> int:
    return _STAGE_ORDER.index(stage) if stage in _STAGE_ORDER else len(_STAGE_ORDER)


def _harm(effect: dict[str, Any]) -> float:
    """Rank culprits by how far they move the guided velocity (the model's output at the fixed (x_t, t))."""
    value = effect.get("velocity")
    if isinstance(value, (int, float)):
        return float(value)
    return float("inf") if effect.get("buildable") is False else 0.0


def installed_f5_tts() -> str:
    from f5_parity.f5.environment import detect

    return f"f5-tts {detect().version or '(version unknown)'}"


def _text_changes(stored: list[str], now: list[str], limit: int = 3, context: int = 6) -> list[tuple[str, str]]:
    """Where two conversions of one transcript differ, as (stored, now) snippets with a little context."""
    import difflib

    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=stored, b=now, autojunk=False).get_opcodes():
        if op != "equal":
            lo_a, lo_b = max(0, i1 - context), max(0, j1 - context)
            out.append(("".join(stored[lo_a:i2 + context]), "".join(now[lo_b:j2 + context])))
            if len(out) == limit:
                break
    return out


def _below_model_rate(case: Case, target_rate: int) -> RunWarning | None:
    """A reference recorded below the model's rate (F5-TTS #1105, #666): both paths resample it up, but
    resampling adds no content above the recording's Nyquist frequency, a band present in every 24 kHz clip
    the model was trained on. Nothing crashes and no stage differs between the paths: only a finding can say it."""
    import soundfile as sf

    rate = int(sf.info(str(case.ref_audio)).samplerate)
    if rate >= target_rate:
        return None
    return RunWarning("ref-audio", case.name,
        f"reference is sampled at {rate} Hz, below the model's target_sample_rate {target_rate} Hz: both paths "
        f"resample it up, but it holds nothing above {rate / 2000:g} kHz, a band the model saw in its training "
        f"audio; record or give the reference at {target_rate} Hz or more (resampling up does not restore the "
        "missing band)", {"sample_rate": rate, "target_sample_rate": target_rate})


def _split_words(original: str, converted: str) -> list[tuple[str, str]]:
    """Words the frontend broke apart ('ônibus' -> 'ô nibus'), found by aligning the word lists."""
    import difflib

    a, b = original.split(), converted.split()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "replace" and "".join(a[i1:i2]) == "".join(b[j1:j2]):
            out.append((" ".join(a[i1:i2]), " ".join(b[j1:j2])))
    return out
