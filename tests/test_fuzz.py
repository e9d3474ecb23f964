"""Generated requests, from botocore's own shapes: never a 5xx, never a body that is not JSON, and
every error one the operation's model lists. The same for the control API's JSON.

Requests mix valid values, boundary values (lengths and numbers at and beyond the modeled limits),
wrong JSON types, missing and unknown members, random bytes and images (whole, truncated, huge),
and the ARNs of real resources: a project with datasets and a running model. Hypothesis runs with
a fixed seed (`derandomize`) and a bounded number of examples, so CI sees the same requests.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
from collections.abc import Callable
from typing import Any

import pytest
from botocore.model import Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from images import scene
from manifests import image_line, manifest
from PIL import Image

from fakerek.api.service_model import service
from fakerek.api.validate import compile_pattern
from fakerek.app import create_app
from fakerek.config import Settings
from fakerek.operations.registry import OPERATIONS
from fakerek.web import services_of

FUZZ = settings(
    max_examples=int(os.environ.get("FAKEREK_FUZZ_EXAMPLES", "40")),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SIGNED = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
}


# -- a world to fuzz against ----------------------------------------------------------------------


class World:
    def __init__(self, client: Any):
        self.client = client
        self.arns: list[str] = []

    def call(self, operation: str, body: Any) -> Any:
        answer = self.client.post(
            "/",
            data=body if isinstance(body, bytes) else json.dumps(body),
            headers={
                "X-Amz-Target": f"RekognitionService.{operation}",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
        return answer


@pytest.fixture(scope="module")
def world(tmp_path_factory: Any) -> Any:
    """A project with TRAIN and TEST datasets and a trained, running model."""
    logging.getLogger("fakerek").setLevel(logging.ERROR)
    app = create_app(Settings(data_dir=str(tmp_path_factory.mktemp("fuzz") / "data")))
    client = app.test_client()
    found = World(client)
    client.put("/fuzz-images", headers=SIGNED)
    lines = []
    for i in range(12):
        label = ("circle", "square", "triangle")[i % 3]
        data, _ = scene(500 + i, [label])
        client.put(f"/fuzz-images/{i}.jpg", data=data, headers=SIGNED)
        lines.append(image_line(f"{i}.jpg", label, bucket="fuzz-images"))
    client.put("/fuzz-images/train.manifest", data=manifest(lines), headers=SIGNED)
    project = found.call("CreateProject", {"ProjectName": "fuzz"}).get_json(force=True)
    arn = project["ProjectArn"]
    source = {
        "GroundTruthManifest": {"S3Object": {"Bucket": "fuzz-images", "Name": "train.manifest"}}
    }
    train = found.call(
        "CreateDataset", {"ProjectArn": arn, "DatasetType": "TRAIN", "DatasetSource": source}
    ).get_json(force=True)
    version = found.call(
        "CreateProjectVersion",
        {
            "ProjectArn": arn,
            "VersionName": "v1",
            "OutputConfig": {"S3Bucket": "fuzz-images", "S3KeyPrefix": "out"},
        },
    ).get_json(force=True)["ProjectVersionArn"]
    found.call("DescribeProjectVersions", {"ProjectArn": arn})  # waits for the training
    started = found.call(
        "StartProjectVersion", {"ProjectVersionArn": version, "MinInferenceUnits": 1}
    )
    assert started.status_code == 200, started.get_json(force=True)
    found.arns = [arn, train["DatasetArn"], version]
    yield found
    services_of(app).close()


# -- values from shapes ---------------------------------------------------------------------------


def _image(kind: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 30, 200)).save(out, kind)
    return out.getvalue()


_JPEG = scene(7, ["circle"])[0]
_PNG = _image("PNG", (64, 64))
IMAGES = [
    _JPEG,
    _PNG,
    _JPEG[: len(_JPEG) // 2],  # truncated
    _PNG[: len(_PNG) - 20],
    _PNG[:33] + b"\0" * 40 + _PNG[73:],  # damaged data
    _image("PNG", (1, 1)),
    _image("GIF", (80, 80)),
    b"\xff\xd8\xff" + b"\0" * 100,
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\xc3P\0\0\xc3P\x08\x02\0\0\0",  # declares 50,000 × 50,000
    b"",
]
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


NAMES = [
    "fuzz",
    "v1",
    "fuzz-images",
    "train.manifest",
    "0.jpg",
    "out",
    "*",
    "cat",
    "arn:aws:rekognition:us-east-1:111122223333:project/x/1",
]


def strings(world: World, shape: Shape, noisy: bool) -> st.SearchStrategy[Any]:
    """Mostly the values that fit the member (real ARNs where it takes an ARN), sometimes any
    text of a fitting length; when `noisy`, also lengths at and beyond the limits."""
    meta = shape.metadata
    low, high = meta.get("min", 0), min(meta.get("max", 300), 2000)
    if shape.enum:
        return st.sampled_from(shape.enum) | (st.text(max_size=12) if noisy else st.nothing())
    pattern = compile_pattern(meta["pattern"]) if "pattern" in meta else None
    fitting = [
        v
        for v in world.arns + NAMES
        if low <= len(v) <= high and (pattern is None or pattern.fullmatch(v))
    ]
    options = [st.text(min_size=low, max_size=min(high, 40))]
    if fitting:
        options = [st.sampled_from(fitting)] * 3 + options
    if noisy:
        lengths = sorted({max(low - 1, 0), low, high, high + 1})
        options.append(st.builds(lambda n: "a" * n, st.sampled_from(lengths)))
        options.append(st.sampled_from(world.arns + NAMES))
    return st.one_of(*options)


def numbers(shape: Shape, noisy: bool) -> st.SearchStrategy[Any]:
    meta = shape.metadata
    low, high = meta.get("min", 0), meta.get("max", 100)
    if not noisy:
        if shape.type_name in ("float", "double"):
            return st.floats(low, high)
        return st.integers(low, high)
    edges = st.sampled_from([low - 1, low, high, high + 1, 0, -1, 2**63, -(2**70)])
    if shape.type_name in ("float", "double"):
        return st.floats(allow_infinity=False) | edges
    return st.integers(low - 1, high + 1) | edges


def value(world: World, shape: Shape, noisy: bool, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value for `shape`: well-formed when not `noisy`; otherwise also wrong JSON types,
    missing and unknown members, and values beyond the modeled limits."""
    kind = shape.type_name
    wrong = ANY_JSON if noisy else st.nothing()
    if depth > 4:
        return st.none()
    if kind == "structure":
        members = {n: value(world, m, noisy, depth + 1) for n, m in shape.members.items()}
        required = set(shape.required_members)
        whole = st.fixed_dictionaries(
            {n: s for n, s in members.items() if n in required},
            optional={n: s for n, s in members.items() if n not in required},
        )
        if not noisy:
            return whole
        return st.one_of(
            whole,
            whole.map(lambda d: {k: v for i, (k, v) in enumerate(d.items()) if i}),  # one less
            st.builds(lambda d, extra: {**d, "Unmodeled": extra}, whole, ANY_JSON),
            ANY_JSON,
        )
    if kind == "list":
        meta = shape.metadata
        low, high = meta.get("min", 0), min(meta.get("max", 4), 4)
        items = value(world, shape.member, noisy, depth + 1)
        return st.lists(items, min_size=0 if noisy else low, max_size=high + noisy) | wrong
    if kind == "map":
        return (
            st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=30), max_size=3)
            | wrong
        )
    if kind == "string":
        return strings(world, shape, noisy) | wrong
    if kind in ("integer", "long", "float", "double"):
        return numbers(shape, noisy) | wrong
    if kind == "boolean":
        return st.booleans() | wrong
    if kind == "blob":
        raw = st.sampled_from(IMAGES) | st.binary(min_size=1, max_size=300)
        encoded = raw.map(lambda b: base64.b64encode(b).decode())
        return encoded | (st.text(max_size=20) if noisy else st.nothing()) | wrong
    if kind == "timestamp":
        return st.integers(0, 2**31) | (st.text(max_size=30) if noisy else st.nothing()) | wrong
    return ANY_JSON


# -- the properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("image", IMAGES, ids=range(len(IMAGES)))
def test_every_kind_of_image_gets_a_modeled_answer(world: World, image: bytes) -> None:
    body = {
        "ProjectVersionArn": world.arns[2],
        "Image": {"Bytes": base64.b64encode(image).decode()},
    }
    answer = world.call("DetectCustomLabels", body)
    assert answer.status_code < 500, answer.data[:300]
    assert (
        answer.status_code == 200
        or json.loads(answer.data)["__type"] != "ResourceNotReadyException"
    )
    if answer.status_code != 200:
        assert json.loads(answer.data)["__type"] in service().errors_of("DetectCustomLabels")


# DetectCustomLabels first, while the model runs; deletions last.
ORDER = sorted(
    OPERATIONS, key=lambda name: (name != "DetectCustomLabels", name.startswith("Delete"), name)
)


@pytest.mark.parametrize("operation", ORDER)
def test_generated_requests_get_a_modeled_answer(world: World, operation: str) -> None:
    shape = service().operation(operation).input_shape
    allowed = service().errors_of(operation)

    @FUZZ
    @given(
        body=st.one_of(
            value(world, shape, noisy=False),
            value(world, shape, noisy=False),
            value(world, shape, noisy=True),
            st.binary(max_size=64),
        )
    )
    def check(body: Any) -> None:
        answer = world.call(operation, body)
        assert answer.status_code < 500, (body, answer.data[:500])
        payload = json.loads(answer.data)
        if answer.status_code != 200:
            assert payload["__type"] in allowed, (body, payload)

    check()


CONTROL: list[tuple[str, str]] = [
    ("POST", "config"),
    ("POST", "faults"),
    ("POST", "rules"),
    ("POST", "clock"),
    ("GET", "usage"),
    ("GET", "config"),
    ("GET", "faults"),
    ("GET", "rules"),
    ("DELETE", "faults"),
    ("DELETE", "rules"),
    ("GET", "health"),
    ("POST", "nothing"),
]


def _control_bodies() -> st.SearchStrategy[Any]:
    keys = st.sampled_from(
        [
            "operation",
            "error",
            "count",
            "message",
            "training",
            "code",
            "units_lost",
            "model",
            "units",
            "seconds",
            "freeze",
            "advance",
            "match",
            "labels",
            "sha256",
            "s3_key",
            "timing",
            "delays",
            "deleting",
            "max_projects",
            "tps_per_inference_unit",
        ]
    )
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=12)
        | st.sampled_from(["ThrottlingException", "CreateProject", "SERVICE_ERROR", "realistic"])
    )
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=12,
    )


@pytest.mark.parametrize("method, name", CONTROL)
def test_generated_control_requests_answer_json(world: World, method: str, name: str) -> None:
    send: Callable[..., Any] = getattr(world.client, method.lower())

    @FUZZ
    @given(body=_control_bodies())
    def check(body: Any) -> None:
        if method == "POST":
            answer = send(
                f"/_fakerek/{name}", data=json.dumps(body), content_type="application/json"
            )
        else:
            query = body if isinstance(body, dict) else {"model": str(body)}
            answer = send(f"/_fakerek/{name}", query_string={k: str(v) for k, v in query.items()})
        assert answer.status_code < 500, (body, answer.data[:300])
        assert isinstance(json.loads(answer.data), dict)

    check()
    world.client.delete("/_fakerek/faults", json={})  # no fault outlives this test
    world.client.post("/_fakerek/config", json={"timing": "instant"})
