"""A validated RunRequest into specs, cases, the infer runner and gate settings: what `run` (and each of
`sweep`'s checkpoints) is assembled from. The request's parsed values (its infer_cli line, its cases file)
are used as they are, not read again from their paths."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from f5_parity.errors import InputError
from f5_parity.f5.versions import default_infer_config
from f5_parity.paths.spec import INFER_DEFAULTS

if TYPE_CHECKING:  # the assembled parts' types (their modules load torch and f5-tts)
    from f5_parity.cases.case import Case
    from f5_parity.engine.requests import RunRequest
    from f5_parity.observe.path import InferObservation, InferRunner
    from f5_parity.parity.gate import Thresholds
    from f5_parity.parity.session import ParitySession
    from f5_parity.paths.infer import Generation
    from f5_parity.paths.spec import PathSpec


@dataclass
class BuiltRun:
    """A run assembled from its validated request: what `run`, `demo` and each sweep take from here."""

    session: ParitySession  # the trainer spec, the infer spec as the path really ran (observed), the cases
    fingerprint: list[dict[str, Any]] | None  # what the checkpoint's own loss settled (no --train-config)
    observation: InferObservation  # what the user's path did, and the mirror proof of its rebuild
    generation: Generation | None  # the infer path's own generation of the first case (full mode), reused
    runner: InferRunner  # how the user's path is run (infer_cli's wiring, the F5TTS class, a wrapper, a script)
    predicted: PathSpec  # the infer spec the flags and the infer_cli line predict (the observation may differ)


def build_session(args: RunRequest, thresholds: Thresholds | None = None, workdir: Path | None = None, *,
                  cases: list[Case] | None = None) -> BuiltRun:
    """The session with the infer side as the user's path really ran (observed), what the fingerprint
    settled, the observation, and the path's generation when full mode let it finish. `args` was validated
    (engine/requests.py: files, vocabs, configs, the vocoder folder), so nothing here checks it again; the
    user's path failing is a finding, not bad input. `cases`: the demo's built-in sentences, instead of the
    request's."""
    from f5_parity.checkpoint.loads import architecture
    from f5_parity.observe.path import observe_infer_path
    from f5_parity.parity.session import ParitySession
    from f5_parity.paths.spec import infer_spec, trainer_spec
    from f5_parity.paths.stages import ModelPool

    ckpt_path = Path(args.checkpoint)
    pool = ModelPool(args.device)  # one pool: its models, vocoders and opened file serve the whole run
    ckpt = pool.checkpoint(ckpt_path)  # refuses unsafe or broken files with one clear line; opened once
    notes: list[str] = []
    vocoder_path = None if args.vocoder == "griffin-lim" else args.vocoder_path
    train_vocab = trainer_vocab(args, ckpt, notes)  # an --infer-vocab that does not fit is the path failing
    runner = infer_runner(args)
    detected = None
    if not args.train_config:
        arch = architecture(ckpt)
        detected = {"backbone": arch.backbone, **arch.settings}
        notes.append("--train-config not given: the trainer arch comes from the weights' shapes; "
                     "pe_attn_head and text_mask_padding are unknown until the fingerprint settles them")
    train = trainer_spec(ckpt_path, train_config=args.train_config, train_vocab=train_vocab,
                         vocoder_path=vocoder_path, seed=args.seed, mixed_precision=args.mixed_precision,
                         detected_arch=detected, decode_vocoder=args.vocoder != "griffin-lim")
    infer = infer_spec(ckpt_path, seed=args.seed, device=args.device,
                       **infer_kwargs(args, ckpt_path, vocoder_path, notes, runner=runner.kind, train_vocab=train_vocab))
    if cases is None:
        cases = _cases(args, notes)
    if cases and all(c.prepared_text is not None for c in cases):
        # The Trainer feeds the model raw.arrow's stored conversion, made by the f5-tts that prepared the data.
        train = train.with_value("text", frontend="prepared")
        notes.append("--dataset is a prepared folder: the trainer side tokenizes the text raw.arrow stores; the "
                     "infer side converts the metadata.csv transcript with the installed f5-tts")
    fingerprint_result = None
    if train.unknown:
        train, fingerprint_result, note = settle_unknown_flags(train, cases, args.seed)
        notes.append(note)
    observation, observed, generation, case = observe_infer_path(
        runner, infer, train, cases[0], mode=args.mode, seed=args.seed, device=args.device,
        workdir=Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="f5-parity-observed-")), pool=pool,
        tolerances=thresholds.tolerances if thresholds else None, port_map=args.port_map_settings,
        texts_given=bool(args.ref_text or args.cases or args.dataset or args.samples))  # a port's ids: vs these
    if runner.kind == "script" and observed is not None:
        cases = [case]  # the script's own reference and text
        notes = [n for n in notes if not n.startswith("no cases given")]  # the script's case stands there
    if observation.port is not None:  # a port's own inputs are what its stages were compared on
        notes = [n for n in notes if not n.startswith("no cases given")]
    # a runtime port loads nothing through f5: the checkpoint's own settings stand for its side, so the probes
    # that read the infer side's vocab and config read the Trainer's (the port's graphs are judged apart)
    session = ParitySession(train, observed or (train if observation.port is not None else infer), cases, mode=args.mode, device=args.device,
                            tolerances=thresholds.tolerances if thresholds else None,
                            infer_failure=observation.failure, pool=pool,
                            unreconciled=observation.unreconciled(), path_kind=runner.kind, port=observation.port)
    session.notes.extend(notes + observation.notes)
    session.path_warnings.extend(observation.path_warnings(case.name, seed=args.seed, mode=args.mode,
                                                           seeds=args.seeds))
    return BuiltRun(session, fingerprint_result, observation, generation, runner, infer)


def infer_kwargs(args, ckpt_path: Path, vocoder_path: str | None, notes: list[str], *, runner: str | None = None,
                 train_vocab: str | None = None) -> dict:
    """The infer spec the flags and the infer_cli command line predict (the observation may disagree). Run and
    every checkpoint of a sweep take it from here."""
    infer_kwargs = dict(infer_config=args.infer_config or default_infer_config(), infer_vocab=args.infer_vocab,
                        use_ema=args.infer_ema is not False, vocoder_path=vocoder_path,
                        decode_vocoder=args.vocoder != "griffin-lim",
                        **{k: INFER_DEFAULTS[k] for k in ("nfe", "cfg", "sway", "speed")},
                        fix_duration=args.fix_duration)
    if args.infer_cli or args.infer_cli_config:
        cli = args.infer_cli_settings  # parsed once, by the request
        infer_kwargs.update(cli.infer_spec_kwargs())
        notes += [f"infer_cli: {f}" for f in cli.findings]
        if cli.checkpoint_given and Path(cli.checkpoint).resolve() != ckpt_path.resolve():
            notes.append(f"infer_cli's -p names {cli.checkpoint}; both paths here load {ckpt_path}")
    for flag, key in (("nfe_step", "nfe"), ("cfg_strength", "cfg"), ("sway_sampling_coef", "sway"), ("speed", "speed")):
        if getattr(args, flag) is not None:
            infer_kwargs[key] = getattr(args, flag)
    if args.infer_config:
        infer_kwargs["infer_config"] = args.infer_config
    if args.infer_vocab:
        infer_kwargs["infer_vocab"] = args.infer_vocab
    elif runner == "custom" and train_vocab:
        # the wrapper is handed `vocab=`: the training vocab unless --infer-vocab hands it another (f5's default
        # would fail any custom-vocab fine-tune's load, a mistake the user never made)
        infer_kwargs["infer_vocab"] = train_vocab
        notes.append(f"your wrapper is called with vocab={train_vocab} (the training vocab; --infer-vocab hands it "
                     "another)")
    return infer_kwargs


def _cases(args, notes: list[str]) -> list:
    """Cases from the trainer's samples folder, a cases file, a dataset, the flags, or the built-in sentence."""
    from f5_parity.cases.case import builtin_cases, cases_from_flags
    from f5_parity.files import cache_dir

    if args.samples:
        from f5_parity.cases.samples import cases_from_samples

        if not args.sample_text:
            raise InputError("--samples needs --sample-text", "give the transcript the trainer's sample repeats")
        found = cases_from_samples(args.samples, args.sample_text, update=args.sample_update)
        cases = found.cases
        notes.append(found.note)
    elif args.cases:
        cases = list(args.case_list)  # parsed once, by the request
    elif args.dataset:
        from f5_parity.cases.case import dataset_cases

        cases = dataset_cases(args.dataset)
    elif args.ref_audio:
        cases = cases_from_flags(args.ref_audio, args.ref_text, args.gen_text)
    else:
        cases = builtin_cases(cache_dir() / "cases", 1)
        notes.append("no cases given: the built-in Portuguese sentence (espeak-ng pt-br) is used")
    from f5_parity.cases.case import reference_notes

    notes.extend(reference_notes(cases))
    return cases


def trainer_vocab(args, ckpt, notes: list[str]) -> str:
    """The vocab the Trainer read: --train-vocab; else the one the training config or the checkpoint's folder
    names (f5/vocab.py trainer_vocab_candidates), the first that fits the checkpoint's text embedding; else the
    infer vocab; else f5's default. A vocab the user never gave is never named as their flag."""
    from f5_parity.checkpoint.loads import architecture
    from f5_parity.f5.vocab import official_vocab_path, read_vocab_chars, trainer_vocab_candidates

    if args.train_vocab:
        check_vocab_fits(ckpt, args.train_vocab, "--train-vocab")
        return str(args.train_vocab)
    entries = architecture(ckpt).text_num_embeds
    found = trainer_vocab_candidates(args.train_config, args.checkpoint)
    for path, why in found:
        if entries is None or len(read_vocab_chars(path)) == entries:
            notes.append(f"--train-vocab not given: the trainer side reads {path} ({why})")
            return str(path)
    if args.infer_vocab:
        notes.append("--train-vocab not given and no training vocab found: the trainer side uses the infer vocab, so "
                     "vocab order cannot be judged")
        check_vocab_fits(ckpt, args.infer_vocab, "--infer-vocab (standing for --train-vocab, which was not given)")
        return str(args.infer_vocab)
    default = official_vocab_path()
    size = len(read_vocab_chars(default))
    if entries is not None and size != entries:
        looked = "; ".join(f"{p} ({why}: {len(read_vocab_chars(p))} entries)" for p, why in found)
        raise InputError(
            f"--train-vocab not given, and no vocab that fits the checkpoint's text embedding ({entries} entries) was "
            f"found ({'looked at: ' + looked if looked else 'the training config and the checkpoint folder name none'}"
            f"; f5's default {default.name} has {size})",
            "add --train-vocab with the vocab.txt the model was trained with (data/<dataset>_<tokenizer>/vocab.txt)")
    notes.append(f"--train-vocab not given and no training vocab found: the trainer side uses f5's default vocab "
                 f"({default}), so vocab order cannot be judged")
    return str(default)


def check_vocab_fits(ckpt, vocab_path: str, label: str) -> None:
    """A vocab of another size than the text embedding: F5's strict load fails; say so in one line."""
    from f5_parity.checkpoint.loads import architecture
    from f5_parity.f5.vocab import read_vocab_chars

    entries = architecture(ckpt).text_num_embeds
    size = len(read_vocab_chars(vocab_path))
    if entries is not None and size != entries:
        raise InputError(f"{label} {vocab_path} has {size} entries but the checkpoint's text embedding was built for "
                         f"{entries} (+1 filler row): load_model would fail with a size mismatch",
                         "pass the vocab.txt the model was trained with (`parity-check inspect` shows the sizes)")


def settle_unknown_flags(train, cases, seed: int):
    """Without --train-config: the checkpoint's own flow-matching loss picks pe_attn_head/text_mask_padding.

    Only a decisive winner (margin over the paired spread) is used; otherwise they stay unknown.
    """
    from f5_parity.parity.fingerprint import fingerprint, winning_spec
    from f5_parity.paths.spec import PathSpec

    start = train.with_value("arch", pe_attn_head=None, text_mask_padding=True)
    start = PathSpec(train.label, start.values, start.locators, frozenset())
    (verdict,) = fingerprint(start, cases, vocab_files={"training vocab": train.locate("vocab", "path")},
                             include_ema=False, draws=4, seed=seed, families=("arch",))
    if not verdict.decisive:
        return train, [verdict.to_dict()], ("fingerprint could not settle pe_attn_head/text_mask_padding "
                                            f"(margin {verdict.margin} within the spread {verdict.margin_spread}): "
                                            "they stay unknown; give --train-config")
    vocab = {"training vocab": train.locate("vocab", "path")}
    settled = winning_spec(start, [verdict], vocab_files=vocab, include_ema=False)
    return settled, [verdict.to_dict()], (f"--train-config not given: fingerprint settled the flags as {verdict.winner} "
                                          f"(loss margin {verdict.margin:.4f} > paired spread {verdict.margin_spread:.4f})")


def infer_runner(args):
    from f5_parity.f5.configs import official_config_names
    from f5_parity.observe.path import InferRunner
    from f5_parity.paths.infer import check_custom_target, check_script

    if args.infer_script:
        check_script(args.infer_script)
        return InferRunner("script", args.infer_script, script_args=list(args.script_args),
                           predicted=flag_predictions(args))
    if args.infer_path == "infer-cli":
        return InferRunner()
    if args.infer_path == "api":
        from f5_parity.f5.versions import infer_cli_facts

        if infer_cli_facts().families:
            raise InputError("--infer-path api is not supported with f5-tts 0.x: its F5TTS(model_type=...) builds "
                             "Base-size F5-TTS/E2-TTS with dims fixed in api.py, a call this tool does not mirror",
                             "use --infer-path infer-cli (load_model + infer_process, what F5TTS calls inside)")
        name = args.infer_config or default_infer_config()
        if name not in official_config_names():
            raise InputError(f"--infer-path api needs an official --infer-config name, not {name!r}",
                             f"the F5TTS class only loads {', '.join(official_config_names())}")
        return InferRunner("api", name)
    check_custom_target(args.infer_path)  # a missing file or function is bad input; nothing of it runs yet
    return InferRunner("custom", args.infer_path, predicted=flag_predictions(args))


def flag_predictions(args) -> tuple[str, ...]:
    """The factors the user's own flags predict for a wrapper or a script (whose settings are its own): the tool's
    defaults predict nothing there, so a factor no flag sets is observed, never "predicted"."""
    given = {
        "weights": args.infer_ema is not None,
        "arch": bool(args.infer_config),
        "mel": bool(args.infer_config),
        "vocab": bool(args.infer_vocab),
        "sampler": any(getattr(args, k) is not None for k in ("nfe_step", "cfg_strength", "sway_sampling_coef")),
        "duration": args.speed is not None or args.fix_duration is not None,
    }
    return tuple(f for f, said in given.items() if said)


def gate_flags(args) -> dict:
    from f5_parity.parity.gate import parse_path_values

    flags = {}
    for name in ("max_wer", "max_cer", "min_similarity", "max_gap", "max_mcd", "min_speaker_similarity"):
        value = getattr(args, name, None)
        if value is not None:
            flags[name] = parse_path_values(value)
    return flags
