# deps.sh - sourced by tools/run and tools/test: install the Debian packages
# cliproxy builds and tests with, once (DESIGN.md 1). Idempotent: it asks
# apt only for what dpkg says is missing.
CLIPROXY_BUILD_DEPS="autoconf automake pkg-config make gcc libfcgi-dev libyaml-dev
libcjson-dev libcrypt-dev libcurl4-openssl-dev libevent-dev libcmocka-dev python3"
CLIPROXY_RUN_DEPS="lighttpd spawn-fcgi curl"
CLIPROXY_TEST_DEPS="lighttpd apache2 libapache2-mod-fcgid spawn-fcgi curl"

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
