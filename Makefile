# clawmetry — every developer and CI entry point. `make help` lists them.
CARGO ?= cargo

.PHONY: help run build release test lint fmt bench clean

help:
	@echo "make run      run the dashboard on :8900 against ~/.openclaw (ARGS='--port 9000' to pass flags)"
	@echo "make test     fmt check + clippy -D warnings + every test"
	@echo "make bench    generate corpora (10 MB, 200 MB, 1 GB) and print index/latency/RSS figures"
	@echo "make release  optimised binary in target/release/clawmetry"

run:
	$(CARGO) run --release --bin clawmetry -- $(ARGS)

build:
	$(CARGO) build --bins

release:
	$(CARGO) build --release --bins

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

test: lint
	$(CARGO) test --all-targets

bench: release
	$(CARGO) run --release --bin clawmetry-bench -- $(BENCH_ARGS)

clean:
	$(CARGO) clean
	rm -rf dist bench-data
