# deps.sh - sourced by tools/run and tools/test: install the Debian packages
# cliproxy builds and tests with, once (DESIGN.md 1). Idempotent: it asks
# apt only for what dpkg says is missing.
CLIPROXY_BUILD_DEPS="autoconf automake pkg-config make gcc libfcgi-dev libyaml-dev
libcjson-dev libcrypt-dev libcurl4-openssl-dev libevent-dev libcmocka-dev libsqlite3-dev
python3"
CLIPROXY_RUN_DEPS="lighttpd spawn-fcgi curl"
CLIPROXY_TEST_DEPS="lighttpd apache2 libapache2-mod-fcgid spawn-fcgi curl"
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

# Install the client SDKs of tests/sdk (npm ci from the committed lock) when
# node_modules is missing or was installed from another package-lock.json.
# Idempotent; no network once installed. Install scripts are not run.
cp_sdk_install() {
	local top sdk sum
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	sdk="$top/tests/sdk"
	if ! command -v npm >/dev/null 2>&1; then
		echo "npm not found: install the Debian packages nodejs and npm (tools/deps.sh)" >&2
		return 1
	fi
	sum=$(sha256sum "$sdk/package-lock.json" | cut -d' ' -f1) || return 1
	[ "$(cat "$sdk/node_modules/.cliproxy-lock-sha256" 2>/dev/null)" = "$sum" ] && return 0
	echo "installing the client SDKs (npm ci in tests/sdk)"
	(cd "$sdk" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || {
		echo "npm ci in tests/sdk failed (npm registry reachable?)" >&2
		return 1
	}
	echo "$sum" >"$sdk/node_modules/.cliproxy-lock-sha256"
}
