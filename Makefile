# The whole set-up is two commands: `make demo` and `make test` (README).
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: demo test test-versions bench system-deps venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[test]'
	# Speaker similarity: resemblyzer without its declared deps (torch, librosa, scipy are already here;
	# it would add the `typing` backport and compile webrtcvad, which webrtcvad-wheels provides).
	$(PIP) install -q -c constraints.txt --no-deps resemblyzer
	touch $(STAMP)

# ffmpeg: torchaudio 2.11 decodes through torchcodec, which links FFmpeg's libraries.
# espeak-ng: speaks the Portuguese test sentences.
system-deps:
	@if command -v espeak-ng >/dev/null && ldconfig -p | grep -q libavcodec; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg espeak-ng >/dev/null; \
	else echo "install ffmpeg and espeak-ng: sudo apt-get install ffmpeg espeak-ng" >&2; exit 2; fi

demo: system-deps venv
	$(VENV)/bin/parity-check demo --out reports/demo

# One pytest worker per core of the 2-core target (pytest-xdist), each test file on one worker so its module
# fixtures (a Trainer run, the damage table) are built once; tests/conftest.py keeps each worker at one thread.
TEST_WORKERS ?= 2
test: system-deps venv
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# One venv per supported f5-tts series (a user's environment of that release), the wheel installed into it
# with a real resolve, the version-sensitive tests run there; writes reports/versions.md. Minutes per
# version and ~5 GB each under $$F5_PARITY_CACHE (default /work/venvs-cache); not part of make test.
test-versions: system-deps venv
	$(PY) scripts/test_versions.py $(VERSIONS)

bench: system-deps venv
	$(PY) -m pytest -q -m bench -p no:cacheprovider -o addopts="" tests/bench

clean:
	rm -rf $(VENV) reports/demo
