# Gatehouse: `make run` starts the service on its defaults, `make test` runs the whole suite.

SWIFT ?= swift
PYTHON ?= python3
VENV := .venv

.PHONY: run build release test deps test-deps format lint clean

run: deps build
	.build/debug/gatehouse serve

build: deps
	$(SWIFT) build --product gatehouse

# The production build: the Swift runtime and Foundation linked in (a faster start, one file
# to install); benchmarks/run.sh measures this one.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib --product gatehouse

deps:
	@scripts/install-deps.sh

# The Python helpers the tests start (a real SMTP server) live in a local venv.
test-deps:
	@scripts/install-deps.sh --test
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -c "import aiosmtpd, better_auth_client, soft_webauthn, openapi_spec_validator, schemathesis" 2>/dev/null || $(VENV)/bin/pip install -q -r Tests/requirements.txt

test: test-deps
	TEST_PYTHON=$(CURDIR)/$(VENV)/bin/python SWIFT=$(SWIFT) scripts/run-tests.sh

format:
	$(SWIFT) format -i -r Package.swift Sources Plugins Tests

lint:
	$(SWIFT) format lint -r --strict Package.swift Sources Plugins Tests

clean:
	rm -rf .build $(VENV)
