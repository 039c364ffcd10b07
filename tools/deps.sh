# deps.sh - sourced by tools/run and tools/test: install the Debian packages
# cliproxy builds and tests with, once (DESIGN.md 1). Idempotent: it asks
# apt only for what dpkg says is missing.
CLIPROXY_BUILD_DEPS="autoconf automake pkg-config make gcc libfcgi-dev libyaml-dev
libcjson-dev libcrypt-dev libcurl4-openssl-dev libevent-dev libcmocka-dev libsqlite3-dev
python3"
CLIPROXY_RUN_DEPS="lighttpd spawn-fcgi curl"
# chromium: the panel's browser tests (tests/browser/); apache2-suexec-pristine
# and cron: the shared-host test (tests/integration/shared_host.py)
CLIPROXY_TEST_DEPS="lighttpd apache2 libapache2-mod-fcgid spawn-fcgi curl chromium
apache2-suexec-pristine cron"
# node and npm run the official client SDKs (tests/sdk). Debian 12 gives
# nodejs 18 and npm 9 (the pinned SDKs run on node 18); a node installed
# from elsewhere (e.g. NodeSource, which bundles npm) is used as it is:
# asking apt for Debian's npm next to it would replace that node.
cp_node_deps() {
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
		echo "nodejs npm"
}

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

# npm ci in DIR from its committed package-lock.json when node_modules is
# missing or was installed from another lock. Idempotent; no network once
# installed. Install scripts are not run. WHAT names it in messages.
cp_npm_ci() {
	local dir=$1 what=$2 sum
	if ! command -v npm >/dev/null 2>&1; then
		echo "npm not found: install the Debian packages nodejs and npm (tools/deps.sh)" >&2
		return 1
	fi
	sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1) || return 1
	[ "$(cat "$dir/node_modules/.cliproxy-lock-sha256" 2>/dev/null)" = "$sum" ] && return 0
	echo "installing $what (npm ci in $dir)"
	(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || {
		echo "npm ci in $dir failed (npm registry reachable?)" >&2
		return 1
	}
	echo "$sum" >"$dir/node_modules/.cliproxy-lock-sha256"
}

# The client SDKs of tests/sdk, and playwright-core of the browser tests
# (tests/browser; it drives Debian's chromium and needs node 20 or later).
cp_sdk_install() {
	local top
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	cp_npm_ci "$top/tests/sdk" "the client SDKs" &&
		cp_npm_ci "$top/tests/browser" "playwright-core"
}
