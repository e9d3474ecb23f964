"""A real fakerek server for test suites: `FakerekServer` (a context manager, usable anywhere) and
the pytest plugin `fakerek.testing.plugin`, registered by the `pytest11` entry point when fakerek
is installed."""

from fakerek.testing.server import MODES, FakerekServer, Mode, ServerFailed

__all__ = ["MODES", "FakerekServer", "Mode", "ServerFailed"]
