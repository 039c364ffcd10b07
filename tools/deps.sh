# deps.sh - sourced by tools/run and tools/test: install the Debian packages
# cliproxy builds and tests with, once (DESIGN.md 1). Idempotent: it asks
# apt only for what dpkg says is missing.
CLIPROXY_BUILD_DEPS="autoconf automake pkg-config make gcc libfcgi-dev libyaml-dev
libcjson-dev libcrypt-dev libcurl4-openssl-dev libevent-dev libcmocka-dev python3"
CLIPROXY_RUN_DEPS="lighttpd spawn-fcgi curl"
# chromium: the panel's browser tests (tests/browser/); apache2-suexec-pristine
# and cron: the shared-host test (tests/integration/shared_host.py)
CLIPROXY_TEST_DEPS="lighttpd apache2 libapache2-mod-fcgid spawn-fcgi curl chromium
apache2-suexec-pristine cron"

cp_install_deps() {
	local missing="" p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing Debian packages:$missing"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -q >/dev/null || return 1
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
}

# Build into $1 (created), configured with the remaining arguments.
cp_build() {
	local builddir=$1 top
	shift
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
		(cd "$top" && autoreconf -fi) || return 1
	fi
	mkdir -p "$builddir" || return 1
	(cd "$builddir" && { [ -f Makefile ] || "$top/configure" -q "$@"; } &&
		make -s -j"$(nproc)") || return 1
}

# The npm packages of the browser tests (playwright-core, pinned by
# tests/browser/package-lock.json): `npm ci` only when node_modules is
# missing or older than the lock file. Needs node 20 or later with npm.
cp_npm_deps() {
	local dir=$1
	if [ -f "$dir/node_modules/.package-lock.json" ] &&
		[ ! "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1; then
		echo "npm not found: the browser tests need node 20 or later with npm" >&2
		return 1
	fi
	echo "installing npm packages in $dir (npm ci)"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}
