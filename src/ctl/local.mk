# cliproxyctl, the admin CLI (DESIGN 2): log in an OAuth account, hash a
# key, check a config. Installed to $(bindir).
bin_PROGRAMS += src/ctl/cliproxyctl
src_ctl_cliproxyctl_SOURCES = src/ctl/ctl.h src/ctl/main.c src/ctl/login.c
src_ctl_cliproxyctl_LDADD = $(CORE_LIBS) $(CURL_LIBS)
