"""rellib.py - shared pieces of the reliability and security suites
(issue 5, tests/integration/rel_*.py): the core-API helper program
(rel_core), responder processes, invariant checks, TAP figure lines.

Standard library only. Figures go out as TAP diagnostic lines ("# ...")
from the main thread, so they never interleave with result lines.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# dot-temps of fio_write_atomic*: ".<name>.tmpXXXXXX" (src/core/fileio.c)
TEMP_RE = re.compile(r"^\..+\.tmp[A-Za-z0-9_]{6}$")


def figure(text):
    """One TAP diagnostic line with the figures of a test."""
    if sanitized_build():
        text += " [sanitizer build: loads scaled down]"
    sys.stdout.write("# %s\n" % text)
    sys.stdout.flush()


def in_ci():
    return bool(os.environ.get("CI"))


_sanitized = None


def sanitized_build():
    """True when the build under test is instrumented (--enable-sanitizers):
    its programs run several times slower, so the suites scale their
    loads down there (the figures say by how much) to fit CI's budget."""
    global _sanitized
    if _sanitized is None:
        try:
            with open(harness.build_path("src/mgmt/cliproxy-mgmt"), "rb") as f:
                _sanitized = b"__asan_init" in f.read()
        except (OSError, harness.HarnessError):
            _sanitized = False  # the tests themselves say what is missing
    return _sanitized


def scaled(env, normal, sanitized):
    """An int load knob: env var if set, else normal or sanitized."""
    v = os.environ.get(env)
    if v:
        return int(v)
    return sanitized if sanitized_build() else normal


def core_bin():
    return harness.build_path("tests/integration/rel_core")


def load_config(path):
    """The effective config as the real loader sees it (dict), or raise
    AssertionError with the loader's message (never the file's text)."""
    p = subprocess.run([core_bin(), "check", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise AssertionError("config does not load: %s" % p.stderr.decode(errors="replace")[:300])
    return json.loads(p.stdout.decode())


def responder_pids(binary, config=None):
    """Pids of running processes whose executable is binary and, when
    config is given, whose environment names that config (CLIPROXY_CONFIG):
    several suites may run at once from one build tree (make -j), and a
    test must only ever count or kill its own responders."""
    marker = ("CLIPROXY_CONFIG=%s\0" % config).encode() if config else None
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink("/proc/%s/exe" % d) != binary:
                    continue
                if marker is not None:
                    with open("/proc/%s/environ" % d, "rb") as f:
                        if marker not in f.read() + b"\0":
                            continue
                pids.append(int(d))
            except OSError:
                pass
    return pids


def temps(d):
    """Dot-temp files of the atomic writer in directory d."""
    try:
        return sorted(n for n in os.listdir(d) if TEMP_RE.match(n))
    except FileNotFoundError:
        return []


def error_log_crashes(path):
    """Lines of a web server error log that tell of a responder that died
    or crashed (lighttpd: "died", "child signaled"; Apache: "exit signal",
    "Segmentation fault")."""
    if not path or not os.path.exists(path):
        return []
    pat = re.compile(r"died|signal|segfault|Segmentation|core dump|Aborted|sanitizer",
                     re.IGNORECASE)
    with open(path, "rb") as f:
        return [ln for ln in f.read().decode("utf-8", "replace").splitlines() if pat.search(ln)]
