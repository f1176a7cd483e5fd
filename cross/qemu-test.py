#!/usr/bin/env python3
"""Runs the cross-built binaries in dist/ against the lab-2026.9 fixture: `make cross-test`.

The ARM binaries run under qemu user-mode emulation (qemu-aarch64-static / qemu-arm-static from
Debian's qemu-user-static, called explicitly: binfmt_misc is not needed), each emulating the
oldest Raspberry Pi CPU of its kind (Cortex-A53: Pi 3 / Zero 2 W; Cortex-A7: Pi 2), so an
instruction the Pi lacks would fail here. The x86_64 binary runs natively.

For each binary: ELF machine, static linking and the ARM size budget; `--version`; start-up on
port 0 (first stdout line `clawmetry <ver> listening on http://127.0.0.1:<port>`); /api/health
and /api/overview with the fixture's figures; a handler that panics (on purpose:
CLAWMETRY_TEST_HANDLER_PANIC) costs its request a 500 and the server goes on (release builds
unwind); the embedded web UI on /; a new JSONL transcript
and a line appended to it show up in the totals; SIGTERM ends it promptly; nothing under the
OpenClaw dir was written. Start-up time, index time and RSS are measured and printed.

A missing emulator or binary is a failure, never a skip. Python 3 standard library only.
Usage: cross/qemu-test.py [--dist DIR] [--json FILE] [aarch64|armv7|x86_64 ...]
"""

import argparse
import gzip
import http.client
import json
import os
import queue
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "lab-2026.9"
MAX_ARM_BYTES = 6_000_000

ARCHES = {
    "aarch64": {"triple": "aarch64-unknown-linux-musl", "qemu": "qemu-aarch64-static", "cpu": "cortex-a53", "machine": 183},
    "armv7": {"triple": "armv7-unknown-linux-musleabihf", "qemu": "qemu-arm-static", "cpu": "cortex-a7", "machine": 40},
    "x86_64": {"triple": "x86_64-unknown-linux-musl", "qemu": None, "cpu": None, "machine": 62},
}

# The fixture's all-time totals (tests/fixtures/README.md: from the fake provider's request log).
BASE = {"calls": 23, "input": 151_158, "output": 529, "cacheRead": 450_752, "cost": 0.5966346}
# What the test appends: a new session with one assistant message, then one more message.
MSG1 = {"input": 1_000, "output": 200, "cacheRead": 3_000, "cost": 0.0123}
MSG2 = {"input": 10, "output": 5, "cacheRead": 0, "cost": 0.001}

STARTUP_TIMEOUT = 60  # s, first stdout line
READY_TIMEOUT = 120  # s, index ready (emulation is slow; CI machines are shared)
FOLLOW_TIMEOUT = 30  # s, an appended line visible (inotify; the rescan fallback runs every 5 s)
SIGTERM_LIMIT = 2.0  # s


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def cargo_version():
    in_pkg = False
    for line in (ROOT / "Cargo.toml").read_text().splitlines():
        if line.strip().startswith("["):
            in_pkg = line.strip() == "[package]"
        m = re.match(r'\s*version\s*=\s*"([^"]+)"', line)
        if in_pkg and m:
            return m.group(1)
    raise Fail("no [package] version in Cargo.toml")


def expected_commit():
    """What build.rs would record for the current tree."""
    env = os.environ.get("CLAWMETRY_GIT_COMMIT", "").strip()
    if env:
        return env
    try:
        out = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def elf_info(path):
    """(e_machine, has PT_INTERP) of an ELF file."""
    data = path.read_bytes()
    check(data[:4] == b"\x7fELF", f"{path} is not an ELF file")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    machine = struct.unpack_from(end + "H", data, 18)[0]
    if is64:
        phoff = struct.unpack_from(end + "Q", data, 32)[0]
        phentsize, phnum = struct.unpack_from(end + "HH", data, 54)
    else:
        phoff = struct.unpack_from(end + "I", data, 28)[0]
        phentsize, phnum = struct.unpack_from(end + "HH", data, 42)
    interp = any(struct.unpack_from(end + "I", data, phoff + i * phentsize)[0] == 3 for i in range(phnum))
    return machine, interp


def http_get(port, path, timeout=20):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        return r.status, r.getheader("Content-Type") or "", r.read()
    finally:
        c.close()


def http_get_gzip(port, path, timeout=20):
    """GET accepting gzip: (status, decoded body, content-encoding)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Connection": "close", "Accept-Encoding": "gzip"})
        r = c.getresponse()
        body, enc = r.read(), (r.getheader("Content-Encoding") or "").lower()
    finally:
        c.close()
    if enc == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as e:
            raise Fail(f"GET {path}: bad gzip body ({e})")
    else:
        check(enc in ("", "identity"), f"GET {path}: unexpected Content-Encoding {enc!r}")
    return r.status, None, body, enc


def get_json(port, path):
    status, _, body = http_get(port, path)
    check(status == 200, f"GET {path}: status {status}: {body[:300]!r}")
    try:
        return json.loads(body)
    except ValueError as e:
        raise Fail(f"GET {path}: not JSON ({e}): {body[:300]!r}")


def snapshot(d):
    out = {}
    for dirpath, _, files in os.walk(d):
        for f in files:
            p = Path(dirpath) / f
            st = p.stat()
            out[str(p.relative_to(d))] = (st.st_size, st.st_mtime_ns)
    return out


def vm_status(pid):
    vals = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                vals[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return vals


def iso_now():
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def session_header(sid):
    return json.dumps({"type": "session", "version": 3, "id": sid, "timestamp": iso_now(), "cwd": "/w"})


def assistant_line(n, u):
    return json.dumps(
        {
            "type": "message",
            "id": f"cross{n}",
            "parentId": None,
            "timestamp": iso_now(),
            "message": {
                "role": "assistant",
                "content": [{"type": "text", "text": f"cross-test turn {n}"}],
                "api": "openai-completions",
                "provider": "fakellm",
                "model": "fake-model",
                "usage": {
                    "input": u["input"],
                    "output": u["output"],
                    "cacheRead": u["cacheRead"],
                    "cacheWrite": 0,
                    "totalTokens": u["input"] + u["output"] + u["cacheRead"],
                    "cost": {"total": u["cost"]},
                },
                "stopReason": "stop",
                "timestamp": int(time.time() * 1000),
            },
        }
    )


def totals_match(t, want):
    return (
        t.get("calls") == want["calls"]
        and t.get("input") == want["input"]
        and t.get("output") == want["output"]
        and t.get("cacheRead") == want["cacheRead"]
        and isinstance(t.get("cost"), (int, float))
        and abs(t["cost"] - want["cost"]) < 1e-6
    )


def plus(a, b):
    return {k: a[k] + b[k] if k != "calls" else a[k] + 1 for k in a}


class Server:
    """The binary (under qemu for ARM) on port 0 against a fixture copy."""

    def __init__(self, cmd, home, user_home, stderr_path):
        env = {k: v for k, v in os.environ.items() if k not in ("OPENCLAW_STATE_DIR", "OPENCLAW_HOME", "CLAWMETRY_PORT", "CLAWMETRY_HOST")}
        env["HOME"] = str(user_home)
        env["CLAWMETRY_TEST_HANDLER_PANIC"] = "1"
        self.stderr_path = stderr_path
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd + ["--port", "0", "--host", "127.0.0.1", "--openclaw-dir", str(home), "--no-gateway", "--no-auth"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=open(stderr_path, "wb"),
            env=env,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def stderr(self):
        try:
            return Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_until(what, timeout, f, srv):
    t0 = time.monotonic()
    last = None
    while True:
        check(srv.proc.poll() is None, f"{what}: the process exited with {srv.proc.returncode}")
        try:
            v = f()
            if v:
                return v, time.monotonic() - t0
        except (OSError, http.client.HTTPException) as e:
            last = e
        except Fail as e:
            last = e
        check(time.monotonic() - t0 < timeout, f"{what}: not within {timeout} s (last: {last})")
        time.sleep(0.02)


def run_arch(name, dist, version, commit, tmp):
    a = ARCHES[name]
    m = {"arch": name, "triple": a["triple"]}
    binary = dist / f"clawmetry-{name}"
    check(binary.is_file(), f"{binary} is missing: run `make cross` first")

    # The binary itself.
    size = binary.stat().st_size
    m["bytes"] = size
    machine, interp = elf_info(binary)
    check(machine == a["machine"], f"{binary}: ELF machine {machine}, expected {a['machine']}")
    check(not interp, f"{binary} is dynamically linked (has PT_INTERP)")
    if a["qemu"]:
        check(size < MAX_ARM_BYTES, f"{binary} is {size} bytes, over the {MAX_ARM_BYTES}-byte budget")
        qemu = shutil.which(a["qemu"])
        check(qemu, f"{a['qemu']} not found: apt-get install -y qemu-user-static")
        cmd = [qemu, "-cpu", a["cpu"], str(binary)]
        m["emulator"] = f"{a['qemu']} -cpu {a['cpu']}"
    else:
        cmd = [str(binary)]
        m["emulator"] = "native"

    out = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60)
    want = f"clawmetry {version} ({a['triple']}, commit {commit})"
    check(out.returncode == 0 and out.stdout.strip() == want, f"--version printed {out.stdout.strip()!r} (rc {out.returncode}), expected {want!r}")

    # A private copy of the fixture, laid out as a real 2026.9 state dir.
    lab = tmp / name / "lab-2026.9"
    shutil.copytree(FIXTURE, lab)
    cfg = lab / "home" / "openclaw.json"
    cfg.write_text(cfg.read_text().replace("<lab>", str(lab)))
    home = lab / "home"
    sessions = home / "agents" / "main" / "sessions"
    sessions.mkdir(parents=True)
    (home / "agents" / "ops" / "sessions").mkdir(parents=True)
    user_home = tmp / name / "user-home"
    user_home.mkdir()
    before = snapshot(home)

    srv = Server(cmd, home, user_home, tmp / name / "stderr.txt")
    try:
        # Start-up: the first stdout line, then the first answer, then the index.
        try:
            first = srv.lines.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            raise Fail(f"no stdout line within {STARTUP_TIMEOUT} s")
        check(first is not None, f"exited before printing anything (rc {srv.proc.poll()})")
        mt = re.fullmatch(r"clawmetry (\S+) listening on http://127\.0\.0\.1:(\d+)", first)
        check(mt and mt.group(1) == version, f"unexpected first line {first!r}")
        port = int(mt.group(2))
        m["listening_s"] = time.monotonic() - srv.t0

        wait_until("first answer on /api/health", STARTUP_TIMEOUT, lambda: http_get(port, "/api/health")[0] == 200, srv)
        m["first_answer_s"] = time.monotonic() - srv.t0
        health, _ = wait_until("index ready", READY_TIMEOUT, lambda: (lambda h: h if h["index"]["ready"] is True else None)(get_json(port, "/api/health")), srv)
        m["index_ready_s"] = time.monotonic() - srv.t0

        check(health["version"] == version, f"health version {health['version']!r}")
        check(health["openclaw"]["found"] is True, f"installation not found: {health['openclaw']}")
        check(health["sources"]["databases"] == 2, f"databases: {health['sources']}")
        check(health["index"]["malformedLines"] == 0, f"malformed lines: {health['index']}")

        ov = get_json(port, "/api/overview")
        t = ov["usage"]["total"]
        check(totals_match(t, BASE), f"overview usage.total {t}, expected {BASE}")
        check(ov["sessions"]["total"] == 5, f"overview sessions.total {ov['sessions']['total']}, expected 5")

        # A handler's panic (a deliberate one) costs its request a 500, not the process.
        status, _, body = http_get(port, "/__test/panic")
        check(status == 500 and b"the request handler failed" in body, f"GET /__test/panic: {status} {body[:200]!r}")
        check(get_json(port, "/api/health")["http"]["handlerPanics"] == 1, "handlerPanics is not 1 after one panic")
        check(get_json(port, "/api/overview")["sessions"]["total"] == 5, "/api/overview after the panic")

        # The web UI is embedded in the binary: / and every file under static/ but the *.md notes
        # (the rule of tests/it/ui_static.rs), byte for byte, decompressed when the server chose
        # gzip (which exercises its encoder on this CPU).
        status, ctype, body = http_get(port, "/")
        check(status == 200 and ctype.startswith("text/html"), f"GET /: {status} {ctype}")
        check(body == (ROOT / "static" / "index.html").read_bytes(), "GET / differs from static/index.html (stale binary?)")
        assets = sorted(p for p in (ROOT / "static").rglob("*") if p.is_file() and p.suffix != ".md" and not p.name.startswith("."))
        m["ui_gzipped"] = 0
        for p in assets:
            url = "/" + p.relative_to(ROOT / "static").as_posix()
            status, _, body, enc = http_get_gzip(port, url)
            m["ui_gzipped"] += enc == "gzip"
            check(status == 200, f"GET {url}: status {status}")
            check(body == p.read_bytes(), f"GET {url} ({enc or 'identity'}) differs from {p.relative_to(ROOT)} (stale binary?)")
        m["ui_files"] = len(assets)

        rss = vm_status(srv.proc.pid)
        m["rss_kb"], m["hwm_kb"] = rss.get("VmRSS"), rss.get("VmHWM")

        # Live following: a new transcript file, then one more line appended to it.
        sid = str(uuid.uuid4())
        path = sessions / f"{sid}.jsonl"
        with open(path, "a") as f:
            f.write(session_header(sid) + "\n" + assistant_line(1, MSG1) + "\n")
        want1 = plus(BASE, MSG1)
        _, m["new_file_visible_s"] = wait_until(
            "new transcript in /api/overview totals", FOLLOW_TIMEOUT, lambda: totals_match(get_json(port, "/api/overview")["usage"]["total"], want1), srv
        )
        with open(path, "a") as f:
            f.write(assistant_line(2, MSG2) + "\n")
        want2 = plus(want1, MSG2)
        _, m["append_visible_s"] = wait_until(
            "appended line in /api/overview totals", FOLLOW_TIMEOUT, lambda: totals_match(get_json(port, "/api/overview")["usage"]["total"], want2), srv
        )
        s = get_json(port, f"/api/sessions/{sid}")
        check(s["tokens"]["input"] == MSG1["input"] + MSG2["input"], f"session {sid} tokens {s['tokens']}")
        check(s["assistantMessages"] == 2, f"session {sid} assistantMessages {s['assistantMessages']}")
        check(get_json(port, "/api/overview")["sessions"]["total"] == 6, "the new session is not counted")
        rss = vm_status(srv.proc.pid)
        m["rss_after_follow_kb"] = rss.get("VmRSS")

        # SIGTERM: no handler in clawmetry, so the default action ends it; under qemu the
        # emulator forwards the signal to the guest and dies of the same signal.
        srv.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            rc = srv.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Fail("still running 10 s after SIGTERM")
        m["sigterm_exit_s"] = time.monotonic() - t0
        m["sigterm_status"] = rc
        check(m["sigterm_exit_s"] <= SIGTERM_LIMIT, f"took {m['sigterm_exit_s']:.2f} s to exit after SIGTERM")
        check(rc in (0, -signal.SIGTERM), f"exit status after SIGTERM: {rc} (expected 0 or killed by signal 15)")
        err = srv.stderr()
        check(err.count("panicked") == 1 and "a deliberate test panic in a handler" in err, f"a thread panicked (besides the deliberate one):\n{err}")

        # Read-only on OpenClaw's files: only the test's own transcript is new.
        after = snapshot(home)
        ours = str(path.relative_to(home))
        check(after.pop(ours, None) is not None, "the appended transcript disappeared")
        check(after == before, f"files under the OpenClaw dir changed: {sorted(set(after.items()) ^ set(before.items()))}")
        return m
    except Fail as e:
        err = srv.stderr().strip()
        if err:
            e = Fail(f"{e}\n    its stderr (last lines):\n      " + "\n      ".join(err.splitlines()[-15:]))
        raise e from None
    finally:
        srv.stop()


def fmt(v, unit=""):
    return "-" if v is None else (f"{v:.2f}{unit}" if isinstance(v, float) else f"{v}{unit}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dist", default=str(ROOT / "dist"))
    ap.add_argument("--json", help="write the measurements to this file")
    ap.add_argument("arches", nargs="*", default=list(ARCHES))
    args = ap.parse_args()
    for a in args.arches:
        if a not in ARCHES:
            ap.error(f"unknown arch {a!r}; expected {', '.join(ARCHES)}")
    check(FIXTURE.is_dir(), f"{FIXTURE} is missing")
    dist = Path(args.dist)
    version, commit = cargo_version(), expected_commit()

    results, failed = [], []
    tmp = Path(tempfile.mkdtemp(prefix="clawmetry-cross-test-"))
    try:
        for name in args.arches:
            print(f"cross-test: {name} ...", flush=True)
            try:
                m = run_arch(name, dist, version, commit, tmp)
            except Exception as e:  # noqa: BLE001 - any error fails this arch, loudly
                msg = str(e) if isinstance(e, Fail) else f"{type(e).__name__}: {e}"
                print(f"cross-test: FAIL {name}: {msg}", flush=True)
                failed.append(name)
                continue
            results.append(m)
            print(
                f"cross-test: ok   {name} ({m['emulator']}): {m['bytes']:,} bytes; {m['ui_files']} UI files served ({m['ui_gzipped']} gzipped); listening after {m['listening_s']:.2f} s, "
                f"first answer {m['first_answer_s']:.2f} s, index ready {m['index_ready_s']:.2f} s; "
                f"VmRSS {fmt(m['rss_kb'], ' kB')} (peak {fmt(m['hwm_kb'], ' kB')}, {fmt(m['rss_after_follow_kb'], ' kB')} after following); "
                f"new file seen in {m['new_file_visible_s']:.2f} s, appended line in {m['append_visible_s']:.2f} s; "
                f"SIGTERM: exit {m['sigterm_status']} after {m['sigterm_exit_s']:.2f} s",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        Path(args.json).write_text(json.dumps({"version": version, "commit": commit, "results": results, "failed": failed}, indent=2) + "\n")
    if results:
        print("cross-test: arch      bytes       first answer  index ready  VmRSS      peak")
        for m in results:
            print(
                f"cross-test: {m['arch']:<8} {m['bytes']:>10,}  {m['first_answer_s']:>9.2f} s  {m['index_ready_s']:>8.2f} s  "
                f"{fmt(m['rss_kb'], ' kB'):>9}  {fmt(m['hwm_kb'], ' kB'):>9}"
            )
        print("cross-test: (ARM figures are under qemu user-mode emulation: the qemu process's RSS includes the emulator and its translation cache)")
    print(f"cross-test: {len(results)} passed, {len(failed)} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
