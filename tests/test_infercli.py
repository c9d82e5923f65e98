"""infer_cli command lines and TOMLs read the way f5-tts 1.1.22's infer_cli reads them."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from f5_parity.errors import InputError
from f5_parity.f5.infercli import (
    UTILS_INFER_DEFAULTS,
    _build_parser,
    default_config_path,
    load_infer_cli_toml,
    parse_infer_cli,
)

F5_ROOT = Path(list(importlib.util.find_spec("f5_tts").submodule_search_locations)[0])


def _infer_cli_options() -> set[str]:
    """Every option string infer_cli.py's parser declares, read from its source (not imported: it parses argv)."""
    tree = ast.parse((F5_ROOT / "infer" / "infer_cli.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            found |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return found


def test_flags_mirror_the_installed_infer_cli():
    ours = {s for a in _build_parser()._actions for s in a.option_strings} - {"-h", "--help"}
    assert ours == _infer_cli_options()


def test_defaults_pinned_to_the_installed_utils_infer():
    source = (F5_ROOT / "infer" / "utils_infer.py").read_text()
    for name, value in UTILS_INFER_DEFAULTS.items():
        m = re.search(rf"^{name} = (.+?)(\s+#.*)?$", source, re.M)
        assert m, name
        assert ast.literal_eval(m.group(1)) == value, name


@pytest.mark.parametrize("prefix", ["f5-tts_infer-cli", "python -m f5_tts.infer.infer_cli",
                                    "CUDA_VISIBLE_DEVICES=0 python3 src/f5_tts/infer/infer_cli.py", ""])
def test_command_line_with_or_without_program(prefix, tmp_path):
    s = parse_infer_cli(f"{prefix} -m F5TTS_Base -p ckpts/model_25400.pt -v data/vocab.txt --nfe_step 16 "
                        f"--cfg_strength 2.5 --sway_sampling_coef -0.5 --speed 0.9 --fix_duration 7.5", cwd=tmp_path)
    assert s.model == "F5TTS_Base"
    assert s.checkpoint == str(tmp_path / "ckpts" / "model_25400.pt") and s.checkpoint_given
    assert s.vocab_file == str(tmp_path / "data" / "vocab.txt")
    assert (s.nfe_step, s.cfg_strength, s.sway_sampling_coef, s.speed, s.fix_duration) == (16, 2.5, -0.5, 0.9, 7.5)
    assert s.sources["nfe_step"] == "command line"
    assert s.findings == []  # nothing fell back, -p and -v given
    kw = s.infer_spec_kwargs()
    assert kw == {"infer_config": "F5TTS_Base", "infer_vocab": str(tmp_path / "data" / "vocab.txt"), "use_ema": True,
                  "nfe": 16, "cfg": 2.5, "sway": -0.5, "speed": 0.9, "fix_duration": 7.5, "vocoder_name": "vocos"}


def test_zero_on_the_command_line_falls_back_to_the_default():
    s = parse_infer_cli("f5-tts_infer-cli -p m.pt -v v.txt --cfg_strength 0 --sway_sampling_coef 0 --speed 0 --nfe_step 0")
    assert (s.cfg_strength, s.sway_sampling_coef, s.speed, s.nfe_step) == (2.0, -1.0, 1.0, 32)
    assert len(s.findings) == 4
    cfg = next(f for f in s.findings if f.startswith("--cfg_strength"))
    assert "0.0 is ignored" in cfg and "2.0" in cfg and "utils_infer's default" in cfg
    assert s.sources["cfg_strength"] == "default"


def test_zero_falls_back_to_the_toml_value_but_a_toml_zero_is_kept(tmp_path):
    toml = tmp_path / "my.toml"
    toml.write_text('cfg_strength = 1.5\nsway_sampling_coef = 0\nref_audio = "ref.wav"\nref_text = "olá"\n')
    s = parse_infer_cli(f"f5-tts_infer-cli -c {toml.name} -p m.pt -v v.txt --cfg_strength 0", cwd=tmp_path)
    assert s.cfg_strength == 1.5 and s.sources["cfg_strength"] == "toml"
    assert any("falls back to 1.5 (the TOML's cfg_strength)" in f for f in s.findings)
    assert s.sway_sampling_coef == 0.0  # config.get returns the TOML's 0: no fallback there
    assert s.config_path == str(toml)


def test_toml_file_alone(tmp_path):
    (tmp_path / "cfg").mkdir()
    toml = tmp_path / "cfg" / "run.toml"
    toml.write_text(
        'model = "F5TTS_v1_Base"\nckpt_file = "ckpts/model_last.pt"\nvocab_file = "data/pt_char/vocab.txt"\n'
        'ref_audio = "refs/a.wav"\nref_text = "Eu não sei."\ngen_text = "Amanhã nós vamos."\n'
        'nfe_step = 16\nspeed = 1.1\nload_vocoder_from_local = true\nvocoder_name = "vocos"\n'
    )
    s = load_infer_cli_toml(toml, cwd=tmp_path)
    # Paths in the TOML are relative to the working directory (infer_cli opens them as given), not the TOML.
    assert s.checkpoint == str(tmp_path / "ckpts" / "model_last.pt")
    assert s.vocab_file == str(tmp_path / "data" / "pt_char" / "vocab.txt")
    assert s.ref_audio == str(tmp_path / "refs" / "a.wav")
    assert (s.ref_text, s.gen_text, s.nfe_step, s.speed) == ("Eu não sei.", "Amanhã nós vamos.", 16, 1.1)
    assert s.sources["nfe_step"] == "toml" and s.sources["cfg_strength"] == "default"
    assert s.vocoder_local_path == str((tmp_path / ".." / "checkpoints" / "vocos-mel-24khz").resolve())
    assert s.infer_spec_kwargs()["vocoder_local_path"] == s.vocoder_local_path
    # The command line beats the TOML.
    s2 = parse_infer_cli(f"f5-tts_infer-cli -c {toml} --nfe_step 8", cwd=tmp_path)
    assert s2.nfe_step == 8 and s2.speed == 1.1


def test_default_toml_is_always_loaded():
    s = parse_infer_cli("f5-tts_infer-cli")
    assert s.config_path == str(default_config_path())
    assert s.model == "F5TTS_v1_Base" and s.sources["model"] == "toml"
    assert s.ref_audio.endswith("infer/examples/basic/basic_ref_en.wav") and Path(s.ref_audio).is_file()
    assert s.checkpoint == "hf://SWivid/F5-TTS/F5TTS_v1_Base/model_1250000.safetensors" and not s.checkpoint_given
    assert any("would download the official" in f for f in s.findings)
    assert s.vocab_file is None and s.device is None


def test_abbreviations_continuations_model_cfg_gen_file_and_empty_ref_text(tmp_path):
    (tmp_path / "train.yaml").write_text((F5_ROOT / "configs" / "F5TTS_Base.yaml").read_text())
    (tmp_path / "text.txt").write_text("Um texto do arquivo.", encoding="utf-8")
    s = parse_infer_cli("f5-tts_infer-cli \\\n  -mc train.yaml -p m.pt -v v.txt \\\n  --nfe 8 -s '' -f text.txt",
                        cwd=tmp_path)
    assert s.nfe_step == 8  # argparse prefix matching, as in infer_cli
    assert s.model_cfg == str(tmp_path / "train.yaml") and s.model_cfg_given
    assert s.infer_spec_kwargs()["infer_config"] == str(tmp_path / "train.yaml")
    assert s.ref_text == ""  # ref_text is read with `is not None`: an empty one is kept (and transcribed)
    assert any("ref_text is empty" in f for f in s.findings)
    assert s.gen_text == "Um texto do arquivo."


def test_kwargs_build_a_real_infer_spec(tmp_path):
    from f5_parity.paths.spec import infer_spec

    s = parse_infer_cli("f5-tts_infer-cli -m F5TTS_Base -p model.pt --nfe_step 16 --cfg_strength 0", cwd=tmp_path)
    spec = infer_spec(s.checkpoint, **s.infer_spec_kwargs())
    assert spec.values["sampler"]["nfe"] == 16 and spec.values["sampler"]["cfg"] == 2.0
    assert spec.values["arch"]["pe_attn_head"] == 1  # F5TTS_Base's v0 flag came through the model name
    assert spec.values["weights"]["set"] == "ema"
    assert spec.locate("weights", "checkpoint") == str(tmp_path / "model.pt")


@pytest.mark.parametrize("line, words", [
    ("f5-tts_infer-cli -p m.pt --use_ema", ["'--use_ema'"]),
    ("f5-tts_infer-cli --seed 42", ["'--seed'"]),
    ("f5-tts_infer-cli --nfe_step sixteen", ["--nfe_step", "invalid int"]),
    ("f5-tts_infer-cli --ref x.wav", ["ambiguous"]),
    ("f5-tts_infer-cli --vocoder_name hifigan", ["invalid choice"]),
    ("f5-tts_infer-cli -p m.pt extra", ["'extra'"]),
    ("f5-tts -p m.pt", ["not an infer_cli command line"]),
    ("f5-tts_infer-cli -c missing.toml", ["not found", "missing.toml"]),
    ("f5-tts_infer-cli -m MyModel", ["MyModel.yaml", "does not exist"]),
    ("f5-tts_infer-cli -m F5TTS_v1_Base --vocoder_name bigvgan", ["AssertionError", "mel_spec_type vocos"]),
    ("f5-tts_infer-cli -t 'unclosed", ["quotes"]),
    ("", ["empty"]),
])
def test_bad_command_lines_give_one_clear_line(line, words, tmp_path):
    with pytest.raises(InputError) as exc:
        parse_infer_cli(line, cwd=tmp_path)
    message = str(exc.value)
    assert "\n" not in message
    for w in words:
        assert w in message


def test_bad_toml_values(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('nfe_step = "sixteen"\n')
    with pytest.raises(InputError, match="nfe_step .* not a number"):
        load_infer_cli_toml(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("nfe_step = = 3\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_infer_cli_toml(broken)
