"""nginxlib.py - the nginx of the benchmarks (bench.py figure 5,
proxyd_ccr.py): one worker (cliproxyd is one event loop too), no access
log, keep-alive for the benchmark clients, everything under one directory,
a loopback port chosen at run time."""
import os

import harness


def start(nginx, dir, name, server_block, upstream_block="", nofile=8192):
    """nginx (the binary) with server_block in its one server and
    upstream_block in http; its files in dir/name. Returns (process, port)."""
    port = harness.free_port()
    d = os.path.join(dir, name)
    os.makedirs(d)
    for t in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(d, t))
        os.chmod(os.path.join(d, t), 0o777)
    conf = """
worker_processes 1;
worker_rlimit_nofile %(nofile)d;
daemon off;
master_process on;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    %(upstream)s
    server {
        listen 127.0.0.1:%(port)d;
        %(server)s
    }
}
""" % {"d": d, "port": port, "server": server_block, "upstream": upstream_block,
       "nofile": nofile}
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    p = harness.start([nginx, "-p", d, "-c", path], log=os.path.join(d, "out.log"))
    harness.wait_port(port, proc=p, what="nginx " + name, log=os.path.join(d, "error.log"))
    return p, port
