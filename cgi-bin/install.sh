#!/bin/sh
# install.sh - put cliproxy into your home directory on a shared Apache host
# (mod_userdir + suexec, no root, no systemd). doc/deploy.md, "Shared
# hosting", explains the layout; in short:
#
#   ~/public_html/cgi-bin/cliproxy-mgmt.fcgi   the management responder
#   ~/public_html/cgi-bin/.htaccess            its handler and access rules
#   ~/public_html/management.html, management/ the admin panel
#   ~/.config/cliproxy/config.yaml             the config (0600, found by the
#                                              responder without any setting)
#   ~/.cli-proxy-api/                          credential files (auth-dir)
#   ~/.local/state/cliproxy/                   cliproxyd's state (status, logs)
#   ~/.local/bin/cliproxyd, cliproxyd-start    the daemon and its starter
#
# The first run makes a config with a fresh management key, stores only its
# bcrypt hash (the responder hashes it) and prints the key once, with the
# URLs. Later runs replace the programs and the panel and keep the config.
#
#   sh install.sh [--url URL] [--port N] [--cron] [--start] [--from DIR]
#
#   --url URL    your public address, e.g. https://example.com/~alice
#                (default http://<host name>/~<user>)
#   --port N     the port cliproxyd listens on, on 127.0.0.1 (default 8318)
#   --cron       add "@reboot ~/.local/bin/cliproxyd-start" to your crontab
#   --start      start cliproxyd now (cliproxyd-start)
#   --from DIR   where cliproxy-mgmt, cliproxyd and www/ are: a source tree
#                with its build in _build/ (the default is the tree this
#                script is in), or a directory holding the three
#
# Needs: sh, coreutils, the two programs built for this host's system. The
# key is printed on standard output and nowhere else; nothing is sent
# anywhere.
set -eu
umask 077

url=""
port=8318
cron=0
start=0
from=""
while [ $# -gt 0 ]; do
	case $1 in
	--url) url=${2:?--url needs a value}; shift 2 ;;
	--port) port=${2:?--port needs a value}; shift 2 ;;
	--cron) cron=1; shift ;;
	--start) start=1; shift ;;
	--from) from=${2:?--from needs a directory}; shift 2 ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "install.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
done
case $port in
''|*[!0-9]*) echo "install.sh: --port must be a number" >&2; exit 2 ;;
esac
if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
	echo "install.sh: --port must be 1..65535" >&2; exit 2
fi
if [ "$(id -u)" -eq 0 ]; then
	echo "install.sh: run this as the user whose home gets cliproxy, not as root" >&2
	exit 1
fi

user=$(id -un)
home=$(getent passwd "$user" | cut -d: -f6)
[ -n "$home" ] || home=$HOME
here=$(cd "$(dirname "$0")" && pwd)

# Find the programs and the panel: --from, else the source tree this script
# is in (built in _build/), else a Debian package's paths.
find_one() {  # name, candidates...
	name=$1; shift
	for c in "$@"; do
		if [ -e "$c" ]; then
			echo "$c"; return 0
		fi
	done
	echo "install.sh: cannot find $name (looked in: $*); use --from DIR" >&2
	return 1
}
if [ -n "$from" ]; then
	from=$(cd "$from" && pwd)
	set -- "$from"
else
	set -- "$here/.."
fi
top=$1
mgmt=$(find_one "the responder" "$top/cliproxy-mgmt.fcgi" "$top/cliproxy-mgmt" \
	"$top/_build/src/mgmt/cliproxy-mgmt" "$top/src/mgmt/cliproxy-mgmt" \
	/usr/lib/cgi-bin/cliproxy-mgmt.fcgi)
daemon=$(find_one "cliproxyd" "$top/cliproxyd" "$top/_build/src/proxyd/cliproxyd" \
	"$top/src/proxyd/cliproxyd" /usr/sbin/cliproxyd)
www=$(find_one "the panel (www/)" "$top/www/management.html" /usr/share/cliproxy/www/management.html)
www=$(dirname "$www")
htaccess=$(find_one "the .htaccess" "$here/.htaccess" "$top/cgi-bin/.htaccess")

pub="$home/public_html"
cgi="$pub/cgi-bin"
cfgdir="$home/.config/cliproxy"
config="$cfgdir/config.yaml"
auth="$home/.cli-proxy-api"
state="$home/.local/state/cliproxy"
bin="$home/.local/bin"

# suexec runs only programs in directories that only their owner can write:
# the web-facing directories are 0755, the private ones 0700.
mkdir -p "$cfgdir" "$auth" "$state" "$bin"
chmod 700 "$cfgdir" "$auth" "$state"
umask 022
mkdir -p "$pub" "$cgi" "$pub/management"
chmod 755 "$pub" "$cgi" "$pub/management"

# Copy to a temporary name and rename, so that a running responder or a
# request in flight never sees half a file.
put() {  # source, target, mode
	cp "$1" "$2.new.$$"
	chmod "$3" "$2.new.$$"
	mv -f "$2.new.$$" "$2"
}
put "$mgmt" "$cgi/cliproxy-mgmt.fcgi" 755
put "$htaccess" "$cgi/.htaccess" 644
put "$daemon" "$bin/cliproxyd" 755
put "$www/management.html" "$pub/management.html" 644
for f in "$www"/management/*; do
	put "$f" "$pub/management/$(basename "$f")" 644
done

# The daemon's starter: started by hand or from cron (@reboot); does nothing
# when cliproxyd already runs (its pid file names a live cliproxyd).
cat > "$bin/cliproxyd-start.new.$$" <<EOF
#!/bin/sh
# cliproxyd-start - start cliproxyd for $user in the background unless it
# runs already (made by cliproxy's install.sh; crontab: @reboot $bin/cliproxyd-start)
pidfile="$state/cliproxyd.pid"
if [ -f "\$pidfile" ]; then
	pid=\$(cat "\$pidfile")
	case \$(cat "/proc/\$pid/comm" 2>/dev/null) in
	cliproxyd) echo "cliproxyd already runs (pid \$pid)"; exit 0 ;;
	esac
fi
cd "$home" || exit 1
nohup "$bin/cliproxyd" -c "$config" --listen "127.0.0.1:$port" --state-dir "$state" \\
	--log stderr >>"$state/cliproxyd.log" 2>&1 </dev/null &
echo \$! > "\$pidfile"
echo "cliproxyd started (pid \$!), log: $state/cliproxyd.log"
EOF
chmod 755 "$bin/cliproxyd-start.new.$$"
mv -f "$bin/cliproxyd-start.new.$$" "$bin/cliproxyd-start"

# The config: made once, never overwritten.
key=""
if [ -e "$config" ]; then
	echo "kept the existing config $config (the management key is unchanged)"
else
	umask 077
	key=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
	cat > "$config.new.$$" <<EOF
# cliproxy config of $user, made by install.sh (man 5 cliproxy.yaml).
# The management API edits this file; comments and layout are kept.
host: 127.0.0.1
port: $port
remote-management:
  # the panel and curl reach the API through the web server from anywhere:
  # only the key protects it
  allow-remote: true
  secret-key: "$key"
auth-dir: $auth
state-dir: $state
api-keys: []
debug: false
request-log: false
EOF
	mv "$config.new.$$" "$config"
	# The responder replaces the plaintext key by its bcrypt hash the first
	# time it reads the file: one request, as CGI, here and now.
	out=$(CLIPROXY_CONFIG="$config" GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET \
		SCRIPT_NAME=/v0/management PATH_INFO=/debug REMOTE_ADDR=127.0.0.1 \
		HTTP_AUTHORIZATION="Bearer $key" "$cgi/cliproxy-mgmt.fcgi" </dev/null 2>&1) || true
	if ! grep -Eq 'secret-key: "?\$2[aby]\$' "$config"; then
		rm -f "$config"
		echo "install.sh: the responder did not hash the key; config removed. It said:" >&2
		echo "$out" | grep -v "$key" >&2 || true
		exit 1
	fi
fi

if [ "$cron" -eq 1 ]; then
	line="@reboot $bin/cliproxyd-start"
	if ! command -v crontab >/dev/null 2>&1; then
		echo "install.sh: no crontab command here; start cliproxyd with $bin/cliproxyd-start" >&2
	elif crontab -l 2>/dev/null | grep -qxF "$line"; then
		echo "crontab already has: $line"
	else
		{ crontab -l 2>/dev/null || true; echo "$line"; } | crontab -
		echo "added to your crontab: $line"
	fi
fi
if [ "$start" -eq 1 ]; then
	"$bin/cliproxyd-start"
fi

# Apache must be able to walk into public_html.
if [ -z "$(find "$home" -maxdepth 0 -perm -o=x 2>/dev/null)" ]; then
	echo "note: your home directory is closed to the web server; open it with: chmod o+x $home" >&2
fi

[ -n "$url" ] || url="http://$(hostname -f 2>/dev/null || hostname)/~$user"
url=${url%/}
cat <<EOF

cliproxy is installed for $user.
  admin panel     : $url/management.html
  management API  : $url/cgi-bin/cliproxy-mgmt.fcgi/v0/management
  config          : $config
  daemon          : $bin/cliproxyd-start   (listens on 127.0.0.1:$port; log in $state)
EOF
if [ -n "$key" ]; then
	cat <<EOF
  management key  : $key
Keep the key somewhere safe: only its hash is stored, it is not shown again.
EOF
fi
cat <<EOF
Try:
  curl -H 'Authorization: Bearer <key>' $url/cgi-bin/cliproxy-mgmt.fcgi/v0/management/debug
EOF
