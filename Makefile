# Persona: `make demo` sets everything up and renders the demo; `make test` sets up and tests.
# System packages are installed with apt where they are missing and we are root; otherwise the
# set-up says which ones to install and goes on (tests that need them then say so too).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
SYSTEM_PACKAGES := libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins xvfb \
	libegl1 libgl1-mesa-dri fonts-dejavu-core chromium chromium-driver xdotool

.PHONY: demo test system venv bench clean

demo: venv
	$(VENV)/bin/persona demo

test: venv
	CI=$${CI:-} $(PY) -m pytest -q

bench: venv
	$(VENV)/bin/persona bench loop --json

system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing system packages:$$missing"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
		|| echo "WARNING: could not install$$missing; audio, window and browser tests will fail"; \
	else \
		echo "NOTE: missing system packages:$$missing"; \
		echo "      install them with: sudo apt-get install$$missing"; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml | system
	$(PYTHON) -m venv $(VENV)
	# pyworld builds from source and needs setuptools<81 in its build environment.
	$(PIP) install -q --upgrade pip "setuptools<81" wheel
	PIP_CONSTRAINT=$(CURDIR)/.ci/build-constraints.txt $(PIP) install -q -e ".[test,neural]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) out
