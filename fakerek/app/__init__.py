"""Wiring: `create_app(settings)` builds the application; `cli` and `server` run it."""

from fakerek.app.factory import create_app

__all__ = ["create_app"]
