# clawmetry — every developer and CI entry point. `make help` lists them.
CARGO ?= cargo

.PHONY: help run build release test lint fmt bench clean

help:
	@echo "make run      run the dashboard on :8900 against ~/.openclaw (ARGS='--port 9000' to pass flags)"
	@echo "make test     fmt check + clippy -D warnings + every test"
	@echo "make test-gateway-lab  end-to-end test against the real OpenClaw gateway (npm install, ~2-3 min)"
	@echo "make bench    generate corpora (10 MB, 200 MB, 1 GB) and print index/latency/RSS figures"
	@echo "make release  optimised binary in target/release/clawmetry"
	@echo "make cross    static musl binaries in dist/: clawmetry-aarch64, -armv7 (Raspberry Pi), -x86_64"
	@echo "              (one target: make cross-aarch64 | cross-armv7 | cross-x86_64; installs zig + cargo-zigbuild if missing)"
	@echo "make cross-test  make cross, then run each binary (ARM under qemu-user-static) against the lab fixture"

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

# ---- the gateway client against the REAL OpenClaw gateway (tests/gateway_lab.rs) ----------------
# ../shared/tools/openclaw-lab installs Node 26 + openclaw from npm into a temp dir and runs the
# gateway on loopback with a fake model; needs npm and python3. Fails (never skips) when the lab
# cannot be set up.
.PHONY: test-gateway-lab
test-gateway-lab:
	$(CARGO) test --test gateway_lab -- --ignored --nocapture
