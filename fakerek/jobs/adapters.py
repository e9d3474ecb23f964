"""An adapter's training in the background: from CreateProjectVersion's manifests to a calibrated
multi-label head, its evaluation against the base model and AWS's output files.

It runs inside `training.run` (which records the outcome, the billed time and a failure's
`"<CODE>: <message>"`): the manifests' file checks, then the lines and images checked
(`manifests.adapters`, which embeds each image as it decodes it), the manifest summary, a
sigmoid head per top-level category on the frozen backbone shared with Custom Labels, its
confidences calibrated on the test images, then the evaluation (base model and adapter, per
category, at the FeatureConfig threshold and at 5 to 100 %), the output manifests and the
model's files.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fakerek.api.wire import JsonObject
from fakerek.domain import images, moderation, taxonomy
from fakerek.domain.clock import Clock
from fakerek.jobs import Cancelled
from fakerek.jobs.training import (
    Denied,
    Options,
    Trainer,
    TrainingFailed,
    embedder_for,
    put_artefact,
)
from fakerek.manifests import adapter_artefacts, adapters, training
from fakerek.manifests.adapters import AdapterLine
from fakerek.manifests.artefacts import Outputs
from fakerek.manifests.importer import ImportFailed
from fakerek.ml import serving
from fakerek.s3.objects import ObjectError, Objects
from fakerek.store.db import Store
from fakerek.store.records import ProjectVersion

if TYPE_CHECKING:
    from fakerek.ml.embedding import Embedder

# The base model's answer for an image (given lazily: a rule by S3 key needs no bytes) and its
# S3 `bucket/key`: category → confidence, expanded to the parent chains.
BaseModel = Callable[[Callable[[], bytes], str], dict[str, float]]


@dataclass(frozen=True)
class AdapterOptions:
    base: BaseModel  # the base model's answers (the test double's rules)
    base_model: str  # the version of the base model the adapter is trained on
    threshold: float  # FeatureConfig's ConfidenceThreshold (the MinConfidence default without)


def trainer(adapter: AdapterOptions) -> Trainer:
    """What `training.run` runs for an adapter with these options."""

    def run(
        store: Store,
        clock: Clock,
        objects: Objects,
        version: ProjectVersion,
        options: Options,
        results: JsonObject,
        stopping: threading.Event | None,
    ) -> None:
        train(adapter, store, clock, objects, version, options, results, stopping)

    return run


def train(
    adapter: AdapterOptions,
    store: Store,
    clock: Clock,
    objects: Objects,
    version: ProjectVersion,
    options: Options,
    results: JsonObject,
    stopping: threading.Event | None = None,
) -> None:
    """An adapter's training (`trainer` gives it to `training.run`); it ends at its next image
    once `stopping` is set (Cancelled)."""
    request = version.request
    if options.fault == "SERVICE_ERROR":
        raise TrainingFailed(None, "injected service error")
    if options.fault:
        raise TrainingFailed(options.fault)
    outputs = Outputs(
        objects, request, version.project_name, version.name, version.arn, clock.now_ms
    )
    try:
        training.check_output_bucket(objects, outputs.bucket)
        train_texts = _read(objects, request["TrainingData"]["Assets"][0], options)
        assets = request.get("TestingData", {}).get("Assets")
        test_texts = _read(objects, assets[0], options) if assets else None
    except ImportFailed as failure:
        raise TrainingFailed(failure.code) from None

    def fetch(bucket: str, key: str) -> bytes | None:
        if stopping is not None and stopping.is_set():
            raise Cancelled  # every image is read: validation, training and evaluation
        try:
            return objects.read(bucket, key, limit=images.MODERATION_LIMITS.max_bytes + 1)
        except ObjectError:
            return None

    tax = taxonomy.current()
    embedder = embedder_for(store, options.ml, len(train_texts))
    embedder.expect(len(train_texts) + len(test_texts or ()))
    try:
        checked = adapters.validate(
            train_texts,
            test_texts,
            tax,
            fetch=fetch,
            denied=Denied(options.denied, objects),
            limits=adapters.AdapterLimits(
                line=options.limits.line,
                invalid_row_threshold=options.limits.invalid_row_threshold,
            ),
            inspect=lambda where, data: embedder.inspect(
                where, data, False, images.MODERATION_LIMITS
            ),
        )
        embedder.validated()
        results["ManifestSummary"] = put_artefact(
            outputs, _key(outputs, "ManifestSummary"), json.dumps(checked.summary(), indent=1)
        )
        if checked.first_error:
            raise TrainingFailed(checked.first_error)
        _fit(adapter, store, version, checked, fetch, outputs, results, embedder)
    finally:
        embedder.close()


def _read(objects: Objects, asset: JsonObject, options: Options) -> list[str]:
    s3 = asset["GroundTruthManifest"]["S3Object"]
    return training.read_manifest(
        objects, s3["Bucket"], s3["Name"], s3.get("Version"), options.limits
    )


def _key(outputs: Outputs, artefact: str) -> str:
    return outputs.named(*adapter_artefacts.FILES[artefact])


def _fit(
    adapter: AdapterOptions,
    store: Store,
    version: ProjectVersion,
    checked: adapters.AdapterValidation,
    fetch: Callable[[str, str], bytes | None],
    outputs: Outputs,
    results: JsonObject,
    embedder: Embedder,
) -> None:
    import numpy as np

    from fakerek.ml import classifier

    def load(line: AdapterLine) -> bytes:
        data = fetch(line.bucket or "", line.key or "")
        if data is None:
            raise TrainingFailed(None, f"image {line.source_ref} disappeared during training")
        return data

    def sources(lines: list[AdapterLine]) -> list[Any]:
        return [((x.bucket or "", x.key or ""), functools.partial(load, x)) for x in lines]

    tax = taxonomy.current()
    train_lines, test_lines = checked.training.usable, checked.testing.usable
    embedded = embedder.embed(sources(train_lines), 2, "training images")
    model = classifier.train(
        embedded, [set(x.labels) for x in train_lines], embedder.precision, multi_label=True
    )
    model.task = classifier.MODERATION
    del embedded
    test_embedded = embedder.embed(sources(test_lines), 1, "test images")[:, 0]
    truth = np.array(
        [[label in x.labels for label in model.labels] for x in test_lines], dtype=bool
    ).reshape(len(test_lines), len(model.labels))
    model.calibrate(test_embedded, truth)
    model.thresholds = {label: adapter.threshold / 100 for label in model.labels}
    scores = model.scores_of(test_embedded)
    base = [adapter.base(functools.partial(load, x), f"{x.bucket}/{x.key}") for x in test_lines]
    answers = [
        moderation.merged(
            tax,
            found,
            {label: 100 * float(s) for label, s in zip(model.labels, image, strict=True)},
        )
        for found, image in zip(base, scores, strict=True)
    ]
    evaluation = adapter_artefacts.evaluation(
        version.arn,
        model.labels,
        adapter.threshold,
        [x.labels for x in test_lines],
        base,
        answers,
        len(train_lines),
        outputs.now_ms(),
    )
    results["EvaluationResult"] = {
        "F1Score": evaluation["AggregatedEvaluationResults"]["F1Score"],
        "Summary": put_artefact(
            outputs, _key(outputs, "EvaluationSummary"), json.dumps(evaluation, indent=1)
        ),
    }
    results["TrainingOutput"] = put_artefact(
        outputs, _key(outputs, "TrainingOutput"), adapter_artefacts.output_manifest(train_lines)
    )
    predictions = [
        (
            adapter_artefacts.prediction(tax, answer, adapter.base_model, version.arn),
            adapter_artefacts.prediction(tax, found, adapter.base_model, None),
        )
        for answer, found in zip(answers, base, strict=True)
    ]
    results["TestingOutput"] = put_artefact(
        outputs,
        _key(outputs, "TestingOutput"),
        adapter_artefacts.output_manifest(test_lines, predictions),
    )
    model.save(serving.model_folder(store.data_dir, version.id))
