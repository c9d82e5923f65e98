"""The infer spec a path really used, read off its observation; the flags' spec becomes a prediction.

Each factor's value is derived from what the path did at f5-tts's seams (observe/calls.py):
weights by exact comparison of the model's tensors with the checkpoint's raw and EMA sets; arch from
the kwargs the backbone was built with; vocab from the model's own vocab map; mel and ODE method from
CFM's constructor; dtype from the parameters and the autocast state of the CFM.sample call; sampler
from the call's arguments.

Four inputs are first computed by the engine's own rule, independently of the CFM.sample call, and only
then compared with it (docs/proofs.md):
  weights   the set the loader was asked for (load_checkpoint's use_ema), vs the set the model's tensors equal
  dtype     the dtype the loader was asked for (or load_checkpoint's own default), vs the parameters' dtype
  tokens    the spec's framing, frontend and Unicode form on the case's text, vs the token list passed
  duration  the spec's duration rule (speed, fix_duration as infer_batch_process got them), vs the frames passed
Where a rule and the call disagree, that is a finding carrying the rule's name and both values. The
duration is never replaced by the observed number: the engine keeps its rule, and the mirror check
shows whether it still computes what the path does. What only the path knows — the text after the
user's own edits, the reference after their own preprocessing, the weights and dtype the model holds —
is taken from the observation and labelled so in the finding ("observed"), never presented as predicted.
Where a factor cannot be derived, the prediction stays and a note says so. Where prediction (the
flags) and observation differ, a finding gives both values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from f5_parity.cases.case import Case
from f5_parity.f5.configs import MEL_SPEC_KWARGS, numeric_arch
from f5_parity.observe.calls import Observation, SampleCall
from f5_parity.paths.spec import PathSpec, _vocab_value, vocoder_value

DTYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}
UNICODE_FORMS = ("as-is", "NFC", "NFD", "NFKC", "NFKD")


@dataclass
class Finding:
    """Flags (or infer_cli's defaulting) predicted one thing; the path did another."""

    factor: str
    predicted: Any
    observed: Any
    message: str
    # Set when the engine's own rule (named here) disagrees with the CFM.sample call: `predicted` is then what the
    # rule computes and `observed` what the call had. None: a flags-vs-observation finding.
    rule: str | None = None
    # False: the engine cannot compute what the path did here (a token list no known text form gives, frames its
    # rule does not give), so the stages cannot stand for the path on this factor (parity_verdict "undecided")
    reproduced: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = {"factor": self.factor, "predicted": self.predicted, "observed": self.observed, "message": self.message}
        d = d if self.rule is None else {**d, "rule": self.rule}
        return d if self.reproduced else {**d, "reproduced": False}


@dataclass
class WeightMatch:
    """Which of the checkpoint's weight sets the model's tensors equal, tensor by tensor."""

    set: str  # "raw", "ema" or "neither"
    evidence: dict[str, Any]  # per set in the file: compared, differing, rel_distance, equal
    total: int  # tensors in the model's state_dict
    neither: list[str]  # the model's tensors equal to no set of the file (sorted)
    keys: tuple[str, ...] = ()  # every tensor of the model's state_dict

    def modules(self) -> list[str]:
        """The modules that hold tensors of neither set, as "transformer.text_embed (5 of 5 tensors)"."""
        def group(key: str) -> str:
            return ".".join(key.split(".")[:2])

        every: dict[str, int] = {}
        for key in self.keys:
            every[group(key)] = every.get(group(key), 0) + 1
        hit: dict[str, int] = {}
        for key in self.neither:
            hit[group(key)] = hit.get(group(key), 0) + 1
        return [f"{g} ({n} of {every.get(g, n)} tensors)" for g, n in sorted(hit.items())]

    def summary(self) -> str:
        if len(self.neither) == self.total:
            return f"all {self.total} tensors"
        modules = self.modules()
        if len(modules) == len({".".join(k.split(".")[:2]) for k in self.keys}):
            return f"{len(self.neither)} of {self.total} tensors, in every module"
        return f"{len(self.neither)} of {self.total} tensors: " + ", ".join(modules)


def match_weights(model, checkpoint: str, prefer: str | None = None, *, opened=None) -> WeightMatch:
    """Which of the checkpoint's weight sets the model's tensors equal ('raw', 'ema' or 'neither'), by exact
    comparison after casting the file's tensors to the model's dtype, tensor by tensor: a model that loaded
    only part of a set (a strict=False load with renamed keys) is 'neither', with the tensors that hold
    neither named. When several sets hold the same tensors, `prefer` (what the path asked for) names them."""
    from f5_parity.checkpoint.file import open_checkpoint

    used = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    evidence: dict[str, Any] = {}
    matched: set[str] = set()
    ck = opened if opened is not None else open_checkpoint(checkpoint)  # the run's opened file, when it has one
    for name in ck.weight_sets():
        ref = ck.state_dict(name)
        common = [k for k in used if k in ref and used[k].shape == ref[k].shape]
        if not common:
            evidence[name] = {"compared": 0}
            continue
        differing = [k for k in common if not torch.equal(used[k], ref[k].to(used[k].dtype))]
        matched |= set(common) - set(differing)
        num = sum(float((used[k].float() - ref[k].float()).norm() ** 2) for k in differing)
        den = sum(float(ref[k].float().norm() ** 2) for k in common)
        evidence[name] = {"compared": len(common), "differing": len(differing),
                          "rel_distance": (num ** 0.5) / max(den ** 0.5, 1e-12)}
        evidence[name]["equal"] = not differing and len(common) >= 0.9 * len(ref)
    equal = [name for name, e in evidence.items() if e.get("equal")]
    neither = sorted(k for k in used if k not in matched)
    chosen = "neither" if not equal else (prefer if prefer in equal else equal[0])
    return WeightMatch(chosen, evidence, len(used), neither if chosen == "neither" else [], tuple(used))


def weight_set_of(model, checkpoint: str, prefer: str | None = None) -> tuple[str, dict[str, Any]]:
    """(the set the model's tensors equal, the evidence per set): match_weights without the tensor detail."""
    found = match_weights(model, checkpoint, prefer)
    return found.set, found.evidence


def load_mistake(obs: Observation) -> tuple[str, str]:
    """(what the path's own load_state_dict calls say went wrong, the fix) for a model that holds neither set.

    Read off the observed calls, never guessed from the symptom: a strict=False load whose unexpected keys are
    the missing ones behind a prefix (the EMA set's 'ema_model.' left on, F5-TTS #1292), keys renamed, keys
    absent; or no such call at all (the tensors were changed after loading, or came from another file)."""
    loads = [r for r in obs.state_loads if not r.get("error")]
    lax = [r for r in loads if not r["strict"] and (r.get("missing") or r.get("unexpected"))]
    base_fix = ("load it with f5-tts's load_model / load_checkpoint (use_ema=False for the raw set the Trainer "
                "sampled from), or call load_state_dict(..., strict=True) to see the keys that do not match")
    if not lax:
        if loads:
            return ("every load_state_dict your path made into the model matched its keys, so the tensors were "
                    "changed after loading or came from another file", base_fix)
        return ("your path loaded the model without load_state_dict (no such call was seen)", base_fix)
    r = lax[-1]
    missing, unexpected = r.get("missing") or [], r.get("unexpected") or []
    prefixes: dict[str, list[str]] = {}
    for u in unexpected:
        for m in missing:
            if u.endswith(m) and u != m:
                prefixes.setdefault(u[: -len(m)], []).append(u)
                break
    head = (f"{r['module']}.load_state_dict(strict=False) of {r['keys']} keys left {len(missing)} of the model's "
            f"keys missing and {len(unexpected)} unexpected")
    if prefixes:
        prefix = max(prefixes, key=lambda p: len(prefixes[p]))
        return (f"{head}: the file's keys carry the prefix {prefix!r} (e.g. {prefixes[prefix][0]!r}), so nothing "
                "under it "
                "loaded and those tensors kept their random initialisation (F5-TTS #1292)",
                f"strip {prefix!r} from the keys (and drop 'initted' and 'step') before loading, as f5's "
                f"load_checkpoint does; or {base_fix}")
    if missing and unexpected:
        return (f"{head}: keys renamed (the file's {unexpected[0]!r} matches no parameter; the model's "
                f"{missing[0]!r} got nothing), so those tensors kept their random initialisation",
                f"load the keys under the names the model has; or {base_fix}")
    return (f"{head} (e.g. {(missing or unexpected)[0]!r}): those tensors kept their random initialisation",
            base_fix)


def save_observed_weights(model, workdir: Path) -> tuple[str, Path]:
    """(a digest of the tensors, the file they are written to): the path's own weights, which are neither of the
    checkpoint's sets, kept so the engine can build the model the path really ran (safetensors: no pickle)."""
    import hashlib

    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    digest = hashlib.blake2b(digest_size=8)
    for k in sorted(tensors):
        digest.update(k.encode())
        digest.update(tensors[k].view(torch.uint8).numpy().tobytes() if tensors[k].numel() else b"")
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"observed_weights_{digest.hexdigest()}.safetensors"
    if not path.exists():
        save_file(tensors, str(path))
    return digest.hexdigest(), path


def _dtype_name(dtype: torch.dtype) -> str:
    return DTYPE_NAMES.get(dtype, str(dtype).replace("torch.", ""))


def _arch_of(obs: Observation, model, predicted: PathSpec) -> dict[str, Any]:
    built = obs.construction_of(model)
    if built and built.get("backbone_kwargs") is not None:
        kwargs = {k: v for k, v in built["backbone_kwargs"].items() if k not in ("text_num_embeds", "mel_dim")}
        return {"backbone": built["backbone"], **numeric_arch(kwargs, built["backbone"])}
    # Built some other way: keep the prediction, with the two flags the keys cannot show read off the modules.
    arch = dict(predicted.value("arch"))
    blocks = getattr(model.transformer, "transformer_blocks", None)
    processor = getattr(getattr(blocks[0], "attn", None), "processor", None) if blocks else None
    if processor is not None and hasattr(processor, "pe_attn_head"):
        arch["pe_attn_head"] = processor.pe_attn_head
    text_embed = getattr(model.transformer, "text_embed", None)
    if text_embed is not None and hasattr(text_embed, "mask_padding"):
        arch["text_mask_padding"] = text_embed.mask_padding
    return arch


def _vocab_of(model, candidates: list[PathSpec], workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from f5_parity.f5.vocab import read_vocab_chars

    vmap = model.vocab_char_map or {}
    chars = [c for c, _ in sorted(vmap.items(), key=lambda kv: kv[1])]
    for spec in candidates:
        path = spec.locate("vocab", "path")
        if path and read_vocab_chars(path) == chars:
            return dict(spec.value("vocab")), dict(spec.locators.get("vocab", {}))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "observed_vocab.txt"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for c in chars:
            f.write(c + "\n")
    return _vocab_value(path)


def call_tokens(call: SampleCall) -> list[str] | None:
    """The token list the path passed to CFM.sample (first item of the batch), or None (ids, or empty)."""
    observed = call.text
    if torch.is_tensor(observed) or not isinstance(observed, list) or not observed:
        return None
    return list(observed[0])


def _text_of(call: SampleCall, spec: PathSpec, case: Case, gen_text: str
             ) -> tuple[dict[str, Any] | None, Finding | None]:
    """(the text value, a rule finding or None). First the engine's rule: the spec's framing, frontend and
    Unicode form on the case's reference text and `gen_text`; only when its tokens differ from the call's does
    a search over the known frontends and Unicode forms ask which edit of the user's text the path made (the
    user's text after their own edits is observed, not predicted: the finding says so). None: no known form."""
    from f5_parity.paths.stages import framed_text, load_reference

    observed_tokens = call_tokens(call)
    if observed_tokens is None:
        return None, None
    ref = load_reference(spec, case)
    base = dict(spec.value("text"))
    rule_tokens, _, _ = framed_text(spec, ref, case, gen_text=gen_text)
    if rule_tokens == observed_tokens:
        return base, None
    rule = (f"{base.get('framing')} framing, frontend {base.get('frontend', 'pinyin')}, "
            f"unicode {base.get('unicode', 'as-is')}")
    matched = None
    for frontend in (base.get("frontend", "pinyin"), "chars"):
        for form in UNICODE_FORMS:
            value = {**base, "frontend": frontend, "unicode": form}
            tokens, _, _ = framed_text(spec.with_value("text", **value), ref, case, gen_text=gen_text)
            if tokens == observed_tokens:
                matched = value
                break
        if matched:
            break
    explained = (f"; they equal frontend {matched['frontend']}, unicode {matched['unicode']} of the case's text "
                 "(observed: your path edited the text)" if matched else "; no frontend/Unicode form the engine "
                 "knows gives them")
    finding = Finding("text", {"tokens": "".join(rule_tokens), **base},
                      {"tokens": "".join(observed_tokens), **(matched or {}), "source": "observed"},
                      f"text: the engine's rule ({rule}) frames {len(rule_tokens)} tokens; your path passed "
                      f"{len(observed_tokens)} other ones{explained}", rule=rule, reproduced=matched is not None)
    return matched, finding


def _said(text: str, key: str = "ref_text") -> str:
    """A text as f5's own infer rules leave it: preprocess_ref_audio_text appends '. ' to the reference transcript
    (spaces collapsed here); infer_process's chunk_text drops the whitespace after a sentence's punctuation and
    adds none after CJK punctuation, so chunks joined again differ from the text in whitespace alone (compared
    without it)."""
    return "".join(text.split()) if key == "gen_text" else " ".join(text.split())


def text_rewrite(obs: Observation, case: Case) -> dict[str, str]:
    """The texts the path fed f5 where they are not the case's beyond f5's own infer rules (its chunking and
    framing): {"ref_text": ..., "gen_text": ...}, only the rewritten ones; {} when the path spoke the case's texts.

    Read at the seams before f5 touches them: preprocess_ref_audio_text's text argument (else what
    infer_batch_process got, less the suffix f5 adds) and infer_process's chunks. A Unicode normal form of the
    case's texts is not a rewrite here: the engine knows it (the text value's "unicode", found by _text_of)."""
    from f5_parity.paths.stages import apply_unicode

    observed: dict[str, str] = {}
    if obs.preprocess:
        observed["ref_text"] = obs.preprocess[0]["ref_text"]
    elif obs.batches:
        observed["ref_text"] = obs.batches[0]["ref_text"]
    if obs.batches and obs.batches[0]["gen_text_batches"]:
        observed["gen_text"] = " ".join(obs.batches[0]["gen_text_batches"])
    truth = {"ref_text": case.ref_text, "gen_text": case.gen_text}

    def same(key: str, form: str) -> bool:
        a, b = _said(apply_unicode(truth[key], form), key), _said(observed[key], key)
        if key == "ref_text" and not obs.preprocess:  # infer_batch_process got it after f5's suffix rule
            a, b = a.rstrip(" ."), b.rstrip(" .")
        return a == b

    for form in UNICODE_FORMS:
        if all(same(k, form) for k in observed):
            return {}
    return {k: (v if k == "gen_text" or obs.preprocess else v.rstrip()) for k, v in observed.items()
            if not same(k, "as-is")}


def _rewrite_finding(rewritten: dict[str, str], case: Case, spec: PathSpec) -> Finding:
    """Both texts, the first difference and the tokens that differ, per rewritten text."""
    import difflib

    from f5_parity.paths.stages import frontend

    truth = {"ref_text": case.ref_text, "gen_text": case.gen_text}
    parts, changed = [], []
    for key, said in rewritten.items():
        mine = truth[key]
        at = next((i for i, (a, b) in enumerate(zip(mine, said)) if a != b), min(len(mine), len(said)))
        label = "reference transcript" if key == "ref_text" else "text to generate"
        parts.append(f"{label} {mine!r} became {said!r} (first difference at character {at}: "
                     f"{mine[at:at + 1]!r} -> {said[at:at + 1]!r})")
        kind = spec.value("text").get("frontend", "pinyin")
        a, b = frontend(mine, "pinyin" if kind == "prepared" else kind), frontend(said, "pinyin" if kind == "prepared" else kind)
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
            pair = ("".join(a[i1:i2]), "".join(b[j1:j2]))
            if op != "equal" and pair not in changed:
                changed.append(pair)
    tokens = ", ".join(f"{x!r} -> {y!r}" for x, y in changed[:10]) + (" ..." if len(changed) > 10 else "")
    return Finding("text", {k: truth[k] for k in rewritten}, {**rewritten, "tokens_changed": changed[:10],
                                                               "source": "observed"},
                   "text: your path rewrote the text before f5's infer_process: " + "; ".join(parts)
                   + f"; tokens that differ: {tokens}. The trainer side keeps the case's text", rule="the case's text")


def _ref_audio_of(obs: Observation, call: SampleCall, spec: PathSpec, case: Case,
                  workdir: Path) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """The reference preprocessing: the prediction when the engine rebuilds the very audio the path
    passed to CFM.sample; otherwise the audio the path handed infer_batch_process, kept as given."""
    from f5_parity.paths.stages import load_reference

    cond = call.cond
    if torch.is_tensor(cond) and cond.ndim == 2:
        mine = load_reference(spec, case).wav
        if mine.shape == cond.shape and torch.allclose(mine.float(), cond.detach().cpu().float(), atol=1e-5):
            return dict(spec.value("ref-audio")), dict(spec.locators.get("ref-audio", {})), None
    if not obs.batches:
        return dict(spec.value("ref-audio")), dict(spec.locators.get("ref-audio", {})), (
            "the reference audio the path passed to CFM.sample could not be traced to a file; kept the prediction")
    import torchaudio

    audio, sr = obs.batches[0]["ref_audio"]
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "observed_reference.wav"
    torchaudio.save(str(path), audio.float().cpu(), sr)
    digest = __import__("hashlib").sha256(audio.float().cpu().numpy().tobytes()).hexdigest()[:16]
    value = {"preprocess": "as-given", "target_rms": obs.batches[0].get("target_rms"), "audio": digest}
    return value, {"wav": str(path), "ref_text": obs.batches[0]["ref_text"]}, None


def _duration_of(obs: Observation, call: SampleCall, spec: PathSpec, case: Case,
                 gen_text: str) -> tuple[dict[str, Any], Finding | None]:
    """(the duration value, a rule finding or None). The engine's rule on the speed and fix_duration the
    path handed infer_batch_process (another seam than CFM.sample), then compared with the frames passed.
    A disagreement is a finding with both numbers; the rule's value stays (never the observed number)."""
    from f5_parity.paths.stages import framed_text, load_reference, total_duration

    value = dict(spec.value("duration"))
    if obs.batches:
        b = obs.batches[0]
        value.update(speed=float(b["speed"]) if b.get("speed") is not None else value.get("speed"),
                     fix_duration=b.get("fix_duration"))
    candidate = spec.with_value("duration", **value)
    observed = int(call.duration) if not torch.is_tensor(call.duration) or call.duration.numel() == 1 else None
    try:
        ref = load_reference(candidate, case)
        _, framed_ref, gen = framed_text(candidate, ref, case, gen_text=gen_text)
        frames = ref.wav.shape[-1] // candidate.value("mel")["hop_length"] + 1
        expected, _ = total_duration(candidate, frames, ref, framed_ref, gen)
    except Exception:  # the reference cannot be rebuilt: nothing to compare, and no finding invented
        expected = None
    if observed is not None and expected is not None and expected != observed:
        rule = f"{value.get('rule')} (speed {value.get('speed')}, fix_duration {value.get('fix_duration')})"
        return value, Finding("duration", {"frames": expected, **value}, {"frames": observed, "source": "observed"},
                              f"duration: the engine's rule {rule} gives {expected} frames; your path passed "
                              f"{observed} to CFM.sample (the engine keeps its rule: the mirror check says whether "
                              "it still computes what your path does)", rule=rule, reproduced=False)
    return value, None


def derive_spec(obs: Observation, predicted: PathSpec, case: Case, *, gen_text: str, candidates: list[PathSpec],
                workdir: Path, label: str = "infer (observed)", case_is_truth: bool = True, pool=None
                ) -> tuple[PathSpec, list[Finding], list[str]]:
    """(the observed spec, flags-vs-observation findings, notes on what could not be derived).

    `case_is_truth`: the tool handed the path the case's texts (a wrapper, infer_cli's wiring, the F5TTS class), so
    a text the path fed f5 otherwise is its own rewrite; a script's case is read off the script itself."""
    call = obs.samples[0]
    model = call.model
    notes: list[str] = []
    values = {f: dict(v) for f, v in predicted.values.items()}
    locators = {f: dict(v) for f, v in predicted.locators.items()}

    checkpoint = predicted.locate("weights", "checkpoint")
    loaded = [r["checkpoint"] for r in obs.loads if not r.get("error")]
    if loaded and Path(loaded[-1]).resolve() != Path(checkpoint).resolve():
        notes.append(f"your path loaded {loaded[-1]}, not {checkpoint}")
    values["weights"], weights_locator, rule_findings, weight_evidence = _weights_of(obs, model, predicted, workdir, pool)
    locators["weights"] = {**locators.get("weights", {}), **weights_locator}
    values["arch"] = _arch_of(obs, model, predicted)
    values["vocab"], locators["vocab"] = _vocab_of(model, [predicted, *candidates], workdir)
    built = obs.construction_of(model) or {}
    mel_kwargs = dict(built.get("mel_spec_kwargs") or {})
    if mel_kwargs:
        mel_type = mel_kwargs.pop("mel_spec_type", values["mel"].get("mel_spec_type", "vocos"))
        values["mel"] = {**MEL_SPEC_KWARGS, **{k: v for k, v in mel_kwargs.items() if k in MEL_SPEC_KWARGS},
                         "mel_spec_type": mel_type}
    values["dtype"], dtype_findings = _dtype_of(obs, model, predicted, call)
    rule_findings += dtype_findings
    values["sampler"] = _sampler_of(call, built, values["sampler"])
    for record in obs.vocoders:  # the vocoder the path asked load_vocoder for (fast mode never runs it)
        vload = record.get("load_vocoder")
        if vload:
            values["vocoder"], locators["vocoder"] = vocoder_value(
                vload["vocoder_name"], local_path=vload["local_path"] if vload.get("is_local") else None,
                given_path=predicted.locate("vocoder", "given"), decode=predicted.locate("vocoder", "decode", True))
    derived = PathSpec(label, values, locators)

    # Inputs computed by the engine's rules first, then compared with what the path passed.
    rewritten = text_rewrite(obs, case) if case_is_truth else {}
    if rewritten:  # the case's text is the truth: the path's own edit is a value of the text factor, observed
        rule_findings.append(_rewrite_finding(rewritten, case, derived))
        derived = derived.with_value("text", rewritten=rewritten)
    text, text_finding = _text_of(call, derived, case, gen_text)
    if text_finding:
        rule_findings.append(text_finding)
    if text is None:
        notes.append("the text your path passed to CFM.sample matches no frontend/Unicode form the engine knows; "
                     "the text factor keeps the prediction")
    else:
        derived = derived.with_value("text", **text)
    ref_value, ref_locator, ref_note = _ref_audio_of(obs, call, derived, case, workdir)
    if ref_note:
        notes.append(ref_note)
    values = {f: dict(v) for f, v in derived.values.items()}
    locators = {f: dict(v) for f, v in derived.locators.items()}
    values["ref-audio"], locators["ref-audio"] = ref_value, ref_locator
    derived = PathSpec(label, values, locators)
    duration, duration_finding = _duration_of(obs, call, derived, case, gen_text)
    derived = derived.with_value("duration", **duration)
    if duration_finding:
        rule_findings.append(duration_finding)

    # a rewritten text is the rule finding's (both texts, first difference, tokens); the flags never say one
    findings = [_finding(fid, predicted.value(fid), derived.value(fid), weight_evidence)
                for fid in predicted.values if _flagged(predicted.value(fid)) != _flagged(derived.value(fid))]
    return derived, findings + rule_findings, notes


def _weights_of(obs: Observation, model, predicted: PathSpec, workdir: Path, pool=None
                ) -> tuple[dict[str, Any], dict[str, Any], list[Finding], Any]:
    """The weight set the model's tensors really equal (exact comparison), against the loader's use_ema (the rule):
    (value, locator additions, rule findings, the comparison's evidence)."""
    checkpoint = predicted.locate("weights", "checkpoint")
    load = next((r for r in reversed(obs.loads) if not r.get("error")), None)
    asked = ("ema" if load["use_ema"] else "raw") if load else predicted.value("weights")["set"]
    asked_by = f"load_checkpoint(use_ema={load['use_ema']})" if load else "the flags"
    found = match_weights(model, checkpoint, prefer=asked, opened=pool.checkpoint(checkpoint) if pool else None)
    if found.set == "neither":
        # Not a set the engine can name: the path's own tensors are the observed value, kept in a file so the
        # stages run on the very model the path sampled from (and the mirror check compares against it).
        digest, saved = save_observed_weights(model, workdir)
        mistake, fix = load_mistake(obs)
        finding = Finding(
            "weights", {"set": asked},
            {"set": "neither", "tensors_neither": len(found.neither), "of": found.total, "modules": found.modules(),
             "load": mistake, "source": "observed"},
            f"weights: the model your path sampled from holds {found.summary()} equal to neither the checkpoint's "
            f"raw nor its EMA set (the loader was asked for {asked}, {asked_by}): {mistake}; fix: {fix}",
            rule=asked_by)
        value = {"set": "neither", "tensors": digest, "neither": found.summary(), "load": mistake, "fix": fix}
        return value, {"tensors": str(saved)}, [finding], found.evidence
    findings = []
    if found.set != asked:
        findings.append(Finding("weights", {"set": asked}, {"set": found.set, "source": "observed"},
                                f"weights: the loader was asked for {asked} ({asked_by}); the model's "
                                f"tensors equal {found.set}", rule=asked_by))
    return {"set": found.set}, {}, findings, found.evidence


def _dtype_of(obs: Observation, model, predicted: PathSpec, call: SampleCall) -> tuple[dict[str, Any], list[Finding]]:
    """The dtype the loader was asked for (or load_checkpoint's own default on its device), then the parameters
    CFM.sample really ran on."""
    from f5_parity.paths.spec import default_infer_dtype

    load = next((r for r in reversed(obs.loads) if not r.get("error")), None)
    if load:
        rule_dtype = (_dtype_name(getattr(torch, load["dtype"])) if load.get("dtype")
                      else default_infer_dtype(load.get("device") or "cpu"))
        dtype_by = f"load_checkpoint(dtype={load.get('dtype')}, device={load.get('device')})"
    else:
        rule_dtype, dtype_by = predicted.value("dtype").get("weights", "fp32"), "the flags"
    held = _dtype_name(next(model.parameters()).dtype)
    findings = []
    if held != rule_dtype:
        findings.append(Finding("dtype", {"weights": rule_dtype}, {"weights": held, "source": "observed"},
                                f"dtype: the loader made the weights {rule_dtype} ({dtype_by}); CFM.sample ran "
                                f"on weights {held} (your path cast the model after loading)", rule=dtype_by))
    return {"weights": held, "autocast": call.autocast}, findings


def _sampler_of(call: SampleCall, built: dict[str, Any], predicted: dict[str, Any]) -> dict[str, Any]:
    """The sampler CFM.sample was really called with (steps, cfg, sway, the ODE its CFM was built with)."""
    from f5_parity.f5.versions import sampler_facts

    sampler = {"nfe": call.steps, "cfg": call.cfg_strength,
               "sway": None if call.sway_sampling_coef is None else float(call.sway_sampling_coef),
               "ode": (built.get("odeint_kwargs") or {}).get("method", predicted.get("ode", "euler")),
               "seed": call.seed if call.seed is not None else predicted.get("seed")}
    if not call.use_epss and sampler_facts()["epss"]:  # before 1.1.5 there is no EPSS to turn off
        sampler["use_epss"] = False
    return sampler


def _flagged(value: dict[str, Any]) -> dict[str, Any]:
    """The part of a value flags can predict: not the texts a path rewrote."""
    return {k: v for k, v in value.items() if k != "rewritten"}


_SAYS = {
    "weights": lambda p, o: f"the flags say {p.get('set')} weights; your path sampled from {o.get('set')}",
    "sampler": lambda p, o: "the flags say " + ", ".join(f"{k} {p.get(k)}" for k in p if p.get(k) != o.get(k))
                            + "; your path used " + ", ".join(f"{k} {o.get(k)}" for k in o if p.get(k) != o.get(k)),
    "dtype": lambda p, o: f"the flags say weights {p.get('weights')}, autocast {p.get('autocast')}; your path ran "
                          f"weights {o.get('weights')} under autocast {o.get('autocast')}",
}


def _finding(fid: str, predicted: dict[str, Any], observed: dict[str, Any], evidence: dict[str, Any]) -> Finding:
    if fid in _SAYS:
        message = _SAYS[fid](predicted, observed)
    else:
        keys = [k for k in sorted(set(predicted) | set(observed)) if predicted.get(k) != observed.get(k)]
        message = (f"{fid}: the flags predict " + ", ".join(f"{k}={predicted.get(k)!r}" for k in keys)
                   + "; your path used " + ", ".join(f"{k}={observed.get(k)!r}" for k in keys))
    return Finding(fid, predicted, observed, message)
