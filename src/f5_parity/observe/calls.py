"""Observe what a real infer path does, at the f5-tts seams it goes through.

The hooks wrap and call through: they record, they never change what the path computes, and they
are removed when the block ends, even on error. (One changes how, not what: the checkpoint load reads the
file memory-mapped, the same tensor values; see _memory_mapped_torch_load.) Seams:

- model construction: the backbone class (DiT/UNetT/MMDiT) with the kwargs it was built with, and
  CFM's mel settings, vocab map and ODE method;
- checkpoint loading: utils_infer.load_checkpoint (file, use_ema, dtype, device, or the exception), and every
  load_state_dict into an F5 model, f5's own or the path's (strict, the keys it was given, the keys it left
  missing and unexpected: a strict=False load that matched nothing is F5-TTS #1292);
- every CFM.sample call: cond, the text as passed, duration, lens, steps, cfg_strength,
  sway_sampling_coef, use_epss, seed, the autocast state and the RNG state;
- torch.manual_seed as the path's own code calls it (f5's seed_everything, a wrapper's own seeding): without
  it, and without CFM.sample(seed=...), the path's noise is whatever torch's global RNG holds (F5-TTS #898);
- infer_batch_process (what infer_process hands it: the reference audio as loaded, the text batches,
  target_rms, cross-fade, speed, fix_duration) and what it returns (sample rate);
- preprocess_ref_audio_text (the reference file and text in, the clipped file and framed text out);
- the vocoder: load_vocoder's arguments and the weights of the Vocos that decodes;
- a runtime port: every onnxruntime.InferenceSession.run (the graph file, the input and output names, the
  arrays in and out), so a port that never calls CFM.sample is judged stage by stage (ports/).

Module-level functions are replaced wherever a loaded module holds them (a user's `from
f5_tts.infer.utils_infer import infer_process` binds the same object), so a wrapper or script
imported before or inside the block is observed alike.

Fast mode stops the path at its first CFM.sample: the inputs are recorded, one guided velocity is
evaluated at the engine's fixed (x_t, t) on the path's own model object, and a private exception
ends the path (nothing is written).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from f5_parity.paths.infer import ToolLimit, UnavailableVocoder
from f5_parity.ports.graphs import PortCall, summary as port_call_summary

# The fixed flow time of the velocity probe (same as paths/stages.py VELOCITY_T).
VELOCITY_T = 0.5


class StopPath(Exception):
    """Raised inside a path at its first CFM.sample in fast mode; caught by the runner, never escapes."""




@dataclass
class SampleCall:
    """One CFM.sample call as the path made it."""

    model: Any
    cond: torch.Tensor  # (b, nw) audio or (b, n, d) mel, as passed
    text: Any  # list[str] / list[list[str]] or an id tensor, as passed
    duration: Any
    lens: Any
    steps: int
    cfg_strength: float
    sway_sampling_coef: float | None
    use_epss: bool
    seed: int | None
    autocast: str  # "no", "fp16", "bf16": the autocast state the call ran under
    rng_digest: str  # torch's global RNG state before the call (unseeded noise comes from it)
    # "caller" or "worker": autocast and RNG seeding are thread-local, so a user's `with torch.autocast()`
    # reaches the model only when infer_process generates in the caller's thread (f5-tts 1.1.22 uses a
    # ThreadPoolExecutor worker; 1.0.x creates a generator there that runs on the caller's next()).
    thread: str = "caller"
    velocity: torch.Tensor | None = None  # fast mode: the path's own guided velocity at the fixed (x_t, t)
    output: torch.Tensor | None = None  # full mode: the generated mel (b, n, d)

    def summary(self) -> dict[str, Any]:
        model = self.model
        return {
            "cond_shape": list(self.cond.shape) if torch.is_tensor(self.cond) else None,
            "text": _text_summary(self.text),
            "duration": int(self.duration) if isinstance(self.duration, int) or (
                torch.is_tensor(self.duration) and self.duration.numel() == 1) else str(self.duration),
            "steps": self.steps, "cfg_strength": self.cfg_strength, "sway_sampling_coef": self.sway_sampling_coef,
            "use_epss": self.use_epss, "seed": self.seed, "autocast": self.autocast, "thread": self.thread,
            "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
            "device": str(next(model.parameters()).device),
        }


def _text_summary(text: Any) -> Any:
    if torch.is_tensor(text):
        return {"ids_shape": list(text.shape)}
    if isinstance(text, list) and text and isinstance(text[0], list):
        return ["".join(t) for t in text]
    return text


@dataclass
class Observation:
    """Everything seen while one infer path ran."""

    constructions: list[dict[str, Any]] = field(default_factory=list)  # backbone + CFM settings, per model built
    loads: list[dict[str, Any]] = field(default_factory=list)  # load_checkpoint calls
    # load_state_dict calls into a CFM or its backbone: {"module", "strict", "keys", "missing", "unexpected"}
    state_loads: list[dict[str, Any]] = field(default_factory=list)
    samples: list[SampleCall] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)  # infer_batch_process calls
    preprocess: list[dict[str, Any]] = field(default_factory=list)  # preprocess_ref_audio_text calls
    vocoders: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None  # the path's own exception (type, message, where)
    exit_code: int | None = None  # a script's SystemExit code
    stopped: bool = False  # fast mode ended it at its first CFM.sample
    tool_limit: dict[str, Any] | None = None  # what the tool could not reproduce (ToolLimit), not the path's error
    # torch.manual_seed calls the path's own code made: {"seed", "by" (the calling module), "before_call" (the
    # 1-based CFM.sample call it came before)}; the tool's own seeding (f5_parity's modules) is left out
    seedings: list[dict[str, Any]] = field(default_factory=list)
    port_calls: list[PortCall] = field(default_factory=list)  # onnxruntime runs, in the order made

    @property
    def reached_sample(self) -> bool:
        return bool(self.samples)

    def construction_of(self, model) -> dict[str, Any] | None:
        for c in reversed(self.constructions):
            if c["model_id"] == id(model):
                return c
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_calls": [s.summary() for s in self.samples],
            "loads": self.loads,
            "state_loads": self.state_loads,
            "constructions": [{k: v for k, v in c.items() if k not in ("model_id", "vocab_char_map")}
                              for c in self.constructions],
            "batches": [{k: v for k, v in b.items() if k != "ref_audio"} for b in self.batches],
            "preprocess": self.preprocess,
            "vocoders": self.vocoders,
            "error": self.error,
            "exit_code": self.exit_code,
            "stopped_at_first_sample": self.stopped,
            "seedings": self.seedings,
            **({"port_calls": port_call_summary(self.port_calls)} if self.port_calls else {}),
            **({"not_observed": self.tool_limit} if self.tool_limit else {}),
        }


def _autocast_state(device_type: str) -> str:
    try:
        if not torch.is_autocast_enabled(device_type):
            return "no"
        dtype = torch.get_autocast_dtype(device_type)
    except TypeError:  # older torch: no device argument
        if not torch.is_autocast_enabled():
            return "no"
        dtype = torch.get_autocast_gpu_dtype()
    return {torch.float16: "fp16", torch.bfloat16: "bf16"}.get(dtype, str(dtype))


def _digest_tensor(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def error_record(exc: BaseException) -> dict[str, Any]:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{tb[-1].filename}:{tb[-1].lineno} in {tb[-1].name}" if tb else None
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    # torch's "Error(s) in loading state_dict for CFM:" says nothing until its next line (the first mismatch)
    message = lines[0][:500] if lines else ""
    if len(lines) > 1 and lines[0].endswith(":"):
        message += " " + (lines[1] if len(lines[1]) <= 200 else lines[1][:200] + " ...")
    return {"type": type(exc).__name__, "message": message, "full_message": str(exc)[:4000], "where": where}


@contextlib.contextmanager
def _memory_mapped_torch_load(ckpt_path: Any) -> Iterator[None]:
    """While f5's load_checkpoint runs, its torch.load of that file is memory-mapped.

    Why: load_checkpoint reads the whole file, both weight sets and anything else saved, into fresh memory
    to keep one set (2.7 GB and about 5 s a checkpoint at F5TTS_v1_Base size; a sweep observes every
    checkpoint). Mapped, the tensors are the file's bytes, bit-equal to what a plain read gives, and only the
    pages of the set the path keeps are read; the mapping is private (copy-on-write), so the file is never
    written. A call that chooses mmap itself, another file, a file not in torch's zip format, or a process whose
    torch maps shared (set_default_mmap_options(MAP_SHARED): writes to a tensor would reach the file) is left
    as is.
    """
    import inspect
    import mmap
    import os
    import zipfile

    original = torch.load
    serialization = torch.serialization
    try:
        target = os.path.realpath(os.fspath(ckpt_path))
        # torch's own signature: torch.load itself may be wrapped (by another library, by a test's spy)
        mappable = "mmap" in inspect.signature(serialization.load).parameters and zipfile.is_zipfile(target)
        options = getattr(serialization, "get_default_mmap_options", lambda: None)()
        mappable = mappable and options in (None, getattr(mmap, "MAP_PRIVATE", None))
    except (TypeError, OSError, ValueError):
        mappable = False
    if not mappable:
        yield
        return

    @functools.wraps(original)
    def load(f, *args, **kwargs):
        if ("mmap" not in kwargs and isinstance(f, (str, os.PathLike))
                and os.path.realpath(os.fspath(f)) == target):
            kwargs["mmap"] = True
        return original(f, *args, **kwargs)

    torch.load = load
    try:
        yield
    finally:
        torch.load = original


class _Patches:
    """Replace attributes and put every one back, whatever happens."""

    def __init__(self):
        self._undo: list[tuple[Any, str, Any]] = []
        self._replaced: list[tuple[Any, Any]] = []  # (original, replacement) of every everywhere()

    def set(self, owner: Any, name: str, value: Any) -> None:
        self._undo.append((owner, name, owner.__dict__.get(name, _MISSING) if isinstance(owner, type)
                           else getattr(owner, name, _MISSING)))
        setattr(owner, name, value)

    def everywhere(self, original: Any, replacement: Any) -> None:
        """Every loaded module that holds `original` under some name gets `replacement` instead."""
        self._replaced.append((original, replacement))
        for module in list(sys.modules.values()):
            d = getattr(module, "__dict__", None)
            if not isinstance(d, dict):
                continue
            for name, value in list(d.items()):
                if value is original:
                    self.set(module, name, replacement)

    def undo(self) -> None:
        while self._undo:
            owner, name, old = self._undo.pop()
            if old is _MISSING:
                with contextlib.suppress(AttributeError):
                    delattr(owner, name)
            else:
                setattr(owner, name, old)
        # A module first imported while the path ran (the user's wrapper, f5_tts.api) bound the replacements
        # with its own `from f5_tts.infer.utils_infer import load_vocoder`: left so, a later path in this
        # process (a sweep's next checkpoint, a notebook's next check) would run through this dead observer.
        while self._replaced:
            original, replacement = self._replaced.pop()
            for module in list(sys.modules.values()):
                d = getattr(module, "__dict__", None)
                if not isinstance(d, dict):
                    continue
                for name, value in list(d.items()):
                    if value is replacement:
                        setattr(module, name, original)


_MISSING = object()


def _velocity(model, call: SampleCall, seed: int) -> torch.Tensor:
    """The guided velocity CFM.sample's ODE function returns at the engine's fixed (x_t, t), computed on
    the path's own model object with its own inputs; the noise is the engine's seeded draw."""
    from f5_tts.model.utils import lens_to_mask, list_str_to_idx
    import torch.nn.functional as F

    cond = call.cond
    if cond.ndim == 2:
        cond = model.mel_spec(cond).permute(0, 2, 1)
    dtype = next(model.parameters()).dtype
    device = next(model.parameters()).device
    cond = cond.to(device).to(dtype)
    text = call.text
    if isinstance(text, list):
        text = list_str_to_idx(text, model.vocab_char_map).to(device) if model.vocab_char_map else text
    n = cond.shape[1]
    duration = call.duration if isinstance(call.duration, int) else int(call.duration)
    duration = max(duration, max(int(text.shape[-1]), n) + 1)
    # fork_rng: the path's own unseeded noise (CPU and CUDA generators) must not see this draw
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(int(seed))
        noise = torch.randn(duration, model.num_channels, device=device, dtype=dtype).unsqueeze(0)
    step_cond = F.pad(cond, (0, 0, 0, duration - n), value=0.0)
    mask = F.pad(lens_to_mask(torch.tensor([n], device=device)), (0, duration - n), value=False)
    step_cond = torch.where(mask.unsqueeze(-1), step_cond, torch.zeros_like(step_cond))
    t = torch.tensor(VELOCITY_T, device=device, dtype=dtype)
    x = (1 - t) * noise + t * step_cond
    was_training = model.training
    model.eval()  # CFM.sample's own first line; put back below, so the path sees its model as it left it
    try:
        return _guided_velocity(model, call, x, step_cond, text, t)
    finally:
        model.train(was_training)


def path_velocity(call: SampleCall, seed: int) -> torch.Tensor:
    """The velocity the observer computes at the first call, computed after the path stopped: on the call's
    own model object (kept by the call) and inputs."""
    return _velocity(call.model, call, seed)


def _guided_velocity(model, call: SampleCall, x, step_cond, text, t) -> torch.Tensor:
    from f5_parity.f5.versions import guided_velocity

    with torch.inference_mode():
        v = guided_velocity(model.transformer, x=x, cond=step_cond, text=text, time=t, cfg_strength=call.cfg_strength)
    return v.float().cpu()


@dataclass
class _Watch:
    """What every seam's hook records into, and how the caller asked it to behave."""

    obs: Observation
    patches: "_Patches"
    caller_thread: int
    stop_at_first_sample: bool
    velocity_seed: int
    probe_velocity: bool
    seed_each: int | None
    velocity_at_stop: bool


def _watch_construction(w: _Watch) -> None:
    """DiT/UNetT/MMDiT and CFM constructions: the backbone, its kwargs, the mel and vocab settings."""
    import f5_tts.model as f5_model
    from f5_tts.model.cfm import CFM

    obs, patches = w.obs, w.patches
    built_backbones: dict[int, dict[str, Any]] = {}
    for cls_name in ("DiT", "UNetT", "MMDiT"):
        cls = getattr(f5_model, cls_name, None)
        if cls is None:
            continue
        original_init = cls.__dict__["__init__"]

        @functools.wraps(original_init)
        def backbone_init(self, *args, __orig=original_init, __name=cls_name, **kwargs):
            __orig(self, *args, **kwargs)
            if type(self).__name__ == __name:
                built_backbones[id(self)] = {"backbone": __name, "kwargs": dict(kwargs)}

        patches.set(cls, "__init__", backbone_init)

    cfm_init = CFM.__dict__["__init__"]

    @functools.wraps(cfm_init)
    def observed_cfm_init(self, transformer, *args, **kwargs):
        cfm_init(self, transformer, *args, **kwargs)
        backbone = built_backbones.get(id(transformer), {"backbone": type(transformer).__name__, "kwargs": None})
        obs.constructions.append({
            "model_id": id(self),
            "backbone": backbone["backbone"],
            "backbone_kwargs": backbone["kwargs"],
            "mel_spec_kwargs": dict(kwargs.get("mel_spec_kwargs") or {}),
            "odeint_kwargs": dict(kwargs.get("odeint_kwargs") or {"method": "euler"}),
            "vocab_char_map": dict(self.vocab_char_map) if self.vocab_char_map else None,
            "vocab_size": len(self.vocab_char_map) if self.vocab_char_map else None,
        })

    patches.set(CFM, "__init__", observed_cfm_init)


def _watch_sample(w: _Watch) -> None:
    """Every CFM.sample call: its inputs, settings, RNG state (and, first, its velocity)."""
    from f5_tts.model.cfm import CFM

    obs, patches = w.obs, w.patches
    sample = CFM.__dict__["sample"]
    sample_defaults = {k: p.default for k, p in __import__("inspect").signature(sample).parameters.items()}

    @functools.wraps(sample)  # signature(CFM.sample) still reads f5's own while hooked
    def observed_sample(self, cond, text, duration, *args, **kwargs):
        device_type = next(self.parameters()).device.type
        call = SampleCall(
            model=self,
            cond=cond.detach().clone() if torch.is_tensor(cond) else cond,
            text=text.detach().clone() if torch.is_tensor(text) else [list(t) if not isinstance(t, str) else t
                                                                        for t in text],
            duration=duration if not torch.is_tensor(duration) else duration.detach().clone(),
            lens=kwargs.get("lens"),
            steps=int(kwargs.get("steps", sample_defaults["steps"])),
            cfg_strength=float(kwargs.get("cfg_strength", sample_defaults["cfg_strength"])),
            sway_sampling_coef=kwargs.get("sway_sampling_coef", sample_defaults["sway_sampling_coef"]),
            use_epss=bool(kwargs.get("use_epss", sample_defaults.get("use_epss", False))),  # no EPSS before 1.1.5
            seed=kwargs.get("seed", sample_defaults["seed"]),
            autocast=_autocast_state(device_type),
            rng_digest=_digest_tensor(torch.random.get_rng_state()),
            thread="caller" if threading.get_ident() == w.caller_thread else "worker",
        )
        obs.samples.append(call)
        if (w.probe_velocity or (w.stop_at_first_sample and w.velocity_at_stop)) and len(obs.samples) == 1:
            # the mirror check's evidence (about 1/nfe of a generation); leaves the RNG and the model as found
            call.velocity = _velocity(self, call, w.velocity_seed)
        if w.stop_at_first_sample:
            obs.stopped = True
            raise StopPath()
        if w.seed_each is not None:
            torch.manual_seed(w.seed_each)
        out = sample(self, cond, text, duration, *args, **kwargs)
        call.output = out[0].detach().float().cpu()
        return out

    patches.set(CFM, "sample", observed_sample)


def _watch_seeding(w: _Watch) -> None:
    """The path's own seeding of torch's global RNG (the noise CFM.sample draws when its seed is None)."""
    obs, patches = w.obs, w.patches
    # torch.manual_seed and torch.random.manual_seed: the same function until torch wraps the former (its
    # dynamo-disabling wrapper, once f5-tts is imported); each is replaced wherever a module holds it
    for manual_seed in dict.fromkeys((torch.manual_seed, torch.random.manual_seed)):
        @functools.wraps(manual_seed)
        def observed_manual_seed(seed, __orig=manual_seed):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            # the tool seeds before it calls the path (--seed) and for its own probes: not the path's seeding
            if not caller.startswith("f5_parity."):
                obs.seedings.append({"seed": int(seed), "by": caller, "before_call": len(obs.samples) + 1})
            return __orig(seed)

        patches.everywhere(manual_seed, observed_manual_seed)


def _watch_checkpoint_load(w: _Watch) -> None:
    """F5's load_checkpoint: the file, the weight set, the dtype."""
    from f5_tts.infer import utils_infer

    obs, patches = w.obs, w.patches
    load_checkpoint = utils_infer.load_checkpoint

    @functools.wraps(load_checkpoint)
    def observed_load_checkpoint(model, ckpt_path, device, dtype=None, use_ema=True):
        record = {"checkpoint": str(ckpt_path), "use_ema": bool(use_ema),
                  "dtype": None if dtype is None else str(dtype).replace("torch.", ""), "device": str(device)}
        obs.loads.append(record)
        try:
            with _memory_mapped_torch_load(ckpt_path):
                return load_checkpoint(model, ckpt_path, device, dtype=dtype, use_ema=use_ema)
        except BaseException as exc:
            record["error"] = error_record(exc)
            raise

    patches.everywhere(load_checkpoint, observed_load_checkpoint)


def _watch_state_dict_load(w: _Watch) -> None:
    """Every load_state_dict into an F5 model (a wrapper may make its own)."""
    import f5_tts.model as f5_model
    from f5_tts.model.cfm import CFM

    obs, patches = w.obs, w.patches
    module_load = torch.nn.Module.__dict__["load_state_dict"]
    f5_classes = tuple(c for c in (CFM, *(getattr(f5_model, n, None) for n in ("DiT", "UNetT", "MMDiT"))) if c)

    @functools.wraps(module_load)
    def observed_module_load(self, state_dict, *args, **kwargs):
        if not isinstance(self, f5_classes):
            return module_load(self, state_dict, *args, **kwargs)
        strict = kwargs.get("strict", args[0] if args else True)
        record = {"module": type(self).__name__, "strict": bool(strict), "keys": len(state_dict)}
        obs.state_loads.append(record)
        try:
            result = module_load(self, state_dict, *args, **kwargs)
        except BaseException as exc:
            record["error"] = error_record(exc)
            raise
        # what a strict=False load leaves unsaid: the keys it matched nothing to
        record["missing"] = list(getattr(result, "missing_keys", []))
        record["unexpected"] = list(getattr(result, "unexpected_keys", []))
        return result

    patches.set(torch.nn.Module, "load_state_dict", observed_module_load)


def _watch_batches(w: _Watch) -> None:
    """f5's infer_batch_process (a generator): the reference, the gen-text batches, the settings."""
    from f5_tts.infer import utils_infer

    obs, patches = w.obs, w.patches
    batch = utils_infer.infer_batch_process

    @functools.wraps(batch)
    def observed_batch(ref_audio, ref_text, gen_text_batches, model_obj, vocoder, *args, **kwargs):
        audio, sr = ref_audio
        names = ("mel_spec_type", "progress", "target_rms", "cross_fade_duration", "nfe_step", "cfg_strength",
                 "sway_sampling_coef", "speed", "fix_duration", "device", "streaming", "chunk_size")
        settings = {**{k: p.default for k, p in __import__("inspect").signature(batch).parameters.items()
                       if k in names}, **dict(zip(names, args)), **kwargs}
        record = {"ref_audio": (audio.detach().clone(), int(sr)), "ref_sample_rate": int(sr),
                  "ref_channels": int(audio.shape[0]), "ref_text": ref_text, "gen_text_batches": list(gen_text_batches),
                  **{k: settings.get(k) for k in ("mel_spec_type", "target_rms", "cross_fade_duration", "nfe_step",
                                                   "cfg_strength", "sway_sampling_coef", "speed", "fix_duration",
                                                   "streaming")}}
        obs.batches.append(record)
        for item in batch(ref_audio, ref_text, gen_text_batches, model_obj, vocoder, *args, **kwargs):
            if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], int):
                record["output_sample_rate"] = int(item[1])
            yield item

    patches.everywhere(batch, observed_batch)


def _watch_reference_preprocess(w: _Watch) -> None:
    """f5's preprocess_ref_audio_text: the reference as f5 clipped and framed it."""
    from f5_tts.infer import utils_infer

    obs, patches = w.obs, w.patches
    preprocess = utils_infer.preprocess_ref_audio_text

    @functools.wraps(preprocess)
    def observed_preprocess(ref_audio_orig, ref_text, *args, **kwargs):
        record = {"ref_audio": str(ref_audio_orig), "ref_text": ref_text}
        obs.preprocess.append(record)
        out_file, out_text = preprocess(ref_audio_orig, ref_text, *args, **kwargs)
        # f5 writes the clipped reference to a temp file (removed when parity-check exits): keep what it holds.
        clipped: dict[str, Any] = {}
        try:
            import soundfile

            info = soundfile.info(str(out_file))
            clipped = {"clipped_seconds": round(info.frames / info.samplerate, 4),
                       "clipped_sha256": hashlib.sha256(Path(out_file).read_bytes()).hexdigest()[:16]}
        except Exception:  # unreadable: say so rather than fail the observation
            clipped = {"clipped_seconds": None}
        record.update({**clipped, "framed_ref_text": out_text})
        return out_file, out_text

    patches.everywhere(preprocess, observed_preprocess)


def _watch_vocoder_load(w: _Watch) -> None:
    """f5's load_vocoder: which vocoder the path asked for (fast mode does not load it)."""
    from f5_tts.infer import utils_infer

    obs, patches = w.obs, w.patches
    load_vocoder = utils_infer.load_vocoder

    @functools.wraps(load_vocoder)
    def observed_load_vocoder(vocoder_name="vocos", is_local=False, local_path="", device="cpu", hf_cache_dir=None):
        record = {"vocoder_name": vocoder_name, "is_local": bool(is_local),
                  "local_path": str(local_path) if local_path else None}
        obs.vocoders.append({"load_vocoder": record})
        if w.stop_at_first_sample:
            # fast mode stops before any decode: loading the path's vocoder (offline: ~25 s of hub retries,
            # then a failure) could not change the verdict
            record["loaded"] = False
            where = f"the local folder {local_path}" if is_local else "the model hub"
            record["note"] = (f"fast mode never decodes: your path's {vocoder_name} vocoder (from {where}) is judged "
                              "by the weights load_vocoder would read there, without running it")
            return UnavailableVocoder("fast mode does not load the path's vocoder")
        try:
            return load_vocoder(vocoder_name, is_local, local_path, device, hf_cache_dir)
        except Exception as exc:  # the path's vocoder cannot be had here: the tool's limit, said as such
            record["error"] = error_record(exc)
            where = f"from {local_path}" if is_local else "from the model hub"
            if vocoder_name == "vocos":
                # its mel is still judged: through the tool's griffin-lim stand-in, labelled as such
                from f5_parity.f5.configs import MEL_SPEC_KWARGS
                from f5_parity.paths.griffinlim import GriffinLimVocoder

                record["stand_in"] = GriffinLimVocoder.label
                record["note"] = (f"your path's vocos vocoder could not be loaded {where}; its audio here is the "
                                  f"tool's {GriffinLimVocoder.label}, not Vocos: give a local Vocos with "
                                  "--vocoder-path DIR (config.yaml + pytorch_model.bin) to hear the path's own")
                return GriffinLimVocoder({**MEL_SPEC_KWARGS, "mel_spec_type": "vocos"})
            return UnavailableVocoder(
                f"your path's {vocoder_name} vocoder could not be loaded {where} ({type(exc).__name__}: "
                f"{record['error']['message']}): give a local copy with --vocoder-path DIR (a folder with "
                "config.yaml and pytorch_model.bin), or judge the mel alone in fast mode")

    patches.everywhere(load_vocoder, observed_load_vocoder)


def _watch_vocos_decode(w: _Watch) -> None:
    """Vocos.decode: which weights decoded the mel."""
    obs, patches = w.obs, w.patches
    try:
        from vocos import Vocos
    except ImportError:  # pragma: no cover - vocos is a dependency of f5-tts
        Vocos = None
    if Vocos is not None:
        decode = Vocos.__dict__["decode"]
        seen_vocoders: set[int] = set()

        @functools.wraps(decode)
        def observed_decode(self, features_input, *args, **kwargs):
            if id(self) not in seen_vocoders:
                seen_vocoders.add(id(self))
                digest = hashlib.sha256()
                for name, t in sorted(self.state_dict().items()):
                    digest.update(name.encode())
                    digest.update(t.detach().float().cpu().numpy().tobytes())
                obs.vocoders.append({"decode": {"class": "vocos.Vocos", "weights_digest": digest.hexdigest()[:16]}})
            return decode(self, features_input, *args, **kwargs)

        patches.set(Vocos, "decode", observed_decode)


def _watch_onnxruntime(w: _Watch) -> None:
    """onnxruntime.InferenceSession.run: a runtime port's graphs, each call's arrays (onnxruntime is optional:
    a path that cannot import it runs no port)."""
    try:
        import onnxruntime
    except ImportError:
        return
    import numpy as np

    obs, patches = w.obs, w.patches
    run = onnxruntime.InferenceSession.run  # defined on its base class, Session

    @functools.wraps(run)
    def observed_run(self, output_names, input_feed, run_options=None):
        result = run(self, output_names, input_feed, run_options)
        names = list(output_names) if output_names else [o.name for o in self.get_outputs()]
        graph = getattr(self, "_model_path", None)
        obs.port_calls.append(PortCall(
            str(Path(graph).resolve()) if isinstance(graph, (str, Path)) else "<bytes>",
            {k: np.array(v, copy=True) for k, v in input_feed.items()},
            {k: np.array(v, copy=True) for k, v in zip(names, result)}))
        return result

    patches.set(onnxruntime.InferenceSession, "run", observed_run)


# Each seam patches one f5-tts call (or class) and records what passes through it; `observe` applies them all.
_SEAMS = (_watch_construction, _watch_sample, _watch_seeding, _watch_checkpoint_load, _watch_state_dict_load,
          _watch_batches, _watch_reference_preprocess, _watch_vocoder_load, _watch_vocos_decode, _watch_onnxruntime)


@contextlib.contextmanager
def observe(*, stop_at_first_sample: bool = False, velocity_seed: int = 0, probe_velocity: bool = False,
            seed_each: int | None = None, velocity_at_stop: bool = True) -> Iterator[Observation]:
    """Record what the code run inside the block does at f5-tts's seams (see the module docstring).

    `seed_each` seeds torch's global RNG right before each CFM.sample: the Trainer draws its sample's
    noise unseeded, so this is how a logged sample becomes reproducible (the only hook that changes state,
    and only when asked). `velocity_at_stop` False: fast mode records the first call and stops without its
    velocity (path_velocity computes it later from the call, when the caller finds it needs it).
    """
    w = _Watch(Observation(), _Patches(), threading.get_ident(), stop_at_first_sample, velocity_seed,
               probe_velocity, seed_each, velocity_at_stop)
    try:
        for seam in _SEAMS:
            seam(w)
        yield w.obs
    finally:
        w.patches.undo()


def run_observed(fn: Callable[[], Any], *, stop_at_first_sample: bool, velocity_seed: int = 0,
                 probe_velocity: bool = False, velocity_at_stop: bool = True) -> tuple[Observation, Any]:
    """Run `fn` (a whole infer path) under observation. The path's own failure is recorded, not raised:
    an exception or a SystemExit (a script's exit 0 after it ran is not a failure) ends here. Ctrl-C is the
    user stopping parity-check, never a finding: KeyboardInterrupt propagates (the CLI exits 130). What the
    tool itself cannot reproduce (ToolLimit) is kept apart from the path's own errors.
    Returns (observation, what fn returned or None)."""
    result = None
    with observe(stop_at_first_sample=stop_at_first_sample, velocity_seed=velocity_seed,
                 probe_velocity=probe_velocity, velocity_at_stop=velocity_at_stop) as obs:
        try:
            result = fn()
        except StopPath:
            pass
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            obs.exit_code = code
            if code != 0:
                obs.error = {"type": "SystemExit", "message": f"the path called sys.exit({exc.code!r})",
                             "full_message": f"sys.exit({exc.code!r})", "where": None}
        except ToolLimit as exc:
            obs.tool_limit = {**error_record(exc), "type": "ToolLimit"}
        except Exception as exc:  # the user's path failing is a finding, never our crash
            obs.error = error_record(exc)
    return obs, result
