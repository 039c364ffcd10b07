#!/usr/bin/env python3
"""mgmt_spawnfcgi.py - the management API suite (mgmtlib.EndpointSuite)
with the responder started by spawn-fcgi on a loopback TCP port
(conf/spawn-fcgi/cliproxy-mgmt-spawn.sh) behind lighttpd's fastcgi
"host"/"port" mode (conf/lighttpd/cliproxy-mgmt-spawn.conf)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mgmtlib  # noqa: E402
import tap  # noqa: E402


class SpawnFcgi(mgmtlib.EndpointSuite, unittest.TestCase):
    KIND = "spawn"


if __name__ == "__main__":
    tap.main()
