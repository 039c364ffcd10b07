#!/usr/bin/env python3
"""mgmt_lighttpd.py - the management API suite (mgmtlib.EndpointSuite)
through lighttpd mod_fastcgi starting the responder itself (bin-path,
max-procs) from conf/lighttpd/cliproxy-mgmt.conf."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mgmtlib  # noqa: E402
import tap  # noqa: E402


class Lighttpd(mgmtlib.EndpointSuite, unittest.TestCase):
    KIND = "lighttpd"


if __name__ == "__main__":
    tap.main()
