"""Trying an image on a model from its console page (a Custom Labels model's or an adapter's):
the uploaded image, the form's minimum confidence, and the preview shown beside the answer."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

from flask import request

from fakerek.api.errors import InvalidParameter
from fakerek.api.wire import JsonObject
from fakerek.web.console import thumbnails


@dataclass(frozen=True)
class Trial:
    data: bytes
    name: str  # the uploaded file's name
    min_confidence: float | None  # None: the form left it empty

    def params(self, model_member: str, arn: str) -> JsonObject:
        """The detection's parameters, the model named by `model_member` (DetectCustomLabels'
        ProjectVersionArn, DetectModerationLabels' ProjectVersion)."""
        params: JsonObject = {
            model_member: arn,
            "Image": {"Bytes": base64.b64encode(self.data).decode()},
        }
        if self.min_confidence is not None:
            params["MinConfidence"] = self.min_confidence
        return params

    def preview(self) -> str | None:
        """The image as a data URL at the console's large size; None when it cannot be shown."""
        try:
            small = thumbnails.resize(self.data, thumbnails.SIZES["large"])
        except thumbnails.Unavailable:
            return None
        return "data:image/jpeg;base64," + base64.b64encode(small).decode("ascii")


def from_form() -> Trial:
    """The trial the posted form asks for; InvalidParameter without an image or with a minimum
    confidence that is not a number."""
    file = request.files.get("image")
    data = file.read() if file else b""
    if not data:
        raise InvalidParameter("Choose an image to try.")
    text = request.form.get("min_confidence", "").strip()
    minimum = number(text, "The minimum confidence is a number from 0 to 100.") if text else None
    return Trial(data, (file.filename or "") if file else "", minimum)


def number(text: str, message: str) -> float:
    """A form's number; InvalidParameter(`message`) for text that is not a finite number (the API
    never gets what JSON cannot carry)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidParameter(message)
    return value
