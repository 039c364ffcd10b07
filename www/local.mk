# The admin panel (DESIGN 2, issue 14): static files, no build step. The
# site files (conf/) serve them at /management.html and /management/ from
# $(pkgdatadir)/www, /usr/share/cliproxy/www in the Debian package.
wwwdir = $(pkgdatadir)/www
dist_www_DATA = www/management.html
wwwassetsdir = $(wwwdir)/management
dist_wwwassets_DATA = www/management/api.js www/management/app.js \
	www/management/authfiles.js www/management/extras.js \
	www/management/panel.css www/management/settings.js www/management/ui.js
