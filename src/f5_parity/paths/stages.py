"""Stage-by-stage execution of one path spec on one case, with f5-tts's own building blocks.

Stages, cheapest first: tokens, cond_mel, duration, noise, timesteps, velocity (one guided
velocity-field evaluation at a fixed (x_t, t)), then in full mode final_mel (the real CFM.sample)
and wav (the vocoder). In fast mode `wav` is the vocoder's resynthesis of the cond mel, like the
trainer's update_N_ref.wav. The glue between f5's pieces mirrors CFM.sample and infer_batch_process
(f5-tts 1.1.22); tests/test_trainer_mirror.py proves the trainer side against a real Trainer sample.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import unicodedata
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from f5_parity.cases.case import Case
from f5_parity.errors import InputError
from f5_parity.paths.spec import UNKNOWN, PathSpec

FAST_STAGES = ("tokens", "cond_mel", "duration", "noise", "timesteps", "velocity", "wav")
FULL_STAGES = ("tokens", "cond_mel", "duration", "noise", "timesteps", "velocity", "final_mel", "wav")
INPUT_STAGES = ("tokens", "cond_mel", "duration", "noise", "timesteps")  # what CFM.sample is given: no forward pass
VELOCITY_T = 0.5  # the fixed flow time of the velocity probe: half noise, half reference

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class UnbuildableSpec(Exception):
    """A mix of factors that cannot be built (shapes do not fit): delta debugging's UNRESOLVED."""


@contextlib.contextmanager
def quiet():
    """f5-tts prints as it loads and preprocesses, and infer_batch_process draws a tqdm bar on stderr per
    generation (a `0/1 [00:00<?, ?it/s]` line between the CLI's own); nothing below the CLI may print, so
    both streams are held while f5-tts (or a user's wrapper or script) runs. Errors still arrive: as exceptions."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def autocast_context(spec: PathSpec, device: str):
    mode = spec.value("dtype").get("autocast", "no")
    if mode in (None, "no"):
        return contextlib.nullcontext()
    # What accelerate's Accelerator(mixed_precision=...).autocast() enters.
    return torch.autocast(device_type=device.split(":")[0], dtype=DTYPES[mode])


# --- models and vocoders, built once per distinct setting -------------------------------------------------


class ModelPool:
    """CFM models keyed by everything that changes their weights or their forward pass."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._models: dict[str, Any] = {}
        self._vocoders: dict[str, Any] = {}
        self._weights: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
        self._files: dict[str, Any] = {}  # checkpoint path -> CheckpointFile, read by the run
        self._model_files: dict[str, Any] = {}  # checkpoint path -> CheckpointFile, the engine models' own

    def checkpoint(self, path: str | Path):
        """The run's opened copy of a checkpoint file (checkpoint.file.CheckpointFile, memory-mapped) for
        reading: the assembly opens it, the observation's weight match, the session, the load diagnosis and the
        inspect probes read it from here. The engine's models load from a copy of their own (_weight_set)."""
        return self._opened(self._files, path)

    @staticmethod
    def _opened(files: dict[str, Any], path: str | Path):
        from f5_parity.checkpoint.file import open_checkpoint

        key = str(Path(path).absolute())
        if key not in files:
            files[key] = open_checkpoint(path)
        return files[key]

    def _weight_set(self, checkpoint: str, which: str, tensors: str | None = None) -> dict[str, torch.Tensor]:
        if which == "neither":  # an observed path's own tensors (observe/spec.py save_observed_weights)
            if not tensors:
                raise UnbuildableSpec("weights that are neither set of the checkpoint and were not kept")
            key = (tensors, which)
            if key not in self._weights:
                from safetensors.torch import load_file

                self._weights[key] = load_file(tensors)
            return self._weights[key]
        key = (checkpoint, which)
        if key not in self._weights:
            # Parsed once, whichever weight sets are asked for, and apart from the run's reading copy: the models
            # take these tensors as their parameters (assign=True, no copy), so a model changed in place would
            # change what this mapping holds; the evidence they are judged against (the path's weights equal
            # the file's raw or EMA set, the probes) must not read the same mapping.
            ckpt = self._opened(self._model_files, checkpoint)
            try:
                self._weights[key] = ckpt.state_dict(which)
            except KeyError as exc:
                raise UnbuildableSpec(f"the checkpoint has no {which} weights ({exc})") from None
        return self._weights[key]

    def model_key(self, spec: PathSpec) -> str:
        return canonical((spec.locate("weights", "checkpoint"), spec.value("weights"), spec.value("arch"),
                           spec.value("vocab"), spec.value("mel"), spec.value("dtype").get("weights"),
                           spec.value("sampler").get("ode")))

    def model(self, spec: PathSpec):
        from f5_tts.model import CFM
        from f5_parity.f5.configs import UnbuildableArch, build_backbone

        from f5_parity.f5.vocab import read_vocab_chars

        arch = dict(spec.value("arch"))
        if UNKNOWN in arch.values():
            raise UnbuildableSpec("arch settings unknown")
        mel = dict(spec.value("mel"))
        key = self.model_key(spec)
        if key in self._models:
            return self._models[key]
        backbone = arch.pop("backbone", "DiT")
        vocab_chars = read_vocab_chars(spec.locate("vocab", "path"))
        # The constructor load_model uses (utils_infer.py L251-266), without its random initialisation: every
        # parameter and saved buffer is then taken from the checkpoint (strict), and the buffers it does not
        # save are computed by the constructors themselves, not drawn. At F5TTS_v1_Base size the draws cost
        # seconds per model; tests/test_stages.py proves the model equal to one built and loaded as F5 does.
        try:
            with _without_random_init():
                model = CFM(
                    transformer=build_backbone(backbone, arch, text_num_embeds=len(vocab_chars),
                                               mel_dim=mel["n_mel_channels"]),
                    mel_spec_kwargs=mel,
                    odeint_kwargs=dict(method=spec.value("sampler").get("ode", "euler")),
                    vocab_char_map={c: i for i, c in enumerate(vocab_chars)},
                )
        except (TypeError, UnbuildableArch) as exc:
            raise UnbuildableSpec(f"arch does not construct: {exc}") from None
        sd = self._weight_set(spec.locate("weights", "checkpoint"), spec.value("weights")["set"],
                              spec.locate("weights", "tensors"))
        try:
            # strict, like load_checkpoint; assign: the parameters are the checkpoint's (memory-mapped, read
            # only here) tensors, not a copy into fresh memory, and .to() below converts the dtype as F5 does
            model.load_state_dict(sd, assign=True)
        except RuntimeError as exc:
            raise UnbuildableSpec(str(exc).splitlines()[0] + " ...") from None
        model = model.to(DTYPES[spec.value("dtype").get("weights", "fp32")]).to(self.device).eval()
        self._models[key] = model
        return model

    def vocoder(self, spec: PathSpec):
        value = spec.value("vocoder")
        key = repr((value, spec.locate("vocoder", "path")))
        if key not in self._vocoders:
            from f5_parity.paths.spec import decoder_name

            name = decoder_name(spec)
            if name == "griffin-lim":  # no weights to decode with: the tool's aid, never a path's value
                from f5_parity.paths.griffinlim import GriffinLimVocoder, supports

                if not supports(spec.value("mel")):  # the tool's limit: said, never the spec's fault
                    raise UnbuildableSpec(f"the tool's griffin-lim stand-in cannot invert "
                                          f"{spec.value('mel').get('mel_spec_type')} mel features and no vocoder "
                                          "weights were given (--vocoder-path)")
                self._vocoders[key] = GriffinLimVocoder(spec.value("mel"))
            else:
                from f5_tts.infer.utils_infer import load_vocoder

                path = spec.locate("vocoder", "path")
                with quiet(), hub_offline():
                    self._vocoders[key] = load_vocoder(name, is_local=True, local_path=path, device=self.device)
        return self._vocoders[key]


def decode(vocoder, mel_spec_type: str, mel_bdn: torch.Tensor) -> torch.Tensor:
    """Vocoder call as infer_batch_process and the trainer make it (mel is b, d, n)."""
    if mel_spec_type == "bigvgan":
        return vocoder(mel_bdn).squeeze(0)
    return vocoder.decode(mel_bdn)


# --- inputs ----------------------------------------------------------------------------------------------


@dataclass
class RefAudio:
    wav: torch.Tensor  # (1, samples) at the mel sample rate, after the path's preprocessing
    ref_text: str  # after the path's text framing of the reference
    rms: float  # of the audio as loaded (before any RMS raise)
    seconds_in: float
    seconds_used: float


def load_reference(spec: PathSpec, case: Case) -> RefAudio:
    """The reference as each path reads it: dataset (torchaudio.load + resample) or infer (pydub clip first)."""
    import torchaudio

    mel = spec.value("mel")
    pre = spec.value("ref-audio")
    path = str(case.ref_audio)
    ref_text = spoken_texts(spec, case)[0]
    try:
        original, sr0 = torchaudio.load(path)
    except Exception as exc:
        raise InputError(f"cannot decode reference audio {path}: {exc}", "give a PCM wav file") from None
    seconds_in = original.shape[-1] / sr0
    if pre.get("preprocess") == "infer":
        from f5_tts.infer import utils_infer

        with quiet():
            clipped, ref_text = utils_infer.preprocess_ref_audio_text(path, ref_text, show_info=lambda *a, **k: None)
        audio, sr = torchaudio.load(clipped)
    elif pre.get("preprocess") == "as-given":
        # What an observed path handed infer_batch_process, its own preprocessing already done.
        audio, sr = torchaudio.load(spec.locate("ref-audio", "wav"))
        ref_text = spec.locate("ref-audio", "ref_text", ref_text)
    else:
        audio, sr = original, sr0
    if audio.shape[0] > 1:
        audio = torch.mean(audio, dim=0, keepdim=True)
    rms = float(torch.sqrt(torch.mean(torch.square(audio))))
    target = pre.get("target_rms")
    if target is not None and rms < target:  # infer_batch_process raises quiet references
        audio = audio * target / rms
    if sr != mel["target_sample_rate"]:
        audio = torchaudio.transforms.Resample(sr, mel["target_sample_rate"])(audio)
    return RefAudio(audio, ref_text, rms, seconds_in, audio.shape[-1] / mel["target_sample_rate"])


def apply_unicode(text: str, form: str) -> str:
    return text if form in (None, "as-is") else unicodedata.normalize(form, text)


def frontend(text: str, kind: str) -> list[str]:
    from f5_tts.model.utils import convert_char_to_pinyin

    # "prepared": the dataset's stored conversion (framed_text reads it off the case); a text without a stored
    # form (a gen text) gets what the installed f5-tts gives.
    if kind in ("pinyin", "prepared"):  # what prepare_csv_wavs stores and infer_batch_process applies
        return convert_char_to_pinyin([text])[0]
    if kind == "chars":
        return list(text)
    raise ValueError(f"unknown text frontend {kind!r}")


def spoken_texts(spec: PathSpec, case: Case) -> tuple[str, str]:
    """(reference transcript, held-out text) as this path feeds them to f5: the case's, which are the truth,
    unless an observed path rewrote them before infer_process (the text value's "rewritten": a wrapper that
    lowercases or strips accents, F5-TTS #49, #951). The trainer side never has one."""
    rewritten = spec.value("text").get("rewritten") or {}
    return rewritten.get("ref_text", case.ref_text), rewritten.get("gen_text", case.gen_text)


def dataset_text(spec: PathSpec, case: Case) -> list[str]:
    """The reference's transcript as this path's dataset hands it to the Trainer (its text_inputs[0]): a
    prepared folder's raw.arrow text as stored, never re-converted; else the transcript through the path's
    Unicode form and text frontend. Every trainer route takes it from here: the stages, the mirror sample, the
    installed Trainer's one-clip dataset."""
    t = spec.value("text")
    form, kind = t.get("unicode", "as-is"), t.get("frontend", "pinyin")
    if kind == "prepared" and case.prepared_text is not None:
        return list(case.prepared_text)
    return frontend(apply_unicode(spoken_texts(spec, case)[0], form), kind)


def framed_text(spec: PathSpec, ref: RefAudio, case: Case, gen_text: str | None = None) -> tuple[list[str], str, str]:
    """(token list fed to CFM.sample, the reference text as framed, the gen text) for this path."""
    t = spec.value("text")
    form, kind = t.get("unicode", "as-is"), t.get("frontend", "pinyin")
    if t["framing"] == "trainer":
        # trainer.py: text_inputs[0] + [" "] + text_inputs[0] on the dataset's text (the copy task)
        prepared = dataset_text(spec, case)
        ref_text = spoken_texts(spec, case)[0]
        return prepared + [" "] + prepared, ref_text, ref_text
    gen = spoken_texts(spec, case)[0] if gen_text is None else gen_text
    ref_text = ref.ref_text
    if spec.value("ref-audio").get("preprocess") not in ("infer", "as-given"):
        # preprocess_ref_audio_text's suffix rule, when the audio side of it is not in play
        if not ref_text.endswith(". ") and not ref_text.endswith("。"):
            ref_text += " " if ref_text.endswith(".") else ". "
    if len(ref_text[-1].encode("utf-8")) == 1:  # infer_batch_process L468
        ref_text = ref_text + " "
    # A Unicode form is an edit of the user's text before infer_process: infer_batch_process then measures the
    # edited strings' bytes for the duration too (an NFD text has more bytes), so both come back edited.
    ref_text, gen = apply_unicode(ref_text, form), apply_unicode(gen, form)
    return frontend(ref_text + gen, kind), ref_text, gen


def total_duration(spec: PathSpec, ref_frames_dataset: int, ref: RefAudio, framed_ref_text: str, gen_text: str) -> tuple[int, int]:
    """(total frames, frames of reference to cut from the output) under the path's duration rule."""
    d = spec.value("duration")
    mel = spec.value("mel")
    speed = d.get("speed", 1.0) or 1.0
    if d["rule"] == "frames":  # what an observed path passed, by a rule of its own
        ref_len = ref_frames_dataset if spec.value("ref-audio").get("preprocess") == "dataset" else (
            ref.wav.shape[-1] // mel["hop_length"])
        return int(d["frames"]), ref_len
    if d["rule"] == "2x":
        ref_len = ref_frames_dataset  # mel_lengths[0]: frames of the dataset mel (center=True: n//hop + 1)
        if d.get("fix_duration") is not None:
            return int(d["fix_duration"] * mel["target_sample_rate"] / mel["hop_length"]), ref_len
        return ref_len + int(round(ref_len / speed)), ref_len
    # infer_batch_process L479-494: a byte-ratio estimate from the reference's rate
    ref_len = ref.wav.shape[-1] // mel["hop_length"]
    if d.get("fix_duration") is not None:
        return int(d["fix_duration"] * mel["target_sample_rate"] / mel["hop_length"]), ref_len
    local_speed = 0.3 if len(gen_text.encode("utf-8")) < 10 else speed
    ref_text_len = len(framed_ref_text.encode("utf-8"))
    gen_text_len = len(gen_text.encode("utf-8"))
    return ref_len + int(ref_len / ref_text_len * gen_text_len / local_speed), ref_len


def timesteps(spec: PathSpec, dtype: torch.dtype, device: str) -> torch.Tensor:
    """CFM.sample's time grid for this spec's sampler: EPSS unless the spec says use_epss False (what an
    observed path that turned it off passed), uniform before f5-tts 1.1.5; then sway sampling."""
    from f5_parity.f5.versions import time_grid

    s = spec.value("sampler")
    return time_grid(int(s["nfe"]), use_epss=s.get("use_epss", True), sway=s.get("sway"), dtype=dtype, device=device)


# --- the stages ------------------------------------------------------------------------------------------


@dataclass
class StageContext:
    """What later stages of one path need from earlier ones."""

    model: Any = None
    ref: RefAudio | None = None
    tokens: torch.Tensor | None = None
    cond: torch.Tensor | None = None  # (1, n, d) in the model's dtype
    duration: int = 0
    ref_len: int = 0
    noise: torch.Tensor | None = None
    framed_ref_text: str = ""
    gen_text: str = ""


def canonical(value: Any) -> str:
    """repr with dict keys sorted: two specs with the same settings built in another order (an arch read from
    a YAML vs from the observed constructor call) are the same key."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {canonical(v)}" for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))) + "}"
    if isinstance(value, (list, tuple)):
        return type(value).__name__ + "(" + ", ".join(canonical(v) for v in value) + ")"
    return repr(value)


def _digest(*parts: Any) -> str:
    """Content key for memoizing stage work: tensors by their bytes, everything else by canonical repr."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if torch.is_tensor(part):
            t = part.detach().cpu().contiguous()
            h.update(f"{t.dtype}{list(t.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        else:
            h.update(canonical(part).encode())
    return h.hexdigest()


_INIT_FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
                   "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
                   "sparse_")


@contextlib.contextmanager
def _without_random_init():
    """torch.nn.init's fills as no-ops while a model whose every parameter is loaded next is constructed."""
    saved = {name: getattr(torch.nn.init, name) for name in _INIT_FUNCTIONS if hasattr(torch.nn.init, name)}
    try:
        for name in saved:
            setattr(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)


class StageRunner:
    """Runs stages; identical inputs are computed once (delta debugging re-runs many shared prefixes)."""

    def __init__(self, pool: ModelPool):
        self.pool = pool
        self.device = pool.device
        self._memo: dict[str, Any] = {}

    def _memoized(self, key: str, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def iter_stages(self, spec: PathSpec, case: Case, stages: tuple[str, ...] = FAST_STAGES, *,
                    gen_text: str | None = None) -> Iterator[tuple[str, torch.Tensor, StageContext]]:
        """Yield (stage, output) in order; stop consuming to stop computing (cheapest evidence first).

        The infer framing generates `gen_text` (default: the reference text again, the trainer's copy task,
        so both paths are compared on the same task)."""
        from f5_tts.model.modules import MelSpec
        from f5_tts.model.utils import list_str_to_idx

        ctx = StageContext()
        ctx.ref = self._memoized(_digest("ref", case, spec.value("ref-audio"), spec.value("mel")),
                                 lambda: load_reference(spec, case))
        mel = spec.value("mel")

        # tokens: frontend + vocab, exactly list_str_to_idx as CFM.sample calls it
        from f5_parity.f5.vocab import read_vocab_chars

        vocab_chars = read_vocab_chars(spec.locate("vocab", "path"))
        text_list, ctx.framed_ref_text, ctx.gen_text = framed_text(spec, ctx.ref, case, gen_text)
        ctx.tokens = list_str_to_idx([text_list], {c: i for i, c in enumerate(vocab_chars)})
        yield "tokens", ctx.tokens, ctx

        # cond mel: MelSpec of the path's mel settings on the path's reference audio
        mel_module = MelSpec(**mel)
        if spec.value("ref-audio").get("preprocess") == "dataset":
            cond = mel_module(ctx.ref.wav)  # the data loader's mel: computed outside any autocast
        else:  # the path hands audio to CFM.sample, which computes the mel inside the caller's autocast
            with autocast_context(spec, self.device):
                cond = mel_module(ctx.ref.wav)
        cond = cond.float().permute(0, 2, 1)  # (1, n, d)
        yield "cond_mel", cond, ctx

        n_frames = cond.shape[1]
        ctx.duration, ctx.ref_len = total_duration(spec, n_frames, ctx.ref, ctx.framed_ref_text, ctx.gen_text)
        # CFM.sample: at least text/prompt length + 1
        ctx.duration = max(ctx.duration, max(int(ctx.tokens.shape[-1]), n_frames) + 1)
        yield "duration", torch.tensor([ctx.duration, ctx.ref_len]), ctx

        ctx.model = self.pool.model(spec)
        dtype = next(ctx.model.parameters()).dtype
        ctx.cond = cond.to(self.device).to(dtype)
        seed = spec.value("sampler").get("seed")
        if seed is not None:
            torch.manual_seed(int(seed))
        ctx.noise = torch.randn(ctx.duration, ctx.model.num_channels, device=self.device, dtype=dtype).unsqueeze(0)
        yield "noise", ctx.noise.float(), ctx

        yield "timesteps", timesteps(spec, dtype, self.device).float(), ctx
        if not {"velocity", "final_mel", "wav"} & set(stages):
            return  # the cheap stages only: no forward pass

        velocity_key = _digest("velocity", self.pool.model_key(spec), ctx.tokens, ctx.cond, ctx.noise,
                               spec.value("sampler")["cfg"], spec.value("dtype"))
        yield "velocity", self._memoized(velocity_key, lambda: self._velocity(spec, ctx).float()), ctx

        if "final_mel" in stages:
            final = self._memoized(self._final_key(spec, ctx), lambda: self._final_mel(spec, ctx))
            yield "final_mel", final, ctx
            mel_for_wav = final
        else:
            mel_for_wav = cond.float()  # copy synthesis of the reference, like update_N_ref.wav
        if "wav" not in stages:
            return  # the mirror check asks up to the velocity: no vocoder is built for it

        def vocode():
            with torch.inference_mode():
                wav = decode(self.pool.vocoder(spec), mel["mel_spec_type"], mel_for_wav.permute(0, 2, 1).to(self.device))
            return wav.float().cpu()

        yield "wav", self._memoized(_digest("wav", spec.value("vocoder"), mel["mel_spec_type"], mel_for_wav), vocode), ctx

    def _final_key(self, spec: PathSpec, ctx: StageContext) -> str:
        return _digest("final", self.pool.model_key(spec), ctx.tokens, ctx.cond, ctx.duration, ctx.ref_len,
                       spec.value("sampler"), spec.value("dtype"))

    def plant_final_mel(self, spec: PathSpec, case: Case, final: torch.Tensor) -> None:
        """Take `final` as spec's final mel on `case` instead of generating it again: full mode hands in the
        trainer sample it generates anyway, which tests/test_full_mode.py proves equal (exactly) to what
        _final_mel computes for the trainer spec at the same seed."""
        for name, _, ctx in self.iter_stages(spec, case, ("tokens", "cond_mel", "duration", "noise")):
            if name == "noise":  # everything the key needs is in ctx now (the model loaded once, in the pool)
                break
        self._memo[self._final_key(spec, ctx)] = final.float().cpu()

    def _padded_cond(self, ctx: StageContext) -> tuple[torch.Tensor, torch.Tensor]:
        n = ctx.cond.shape[1]
        cond = F.pad(ctx.cond, (0, 0, 0, ctx.duration - n), value=0.0)
        cond_mask = F.pad(torch.ones(1, n, dtype=torch.bool, device=self.device), (0, ctx.duration - n), value=False)
        step_cond = torch.where(cond_mask.unsqueeze(-1), cond, torch.zeros_like(cond))
        return step_cond, cond_mask

    def _velocity(self, spec: PathSpec, ctx: StageContext) -> torch.Tensor:
        """The guided velocity CFM.sample's fn(t, x) returns, at t=VELOCITY_T, x_t = (1-t) noise + t cond."""
        from f5_parity.f5.versions import guided_velocity

        s = spec.value("sampler")
        step_cond, _ = self._padded_cond(ctx)
        t = torch.tensor(VELOCITY_T, device=self.device, dtype=step_cond.dtype)
        x = (1 - t) * ctx.noise + t * step_cond
        model = ctx.model
        with torch.inference_mode(), autocast_context(spec, self.device):
            v = guided_velocity(model.transformer, x=x, cond=step_cond, text=ctx.tokens.to(self.device), time=t,
                                cfg_strength=s["cfg"])
        return v.float().cpu()

    def _final_mel(self, spec: PathSpec, ctx: StageContext) -> torch.Tensor:
        """The real CFM.sample with this path's inputs; the generated part as both paths cut it."""
        s = spec.value("sampler")
        with torch.inference_mode(), autocast_context(spec, self.device):
            out, _ = ctx.model.sample(
                cond=ctx.cond,
                text=ctx.tokens.to(self.device),
                duration=ctx.duration,
                steps=int(s["nfe"]),
                cfg_strength=s["cfg"],
                sway_sampling_coef=s["sway"],
                seed=s.get("seed"),
                # only an observed path that turned EPSS off says so (1.1.5+; older CFM.sample has no argument)
                **({"use_epss": False} if s.get("use_epss") is False else {}),
            )
        return out.float()[:, ctx.ref_len:, :].cpu()


@contextlib.contextmanager
def hub_offline():
    """The tool's own loads never wait on a model hub (none is reachable here or in CI: a failure at once,
    not ~25 s of retries). Scoped: a user's infer path run by the tool keeps its own environment's setting."""
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub comes with f5-tts
        constants = None
    saved_env = os.environ.get("HF_HUB_OFFLINE")
    saved = getattr(constants, "HF_HUB_OFFLINE", None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    if constants is not None:
        constants.HF_HUB_OFFLINE = True  # huggingface_hub reads the module constant, set once at its import
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env
        if constants is not None:
            constants.HF_HUB_OFFLINE = saved
