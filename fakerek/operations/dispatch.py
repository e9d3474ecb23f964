"""The one way into an operation: `invoke`, for the Rekognition view and the console alike.

    name → registry entry → injected fault → parameters checked against botocore's model →
    settling (instant timing) → the operation → only the errors its model lists escape

The caller brings the `Ctx` (whose `operation` names the call), renders the answer and turns an
unexpected exception into its own kind of error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fakerek import __version__
from fakerek.api.errors import AwsError, UnknownOperation
from fakerek.api.service_model import CUSTOM_LABELS_OPERATIONS, service
from fakerek.api.validate import parse_input
from fakerek.operations.context import Ctx
from fakerek.operations.registry import OPERATIONS, OperationSpec
from fakerek.operations.settling import settle

log = logging.getLogger("fakerek")

Params = dict[str, Any]
BodyReader = Callable[[], object]  # the request's JSON, read once a fault has not ended the call


def invoke(ctx: Ctx, params: Params | BodyReader, *, take_faults: bool = True) -> Params:
    """Run `ctx.operation` with wire-shaped `params` (blobs as base64 text), or with what a
    reader returns: a faulted call fails before its body is read. `take_faults=False` for the
    console, whose person looking is not the API client an injected fault is meant for."""
    spec = _spec(ctx.operation)
    try:
        if take_faults:
            fault = ctx.services.faults.take(ctx.operation)
            if fault is not None:
                raise fault
        raw = params() if callable(params) else params
        checked = parse_input(service().operation(ctx.operation).input_shape, raw)
        return spec.func(settle(ctx, spec.settles, checked), checked)
    except AwsError as error:
        if error.code not in service().errors_of(ctx.operation):
            log.error("%s answered %s, which its model does not list", ctx.operation, error.code)
        raise


def _spec(name: str) -> OperationSpec:
    """The registry's entry for `name`; UnknownOperation, saying why, when there is none."""
    spec = OPERATIONS.get(name)
    if spec is not None:
        return spec
    if not service().has_operation(name):
        raise UnknownOperation(f"Amazon Rekognition has no operation named {name!r}.")
    if name not in CUSTOM_LABELS_OPERATIONS:
        raise UnknownOperation(
            f"{name} is an Amazon Rekognition operation outside Custom "
            "Labels; fakerek emulates only Rekognition Custom Labels (and DetectModerationLabels "
            "for Custom Moderation)."
        )
    raise UnknownOperation(
        f"{name} belongs to Rekognition Custom Labels but is not "
        f"implemented by fakerek {__version__} yet."
    )
