# Manual pages (hand-written roff) and the files `make install` puts beside
# the programs for administrators.
dist_man5_MANS = man/cliproxy.yaml.5
dist_man1_MANS = man/cliproxyctl.1
dist_man8_MANS = man/cliproxyd.8 man/cliproxy-mgmt.8

EXTRA_DIST += doc/deploy.md tests/package/run.sh

# The annotated example of every key, for administrators (the Debian package
# makes its first config from its own template; see debian/).
dist_pkgdata_DATA = conf/config.example.yaml
