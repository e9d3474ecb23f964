"""One training in the background, from CreateProjectVersion's request to TRAINING_COMPLETED or
TRAINING_FAILED, and the start-up recovery of trainings and copies a crash interrupted.

Order (training-and-inference.md §1.3, manifests.md §2.8): file checks → line and content
validation (its artefacts written whatever the outcome) → training → calibration and evaluation
on the test set → evaluation summary and snapshots (`artefacts`) → the model's files. A failure
with an error code ends the version with `"<CODE>: <message>"`, anything else as a service
error. The ML stack (numpy, onnxruntime) is imported when the first training starts.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fakerek.config import Settings
from fakerek.domain import images, lifecycle
from fakerek.domain.clock import Clock
from fakerek.domain.lifecycle import VersionOutcome
from fakerek.jobs import Cancelled, cached_training, outcomes
from fakerek.manifests import artefacts, training
from fakerek.manifests.artefacts import Outputs
from fakerek.manifests.codes import status_message
from fakerek.manifests.importer import ImportFailed, ImportLimits
from fakerek.manifests.lines import Line
from fakerek.ml import serving
from fakerek.ml.model_cache import ModelCache
from fakerek.s3.objects import ObjectError, Objects
from fakerek.store import datasets, versions
from fakerek.store.db import Store, StoreClosed, Tx
from fakerek.store.records import ProjectVersion

if TYPE_CHECKING:
    from fakerek.ml.embedding import Embedder

log = logging.getLogger("fakerek.training")
MB = 1024 * 1024
Fetch = Callable[[str, str], "bytes | None"]


class TrainingFailed(Exception):
    """Ends the training with a failure code, or (`code` None) a service error; `detail` goes
    to the log only."""

    def __init__(self, code: str | None, detail: str = ""):
        super().__init__(code or detail)
        self.code = code

    @property
    def status_message(self) -> str:
        return status_message(self.code) if self.code else lifecycle.SERVICE_ISSUE


@dataclass(frozen=True)
class MlOptions:
    """How a training embeds its images and where it finds or keeps its outcome (settings
    `backbone`, `training_threads`, `embedding_store_mb`, `mirror_max_images`, `cache_dir`,
    `model_cache_mb`), fixed when it is created."""

    precision: str
    threads: int
    store_mb: float
    mirror_max_images: int
    cache_dir: str
    model_cache_mb: float

    @classmethod
    def of(cls, settings: Settings) -> MlOptions:
        return cls(
            settings.backbone,
            settings.training_threads,
            settings.embedding_store_mb,
            settings.mirror_max_images,
            settings.cache_dir,
            settings.model_cache_mb,
        )

    def mirrored(self, training_images: int) -> bool:
        """Whether a training on this many images also learns from their mirror images."""
        return training_images <= self.mirror_max_images


@dataclass(frozen=True)
class Options:
    denied: frozenset[str]
    limits: ImportLimits
    fault: str | None = None  # an injected failure code, or SERVICE_ERROR
    ml: MlOptions = field(default_factory=lambda: MlOptions.of(Settings()))


# The work between the request and the model's files: Custom Labels' `_train`, or an adapter's
# (which may end at its next image once `stopping` is set, raising Cancelled).
Trainer = Callable[
    [Store, Clock, Objects, ProjectVersion, Options, dict[str, Any], threading.Event | None], None
]


def run(
    store: Store,
    clock: Clock,
    objects: Objects,
    version_id: int,
    options: Options,
    stopping: threading.Event | None = None,
    train: Trainer | None = None,
    validation: tuple[str, ...] | None = None,
) -> None:
    """Train; the version ends TRAINING_COMPLETED or TRAINING_FAILED, whatever happens (a
    training the server's stop interrupts, at its next image, ends as a service error).
    `train` replaces Custom Labels' training (an adapter's), `validation` the results a content
    error leaves visible."""
    what = f"the training of version {version_id}"
    results: dict[str, Any] = {}
    started = time.monotonic()
    outcome: VersionOutcome
    try:
        with store.read() as conn:
            version = versions.by_id(conn, version_id)
        if version is None:
            return
        what = f"the training of {version.arn}"
        (train or _train)(store, clock, objects, version, options, results, stopping)
        outcome, message = "COMPLETED", None
    except StoreClosed:
        log.warning("%s was cut by the server's stop: the next start marks it failed", what)
        return
    except Cancelled:
        log.info("%s is cancelled: the server is stopping", what)
        outcome, message, results = "FAILED", lifecycle.SERVICE_ISSUE, {}
    except TrainingFailed as failure:
        outcome, message = "FAILED", failure.status_message
        log.info("%s failed: %s (%s)", what, message, failure)
        results = _after_failure(results, failure.code, validation or VALIDATION)
    except Exception:
        log.exception("%s failed", what)
        outcome, message, results = "FAILED", lifecycle.SERVICE_ISSUE, {}
    finished_ms = clock.now_ms()

    def write(tx: Tx) -> None:
        found = versions.by_id(tx, version_id)
        if found is None:
            return
        # billed until the training ends as clients see it (realistic timing stretches it)
        ended_ms = lifecycle.training_end_ms(finished_ms, found.ready_ms)
        if outcome == "COMPLETED":
            results["BillableTrainingTimeInSeconds"] = max(
                1, round((ended_ms - found.created_ms) / 1000)
            )
        else:
            serving.remove_model(store.data_dir, version_id)
        versions.finish(tx, version_id, outcome, finished_ms, message, results, ended_ms)

    if outcomes.record(store, what, write, mark_failed(store, clock, version_id)):
        log.info("%s ended %s after %.1f s", what, outcome, time.monotonic() - started)


def mark_failed(store: Store, clock: Clock, version_id: int) -> outcomes.Write:
    """The write that ends a training or a copy as a service error (its model files gone), if
    it has not ended: after a write of its outcome failed, and at start-up after a crash."""

    def write(tx: Tx) -> None:
        version = versions.by_id(tx, version_id)
        if version is None or version.outcome is not None:
            return
        serving.remove_model(store.data_dir, version_id)
        now = clock.now_ms()
        ended = (
            lifecycle.training_end_ms(now, version.ready_ms)
            if version.phase == "TRAINING"
            else None
        )
        versions.finish(tx, version_id, "FAILED", now, lifecycle.SERVICE_ISSUE, {}, ended)

    return write


VALIDATION = ("ManifestSummary", "TrainingValidation", "TestingValidation")


def _after_failure(
    results: dict[str, Any], code: str | None, validation: tuple[str, ...]
) -> dict[str, Any]:
    """What a failed version shows (§1.5): the validation's locations after a content error,
    once all of them were written; nothing after a service error (its files stay, unnamed), and
    never an evaluation or outputs (a training may fail between two of them)."""
    if code is None or not all(key in results for key in validation):
        return {}
    return {key: results[key] for key in validation}


def put_artefact(outputs: Outputs, key: str, body: str) -> dict[str, Any]:
    """Write one artefact under OutputConfig; its location (a write refused fails the
    training with ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET)."""
    try:
        return outputs.render(key, body)
    except artefacts.OutputNotWritable:
        raise TrainingFailed("ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET") from None


def _train(
    store: Store,
    clock: Clock,
    objects: Objects,
    version: ProjectVersion,
    options: Options,
    results: dict[str, Any],
    stopping: threading.Event | None,
) -> None:
    if options.fault == "SERVICE_ERROR":
        raise TrainingFailed(None, "injected service error")
    if options.fault:
        raise TrainingFailed(options.fault)
    outputs = Outputs(
        objects, version.request, version.project_name, version.name, version.arn, clock.now_ms
    )
    try:
        training.check_output_bucket(objects, outputs.bucket)
        train_texts, test_texts = _inputs(store, objects, version, options)
    except ImportFailed as failure:
        raise TrainingFailed(failure.code) from None

    def read(bucket: str, key: str) -> bytes | None:
        if stopping is not None and stopping.is_set():
            raise Cancelled  # every image is read: validation, training and evaluation
        try:
            return objects.read(bucket, key, limit=images.ImageLimits().max_bytes + 1)
        except ObjectError:
            return None

    limits = training.TrainingLimits(
        max_labels=options.limits.max_labels,
        invalid_row_threshold=options.limits.invalid_row_threshold,
        line=options.limits.line,
    )
    ml = options.ml
    cache = ModelCache.of(ml.cache_dir, int(ml.model_cache_mb * MB))
    determinants = cached_training.Determinants(
        ml.precision, ml.mirrored(len(train_texts)), limits, options.denied
    )
    found = cached_training.look_up(cache, train_texts, test_texts, read, determinants)
    folder = serving.model_folder(store.data_dir, version.id)
    if found.restore(outputs, folder, functools.partial(put_artefact, outputs), results):
        return
    fetch = found.fetch
    embedder = embedder_for(store, ml, len(train_texts))
    embedder.expect(len(train_texts) + len(test_texts or ()))
    try:
        checked = training.validate(
            train_texts,
            test_texts,
            fetch=fetch,
            denied=Denied(options.denied, objects),
            limits=limits,
            inspect=functools.partial(embedder.inspect, limits=limits.image),
        )
        embedder.validated()
        _finish(store, version, checked, _loader(fetch), outputs, results, embedder)
    finally:
        embedder.close()
    found.keep(outputs, folder, results, checked.training.use_case, ml.precision)


@dataclass(frozen=True)
class Denied:
    """The image buckets a training may not read: denied by the settings, or another
    account's (C3, ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET)."""

    settings: frozenset[str]
    objects: Objects

    def __contains__(self, bucket: object) -> bool:
        return isinstance(bucket, str) and (bucket in self.settings or self.objects.denies(bucket))


def embedder_for(store: Store, ml: MlOptions, training_images: int) -> Embedder:
    """Embeds a training's images, through the data directory's store (the ML stack is
    imported here, before validation: validation embeds what it decodes)."""
    from fakerek.ml.embedding import Embedder, workers
    from fakerek.ml.embedding_store import EmbeddingStore

    cache = EmbeddingStore.in_data_dir(store.data_dir, int(ml.store_mb * MB))
    return Embedder(ml.precision, workers(ml.threads), cache, ml.mirrored(training_images))


def _finish(
    store: Store,
    version: ProjectVersion,
    checked: training.Validation,
    load: Callable[[Line], bytes],
    outputs: Outputs,
    results: dict[str, Any],
    embedder: Embedder,
) -> None:
    """After validation: its artefacts, then the training proper."""
    results["ManifestSummary"] = put_artefact(
        outputs, outputs.key("ManifestSummary"), json.dumps(checked.summary(), indent=1)
    )
    results["TrainingValidation"] = put_artefact(
        outputs, outputs.key("TrainingValidation"), checked.training.validation_manifest()
    )
    results["TestingValidation"] = put_artefact(
        outputs, outputs.key("TestingValidation"), checked.testing.validation_manifest()
    )
    if checked.first_error:
        raise TrainingFailed(checked.first_error)
    train = (
        _train_detector
        if checked.training.use_case == training.OBJECT_LOCALIZATION
        else _train_classifier
    )
    train(store, version, checked, load, outputs, results, embedder)


def _inputs(
    store: Store, objects: Objects, version: ProjectVersion, options: Options
) -> tuple[list[str], list[str] | None]:
    """Training and test lines: external manifests, or the project's datasets."""
    request = version.request
    if "TrainingData" in request:

        def read(location: dict[str, Any]) -> list[str]:
            s3 = location["GroundTruthManifest"]["S3Object"]
            return training.read_manifest(
                objects, s3["Bucket"], s3["Name"], s3.get("Version"), options.limits
            )

        train = read(request["TrainingData"]["Assets"][0])
        testing = request["TestingData"]
        test = read(testing["Assets"][0]) if testing.get("Assets") else None
        return train, test
    with store.read() as conn:
        found = {
            d.kind: d for d in datasets.of_projects(conn, [version.project_id], version.created_ms)
        }
        train = [e.entry for e in datasets.all_entries(conn, found["TRAIN"].id)]
        test = (
            [e.entry for e in datasets.all_entries(conn, found["TEST"].id)]
            if "TEST" in found
            else None
        )
    if not train or test == []:  # F2 applies to both project datasets (manifests.md §2.3)
        raise ImportFailed("ERROR_EMPTY_MANIFEST")
    return train, test


def _loader(fetch: Fetch) -> Callable[[Line], bytes]:
    def load(line: Line) -> bytes:
        data = fetch(line.bucket or "", line.key or "")
        if data is None:
            raise TrainingFailed(None, f"image {line.source_ref} disappeared during training")
        return data

    return load


def _sources(
    lines: list[Line], load: Callable[[Line], bytes]
) -> list[tuple[tuple[str, str], Callable[[], bytes]]]:
    """Each line's image location and loader, for `Embedder.embed`."""
    return [((line.bucket or "", line.key or ""), functools.partial(load, line)) for line in lines]


def _train_detector(
    store: Store,
    version: ProjectVersion,
    checked: training.Validation,
    load: Callable[[Line], bytes],
    outputs: Outputs,
    results: dict[str, Any],
    embedder: Embedder,
) -> None:
    import numpy as np

    from fakerek.ml import detector, metrics, sessions

    whole = (0.0, 0.0, 1.0, 1.0)
    examples = []
    for line in checked.training.usable:
        boxes = line.boxes() or [(label, whole) for label in sorted(line.image_labels())]
        examples.append(
            detector.BoxExample(
                functools.partial(load, line),
                np.array([b for _, b in boxes], np.float32),
                [label for label, _ in boxes],
            )
        )
    model = detector.train(examples, precision=embedder.precision)
    test_lines = checked.testing.usable
    truth = [
        [(label, np.array(box, np.float32)) for label, box in line.boxes()] for line in test_lines
    ]
    raw = [  # the model is not calibrated yet: its scores are the raw ones
        [(d.label, d.score, d.box) for d in model.detect(load(line), sessions.TRAINING_THREADS)]
        for line in test_lines
    ]
    hits = [metrics.match_boxes(p, t) for p, t in zip(raw, truth, strict=True)]
    model.calibrate(
        np.array([score for found in raw for _, score, _ in found]),
        np.array([hit for image in hits for hit in image], bool),
    )
    predicted = [
        [(label, model.confidence(score), box) for label, score, box in found] for found in raw
    ]
    labels = _evaluated_labels(model.labels, (label for boxes in truth for label, _ in boxes))
    scored = metrics.evaluate_boxes(labels, predicted, truth)
    model.thresholds = {r.label: r.threshold for r in scored.results if r.label in model.labels}
    totals = metrics.aggregate(scored.results)
    aggregated = {
        **totals,
        "AveragePrecision": scored.average_precision,
        "AverageRecall": scored.average_recall,
    }
    summary = artefacts.summary(labels, scored.results, aggregated, len(test_lines), len(examples))
    location = put_artefact(outputs, outputs.summary_key, summary)
    results["EvaluationResult"] = {"F1Score": totals["F1Score"], "Summary": location}
    results["TrainingOutput"] = put_artefact(
        outputs, outputs.key("TrainingOutput"), artefacts.training_snapshot(checked.training.usable)
    )
    evaluated = [
        metrics.evaluated_boxes(found, true_boxes, model.thresholds)
        for found, true_boxes in zip(predicted, truth, strict=True)
    ]
    results["TestingOutput"] = put_artefact(
        outputs,
        outputs.key("TestingOutput"),
        artefacts.box_snapshot(test_lines, labels, truth, evaluated),
    )
    model.save(serving.model_folder(store.data_dir, version.id))


def _train_classifier(
    store: Store,
    version: ProjectVersion,
    checked: training.Validation,
    load: Callable[[Line], bytes],
    outputs: Outputs,
    results: dict[str, Any],
    embedder: Embedder,
) -> None:
    import numpy as np

    from fakerek.ml import classifier, metrics

    train_lines, test_lines = checked.training.usable, checked.testing.usable
    embedded = embedder.embed(_sources(train_lines, load), 2, "training images")
    model = classifier.train(
        embedded, [line.image_labels() for line in train_lines], embedder.precision
    )
    del embedded
    test_embedded = embedder.embed(_sources(test_lines, load), 1, "test images")[:, 0]
    labels = _evaluated_labels(
        model.labels, (label for line in test_lines for label in line.image_labels())
    )
    truth = np.array(
        [[label in line.image_labels() for label in labels] for line in test_lines],
        dtype=bool,
    ).reshape(len(test_lines), len(labels))
    learned = truth[:, : len(model.labels)]
    model.calibrate(test_embedded, learned)
    scores = model.scores_of(test_embedded)
    per_label = metrics.evaluate(labels, scores, truth)
    thresholds = {r.label: r.threshold for r in per_label}
    model.thresholds = {label: thresholds[label] for label in model.labels}
    totals = metrics.aggregate(per_label)
    aggregated = {
        **totals,
        "ConfusionMatrix": metrics.confusion_matrix(labels, scores, truth),
    }
    summary = artefacts.summary(labels, per_label, aggregated, len(test_lines), len(train_lines))
    location = put_artefact(outputs, outputs.summary_key, summary)
    results["EvaluationResult"] = {"F1Score": totals["F1Score"], "Summary": location}
    results["TrainingOutput"] = put_artefact(
        outputs, outputs.key("TrainingOutput"), artefacts.training_snapshot(train_lines)
    )
    results["TestingOutput"] = put_artefact(
        outputs,
        outputs.key("TestingOutput"),
        artefacts.label_snapshot(test_lines, labels, thresholds, scores.tolist(), truth.tolist()),
    )
    model.save(serving.model_folder(store.data_dir, version.id))


def _evaluated_labels(learned: list[str], tested: Iterable[str]) -> list[str]:
    """The model's labels, then the test set's labels it never learned (the overlap rule lets
    them through; `metrics` evaluates them as never predicted)."""
    return [*learned, *sorted(set(tested) - set(learned))]


def recover(store: Store, clock: Clock) -> None:
    """At start-up: a training or a copy a crash interrupted ends as a service error."""
    with store.read() as conn:
        stuck = [version.id for version in versions.unfinished(conn)]
    for version_id in stuck:
        with store.write() as tx:
            mark_failed(store, clock, version_id)(tx)
