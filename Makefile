# clawmetry — every developer and CI entry point. `make help` lists them.
CARGO ?= cargo

.PHONY: help run build release test test-all test-clocks deps lint fmt bench clean fuzz fuzz-ci load

help:
	@echo "make run      run the dashboard on :8900 against ~/.openclaw (ARGS='--port 9000' to pass flags)"
	@echo "make test     fmt check + clippy -D warnings + Biome (static/) + unit, integration and browser tests"
	@echo "              (the integration tests are one crate, tests/it/; one file: cargo test --test it ui_browser::)"
	@echo "make test-all every test: make test, the real OpenClaw gateway, the ARM binaries under qemu, fuzz-ci"
	@echo "make test-clocks  the whole cargo test suite again under three shifted clocks (libfaketime)"
	@echo "make test-gateway-lab  end-to-end test against the real OpenClaw gateway (npm install, ~2-3 min)"
	@echo "make bench    generate corpora (10 MB, 200 MB, 1 GB) and print index/latency/RSS figures"
	@echo "make release  optimised binary in target/release/clawmetry"
	@echo "make fuzz-ci  build the fuzz targets, run each for FUZZ_CI_SECS (40) s from the seeds (in test-all)"
	@echo "make fuzz     the same for FUZZ_SECS (300) s each, to hunt longer (both install cargo-fuzz if missing)"
	@echo "make load     release server on a temp corpus + clawmetry-load: 1,000 req/s for LOAD_SECS (60) s"
	@echo "make cross    static musl binaries in dist/: clawmetry-aarch64, -armv7 (Raspberry Pi), -x86_64"
	@echo "              (one target: make cross-aarch64 | cross-armv7 | cross-x86_64; installs zig + cargo-zigbuild if missing)"
	@echo "make cross-test  make cross, then run each binary (ARM under qemu-user-static) against the lab fixture"

run:
	$(CARGO) run --release --bin clawmetry -- $(ARGS)

build:
	$(CARGO) build --bins

release:
	$(CARGO) build --release --bins

lint: biome
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(BIOME) ci --error-on-warnings

fmt: biome
	$(CARGO) fmt --all
	$(BIOME) format --write

# The web UI's formatter and linter (biome.jsonc: static/ at 120 columns, recommended rules),
# pinned; installed from npm under .tools/biome (out of git) when missing or at another version.
# Needs npm (`make deps`); fails, never skips, when it cannot install.
BIOME_VERSION = 2.6.9
BIOME = .tools/biome/node_modules/.bin/biome
.PHONY: biome
biome:
	@if [ "$$($(BIOME) --version 2>/dev/null)" != "Version: $(BIOME_VERSION)" ]; then \
		command -v npm >/dev/null || { echo "Biome $(BIOME_VERSION) needs npm to install: apt-get install npm (or make deps)" >&2; exit 1; }; \
		echo "== installing @biomejs/biome@$(BIOME_VERSION) under .tools/biome"; \
		npm install --prefix .tools/biome --no-save --no-audit --no-fund --loglevel=error @biomejs/biome@$(BIOME_VERSION) && \
		[ "$$($(BIOME) --version 2>/dev/null)" = "Version: $(BIOME_VERSION)" ] || \
		{ echo "could not install Biome $(BIOME_VERSION) under .tools/biome (see above)" >&2; exit 1; }; \
	fi

# What the tests need from Debian, installed when missing (root, as on CI): chromium for the
# browser tests, npm for the OpenClaw lab, qemu-user-static for the ARM binaries.
deps:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends npm; }
	@{ command -v qemu-aarch64-static && command -v qemu-arm-static; } >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static; }
	@# fuzz-ci: libFuzzer (built by libfuzzer-sys) is C++.
	@command -v c++ >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends g++; }
	@command -v faketime >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends faketime; }
	@# tests/it/prometheus.rs: a real Prometheus scrapes /metrics; promtool checks the shipped rules.
	@{ command -v prometheus && command -v promtool; } >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

test: lint
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }
	$(CARGO) test --all-targets

# Every test there is (what CI runs).
test-all: deps test test-clocks test-gateway-lab cross-test fuzz-ci

# No test may depend on the real date: the whole suite again with the tests, the server and its
# helpers on a shifted wall clock (tests/clock/run, libfaketime; Chromium keeps the real clock,
# so the UI also meets a browser whose clock differs from the server's). Each clock starts at
# the given UTC time: a year's last minute (the run crosses midnight into a new year), the
# first second of a month in a zone west of UTC (local date != UTC date), and the minute before
# Europe's spring DST change. Each clock starts anew for the unit tests and for each file of
# tests/it/ (its own run of the `it` binary, filtered to `<file>::`, skipping the files whose
# name ends with this one's), as when every file was its own test binary: every file's first
# tests meet the clock's first minute.
TEST_CLOCKS = 2026-12-31T23:59:00/UTC 2027-02-01T00:00:00/America/Los_Angeles 2027-03-28T00:59:00/Europe/Berlin
HOST_RUNNER = CARGO_TARGET_$(shell rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')_RUNNER
IT_FILES = $(sort $(basename $(notdir $(shell grep -l '^#\[test\]' tests/it/*.rs))))
test-clocks:
	@command -v faketime >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends faketime; }
	$(CARGO) test --all-targets --no-run
	@set -e; for c in $(TEST_CLOCKS); do \
		when=$${c%%/*}; tz=$${c#*/}; \
		echo "== cargo test under the clock $$when UTC, TZ=$$tz"; \
		export $(HOST_RUNNER)=$(CURDIR)/tests/clock/run CLAWMETRY_TEST_CLOCK="$$(echo $$when | tr T " ")" CLAWMETRY_TEST_TZ=$$tz; \
		$(CARGO) test --lib --bins; \
		for f in $(IT_FILES); do \
			skip=; for o in $(IT_FILES); do case $$o in *?$$f) skip="$$skip --skip $$o::";; esac; done; \
			$(CARGO) test --test it -- $$f:: $$skip; \
		done; \
	done

bench: release
	$(CARGO) run --release --bin clawmetry-bench -- $(BENCH_ARGS)

clean:
	$(CARGO) clean
	rm -rf dist bench-data

# ---- static builds for the Raspberry Pi (cross/, README "Raspberry Pi / cross builds") ----------
# cross/build.sh installs what is missing (zig from PyPI and cargo-zigbuild from crates.io, pinned,
# under ~/.cache/clawmetry-cross; rustup musl targets / rust-src), builds with cargo-zigbuild and
# copies each binary to dist/clawmetry-<arch>, failing if one is not static or an ARM one is 6 MB+.
.PHONY: cross cross-aarch64 cross-armv7 cross-x86_64 cross-test

cross: cross-aarch64 cross-armv7 cross-x86_64
	@cross/build.sh --summary

cross-aarch64:
	cross/build.sh aarch64

cross-armv7:
	cross/build.sh armv7

cross-x86_64:
	cross/build.sh x86_64

# Needs qemu-user-static (apt-get install -y qemu-user-static); fails if it or a binary is missing.
cross-test: cross
	python3 cross/qemu-test.py --json dist/cross-test.json

# ---- the gateway client against the REAL OpenClaw gateway (tests/it/gateway_lab.rs) -------------
# ../shared/tools/openclaw-lab installs Node 26 + openclaw from npm into a temp dir and runs the
# gateway on loopback with a fake model; needs npm and python3. Fails (never skips) when the lab
# cannot be set up.
.PHONY: test-gateway-lab
test-gateway-lab:
	$(CARGO) test --test it gateway_lab:: -- --ignored --nocapture

# ---- fuzzing (fuzz/, SECURITY.md "Fuzzing") ----------------------------------------------------
# fuzz/ci.sh installs the pinned cargo-fuzz when missing, builds every target once (no
# sanitizer, debug assertions on, libFuzzer coverage guidance as always) and runs each target
# for FUZZ_SECS seconds, as many at a time as there are cores, from fuzz/corpus/<target> (out
# of git), fuzz/seeds/<target> and fuzz/regressions/<target>. A crash fails the run and prints
# the input (saved under fuzz/artifacts/<target>/). The same inputs run in `make test` through
# tests/it/fuzz_regressions.rs, without cargo-fuzz.
FUZZ_CI_SECS ?= 40
FUZZ_SECS ?= 300
FUZZ_TARGETS ?=
.PHONY: fuzz fuzz-ci
fuzz-ci:
	CARGO=$(CARGO) FUZZ_SECS=$(FUZZ_CI_SECS) fuzz/ci.sh $(FUZZ_TARGETS)

fuzz:
	CARGO=$(CARGO) FUZZ_SECS=$(FUZZ_SECS) fuzz/ci.sh $(FUZZ_TARGETS)

# ---- load test (src/bin/clawmetry-load.rs, README "Load test") ---------------------------------
# Release server with --no-auth on loopback, against a temp copy of the 200 MB bench corpus when
# `make bench` left one in /tmp/bench-data, else of tests/fixtures/legacy-2026.3; a thread of the
# load client appends transcript lines to a new session file meanwhile.
LOAD_PORT ?= 18990
LOAD_SECS ?= 60
LOAD_RATE ?= 1000
LOAD_CORPUS ?= $(if $(wildcard /tmp/bench-data/corpus-200mb/agents),/tmp/bench-data/corpus-200mb,tests/fixtures/legacy-2026.3/home)
.PHONY: load
load: release
	@tmp=$$(mktemp -d /tmp/clawmetry-load.XXXXXX); \
	cp -r $(LOAD_CORPUS) $$tmp/home && mkdir -p $$tmp/home/agents/main/sessions $$tmp/data; \
	echo "== corpus $(LOAD_CORPUS) ($$(du -sh $$tmp/home | cut -f1))"; \
	target/release/clawmetry --no-auth --no-gateway --host 127.0.0.1 --port $(LOAD_PORT) \
		--openclaw-dir $$tmp/home --data-dir $$tmp/data >$$tmp/stdout 2>$$tmp/stderr & pid=$$!; \
	target/release/clawmetry-load --url http://127.0.0.1:$(LOAD_PORT) --rate $(LOAD_RATE) --secs $(LOAD_SECS) \
		--threads 4 --pid $$pid --append $$tmp/home/agents/main/sessions/10ad7e57-0000-4000-8000-000000000001.jsonl; \
	rc=$$?; kill $$pid; wait $$pid 2>/dev/null; rm -rf $$tmp; exit $$rc
