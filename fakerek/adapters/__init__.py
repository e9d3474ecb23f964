"""Where fakerek touches a dependency's private names: one module per dependency.

Nothing outside this package reaches into moto's or waitress's internals. Each name used here has
a contract test in `tests/test_adapters.py` that fails with the dependency's version in its
message, so that a new release that changes one of them is caught by CI, not by a user.
"""
