# cliproxy-mgmt, the FastCGI responder of the management API (DESIGN 5).
# (the program itself follows once the config core is on main)
EXTRA_DIST += src/mgmt/mgmt.h src/mgmt/multipart.c

# Web server snippets the integration tests start their servers from.
EXTRA_DIST += conf/lighttpd/cliproxy-mgmt.conf conf/lighttpd/cliproxy-mgmt-spawn.conf \
	conf/apache/cliproxy-mgmt.conf conf/spawn-fcgi/cliproxy-mgmt-spawn.sh \
	conf/spawn-fcgi/nginx.conf.example
