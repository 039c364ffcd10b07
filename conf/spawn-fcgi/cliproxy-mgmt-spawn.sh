#!/bin/sh
# cliproxy-mgmt-spawn.sh - run the management responder under spawn-fcgi on
# a loopback TCP port, in the foreground (development; Ctrl-C stops it).
# A web server then forwards /v0/management to it: lighttpd with
# conf/lighttpd/cliproxy-mgmt-spawn.conf, nginx as in nginx.conf.example
# (with "fastcgi_pass 127.0.0.1:PORT;").
#
# usage: cliproxy-mgmt-spawn.sh [-a ADDR] [-p PORT] [-c CONFIG] [-b BINARY] [-u USER]
#   -a ADDR    address to listen on (default 127.0.0.1)
#   -p PORT    port (default 9000)
#   -c CONFIG  config file, exported as CLIPROXY_CONFIG
#              (default $CLIPROXY_CONFIG, else /etc/cliproxy/config.yaml)
#   -b BINARY  responder (default /usr/lib/cgi-bin/cliproxy-mgmt.fcgi)
#   -u USER    user to run as when started as root
# CLIPROXY_BAN_SECONDS in the environment is passed on.
set -eu

addr=127.0.0.1
port=9000
config=${CLIPROXY_CONFIG:-/etc/cliproxy/config.yaml}
binary=/usr/lib/cgi-bin/cliproxy-mgmt.fcgi
user=

while getopts a:p:c:b:u: opt; do
	case $opt in
	a) addr=$OPTARG ;;
	p) port=$OPTARG ;;
	c) config=$OPTARG ;;
	b) binary=$OPTARG ;;
	u) user=$OPTARG ;;
	*) sed -n '2,15s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done

command -v spawn-fcgi >/dev/null 2>&1 || {
	echo "spawn-fcgi not found: install the Debian package spawn-fcgi" >&2
	exit 1
}
[ -x "$binary" ] || { echo "$binary: not an executable responder" >&2; exit 1; }

CLIPROXY_CONFIG=$config
export CLIPROXY_CONFIG
# -n: stay in the foreground as the responder itself (one process)
if [ -n "$user" ]; then
	exec spawn-fcgi -n -a "$addr" -p "$port" -u "$user" -- "$binary"
fi
exec spawn-fcgi -n -a "$addr" -p "$port" -- "$binary"
