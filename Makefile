# Two commands matter: `make demo` (install, seed the demo workspace, serve the playground on
# http://127.0.0.1:3978/) and `make test` (install, then lint, type-check and run every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
EMOJI_FONT ?= /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
RENDER := tests/render
RENDER_STAMP := $(RENDER)/node_modules/.installed
export WHYBOT_TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: demo serve test lint typecheck pytest install browser render clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/whybot demo

serve: $(STAMP)
	$(BIN)/whybot serve

# Debian's Chromium drives the browser tests (Playwright's own browser download is not used); the colour
# emoji font lets screenshots show 👍/👎 instead of empty boxes.
browser:
	@test -x $(CHROMIUM) -a -f $(EMOJI_FONT) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; \
	  else echo "install Chromium for the browser tests: sudo apt-get install chromium fonts-noto-color-emoji"; fi; }

# The official Adaptive Cards JS renderer renders Teams cards in the browser tests; reinstalled when the
# lockfile changes, like the venv.
$(RENDER_STAMP): $(RENDER)/package.json $(RENDER)/package-lock.json
	npm ci --prefix $(RENDER) --no-audit --no-fund --loglevel=error
	touch $@

render:
	@if command -v npm >/dev/null; then $(MAKE) -s --no-print-directory $(RENDER_STAMP); \
	else echo "install Node.js and npm for the Teams card rendering test: sudo apt-get install npm"; fi

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) browser render
	$(BIN)/pytest -q -ra

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts $(RENDER)/node_modules
