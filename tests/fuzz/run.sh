#!/usr/bin/env bash
# run.sh - build every libFuzzer harness in tests/fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) and run each for SECONDS seconds on
# a copy of its committed seed corpus. Any crash, leak or sanitizer report
# fails the run. Used by `make fuzz` and by .ci/run.
#
#   run.sh SRCDIR BUILDDIR [SECONDS]
set -u
src=$1 build=$2 secs=${3:-30}
# Outside tests/: EXTRA_DIST lists the directory tests/fuzz, and automake
# copies a build-tree directory of that name in preference to the source
# one, so fuzz binaries and corpora would end up in the tarball.
out="$build/fuzz-out"
mkdir -p "$out" || exit 1
command -v clang >/dev/null || { echo "fuzz: clang not found: install the Debian package clang"; exit 1; }

pkgs="yaml-0.1 libcjson libcrypt libevent libcurl sqlite3"
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-I$build -I$src/src/core -I$src/src/mgmt -I$src/src/proxyd $(pkg-config --cflags $pkgs)
	-DSYSCONFDIR=\"/etc\" -DLOCALSTATEDIR=\"/var\""
libs="$(pkg-config --libs $pkgs)"

# The core is built once into an archive every harness links.
mkdir -p "$out/core" || exit 1
for c in "$src"/src/core/*.c; do
	# shellcheck disable=SC2086
	clang $cflags -c -o "$out/core/$(basename "$c" .c).o" "$c" 2>>"$out/core.build.log" ||
		{ echo "not ok - core: build failed"; sed 's/^/# /' "$out/core.build.log" | head -20; exit 1; }
done
rm -f "$out/libcore-fuzz.a"
ar rcs "$out/libcore-fuzz.a" "$out"/core/*.o || exit 1
core="$out/libcore-fuzz.a"

# One harness: build it, run it on a copy of its corpus. Prints one "ok"
# or "not ok" line (and its diagnostics); harnesses run $jobs at a time
# (one core each), so the wall time is the fuzz time over the cores.
one() {
	local h=$1 name extra bin corpus log runs
	name=$(basename "$h" .c)
	# A harness names the extra sources it needs on a line "// needs: a.c b.c".
	extra=$(sed -n 's|^// needs: ||p' "$h" | tr ' ' '\n' | sed "/^$/d; s|^|$src/|")
	bin="$out/$name"
	# shellcheck disable=SC2086
	if ! clang $cflags -o "$bin" "$h" $extra $core $libs 2>"$out/$name.build.log"; then
		echo "not ok - $name: build failed"; sed 's/^/# /' "$out/$name.build.log" | head -20
		return 1
	fi
	corpus="$out/$name.corpus"
	rm -rf "$corpus"; mkdir -p "$corpus"
	[ -d "$src/tests/fuzz/corpus/$name" ] && cp "$src/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
	log="$out/$name.log"
	if (cd "$out" && ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" \
		-max_len=65536 -rss_limit_mb=1024 -timeout=10 "$corpus" >"$log" 2>&1); then
		runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1)
		echo "ok - $name: ${runs:-ran} in ${secs}s, corpus $(ls "$corpus" | wc -l) inputs"
	else
		echo "not ok - $name: crashed; the input is in $out (crash-*), log $log"
		grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -10 | sed 's/^/# /'
		return 1
	fi
}
export -f one
export src out cflags core libs secs
jobs=$(nproc 2>/dev/null || echo 1)
results="$out/results"
ls "$src"/tests/fuzz/fuzz_*.c | xargs -P "$jobs" -I{} bash -c 'one "$1" > "$2/$(basename "$1" .c).result"' _ {} "$out"
cat "$out"/fuzz_*.result > "$results"
cat "$results"
pass=$(grep -c '^ok - ' "$results")
fail=$(grep -c '^not ok - ' "$results")
rm -f "$out"/fuzz_*.result
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
