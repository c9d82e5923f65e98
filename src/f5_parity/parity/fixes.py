"""A culprit's fix, written for the path the user ran and with their real files: the infer_cli flag and its
value, the wrapper's keyword, the parity-check flag, or a command to run. The factor's generic fix
(paths/factors.py) is the fallback where nothing more specific is known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from f5_parity.paths.factors import BY_ID
from f5_parity.paths.spec import PathSpec

PREPARED_TEXT_FIX = ("the dataset's raw.arrow stores text converted by another f5-tts than the installed one "
                     "(convert_char_to_pinyin changed): infer with the f5-tts release that prepared the dataset "
                     "(pip install f5-tts==<that version>), or re-run prepare_csv_wavs with the installed f5-tts "
                     "and fine-tune on it")


def fix_for(factor: str, train: PathSpec, infer: PathSpec, runner: str | None = None) -> str:
    """The fix of `factor` for a path of kind `runner` ("infer-cli", "api", "custom", "script"; None: unknown)."""
    tv, iv = train.value(factor), infer.value(factor)
    if factor == "text":
        return _text_fix(tv, iv)
    if factor == "weights":
        return _weights_fix(train, iv, runner)
    if factor == "vocab":
        return _vocab_fix(train, infer, runner)
    if factor == "arch":
        return _arch_fix(train, infer, runner)
    if factor in _SETTINGS:
        return _settings_fix(factor, tv, iv, runner)
    return BY_ID[factor].fix


# The infer-side settings as each kind of path takes them: infer_cli's flags, infer_process's (and F5TTS.infer's)
# keywords. (factor, key) -> (infer_cli flag, keyword); the trainer side's value is the one to give.
_SETTINGS = {
    "sampler": {"nfe": ("--nfe_step", "nfe_step"), "cfg": ("--cfg_strength", "cfg_strength"),
                "sway": ("--sway_sampling_coef", "sway_sampling_coef")},
    "duration": {"speed": ("--speed", "speed"), "fix_duration": ("--fix_duration", "fix_duration")},
    "mel": {"mel_spec_type": ("--vocoder_name", "mel_spec_type")},
}


def _settings_fix(factor: str, tv: dict[str, Any], iv: dict[str, Any], runner: str | None) -> str:
    keys = [k for k in _SETTINGS[factor] if tv.get(k) != iv.get(k)]
    if not keys:  # a difference outside the settings a user passes (the ODE method, EPSS): the generic fix
        return BY_ID[factor].fix
    said = ", ".join(f"{k} {'unset' if iv.get(k) is None else iv.get(k)} instead of "
                     f"{'unset' if tv.get(k) is None else tv.get(k)}" for k in keys)
    flags = " ".join(f"{_SETTINGS[factor][k][0]} {tv.get(k)}" for k in keys if tv.get(k) is not None)
    unset = [_SETTINGS[factor][k][0] for k in keys if tv.get(k) is None]
    keywords = ", ".join(f"{_SETTINGS[factor][k][1]}={tv.get(k)!r}" for k in keys)
    call = "load_model" if factor == "mel" else "infer_process"
    how = {
        "infer-cli": (f"f5-tts_infer-cli {flags}".rstrip() + (f" without {' and '.join(unset)}" if unset else "")),
        "api": f"F5TTS{'' if factor != 'mel' else '(...)'}{'.infer' if factor != 'mel' else ''}(..., {keywords})",
    }.get(runner or "", f"{call}(..., {keywords}) in your {'script' if runner == 'script' else 'wrapper'}")
    return f"your path used {said}; the Trainer's sample uses the values given here: {how}"


def _arch_fix(train: PathSpec, infer: PathSpec, runner: str | None) -> str:
    from f5_parity.f5.configs import official_config_names

    tv, iv = train.value("arch"), infer.value("arch")
    keys = [k for k in sorted(set(tv) | set(iv)) if tv.get(k) != iv.get(k)]
    def said(v: dict[str, Any]) -> str:  # as f5's YAML configs write them (pe_attn_head: null)
        return ", ".join(f"{k}: {'null' if v.get(k) is None else v.get(k)}" for k in keys)

    differs = f"your path built {said(iv)}; the checkpoint was trained with {said(tv)}: "
    config = train.locate("arch", "config")
    if not config or config in ("detected from weights", "given"):
        return differs + BY_ID["arch"].fix
    named = config in official_config_names()
    how = {
        "infer-cli": f"-m {config}" if named else f"-mc {config}",
        "api": f"F5TTS(model={config!r})" if named else (
            f"load_model(DiT, <model.arch of {config}>, ...): F5TTS(model=...) takes only f5-tts's shipped names"),
    }.get(runner or "", f"load_model(<backbone>, <model.arch of {config}>, ...)" + (
        f" (infer_cli: -m {config})" if named else f" (infer_cli: -mc {config})"))
    return f"{differs}infer with the training config: {how}"


def _text_fix(tv: dict[str, Any], iv: dict[str, Any]) -> str:
    # a prepared dataset's stored text names the preparation (F5-TTS #684, #648, #767), not the user's text
    if tv.get("frontend") == "prepared" and iv.get("frontend") != "prepared":
        return PREPARED_TEXT_FIX
    if iv.get("rewritten"):
        which = " and ".join({"ref_text": "the reference transcript", "gen_text": "the text to generate"}[k]
                             for k in iv["rewritten"])
        return (f"your path rewrites {which} before f5's infer_process (the report shows both texts): remove that "
                "edit, so the model reads text in the form of its training transcripts; if those were normalised the "
                "same way, give parity-check the cases in that form (--ref-text/--gen-text or --cases) so the "
                "trainer side reads them too")
    return BY_ID["text"].fix


def _weights_fix(train: PathSpec, iv: dict[str, Any], runner: str | None) -> str:
    if iv.get("set") == "neither" and iv.get("fix"):
        # the path's own load, read off its load_state_dict calls (observe/spec.py load_mistake)
        return f"your path's model holds weights of neither set ({iv.get('load')}): {iv['fix']}"
    wanted = train.value("weights").get("set")
    if iv.get("set") != "ema" or wanted != "raw":
        return BY_ID["weights"].fix
    ckpt = Path(train.locate("weights", "checkpoint") or "model.pt")
    out = ckpt.with_name(f"{ckpt.stem}_raw.pt")
    export = (f"`parity-check export {ckpt} {out}` writes a copy whose EMA slot holds the raw set (your file is not "
              f"touched); then `f5-tts_infer-cli -p {out} ...`")
    how = {
        "infer-cli": f"f5-tts_infer-cli always loads the EMA slot (it has no --use_ema flag): {export}",
        "api": f"F5TTS(ckpt_file={str(ckpt)!r}, use_ema=False, ...)",
        "custom": f"load_model(..., ckpt_path={str(ckpt)!r}, use_ema=False) in your wrapper (or {export})",
        "script": f"load_model(..., use_ema=False) in your script; with f5-tts's infer_cli.py: {export}",
    }.get(runner or "", f"load_model(..., use_ema=False) / F5TTS(use_ema=False); for f5-tts_infer-cli: {export}")
    return f"the Trainer's samples come from the raw weights, your path loads the EMA set: {how}"


def _vocab_fix(train: PathSpec, infer: PathSpec, runner: str | None) -> str:
    from f5_parity.checkpoint.vocab import analyse_vocab, compare_vocabs

    train_vocab, infer_vocab = train.locate("vocab", "path"), infer.locate("vocab", "path")
    if not train_vocab:
        return BY_ID["vocab"].fix
    diagnosis = ""
    if infer_vocab and Path(infer_vocab).is_file():
        diagnosis = f"{infer_vocab} against the training vocab: {compare_vocabs(analyse_vocab(train_vocab), analyse_vocab(infer_vocab)).verdict}; "
    how = {
        "infer-cli": f"-v {train_vocab}",
        "api": f"F5TTS(vocab_file={str(train_vocab)!r}, ...)",
        "custom": (f"load_model(..., vocab_file={str(train_vocab)!r}) in your wrapper; if it takes the vocab= "
                   f"parity-check hands it, run parity-check with --infer-vocab {train_vocab}"),
        "script": f"your script's vocab: {train_vocab} (load_model(..., vocab_file=...); infer_cli.py: -v)",
    }.get(runner or "", f"-v {train_vocab} (infer_cli), vocab_file= (load_model)")
    return f"{diagnosis}infer with the training vocab: {how}"
