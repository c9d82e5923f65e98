#!/usr/bin/env bash
# Build (once) a venv that looks like a user's F5 environment of one f5-tts release:
# torch/torchaudio/torchcodec at the pinned trio, that f5-tts, and the bounds its era needed to import.
# Usage: scripts/f5_version_venv.sh VERSION   -> prints the venv path. Cached under $F5_PARITY_CACHE.
set -euo pipefail
version="$1"
cache="${F5_PARITY_CACHE:-/work/venvs-cache}"
venv="$cache/f5-tts-$version"
python="${F5_PARITY_PYTHON:-python3.11}"
# What a user of that era had: f5-tts <= 1.1.x pins numpy<=1.26.4, and today's pyarrow (>=20) and
# datasets (>=4) need numpy 2 or changed their API; without these bounds `import f5_tts` fails.
era=()
case "$version" in
  0.*|1.0.*|1.1.[0-9]) era+=("pyarrow<20" "datasets<4") ;;
esac
# Up to 1.1.6 Trainer.save_checkpoint calls accelerator.unwrap_model(self.optimizer), which accelerate 1.15
# refuses (AttributeError: 'AcceleratedOptimizer' object has no attribute '_modules'); 1.6.0 works.
case "$version" in
  0.*|1.0.*|1.1.[0-6]) era+=("accelerate<1.7") ;;
esac
if [ ! -f "$venv/.base-installed" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q torch==2.11.0 torchaudio==2.11.0 torchcodec==0.17.0 \
      "f5-tts==$version" ${era[@]+"${era[@]}"} >&2
  "$venv/bin/python" -c "import f5_tts.model.trainer, f5_tts.infer.utils_infer" >&2
  touch "$venv/.base-installed"
fi
echo "$venv"
