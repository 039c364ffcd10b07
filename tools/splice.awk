# tools/splice.awk - build a web-server site file from its template:
#
#   awk -v top=SRCDIR -f tools/splice.awk TEMPLATE > OUTPUT
#
# A template line "<indent>@include PATH@" is replaced by the file
# SRCDIR/PATH, each non-empty line prefixed with <indent>; lines starting
# with "##" (notes for the source tree) are dropped from the template and
# from the included file. One mechanism, so that each web server's FastCGI
# settings are written once (conf/*/cliproxy-mgmt.conf) and the installed
# site files carry exactly what the tests run. A missing or empty include
# is an error: a site file without its management settings must not build.
function emit(line, indent) {
	if (line ~ /^##/)
		return
	print (line == "" ? "" : indent line)
}
/^[ \t]*@include [^@]+@[ \t]*$/ {
	indent = $0
	sub(/[^ \t].*$/, "", indent)
	path = $0
	sub(/^[ \t]*@include /, "", path)
	sub(/@[ \t]*$/, "", path)
	path = top "/" path
	n = 0
	while ((rc = (getline line < path)) > 0) {
		emit(line, indent)
		n++
	}
	close(path)
	if (rc < 0 || n == 0) {
		print "splice.awk: cannot include '" path "'" > "/dev/stderr"
		failed = 1
		exit 1
	}
	next
}
{ emit($0, "") }
END { if (failed) exit 1 }
