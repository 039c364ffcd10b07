# The shared-host deployment (DESIGN 2, issue 14): what a user without root
# copies into the cgi-bin of their home directory on an Apache host.
EXTRA_DIST += cgi-bin/.htaccess cgi-bin/install.sh
