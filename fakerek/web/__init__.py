"""The HTTP surfaces on fakerek's one port: the request pipeline (`pipeline`), the Rekognition
view (`rekognition`), the control API (`control`), the console (`console/`); the embedded S3 is
the pipeline's fallback."""

from __future__ import annotations

import flask

from fakerek.operations.services import Services

EXTENSION = "fakerek"  # the key of `Services` in `flask.Flask.extensions`


def current() -> Services:
    """The services of the application serving the current request."""
    services: Services = flask.current_app.extensions[EXTENSION]
    return services


def services_of(app: flask.Flask) -> Services:
    services: Services = app.extensions[EXTENSION]
    return services
