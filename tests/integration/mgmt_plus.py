#!/usr/bin/env python3
"""mgmt_plus.py - the management endpoints beyond the spec (issue 13,
mgmtplus.PlusSuite) under the three deployments: lighttpd mod_fastcgi,
Apache mod_fcgid (several responder processes: also the If-Match race,
mgmtplus.RaceSuite) and spawn-fcgi behind lighttpd."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mgmtplus  # noqa: E402
import tap  # noqa: E402


class Lighttpd(mgmtplus.PlusSuite, unittest.TestCase):
    KIND = "lighttpd"


class Apache(mgmtplus.RaceSuite, mgmtplus.PlusSuite, unittest.TestCase):
    KIND = "apache"


class SpawnFcgi(mgmtplus.PlusSuite, unittest.TestCase):
    KIND = "spawn"


if __name__ == "__main__":
    tap.main()
