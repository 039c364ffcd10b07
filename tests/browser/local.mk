# The admin panel (www/) in headless Debian chromium, driven by
# playwright-core from npm (tests/browser/package.json and its lock;
# tools/test runs `npm ci` there when node_modules is missing or came from
# another lock, tools/deps.sh cp_npm_ci). panel.py starts lighttpd with the packaged site file, the
# responder and cliproxyd on loopback ports chosen at run time, then runs
# panel.mjs, whose TAP it passes on. Screenshots of every pane, wide and
# 400 px, go to tests/browser/screenshots/ in the build dir.
TESTS += tests/browser/panel.py
EXTRA_DIST += tests/browser/panel.py tests/browser/panel.mjs \
	tests/browser/package.json tests/browser/package-lock.json
clean-local: clean-browser-artefacts
clean-browser-artefacts:
	rm -rf tests/browser/screenshots
.PHONY: clean-browser-artefacts
