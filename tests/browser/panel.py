#!/usr/bin/env python3
"""panel.py - the admin panel (www/) in a real browser (issue 14).

Starts, on loopback ports chosen at run time:
  - lighttpd with the site file the Debian package installs
    (conf/lighttpd/50-cliproxy.conf as `make` built it), which serves the
    panel at /management.html and /management/ and the management API at
    /v0/management through the responder (mod_fastcgi, 4 processes);
  - cliproxyd behind it, as the web server's user, with its state dir
    where the responder looks for it (<config dir>/state), so that /status
    can say "live";
then runs tests/browser/panel.mjs (playwright-core driving Debian's
chromium headless), which prints TAP; this script passes it on. Set-up
failures are TAP failures naming what is missing.

Screenshots of every pane, 1200 px and 400 px wide, are written to
$CLIPROXY_BUILDDIR/tests/browser/screenshots/.

The management key is generated here and given to node in its
environment; nothing prints it.
"""
import os
import secrets
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
import mgmtlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def setup():
    chromium = harness.need_program("chromium", "chromium")
    node = harness.need_program("node", "nodejs")
    pw = os.path.join(HERE, "node_modules", "playwright-core", "package.json")
    if not os.path.exists(pw):
        raise harness.HarnessError("playwright-core is not installed: run tools/test, or "
                                   "`npm ci` in %s" % HERE)
    key = secrets.token_urlsafe(24)
    d = harness.tempdir("cliproxy-panel-")
    cfgdir = os.path.join(d, "etc")
    auth = os.path.join(d, "auth")
    state = os.path.join(cfgdir, "state")
    for p in (cfgdir, auth, state):
        os.makedirs(p)
    config = os.path.join(cfgdir, "config.yaml")
    harness.sweep_marker("CLIPROXY_CONFIG=" + config)
    text = mgmtlib.CONFIG_TEMPLATE.format(secret=key, allow_remote="false", auth_dir=auth)
    # the log-in pane's provider pages: a loopback port nobody listens on
    idp = harness.free_port()
    text += "endpoints:\n" + "".join("  %s: http://127.0.0.1:%d/%s\n" % (n, idp, n) for n in (
        "claude-auth-url", "claude-token-url", "codex-auth-url", "codex-token-url",
        "gemini-cli-auth-url", "gemini-cli-token-url", "qwen-device-url", "qwen-token-url"))
    harness.write_file(config, text, mode=0o640)
    # usage rows for the usage pane's chart (issue 15), through the core
    # writer as cliproxyd writes them: model-a in 3 hours of the last
    # day (2 rows each), model-b in one
    now_ms = int(time.time() * 1000)
    rows = []
    for model, hours in (("model-a", (1, 3, 5)), ("model-b", (2,))):
        for k in hours:
            for j in range(2 if model == "model-a" else 1):
                rows.append("\t".join(str(x) for x in (
                    now_ms - k * 3600 * 1000 + j, "panel-key", model, model, "claude-api-key",
                    "cred-1", "claude", 200, 10, 5, 0, 0, 20, 40, 100, 200, 0)))
    out = subprocess.run([harness.build_path("tests/integration/usage_fill"),
                          os.path.join(state, "usage.sqlite")],
                         input=("\n".join(rows) + "\n").encode(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    if out.returncode != 0:
        raise harness.HarnessError("usage_fill: %s" % out.stderr.decode())
    for p in (cfgdir, auth, state):
        harness.give(p)

    # cliproxyd behind the site, as the service user (its status file must
    # be readable by the responder, which runs as that user too)
    dport = harness.free_port()
    daemon = harness.build_path("src/proxyd/cliproxyd")
    argv = [daemon, "-c", config, "--listen", "127.0.0.1:%d" % dport,
            "--state-dir", state, "--log", "stderr"]
    if os.geteuid() == 0:
        user = harness.service_user()[0]
        argv = [harness.need_program("setpriv", "util-linux"), "--reuid", user, "--regid", user,
                "--init-groups"] + argv
    env = dict(os.environ)
    env["CLIPROXY_CONFIG"] = config
    daemon_proc = harness.start(argv, env=env, log=os.path.join(d, "cliproxyd.log"))
    # reap it as soon as it exits (panel.mjs stops it): a zombie still
    # looks like a running cliproxyd in /proc
    threading.Thread(target=daemon_proc.wait, daemon=True).start()
    harness.wait_port(dport, what="cliproxyd", log=os.path.join(d, "cliproxyd.log"))

    port = harness.free_port()
    sock = os.path.join(d, "sock")
    os.makedirs(sock)
    harness.give(sock)
    binary = harness.build_path("src/mgmt/cliproxy-mgmt")
    site = harness.mgmt_conf("lighttpd", binary, {"CLIPROXY_CONFIG": config},
                             socket=sock + "/mgmt.socket", site=(port, dport))
    server = harness.lighttpd(d, site, extforward=False, modules=harness.LIGHTTPD_SITE_MODULES)
    harness.wait_port(port, proc=server.proc, what="lighttpd", log=server.log)
    shots = os.path.join(harness.BUILDDIR, "tests", "browser", "screenshots")
    os.makedirs(shots, exist_ok=True)
    for n in os.listdir(shots):          # this run's pictures only
        if n.endswith(".png"):
            os.unlink(os.path.join(shots, n))
    return node, {
        "PANEL_ORIGIN": "http://127.0.0.1:%d" % port,
        "PANEL_KEY": key,
        "PANEL_CONFIG": config,
        "PANEL_AUTH_DIR": auth,
        "PANEL_SHOTS": shots,
        "PANEL_CHROMIUM": chromium,
        "PANEL_WORKDIR": d,
        "PANEL_IDP": "127.0.0.1:%d" % idp,
        "PANEL_DAEMON_PID": str(daemon_proc.pid),   # setpriv execs cliproxyd
    }


def main():
    try:
        node, env = setup()
    except Exception as e:  # noqa: BLE001 - every set-up failure is a TAP failure
        print("1..1")
        print("not ok 1 - set-up: %s" % str(e).replace("\n", "\n# "))
        sys.stdout.flush()
        harness.stop_all()
        os._exit(1)
    full = dict(os.environ)
    full.update(env)
    rc = subprocess.call([node, os.path.join(HERE, "panel.mjs")], env=full, cwd=HERE,
                         timeout=900)
    sys.stdout.flush()
    harness.stop_all()
    os._exit(rc)


if __name__ == "__main__":
    main()
