"""The composition root: `create_app(settings)` builds one `Services` and the Flask application
over it (`web.pipeline` is the order in which a request meets the surfaces)."""

from __future__ import annotations

from flask import Flask

from fakerek.config import Settings
from fakerek.operations.services import Services
from fakerek.web import pipeline


def create_app(settings: Settings) -> Flask:
    """The application over `settings.data_dir`: opens the store and S3, recovers interrupted
    work, and registers the surfaces. `services_of(app).close()` releases the data directory."""
    services = Services.open(settings)
    try:
        services.recover()
    except BaseException:
        services.close()
        raise
    app = Flask("fakerek")
    pipeline.install(app, services)
    return app
