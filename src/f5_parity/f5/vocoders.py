"""Where f5-tts's load_vocoder finds a vocoder's weights (utils_infer.load_vocoder, f5-tts 1.1.22 L106-145).

The Trainer calls it with the training config's `model.vocoder.is_local` / `local_path` and `mel_spec_type`
(train.py L67-68, trainer.py L269); infer_cli with `--load_vocoder_from_local` and its own local folder. Not
local: the hub's repository by name, downloaded into the hub cache.
"""

from __future__ import annotations

from pathlib import Path

HUB_REPOS = {"vocos": "charactr/vocos-mel-24khz", "bigvgan": "nvidia/bigvgan_v2_24khz_100band_256x"}
# the file that holds the weights: vocos reads {local_path}/pytorch_model.bin; BigVGAN.from_pretrained a folder's
# bigvgan_generator.pt
WEIGHT_FILES = {"vocos": "pytorch_model.bin", "bigvgan": "bigvgan_generator.pt"}


def hub_repo(name: str) -> str | None:
    return HUB_REPOS.get(name)


def weights_file(name: str, folder: str | Path | None) -> Path | None:
    """The weights file load_vocoder reads from `folder`, when it is there."""
    if not folder or name not in WEIGHT_FILES:
        return None
    path = Path(folder) / WEIGHT_FILES[name]
    return path if path.is_file() else None


def hub_cached_folder(name: str) -> Path | None:
    """The hub cache's folder of `name`'s repository when its weights file is already there (a user who ran f5
    online once has it); looked up without any network access."""
    repo = HUB_REPOS.get(name)
    if repo is None:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub comes with f5-tts
        return None
    found = try_to_load_from_cache(repo, WEIGHT_FILES[name])
    return Path(found).parent if isinstance(found, str) and Path(found).is_file() else None
