"""AWS errors as Python exceptions: one class per error code an operation can answer.

Raise them anywhere below the web layer; `operations.dispatch.invoke` logs a code the operation's
model does not list, and `web.rekognition` turns them into the JSON 1.1 error body with the HTTP
status the model implies (500 for fault shapes, 400 otherwise). A message
several operations answer is composed by its class (`ResourceNotFound.missing`, `.in_state`,
`.being_deleted`).
"""

from __future__ import annotations

from typing import Self


class AwsError(Exception):
    """An error answered to the client as `{"__type": code, "Message": message}`."""

    code = "InternalServerError"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @classmethod
    def being_deleted(cls, kind: str, arn: str) -> Self:
        """A change refused because the resource, or the project it belongs to, is DELETING
        (InvalidParameterException, or ResourceInUseException where the operation lists it)."""
        return cls(f"The {kind} {arn} is being deleted.")


class ValidationError(AwsError):
    """Protocol: a modeled constraint is violated."""

    code = "ValidationException"


class SerializationError(AwsError):
    """Protocol: the body or a member has the wrong JSON type."""

    code = "SerializationException"


class UnknownOperation(AwsError):
    """Protocol: X-Amz-Target names no operation served here."""

    code = "UnknownOperationException"


class AccessDenied(AwsError):
    code = "AccessDeniedException"


class ImageTooLarge(AwsError):
    code = "ImageTooLargeException"


class InternalServerError(AwsError):
    code = "InternalServerError"


class InvalidImageFormat(AwsError):
    code = "InvalidImageFormatException"


class InvalidPaginationToken(AwsError):
    code = "InvalidPaginationTokenException"


class InvalidParameter(AwsError):
    code = "InvalidParameterException"


class InvalidPolicyRevisionId(AwsError):
    code = "InvalidPolicyRevisionIdException"


class InvalidS3Object(AwsError):
    code = "InvalidS3ObjectException"


class LimitExceeded(AwsError):
    code = "LimitExceededException"


class MalformedPolicyDocument(AwsError):
    code = "MalformedPolicyDocumentException"


class ProvisionedThroughputExceeded(AwsError):
    code = "ProvisionedThroughputExceededException"


class ResourceAlreadyExists(AwsError):
    code = "ResourceAlreadyExistsException"


class _StateError(AwsError):
    @classmethod
    def in_state(cls, kind: str, arn: str, status: str, why: str = "") -> Self:
        """ "The dataset … is UPDATE_IN_PROGRESS.", with what would make the call possible."""
        return cls(f"The {kind} {arn} is {status}{'; ' + why if why else ''}.")


class ResourceInUse(_StateError):
    code = "ResourceInUseException"


class ResourceNotFound(AwsError):
    code = "ResourceNotFoundException"

    @classmethod
    def missing(cls, kind: str, arn: str) -> Self:
        return cls(f"The {kind} {arn} does not exist.")


class ResourceNotReady(_StateError):
    code = "ResourceNotReadyException"


class ServiceQuotaExceeded(AwsError):
    code = "ServiceQuotaExceededException"
