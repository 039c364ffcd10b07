# Web-server files (DESIGN.md 2, conf/). Each web server's FastCGI settings
# for the management responder are written once, in conf/*/cliproxy-mgmt.conf;
# the site files the Debian package installs (debian/cliproxy.install) are
# built from templates with that file spliced in by tools/splice.awk, so the
# tests, tools/run and the package all run the same text.
WEB_SITE_FILES = conf/lighttpd/50-cliproxy.conf conf/apache/cliproxy.conf
noinst_DATA = $(WEB_SITE_FILES)
CLEANFILES += $(WEB_SITE_FILES)
EXTRA_DIST += tools/splice.awk \
	conf/lighttpd/50-cliproxy.conf.in conf/lighttpd/cliproxy-mgmt.conf \
	conf/apache/cliproxy.conf.in conf/apache/cliproxy-mgmt.conf

conf/lighttpd/50-cliproxy.conf: conf/lighttpd/50-cliproxy.conf.in \
		conf/lighttpd/cliproxy-mgmt.conf tools/splice.awk
conf/apache/cliproxy.conf: conf/apache/cliproxy.conf.in \
		conf/apache/cliproxy-mgmt.conf tools/splice.awk
$(WEB_SITE_FILES):
	$(AM_V_GEN)$(MKDIR_P) $(@D) && \
	$(AWK) -v top='$(srcdir)' -f $(srcdir)/tools/splice.awk \
		$(srcdir)/$@.in > $@.tmp && mv -f $@.tmp $@

# The built site files, started with test paths and ports: what the
# package installs is what is tested.
TESTS += tests/integration/web_sites.py
EXTRA_DIST += tests/integration/web_sites.py
