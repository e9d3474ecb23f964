"""Every manifest validation code with its message, in one place (spec manifests.md §2.3-2.7)."""

from __future__ import annotations

from fakerek.domain.moderation import MAX_TRAINING_IMAGES

# Terminal manifest FILE errors (§2.3).
FILE_ERRORS = {
    "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT": "The manifest file extension or contents are invalid.",
    "ERROR_EMPTY_MANIFEST": "The manifest file is empty.",
    "ERROR_MANIFEST_SIZE_TOO_LARGE": "The manifest file size exceeds the maximum supported size.",
    "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM": "The manifest file has too many rows.",
    "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET": "The S3 bucket permissions are incorrect.",
    "ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET": "Unable to write to output S3 bucket.",
    "ERROR_TOO_MANY_RECORDS_IN_ERROR": "The manifest file has too many terminal errors.",
    "ERROR_MANIFEST_TOO_MANY_LABELS": "The manifest file has too many labels.",
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE": "The manifest file doesn't have enough labeled images to distribute the dataset.",
}

# Terminal CONTENT errors at training (§2.7).
CONTENT_ERRORS = {
    "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST": "The manifest file contains too many invalid rows.",
    "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS": "The manifest file contains images from multiple S3 buckets.",
    "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET": "The permissions for the images S3 bucket are invalid.",
    "ERROR_INVALID_IMAGES_S3_BUCKET_OWNER": "Invalid owner id for images S3 bucket.",
    "ERROR_FAILED_IMAGES_S3_COPY": "Failed to copy images from S3 bucket.",
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT": "The manifest file contains insufficient labeled images per label to perform auto-split.",
    "ERROR_MANIFEST_TOO_FEW_LABELS": "The manifest file has too few labels.",
    "ERROR_MANIFEST_TOO_MANY_LABELS": "The manifest file has too many labels.",
    "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS": "The manifest file has too few usable labels.",
    "ERROR_INSUFFICIENT_LABEL_OVERLAP": "Less than 50% label overlap between the training and testing manifest files.",
    "ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP": "Less than 50% usable label overlap between the training and testing manifest files.",
}

# Non-terminal JSON-line codes (§2.6): 17 errors and 3 warnings.
LINE_CODES = {
    "ERROR_MISSING_SOURCE_REF": "The source-ref key is missing.",
    "ERROR_INVALID_SOURCE_REF_FORMAT": "The format of the source-ref value is invalid.",
    "ERROR_NO_LABEL_ATTRIBUTES": "No label attributes found.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT": "The format of the label attribute {attribute} is "
    "invalid.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT": "The format of the label attribute metadata is invalid.",
    "ERROR_NO_VALID_LABEL_ATTRIBUTES": "No valid label attributes found.",
    "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE": "One or more bounding boxes has a missing confidence value.",
    "ERROR_MISSING_CLASS_MAP_ID": "One or more class ids is missing from the class map.",
    "ERROR_INVALID_JSON_LINE": "The JSON Line has an invalid format.",
    "ERROR_INVALID_IMAGE": "The image is invalid. Check S3 path and/or image properties.",
    "ERROR_INVALID_IMAGE_DIMENSION": "The image dimension(s) do not conform to allowed dimensions.",
    "ERROR_INVALID_BOUNDING_BOX": "The bounding box has off frame values.",
    "ERROR_NO_VALID_ANNOTATIONS": "No valid annotations found.",
    "ERROR_BOUNDING_BOX_TOO_SMALL": "The height and width of the bounding box is too small.",
    "ERROR_TOO_MANY_BOUNDING_BOXES": "There are more bounding boxes than the allowed maximum.",
    "ERROR_UNSUPPORTED_USE_CASE_TYPE": "The use case type of the {attribute}-metadata label "
    "attribute metadata is unsupported. Check the type field.",
    "ERROR_INVALID_LABEL_NAME_LENGTH": "The label name is too long. The maximum length is 256 characters.",
    "WARNING_UNANNOTATED_RECORD": "Record is unannotated.",
    "WARNING_NO_ANNOTATIONS": "No annotations were found.",
    "WARNING_NO_ATTRIBUTE_ANNOTATIONS": "No attribute annotations were found.",
}

# fakerek's own codes for adapter (Custom Moderation) manifests, where no Custom Labels code fits:
# AWS documents no validation code for adapters (moderation.md §3.4, §7 D6 and D8).
ADAPTER_LINE_CODES = {
    "ERROR_INVALID_MODERATION_LABEL": "The label {label} is not a moderation label.",
    "WARNING_MODERATION_LABEL_NOT_TOP_LEVEL": "The label {label} is not a top-level moderation "
    "category; the adapter learns it as {top}.",
}
ADAPTER_ERRORS = {
    "ERROR_INSUFFICIENT_TRAINING_IMAGES": "The training manifest has no valid annotated image.",
    "ERROR_INSUFFICIENT_TESTING_IMAGES": "The testing manifest has no valid annotated image.",
    "ERROR_TOO_MANY_TRAINING_IMAGES": "The training dataset has more than "
    f"{MAX_TRAINING_IMAGES:,} images.",
}

# Checked first; any of them stops the validation of its line (§2.5).
PRIORITY = frozenset(
    {
        "ERROR_MISSING_SOURCE_REF",
        "ERROR_INVALID_SOURCE_REF_FORMAT",
        "ERROR_NO_LABEL_ATTRIBUTES",
        "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
        "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE",
        "ERROR_MISSING_CLASS_MAP_ID",
        "ERROR_INVALID_JSON_LINE",
    }
)


def message(code: str, **details: str) -> str:
    text = (
        LINE_CODES.get(code)
        or FILE_ERRORS.get(code)
        or CONTENT_ERRORS.get(code)
        or ADAPTER_LINE_CODES.get(code)
        or ADAPTER_ERRORS[code]
    )
    return text.format(**details) if details else text


def status_message(code: str) -> str:
    """`"<CODE>: <message>"`, the StatusMessage of a failed training (a failed dataset's is the
    bare message, as AWS's DescribeDataset example shows)."""
    return f"{code}: {message(code)}"
