# cliproxy-mgmt, the FastCGI responder of the management API (DESIGN 5).
cgibin_PROGRAMS += src/mgmt/cliproxy-mgmt
src_mgmt_cliproxy_mgmt_SOURCES = src/mgmt/mgmt.h src/mgmt/main.c \
	src/mgmt/request.c src/mgmt/response.c src/mgmt/router.c \
	src/mgmt/access.c src/mgmt/h_scalar.c src/mgmt/h_list.c \
	src/mgmt/h_authfiles.c src/mgmt/h_login.c src/mgmt/multipart.c src/mgmt/change.c \
	src/mgmt/history.c src/mgmt/audit.c src/mgmt/h_config.c src/mgmt/h_status.c \
	src/mgmt/h_usage.c
src_mgmt_cliproxy_mgmt_LDADD = $(CORE_LIBS) $(FCGI_LIBS) $(CURL_LIBS)

# Web server snippets the integration tests start their servers from.
EXTRA_DIST += conf/lighttpd/cliproxy-mgmt.conf conf/lighttpd/cliproxy-mgmt-spawn.conf \
	conf/apache/cliproxy-mgmt.conf conf/spawn-fcgi/cliproxy-mgmt-spawn.sh \
	conf/spawn-fcgi/nginx.conf.example
