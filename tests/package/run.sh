#!/usr/bin/env bash
# tests/package/run.sh - the Debian package, end to end, as root on the CI
# machine (doc/deploy.md, issue 6):
#
#   1. build cliproxy_*.deb from a copy of the tree (dpkg-buildpackage -b,
#      tests skipped: `make check` covers them), run lintian on it;
#   2. apt-get install ./cliproxy_*.deb and check what postinst made: users,
#      modes, the generated key, a config with remote management off; the
#      installed site files are the ones make built from conf/;
#   3. enable the lighttpd snippet (lighty-enable-mod), check the real
#      lighttpd and Apache configurations parse with the snippets enabled;
#   4. start lighttpd with the enabled snippets and cliproxyd as the user
#      cliproxy from the shell (no systemd here), on loopback ports chosen
#      now, and probe the spec's curl examples with the generated key;
#   5. stop everything it started, purge the package, check purge cleaned up.
#
# Prints one line per check (TAP-like) and "N passed, N failed"; exits
# non-zero on any failure. Leaves no process running and restores the
# lighttpd/Apache modules it enabled.
#
#   tests/package/run.sh            the whole run (2-4 minutes on 2 cores)
#   KEEP=1 tests/package/run.sh     keep the temp dir (build log, server logs)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)

pass=0
fail=0
n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
# check DESCRIPTION COMMAND...: one check, by the command's exit status.
check() {
	local d=$1
	shift
	if "$@" >"$work/check.out" 2>&1; then
		ok "$d"
	else
		not_ok "$d"
		tail -n 5 "$work/check.out" 2>/dev/null | sed 's/^/#   /'
		# the last HTTP exchange, if any (test keys only, never the real one)
		[ -n "${code:-}" ] && echo "#   last response: $code ${body:0:300}"
	fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
	exit $?
}

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/package/run.sh must run as root (it installs a package)" >&2
	not_ok "running as root"
	finish
fi

. "$top/tools/deps.sh"
export DEBIAN_FRONTEND=noninteractive
if ! cp_install_deps $CLIPROXY_BUILD_DEPS dpkg-dev debhelper dh-autoreconf \
	lintian lighttpd apache2 libapache2-mod-fcgid curl adduser >/dev/null; then
	not_ok "install the packages the test needs"
	finish
fi

work=$(mktemp -d /tmp/cliproxy-pkgtest.XXXXXX)
lighttpd_pid=""
apache_pid=""
daemon_pid=""
mgmt_pids=""
enabled_lighty=""  # lighttpd modules this run enabled (to disable again)
enabled_apache=""  # Apache modules/confs this run enabled

stop_apache() {
	[ -n "$apache_pid" ] || return 0
	kill "$apache_pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$apache_pid" 2>/dev/null || break; sleep 0.1; done
	apache_pid=""
}

stop_services() {
	local p
	stop_apache
	if [ -n "$lighttpd_pid" ]; then
		# lighttpd started the responders; remember them to be sure they go.
		mgmt_pids=$(pgrep -P "$lighttpd_pid" 2>/dev/null | tr '\n' ' ')
		kill "$lighttpd_pid" 2>/dev/null
		wait "$lighttpd_pid" 2>/dev/null
		lighttpd_pid=""
	fi
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
		daemon_pid=""
	fi
	for p in $mgmt_pids; do
		kill "$p" 2>/dev/null
	done
	mgmt_pids=""
}

cleanup() {
	stop_services
	local m
	for m in $enabled_lighty; do lighty-disable-mod "$m" >/dev/null 2>&1; done
	for m in $enabled_apache; do
		case $m in
		conf:*) a2disconf -q "${m#conf:}" >/dev/null 2>&1 ;;
		*) a2dismod -q -f "$m" >/dev/null 2>&1 ;;
		esac
	done
	enabled_lighty=""
	enabled_apache=""
	if dpkg-query -W -f='${Status}' cliproxy 2>/dev/null | grep -q 'ok installed\|config-files'; then
		apt-get purge -y -q cliproxy >/dev/null 2>&1
	fi
	if [ "${KEEP:-}" = 1 ]; then
		echo "# kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A free loopback TCP port (bind port 0, read it back).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- 1. build ------------------------------------------------------------
if dpkg-query -W -f='${Status}' cliproxy 2>/dev/null | grep -q 'ok installed\|config-files'; then
	echo "# cliproxy was installed before this run: purging it first"
	apt-get purge -y -q cliproxy >/dev/null 2>&1
fi

mkdir -p "$work/src"
# The tree as git sees it (tracked and untracked, not ignored): no build
# dirs, no generated autotools files.
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf -) | tar -xf - -C "$work/src"
else
	tar -C "$top" --exclude='./_build*' --exclude='./.dev' --exclude='./.git' -cf - . |
		tar -xf - -C "$work/src"
fi
echo "# building the package in $work/src (log: $work/build.log)"
t0=$SECONDS
(cd "$work/src" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2" \
	dpkg-buildpackage -us -uc -b -Pnocheck) >"$work/build.log" 2>&1
build_rc=$?
echo "# dpkg-buildpackage took $((SECONDS - t0)) s"
deb=$(ls "$work"/cliproxy_*.deb 2>/dev/null | head -n 1)
if [ "$build_rc" -ne 0 ] || [ -z "$deb" ]; then
	not_ok "dpkg-buildpackage -us -uc -b builds cliproxy_*.deb"
	tail -n 40 "$work/build.log" | sed 's/^/# /'
	finish
fi
ok "dpkg-buildpackage -us -uc -b builds $(basename "$deb")"

t0=$SECONDS
lintian --tag-display-limit 0 "$deb" >"$work/lintian.log" 2>&1
echo "# lintian took $((SECONDS - t0)) s"
sed 's/^/# lintian: /' "$work/lintian.log"
check "lintian reports no errors" eval '! grep -q "^E: " "$work/lintian.log"'

contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
for f in ./usr/sbin/cliproxyd ./usr/lib/cgi-bin/cliproxy-mgmt.fcgi ./usr/bin/cliproxyctl \
	./usr/share/cliproxy/config.yaml.template \
	./etc/lighttpd/conf-available/50-cliproxy.conf \
	./etc/apache2/conf-available/cliproxy.conf \
	./lib/systemd/system/cliproxyd.service \
	./usr/share/man/man8/cliproxyd.8.gz ./usr/share/man/man8/cliproxy-mgmt.8.gz \
	./usr/share/man/man5/cliproxy.yaml.5.gz ./usr/share/man/man1/cliproxyctl.1.gz; do
	check "package holds ${f#.}" grep -qx "$f" <<<"$contents"
done
check "package does not ship /etc/cliproxy/config.yaml (made by postinst)" \
	eval '! grep -q "^./etc/cliproxy/" <<<"$contents"'


# ---- 2. install ----------------------------------------------------------
apt-get install -y -q "$deb" >"$work/install.log" 2>&1
install_rc=$?
sed 's/^/# install: /' "$work/install.log" | grep -v '^# install: \(Reading\|Building\|Selecting\|Preparing\|Unpacking\|(Reading\)' | tail -n 20
if [ "$install_rc" -ne 0 ]; then
	not_ok "apt-get install -y ./$(basename "$deb")"
	finish
fi
ok "apt-get install -y ./$(basename "$deb")"

if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify accepts the installed cliproxyd.service" \
		systemd-analyze verify /lib/systemd/system/cliproxyd.service
fi
check "deploy.md is installed uncompressed where the messages point" \
	test -f /usr/share/doc/cliproxy/deploy.md

# The site files are built from conf/ (the management snippet spliced into
# the site template, conf/local.mk): the installed ones are those, and the
# responder they name is the one installed.
check "installed 50-cliproxy.conf is conf/lighttpd/50-cliproxy.conf as make built it" \
	cmp /etc/lighttpd/conf-available/50-cliproxy.conf "$work/src/conf/lighttpd/50-cliproxy.conf"
check "installed apache2 cliproxy.conf is conf/apache/cliproxy.conf as make built it" \
	cmp /etc/apache2/conf-available/cliproxy.conf "$work/src/conf/apache/cliproxy.conf"
for f in /etc/lighttpd/conf-available/50-cliproxy.conf /etc/apache2/conf-available/cliproxy.conf; do
	check "$(basename "$f") names only the installed responder /usr/lib/cgi-bin/cliproxy-mgmt.fcgi" \
		eval '[ -x /usr/lib/cgi-bin/cliproxy-mgmt.fcgi ] &&
		      [ "$(grep -o "/usr/lib/cgi-bin/[^\" ]*" "$f" | sort -u)" = /usr/lib/cgi-bin/cliproxy-mgmt.fcgi ]'
done

# stat_is PATH "OWNER:GROUP MODE"
stat_is() { [ "$(stat -c '%U:%G %a' "$1" 2>/dev/null)" = "$2" ]; }
in_group() { id -nG "$1" 2>/dev/null | tr ' ' '\n' | grep -qx "$2"; }

cfg=/etc/cliproxy/config.yaml
keyfile=/etc/cliproxy/initial-management-key
check "system user cliproxy exists" getent passwd cliproxy
check "www-data is in group cliproxy" in_group www-data cliproxy
check "/etc/cliproxy is root:cliproxy 2770" stat_is /etc/cliproxy "root:cliproxy 2770"
check "/var/lib/cliproxy/auth is cliproxy:cliproxy 2770" stat_is /var/lib/cliproxy/auth "cliproxy:cliproxy 2770"
check "config.yaml is root:cliproxy 0660" stat_is "$cfg" "root:cliproxy 660"
check "initial-management-key is root:root 0600" stat_is "$keyfile" "root:root 600"
key=$(cat "$keyfile" 2>/dev/null)
check "the generated key is 32 characters of [A-Za-z0-9_-]" \
	eval '[[ "$key" =~ ^[A-Za-z0-9_-]{32}$ ]]'
check "the config holds the generated key (plaintext until the responder hashes it)" \
	grep -qF "secret-key: \"$key\"" "$cfg"
check "remote management is off in the first config" grep -q '^  allow-remote: false$' "$cfg"
check "no client API key in the first config" grep -q '^api-keys: \[\]$' "$cfg"

# ---- 3. web-server snippets ---------------------------------------------
for m in fastcgi proxy; do
	ls /etc/lighttpd/conf-enabled/*-"$m".conf >/dev/null 2>&1 || enabled_lighty="$enabled_lighty $m"
done
lighty-enable-mod cliproxy >"$work/lighty-enable.log" 2>&1
check "lighty-enable-mod cliproxy enables the snippet" \
	test -L /etc/lighttpd/conf-enabled/50-cliproxy.conf
check "lighttpd -tt accepts /etc/lighttpd/lighttpd.conf with the snippet" \
	lighttpd -tt -f /etc/lighttpd/lighttpd.conf

for m in fcgid proxy proxy_http; do
	[ -e "/etc/apache2/mods-enabled/$m.load" ] || enabled_apache="$enabled_apache $m"
done
[ -e /etc/apache2/conf-enabled/cliproxy.conf ] || enabled_apache="$enabled_apache conf:cliproxy"
a2enmod -q fcgid proxy_http >/dev/null 2>&1
a2enconf -q cliproxy >/dev/null 2>&1
check "apache2ctl -t accepts the configuration with a2enconf cliproxy" \
	eval 'apache2ctl -t >"$work/apache-t.log" 2>&1'
check "Apache sees the cliproxy virtual host on 127.0.0.1:8317" \
	eval 'apache2ctl -S 2>/dev/null | grep -q "127.0.0.1:8317"'
for m in $enabled_apache; do
	case $m in
	conf:*) a2disconf -q "${m#conf:}" >/dev/null 2>&1 ;;
	*) a2dismod -q -f "$m" >/dev/null 2>&1 ;;
	esac
done
enabled_apache=""

# ---- 4. the stack, started from the shell --------------------------------
port=$(free_port)      # lighttpd: the snippet's 127.0.0.1:8317
dport=$(free_port)     # cliproxyd: the snippet's 8318
mainport=$(free_port)  # lighttpd's main listener (unused)
sock="/run/lighttpd/cliproxy-mgmt-test-$$.socket"
install -d -o www-data -g www-data /run/lighttpd
mkdir -p "$work/lighttpd/conf-enabled" "$work/lighttpd/www" "$work/lighttpd/uploads"
# lighttpd opens its error log after dropping to www-data
chown www-data:www-data "$work/lighttpd/uploads" "$work/lighttpd"
# The enabled snippets as the admin has them, moved to this run's ports.
for f in /etc/lighttpd/conf-enabled/*.conf; do
	sed -e "s|127\.0\.0\.1:8317|127.0.0.1:$port|g" \
	    -e "s|\"port\" => 8318|\"port\" => $dport|g" \
	    -e "s|/run/lighttpd/cliproxy-mgmt\.socket|$sock|g" \
	    "$f" >"$work/lighttpd/conf-enabled/$(basename "$f")"
done
cat >"$work/lighttpd/lighttpd.conf" <<EOF
server.modules = ( "mod_indexfile", "mod_access", "mod_alias", "mod_staticfile" )
server.document-root = "$work/lighttpd/www"
server.upload-dirs = ( "$work/lighttpd/uploads" )
server.errorlog = "$work/lighttpd/error.log"
server.username = "www-data"
server.groupname = "www-data"
server.bind = "127.0.0.1"
server.port = $mainport
include "$work/lighttpd/conf-enabled/*.conf"
EOF
chmod 755 "$work"
lighttpd -D -f "$work/lighttpd/lighttpd.conf" >"$work/lighttpd/stdout.log" 2>&1 &
lighttpd_pid=$!

setpriv --reuid=cliproxy --regid=cliproxy --init-groups \
	/usr/sbin/cliproxyd -f -c "$cfg" --listen "127.0.0.1:$dport" \
	--state-dir /var/lib/cliproxy --log stderr >"$work/cliproxyd.log" 2>&1 &
daemon_pid=$!

base="http://127.0.0.1:$port"
up=no
for _ in $(seq 100); do
	# lighttpd answers 503 until both backends accept connections
	if curl -sf -o /dev/null "$base/healthz" 2>/dev/null &&
	   [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v0/management/debug" 2>/dev/null)" = 401 ]; then
		up=yes
		break
	fi
	sleep 0.1
done
check "lighttpd and cliproxyd answer on 127.0.0.1:$port" test "$up" = yes

# req METHOD PATH [curl args...]: sets $code and $body.
req() {
	local m=$1 p=$2
	shift 2
	body=$(curl -s -m 10 -o - -w '\n%{http_code}' -X "$m" "$@" "$base$p" 2>/dev/null)
	code=${body##*$'\n'}
	body=${body%$'\n'*}
}
# json_is JSON PYTHON-EXPR: the expression over `v` (the parsed JSON) holds.
json_is() {
	python3 -c 'import json, sys; v = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null
}
auth=(-H "Authorization: Bearer $key")
js=(-H 'Content-Type: application/json')

req GET /healthz
check "GET /healthz through the snippet's proxy to cliproxyd: 200 (got $code)" test "$code" = 200

req GET /v0/management/debug
check "GET /v0/management/debug without key: 401 (got $code)" test "$code" = 401
check "... body is {\"error\":\"missing management key\"}" json_is "$body" 'v == {"error": "missing management key"}'

req GET /v0/management/debug -H "Authorization: Bearer wrong-$key"
check "GET /v0/management/debug with a wrong key: 401 (got $code)" test "$code" = 401

req GET /v0/management/debug "${auth[@]}"
check "GET /v0/management/debug with the generated key: 200 (got $code)" test "$code" = 200
check "... body is {\"debug\":false}" json_is "$body" 'v == {"debug": False}'

check "the responder replaced the plaintext key by its bcrypt hash" \
	eval '! grep -qF "$key" "$cfg" && grep -q "secret-key: .*\\\$2[aby]\\\$" "$cfg"'
check "the config keeps its comments after the hash write" \
	grep -q '^# cliproxy configuration (Debian)' "$cfg"

req PUT /v0/management/debug "${auth[@]}" "${js[@]}" -d '{"value":true}'
check "PUT /v0/management/debug {\"value\":true}: 200 {\"status\":\"ok\"} (got $code)" \
	eval '[ "$code" = 200 ] && json_is "$body" "v == {\"status\": \"ok\"}"'

req PUT /v0/management/api-keys "${auth[@]}" "${js[@]}" -d '["k1","k2","k3"]'
check "PUT /v0/management/api-keys [\"k1\",\"k2\",\"k3\"]: 200 (got $code)" test "$code" = 200
check "... body is {\"status\":\"ok\"}" json_is "$body" 'v == {"status": "ok"}'

req GET /v0/management/api-keys -H "X-Management-Key: $key"
check "GET /v0/management/api-keys (X-Management-Key): 200 (got $code)" test "$code" = 200
check "... body is {\"api-keys\":[\"k1\",\"k2\",\"k3\"]}" json_is "$body" 'v == {"api-keys": ["k1", "k2", "k3"]}'

req PATCH /v0/management/api-keys "${auth[@]}" "${js[@]}" -d '{"old":"k2","new":"k2b"}'
req DELETE '/v0/management/api-keys?value=k1' "${auth[@]}"
req GET /v0/management/api-keys "${auth[@]}"
check "PATCH old->new and DELETE ?value= leave {\"api-keys\":[\"k2b\",\"k3\"]}" \
	json_is "$body" 'v == {"api-keys": ["k2b", "k3"]}'

check "config.yaml is still group cliproxy, 0660, after the responder's writes" \
	eval '[ "$(stat -c "%G %a" "$cfg")" = "cliproxy 660" ]'
check "config.yaml is unreadable by others" eval '[ "$(stat -c "%A" "$cfg" | cut -c8-10)" = "---" ]'

# cliproxyd (user cliproxy) notices the file www-data wrote and admits k3.
admitted=no
for _ in $(seq 50); do
	req GET /v1/models -H 'Authorization: Bearer k3'
	[ "$code" = 200 ] && { admitted=yes; break; }
	sleep 0.1
done
check "cliproxyd reloads the responder's write: GET /v1/models with k3: 200" test "$admitted" = yes
req GET /v1/models -H 'Authorization: Bearer k1'
check "GET /v1/models with the deleted key k1: 401 (got $code)" test "$code" = 401

# Credential files: uploaded by www-data, readable by the daemon's user.
req POST '/v0/management/auth-files?name=pkgtest.json' "${auth[@]}" "${js[@]}" \
	-d '{"type":"gemini","token":{"access_token":"x"}}'
check "POST /v0/management/auth-files?name=pkgtest.json: 200 (got $code)" test "$code" = 200
af=/var/lib/cliproxy/auth/pkgtest.json
check "the uploaded file is in group cliproxy" eval '[ "$(stat -c %G "$af" 2>/dev/null)" = cliproxy ]'
check "the uploaded file is readable by user cliproxy (the daemon)" \
	setpriv --reuid=cliproxy --regid=cliproxy --init-groups test -r "$af"
check "the uploaded file is unreadable by others" \
	eval '[ "$(stat -c "%A" "$af" 2>/dev/null | cut -c8-10)" = "---" ]'
req GET /v0/management/auth-files "${auth[@]}"
check "GET /v0/management/auth-files lists pkgtest.json" \
	json_is "$body" '[f["name"] for f in v["files"]] == ["pkgtest.json"]'
req DELETE '/v0/management/auth-files?name=pkgtest.json' "${auth[@]}"
check "DELETE /v0/management/auth-files?name=pkgtest.json: 200 (got $code)" test "$code" = 200

# The same stack through Apache + mod_fcgid with the installed snippet
# (a server config of its own, on this run's ports).
aport=$(free_port)
ap="$work/apache"
mkdir -p "$ap/fcgid"
chown www-data:www-data "$ap" "$ap/fcgid"
sed -e "s|127\.0\.0\.1:8317|127.0.0.1:$aport|g" -e "s|127\.0\.0\.1:8318|127.0.0.1:$dport|g" \
	/etc/apache2/conf-available/cliproxy.conf >"$ap/cliproxy.conf"
amod=/usr/lib/apache2/modules
cat >"$ap/httpd.conf" <<EOF
ServerRoot /etc/apache2
ServerName localhost
PidFile $ap/apache2.pid
Mutex file:$ap default
User www-data
Group www-data
ErrorLog $ap/error.log
LoadModule mpm_event_module $amod/mod_mpm_event.so
LoadModule authz_core_module $amod/mod_authz_core.so
LoadModule alias_module $amod/mod_alias.so
LoadModule mime_module $amod/mod_mime.so
TypesConfig /etc/mime.types
LoadModule fcgid_module $amod/mod_fcgid.so
LoadModule proxy_module $amod/mod_proxy.so
LoadModule proxy_http_module $amod/mod_proxy_http.so
FcgidIPCDir $ap/fcgid
FcgidProcessTableFile $ap/fcgid/shm
Include $ap/cliproxy.conf
EOF
apache2 -f "$ap/httpd.conf" -k start >"$ap/start.log" 2>&1
for _ in $(seq 50); do [ -s "$ap/apache2.pid" ] && break; sleep 0.1; done
apache_pid=$(cat "$ap/apache2.pid" 2>/dev/null)
check "Apache starts with the installed snippet on 127.0.0.1:$aport" test -n "$apache_pid"
lbase=$base
base="http://127.0.0.1:$aport"
req GET /v0/management/api-keys "${auth[@]}"
check "Apache: GET /v0/management/api-keys with the key: {\"api-keys\":[\"k2b\",\"k3\"]} (got $code)" \
	json_is "$body" 'v == {"api-keys": ["k2b", "k3"]}'
req PUT /v0/management/debug "${auth[@]}" "${js[@]}" -d '{"value":false}'
check "Apache: PUT /v0/management/debug {\"value\":false}: 200 (got $code)" test "$code" = 200
req GET /v1/models -H 'Authorization: Bearer k3'
check "Apache: GET /v1/models with k3 proxied to cliproxyd: 200 (got $code)" test "$code" = 200
base=$lbase
stop_apache
[ "$fail" -ne 0 ] && tail -n 5 "$ap/error.log" 2>/dev/null | sed 's/^/# apache: /'

code=""
check "cliproxyd is still running" kill -0 "$daemon_pid"
started="$lighttpd_pid $daemon_pid $(pgrep -P "$lighttpd_pid" 2>/dev/null | tr '\n' ' ')"
stop_services
# Gone or a zombie (the responders are reparented when lighttpd exits, and
# a container's init may be slow to reap them): give them 3 s.
running() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st#Z}" = "$st" ]; }
for _ in $(seq 30); do
	alive=""
	for p in $started; do running "$p" && alive="$alive $p"; done
	[ -z "$alive" ] && break
	sleep 0.1
done
check "lighttpd, its responders and cliproxyd are all gone after SIGTERM" test -z "$alive"
[ -n "$alive" ] && ps -o pid,ppid,stat,cmd -p "${alive# }" 2>/dev/null | sed 's/^/#   /'
if [ "$fail" -ne 0 ]; then
	for f in "$work/cliproxyd.log" "$work/lighttpd/error.log"; do
		tail -n 20 "$f" 2>/dev/null | sed "s|^|# $(basename "$f"): |"
	done
fi

# ---- 5. purge -------------------------------------------------------------
code=""
apt-get purge -y -q cliproxy >"$work/purge.log" 2>&1
purge_rc=$?
check "apt-get purge -y cliproxy" test "$purge_rc" -eq 0
check "purge removed the package" \
	eval '! dpkg-query -W -f="\${Status}" cliproxy 2>/dev/null | grep -q "installed\|config-files"'
check "purge removed /etc/cliproxy" test ! -e /etc/cliproxy
check "purge removed /var/lib/cliproxy" test ! -e /var/lib/cliproxy
check "purge disabled the lighttpd snippet" test ! -e /etc/lighttpd/conf-enabled/50-cliproxy.conf
check "purge took www-data out of group cliproxy" eval '! in_group www-data cliproxy'
for m in $enabled_lighty; do lighty-disable-mod "$m" >/dev/null 2>&1; done
enabled_lighty=""

finish
