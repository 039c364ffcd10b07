"""harness.py - shared machinery of the python integration tests
(DESIGN.md section 7): programs, ports, temporary directories, processes
started in their own process group and always stopped, web servers
(lighttpd, Apache with mod_fcgid, spawn-fcgi) started from generated
configuration files, and a small HTTP client on http.client.

Standard library only. Everything listens on 127.0.0.1 ports chosen at run
time. A missing program raises HarnessError naming its Debian package: the
tests fail, they never skip.
"""
import atexit
import http.client
import json
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("CLIPROXY_SRCDIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
BUILDDIR = os.environ.get("CLIPROXY_BUILDDIR") or SRCDIR

APACHE_MODULES_DIR = "/usr/lib/apache2/modules"


class HarnessError(Exception):
    """Set-up failed (a missing program, a server that did not start)."""


# ---------------------------------------------------------------- programs

def need_program(name, package):
    """Absolute path of program name (also looked up in the sbin dirs), or
    HarnessError naming the Debian package that provides it."""
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    found = shutil.which(name, path=path)
    if found is None:
        raise HarnessError("%s not found: install the Debian package %s" % (name, package))
    return found


def need_file(path, package):
    if not os.path.exists(path):
        raise HarnessError("%s not found: install the Debian package %s" % (path, package))
    return path


def build_path(rel):
    """A file of the build tree (programs), checked to exist."""
    p = os.path.join(BUILDDIR, rel)
    if not os.path.exists(p):
        raise HarnessError("%s not built (run make first)" % p)
    return p


def src_path(rel):
    return os.path.join(SRCDIR, rel)


# ------------------------------------------------------------------- ports

def free_port():
    """A loopback TCP port nobody listens on right now (bind port 0)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_port(port, timeout=15.0, proc=None, what="server", log=None):
    """Wait until something accepts on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise HarnessError("%s exited with status %s%s" % (what, proc.returncode, tail(log)))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise HarnessError("%s did not listen on port %d within %.0fs%s" % (what, port, timeout, tail(log)))


def tail(path, n=30):
    if not path or not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
    return "\n--- %s ---\n%s" % (path, "\n".join(lines))


# --------------------------------------------------------------- processes

_procs = []          # Popen objects we started (each leads its own group)
_sweeps = []         # environment markers of processes that left our groups
_tmpdirs = []        # directories to remove at exit
_lock = threading.Lock()


def start(argv, env=None, cwd=None, log=None, stdin=subprocess.DEVNULL):
    """Start argv in a new session (its own process group) with stdout and
    stderr appended to log (a path) or discarded; stopped by stop_all()."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=stdin, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        if log:
            out.close()
    with _lock:
        _procs.append(p)
    return p


def stop(p, timeout=5.0):
    """SIGTERM p's process group, then SIGKILL what is left of it."""
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    with _lock:
        if p in _procs:
            _procs.remove(p)


def sweep_marker(marker):
    """Also kill, at stop_all(), every process whose environment holds the
    string marker (e.g. a temporary config path): servers may start
    workers in sessions of their own (setsid), out of our groups."""
    with _lock:
        _sweeps.append(marker.encode())


def _sweep():
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if any(m in env for m in _sweeps):
            try:
                os.kill(int(d), signal.SIGKILL)
            except OSError:
                pass


def stop_all():
    with _lock:
        procs = list(_procs)
    for p in reversed(procs):
        stop(p)
    if _sweeps:
        _sweep()
    if not os.environ.get("CLIPROXY_KEEP_TMP"):
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


def _on_signal(signum, frame):
    stop_all()
    os._exit(128 + signum)


atexit.register(stop_all)
for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_s, _on_signal)


# --------------------------------------------------------- dirs and users

def tempdir(prefix="cliproxy-test-"):
    """A temporary directory removed at exit (kept if CLIPROXY_KEEP_TMP)."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    with _lock:
        _tmpdirs.append(d)
    return d


def service_user():
    """(name, uid, gid) the web servers run as: www-data when we are root
    (Apache refuses root), else ourselves."""
    if os.geteuid() != 0:
        pw = pwd.getpwuid(os.geteuid())
        return pw.pw_name, pw.pw_uid, pw.pw_gid
    try:
        pw = pwd.getpwnam("www-data")
    except KeyError:
        raise HarnessError("user www-data missing: install the Debian package base-passwd")
    return pw.pw_name, pw.pw_uid, pw.pw_gid


def give(path, user=None):
    """chown path (recursively) to the service user when we are root."""
    if os.geteuid() != 0:
        return
    _, uid, gid = user or service_user()
    os.chown(path, uid, gid)
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, files in os.walk(path):
            for n in dirs + files:
                try:
                    os.lchown(os.path.join(root, n), uid, gid)
                except OSError:
                    pass


def write_file(path, data, mode=0o644, user=None):
    """Write data (str or bytes) atomically and hand it to the service user."""
    if isinstance(data, str):
        data = data.encode()
    tmp = path + ".harness-tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    give(tmp, user)
    os.rename(tmp, path)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def substitute(text, mapping, what):
    """Replace each key of mapping in text; every key must occur (a snippet
    that changed under the tests fails loudly instead of being half-used)."""
    for old, new in mapping.items():
        if old not in text:
            raise HarnessError("%s: expected text %r not found" % (what, old))
        text = text.replace(old, new)
    return text


# ------------------------------------------------------- web-server files

# What the packaged web-server files name: the management snippets
# conf/<server>/cliproxy-mgmt.conf (each server's FastCGI settings, written
# once) and the site files the package installs, which `make` builds from
# them (conf/local.mk). Tests, the benchmark and tools/run use those very
# files and replace exactly these strings (mgmt_conf()).
PACKAGED = {
    "binary": "/usr/lib/cgi-bin/cliproxy-mgmt.fcgi",   # the responder
    "socket": "/run/lighttpd/cliproxy-mgmt.socket",    # lighttpd's FastCGI socket
    "config": "/etc/cliproxy/config.yaml",             # CLIPROXY_CONFIG
    "listen": "127.0.0.1:8317",                        # the site's listener
    "daemon": "127.0.0.1:8318",                        # cliproxyd behind the site
    "www": "/usr/share/cliproxy/www",                  # the admin panel (www/)
}
SITE_FILES = {"lighttpd": "conf/lighttpd/50-cliproxy.conf",
              "apache": "conf/apache/cliproxy.conf"}
# lighttpd modules the management snippet needs beside the harness's own
# (mod_extforward first: it must rewrite REMOTE_ADDR before mod_fastcgi)
LIGHTTPD_MGMT_MODULES = ("mod_extforward", "mod_fastcgi")
LIGHTTPD_SITE_MODULES = ("mod_extforward", "mod_alias", "mod_fastcgi", "mod_proxy")
APACHE_SITE_MODULES = ("mpm_event", "authz_core", "alias", "mime", "env", "remoteip",
                       "fcgid", "proxy", "proxy_http")


def mgmt_conf(server, binary, env, socket=None, site=None, www=None):
    """Text of the management snippet of server ("lighttpd" or "apache"),
    or with site=(port, daemon_port) of the site file the package installs
    (built from the snippet), with the packaged paths replaced: binary is
    the responder, env (a dict with CLIPROXY_CONFIG) its environment,
    socket lighttpd's FastCGI socket path, www the panel's directory (the
    source tree's www/ unless given). A file that no longer names one of
    the packaged strings fails here (substitute())."""
    if "CLIPROXY_CONFIG" not in env:
        raise ValueError("env needs CLIPROXY_CONFIG")
    if site is None:
        rel = "conf/%s/cliproxy-mgmt.conf" % server
        text = read_file(src_path(rel)).decode()
    else:
        rel = SITE_FILES[server]
        text = read_file(build_path(rel)).decode()
    items = [("CLIPROXY_CONFIG", env["CLIPROXY_CONFIG"])]
    items += [(k, v) for k, v in env.items() if k != "CLIPROXY_CONFIG"]
    if server == "lighttpd":
        if socket is None:
            raise ValueError("lighttpd needs a socket path")
        m = {
            '"bin-path" => "%s"' % PACKAGED["binary"]: '"bin-path" => "%s"' % binary,
            '"socket" => "%s"' % PACKAGED["socket"]: '"socket" => "%s"' % socket,
            '"CLIPROXY_CONFIG" => "%s",' % PACKAGED["config"]:
                " ".join('"%s" => "%s",' % kv for kv in items),
        }
        if site is not None:
            m['$SERVER["socket"] == "%s"' % PACKAGED["listen"]] = \
                '$SERVER["socket"] == "127.0.0.1:%d"' % site[0]
            m['"port" => %s' % PACKAGED["daemon"].split(":")[1]] = '"port" => %d' % site[1]
            m['=> "%s/' % PACKAGED["www"]] = '=> "%s/' % (www or src_path("www"))
    elif server == "apache":
        m = {
            "Alias /v0/management %s" % PACKAGED["binary"]: "Alias /v0/management %s" % binary,
            "FcgidInitialEnv CLIPROXY_CONFIG %s" % PACKAGED["config"]:
                "\n".join("FcgidInitialEnv %s %s" % kv for kv in items),
        }
        if site is not None:
            m["Listen %s" % PACKAGED["listen"]] = "Listen 127.0.0.1:%d" % site[0]
            m["<VirtualHost %s>" % PACKAGED["listen"]] = "<VirtualHost 127.0.0.1:%d>" % site[0]
            m["http://%s/" % PACKAGED["daemon"]] = "http://127.0.0.1:%d/" % site[1]
            m[" %s" % PACKAGED["www"]] = " %s" % (www or src_path("www"))
    else:
        raise ValueError(server)
    return substitute(text, m, rel)


# ------------------------------------------------------------ HTTP client

class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status          # int
        self.reason = reason          # reason phrase
        self.headers = headers        # http.client.HTTPMessage
        self.body = body              # bytes

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        # status and body only: request headers (keys) are never shown
        return "<Response %d %r>" % (self.status, self.body[:300])


def http_request(port, method, path, body=None, headers=None, timeout=60, host="127.0.0.1"):
    """One request on a fresh connection; body may be bytes, str, or a
    JSON-able object (then Content-Type: application/json is set)."""
    h = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.headers, data)
    finally:
        conn.close()


def multipart(fields, boundary="----cliproxytestboundary7MA4YWxkTrZu0gW"):
    """Encode fields [(name, filename or None, bytes)] as multipart/form-data;
    returns (content_type, body)."""
    out = []
    for name, filename, data in fields:
        out.append(b"--" + boundary.encode() + b"\r\n")
        cd = 'Content-Disposition: form-data; name="%s"' % name
        if filename is not None:
            cd += '; filename="%s"' % filename
        out.append(cd.encode() + b"\r\n")
        if filename is not None:
            out.append(b"Content-Type: application/json\r\n")
        out.append(b"\r\n" + data + b"\r\n")
    out.append(b"--" + boundary.encode() + b"--\r\n")
    return "multipart/form-data; boundary=" + boundary, b"".join(out)


# ------------------------------------------------------------- web servers

class Server:
    """A started web server: port, directory, log, process."""

    def __init__(self, name, port, dir, proc, log):
        self.name = name
        self.port = port
        self.dir = dir
        self.proc = proc
        self.log = log
        self.extra = []               # helper processes (spawn-fcgi)

    def request(self, method, path, body=None, headers=None, timeout=60):
        return http_request(self.port, method, path, body, headers, timeout)

    def error_log(self):
        return tail(self.log, 200)

    def stop(self):
        stop(self.proc)
        for p in self.extra:
            stop(p)


def lighttpd(dir, body, modules=("mod_extforward",), extforward=True, user=True):
    """Start lighttpd in the foreground on a fresh loopback port serving
    dir/htdocs, with body (config text, e.g. an included snippet) after the
    basic settings. extforward: trust X-Forwarded-For from 127.0.0.1 (tests
    present a non-loopback REMOTE_ADDR that way). user: drop to the
    service user when root."""
    exe = need_program("lighttpd", "lighttpd")
    port = free_port()
    docroot = os.path.join(dir, "htdocs")
    os.makedirs(docroot, exist_ok=True)
    log = os.path.join(dir, "lighttpd.log")
    conf = [
        'server.document-root = "%s"' % docroot,
        'server.bind = "127.0.0.1"',
        "server.port = %d" % port,
        'server.errorlog = "%s"' % log,
        'server.modules = ( %s )' % ", ".join('"%s"' % m for m in modules),
        'index-file.names = ( "index.html" )',
        'mimetype.assign = ( ".html" => "text/html", ".txt" => "text/plain", ".json" => "application/json",'
        ' ".js" => "text/javascript", ".css" => "text/css", ".png" => "image/png" )',
    ]
    if user and os.geteuid() == 0:
        name = service_user()[0]
        conf += ['server.username = "%s"' % name, 'server.groupname = "%s"' % name]
    if extforward:
        conf += ['extforward.forwarder = ( "127.0.0.1" => "trust" )',
                 'extforward.headers = ( "X-Forwarded-For" )']
    conf.append(body)
    path = os.path.join(dir, "lighttpd.conf")
    with open(path, "w") as f:
        f.write("\n".join(conf) + "\n")
    chk = subprocess.run([exe, "-tt", "-f", path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    if chk.returncode != 0:
        raise HarnessError("lighttpd rejects %s: %s" % (path, chk.stdout.decode(errors="replace")))
    open(log, "a").close()
    give(log)
    p = start([exe, "-D", "-f", path], log=os.path.join(dir, "lighttpd.out"))
    wait_port(port, proc=p, what="lighttpd", log=log)
    return Server("lighttpd", port, dir, p, log)


def apache(dir, body, modules=("mpm_event", "authz_core", "alias", "mime", "env",
                               "remoteip", "fcgid"), remoteip=True):
    """Start Apache 2.4 in the foreground (-DFOREGROUND, not -X: several
    processes) from a generated config with only the modules named, its
    own PidFile, ErrorLog, runtime and mod_fcgid directories under dir, as
    www-data when root (Apache refuses root). body: config text after the
    basics (e.g. the substituted conf/apache snippet)."""
    exe = need_program("apache2", "apache2")
    for m in modules:
        need_file(os.path.join(APACHE_MODULES_DIR, "mod_%s.so" % m),
                  "libapache2-mod-fcgid" if m == "fcgid" else "apache2-bin")
    port = free_port()
    docroot = os.path.join(dir, "htdocs")
    run = os.path.join(dir, "apache-run")
    for d in (docroot, run, os.path.join(run, "fcgid")):
        os.makedirs(d, exist_ok=True)
    give(run)
    log = os.path.join(dir, "apache-error.log")
    name = service_user()[0]
    group = grp.getgrgid(service_user()[2]).gr_name
    conf = ["ServerRoot %s" % dir, "ServerName localhost",
            "Listen 127.0.0.1:%d" % port]
    conf += ["LoadModule %s_module %s/mod_%s.so" % (m, APACHE_MODULES_DIR, m) for m in modules]
    conf += [
        "User %s" % name, "Group %s" % group,
        "PidFile %s/apache.pid" % run,
        "DefaultRuntimeDir %s" % run,
        "Mutex file:%s default" % run,
        "ErrorLog %s" % log,
        "LogLevel warn",
        'DocumentRoot "%s"' % docroot,
        '<Directory "%s">' % docroot, "  Require all granted", "</Directory>",
        "TypesConfig /dev/null",
        "AddType application/json .json",
        "AddType text/plain .txt",
        "AddType text/html .html",
        "AddType text/javascript .js",
        "AddType text/css .css",
        "StartServers 2",
        "ServerLimit 4",
        "ThreadsPerChild 16",
        "MaxRequestWorkers 64",
        "KeepAlive Off",
        "<IfModule mod_fcgid.c>",
        "  FcgidIPCDir %s/fcgid" % run,
        "  FcgidProcessTableFile %s/fcgid_shm" % run,
        # spawn quickly so concurrent requests do meet several processes
        "  FcgidSpawnScoreUpLimit 64",
        "  FcgidMinProcessesPerClass 0",
        "</IfModule>",
    ]
    if remoteip:
        conf += ["<IfModule mod_remoteip.c>", "  RemoteIPHeader X-Forwarded-For",
                 "  RemoteIPInternalProxy 127.0.0.1", "</IfModule>"]
    conf.append(body)
    path = os.path.join(dir, "apache2.conf")
    with open(path, "w") as f:
        f.write("\n".join(conf) + "\n")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    chk = subprocess.run([exe, "-t", "-f", path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env)
    if chk.returncode != 0:
        raise HarnessError("apache2 rejects %s: %s" % (path, chk.stdout.decode(errors="replace")))
    p = start([exe, "-f", path, "-DFOREGROUND"], env=env, log=os.path.join(dir, "apache.out"))
    wait_port(port, proc=p, what="apache2", log=log)
    return Server("apache", port, dir, p, log)


def spawn_fcgi(dir, binary, env, script=None, user=True):
    """Start a FastCGI responder with spawn-fcgi on a fresh loopback port
    through conf/spawn-fcgi/cliproxy-mgmt-spawn.sh (script), in the
    foreground. Returns (process, port)."""
    need_program("spawn-fcgi", "spawn-fcgi")
    script = script or src_path("conf/spawn-fcgi/cliproxy-mgmt-spawn.sh")
    port = free_port()
    argv = ["/bin/sh", script, "-a", "127.0.0.1", "-p", str(port), "-b", binary]
    if "CLIPROXY_CONFIG" in env:
        argv += ["-c", env["CLIPROXY_CONFIG"]]
    if user and os.geteuid() == 0:
        argv += ["-u", service_user()[0]]
    full = dict(os.environ)
    full.update(env)
    log = os.path.join(dir, "spawn-fcgi.log")
    p = start(argv, env=full, log=log)
    wait_port(port, proc=p, what="spawn-fcgi", log=log)
    return p, port
