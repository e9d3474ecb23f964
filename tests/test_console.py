"""The console in-process (Flask's test client): pages, scopes, same-origin checks, escaping,
thumbnails, pagination, S3 folder imports, the test-double forms, and the parsing of entries
and evaluation files. The browser tests are in test_console_browser.py."""

from __future__ import annotations

import io
import json
import os
import re

import pytest
from conftest import call
from manifests import BUCKET, box_line, image_line, manifest
from PIL import Image

from fakerek.web import services_of
from fakerek.web.console import entries, evaluation_report

CONSOLE = "/_fakerek/console"
OWN = {"Origin": "http://localhost"}


def auth(account: str, region: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={account}/20260101/{region}/rekognition/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )


def png(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def put(client, key: str, body: bytes, bucket: str = BUCKET) -> None:
    client.put(f"/{bucket}")
    assert client.put(f"/{bucket}/{key}", data=body).status_code == 200


def dataset_from(client, lines: list, project: str = "p") -> str:
    put(client, f"{project}.manifest", manifest(lines).encode())
    arn = call(client, "CreateProject", {"ProjectName": project})[1]["ProjectArn"]
    source = {
        "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": f"{project}.manifest"}}
    }
    status, created = call(
        client,
        "CreateDataset",
        {"ProjectArn": arn, "DatasetType": "TRAIN", "DatasetSource": source},
    )
    assert status == 200, created
    return created["DatasetArn"]


def page(client, path: str) -> str:
    answer = client.get(CONSOLE + path)
    assert answer.status_code == 200, answer.data[:500]
    text = answer.get_data(as_text=True)
    assert text.count("<h1") == 1
    return text


def flashes(client) -> str:
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>([^<]*)<', page(client, "/")))


def test_pages_and_errors_are_html_with_one_heading(client):
    assert "No projects in 123456789012 · us-east-1" in page(client, "/")
    arn = call(client, "CreateProject", {"ProjectName": "p"})[1]["ProjectArn"]
    assert "No training dataset." in page(client, f"/project?arn={arn}")
    assert "<h1>Test double</h1>" in page(client, "/test-double")
    other = arn[:-1] + ("1" if arn.endswith("0") else "0")  # another creation time
    missing = client.get(f"{CONSOLE}/project?arn={other}")
    assert missing.status_code == 400 and b"<h1>ResourceNotFoundException</h1>" in missing.data
    assert client.get(f"{CONSOLE}/project?arn=nonsense").status_code == 400
    static = client.get(f"{CONSOLE}/static/console.css")
    assert static.status_code == 200 and b".panel" in static.data


def test_every_page_sends_security_headers(client):
    answer = client.get(CONSOLE + "/")
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_selector_lists_the_scopes_that_hold_projects(client):
    call(
        client,
        "CreateProject",
        {"ProjectName": "far"},
        Authorization=auth("111122223333", "eu-west-1"),
    )
    text = page(client, "/")
    assert 'value="111122223333:eu-west-1"' in text and 'value="123456789012:us-east-1"' in text
    assert "far" in page(client, "/?scope=111122223333:eu-west-1")
    assert "far" in page(client, "/")  # the choice is remembered
    assert "far" not in page(client, "/?scope=123456789012:us-east-1")


def test_changes_refuse_other_origins(client):
    form = {"name": "p", "account": "123456789012", "region": "us-east-1"}
    refused = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
        {"Origin": "http://localhost:1234"},
    ]
    for headers in refused:
        answer = client.post(f"{CONSOLE}/projects", data=form, headers=headers)
        assert answer.status_code == 403 and b"refused" in answer.data
    assert call(client, "DescribeProjects")[1]["ProjectDescriptions"] == []
    saved = client.post(f"{CONSOLE}/dataset/labels", json={"dataset": "x"}, headers=refused[0])
    assert saved.status_code == 403 and "refused" in saved.get_json()["error"]
    ok = client.post(
        f"{CONSOLE}/projects", data=form, headers={"Referer": "http://localhost/_fakerek/console/"}
    )
    assert ok.status_code == 303 and "/_fakerek/console/project?arn=" in ok.headers["Location"]
    assert (
        client.post(f"{CONSOLE}/projects", data={**form, "name": "q"}, headers=OWN).status_code
        == 303
    )
    assert len(call(client, "DescribeProjects")[1]["ProjectDescriptions"]) == 2


def test_api_errors_come_back_as_messages(client):
    form = {"name": "bad name", "back": f"{CONSOLE}/"}
    answer = client.post(f"{CONSOLE}/projects", data=form, headers=OWN)
    assert answer.status_code == 303 and answer.headers["Location"] == f"{CONSOLE}/"
    shown = flashes(client)
    assert "ValidationException: 1 validation error detected: Value &#39;bad name&#39;" in shown
    offsite = client.post(f"{CONSOLE}/projects", data={"back": "//evil.example/"}, headers=OWN)
    assert offsite.headers["Location"] == f"{CONSOLE}/"  # no open redirect


def test_user_text_is_escaped(client):
    label = "<script>alert(1)</script>"
    key = "x/<img src=x onerror=alert(2)>.png"
    put(client, key, png())
    arn = dataset_from(client, [image_line(key, label)])
    text = page(client, f"/dataset?arn={arn}")
    assert label not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'alt="x/&lt;img src=x onerror=alert(2)&gt;.png"' in text
    data = re.search(
        r'<script type="application/json" id="dataset-data">(.*?)</script>', text, re.S
    )
    assert data and json.loads(data.group(1))["entries"][0]["labels"] == [label]


def test_the_console_does_not_take_injected_faults(client):
    client.post(
        "/_fakerek/faults", json={"operation": "DescribeProjects", "error": "ThrottlingException"}
    )
    page(client, "/")
    status, answer = call(client, "DescribeProjects")  # still pending for the API caller
    assert (status, answer["__type"]) == (500, "ThrottlingException")


def test_thumbnails_are_small_jpegs_made_once(app, client):
    put(client, "big.png", png(800, 600))
    url = f"{CONSOLE}/image?bucket={BUCKET}&key=big.png"
    first = client.get(url)
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(first.data)).size == (320, 240)
    folder = os.path.join(services_of(app).store.data_dir, "console-thumbnails")
    assert len(os.listdir(folder)) == 1
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    large = client.get(url + "&size=large")
    assert Image.open(io.BytesIO(large.data)).size == (800, 600)  # never enlarged
    assert client.get(f"{CONSOLE}/image?bucket={BUCKET}&key=none.png").status_code == 404
    put(client, "text.png", b"not an image")
    assert client.get(f"{CONSOLE}/image?bucket={BUCKET}&key=text.png").status_code == 404


def test_the_gallery_pages_through_entries_with_filters(client):
    lines = [image_line(f"i{n:03d}.png", "odd" if n % 2 else "even") for n in range(120)]
    arn = dataset_from(client, lines)
    first = page(client, f"/dataset?arn={arn}")
    assert first.count('class="card"') == 50 and "Page 1:" in first
    following = re.search(r'href="([^"]*)">Next page', first).group(1).replace("&amp;", "&")
    second = client.get(following).get_data(as_text=True)
    assert "Page 2:" in second and "i050.png" in second and "i049.png" not in second
    assert "Previous page" in second
    odd = page(client, f"/dataset?arn={arn}&label=odd&contains=i1")
    keys = re.findall(r'<p class="key" title="[^"]*">([^<]*)</p>', odd)
    assert keys == [f"i{n:03d}.png" for n in range(100, 120) if n % 2]
    assert page(client, f"/dataset?arn={arn}&labeled=false").count('class="card"') == 0


def test_a_dataset_from_an_s3_folder_is_labelled_by_subfolder(client):
    for key in ("f/cat/1.png", "f/cat/deep/2.PNG", "f/dog/3.jpg", "f/top.png", "f/notes.txt"):
        put(client, key, png(100, 100))
    arn = call(client, "CreateProject", {"ProjectName": "p"})[1]["ProjectArn"]
    form = {"project": arn, "type": "TRAIN", "source": "folder", "folder": f"s3://{BUCKET}/f"}
    answer = client.post(f"{CONSOLE}/datasets", data={**form, "by_folder": "on"}, headers=OWN)
    assert answer.status_code == 303
    dataset = answer.headers["Location"].split("arn=")[1]
    found = call(client, "ListDatasetEntries", {"DatasetArn": dataset})[1]["DatasetEntries"]
    labels = {}
    for text in found:
        entry = entries.parse(text)
        labels[entry.key] = entry.labels
    assert labels == {
        "f/cat/1.png": ["cat"],
        "f/cat/deep/2.PNG": ["cat"],
        "f/dog/3.jpg": ["dog"],
        "f/top.png": [],
    }


def test_the_console_reads_s3_as_the_account_it_shows(client):
    put(client, "f/cat/1.png", png(100, 100))  # unsigned: the default account's bucket
    other = {"Authorization": auth("222222222222", "us-east-1")}
    arn = call(client, "CreateProject", {"ProjectName": "p"}, **other)[1]["ProjectArn"]
    form = {"project": arn, "type": "TRAIN", "source": "folder", "folder": f"s3://{BUCKET}/f"}
    answer = client.post(f"{CONSOLE}/datasets", data=form, headers=OWN)
    assert answer.status_code == 303
    assert f"s3://{BUCKET}/f/ cannot be listed: access to bucket {BUCKET} is denied" in (
        flashes(client)
    )
    image = f"{CONSOLE}/image?bucket={BUCKET}&key=f/cat/1.png"
    assert client.get(image).status_code == 200
    assert client.get(f"{image}&account=222222222222").status_code == 404


def test_deleting_a_project_deletes_its_datasets_first(client):
    arn = dataset_from(client, [image_line("a.png", "x")])
    project = call(client, "DescribeProjects")[1]["ProjectDescriptions"][0]["ProjectArn"]
    answer = client.post(f"{CONSOLE}/projects/delete", data={"arn": project}, headers=OWN)
    assert answer.status_code == 303
    assert call(client, "DescribeProjects")[1]["ProjectDescriptions"] == []
    assert call(client, "DescribeDataset", {"DatasetArn": arn})[0] == 400


def test_labels_are_saved_through_update_dataset_entries(client):
    put(client, "a.png", png(200, 100))
    arn = dataset_from(client, [{"source-ref": f"s3://{BUCKET}/a.png"}])
    edits = {
        "dataset": arn,
        "entries": [
            {
                "sourceRef": f"s3://{BUCKET}/a.png",
                "labels": ["sky"],
                "boxes": [{"label": "sun", "left": 0.5, "top": 0.1, "width": 0.7, "height": 0.2}],
            }
        ],
    }
    answer = client.post(f"{CONSOLE}/dataset/labels", json=edits, headers=OWN)
    assert answer.get_json() == {"saved": 1}
    [text] = call(client, "ListDatasetEntries", {"DatasetArn": arn})[1]["DatasetEntries"]
    entry = entries.parse(text)
    assert (entry.labels, [b.label for b in entry.boxes]) == (["sky"], ["sun"])
    saved = json.loads(text)
    [box] = saved["bounding-box"]["annotations"]
    assert box == {"left": 100, "top": 10, "width": 100, "height": 20, "class_id": 0}  # clipped
    bad = client.post(
        f"{CONSOLE}/dataset/labels", json={"dataset": arn, "entries": [{}]}, headers=OWN
    )
    assert bad.status_code == 400 and "sourceRef" in bad.get_json()["error"]


def test_test_double_forms_change_what_the_control_api_changes(app, client):
    parts = services_of(app)
    form = {"timing": "realistic", **{f"delay_{k}": "2" for k in ("training", "starting")}}
    assert client.post(f"{CONSOLE}/test-double/config", data=form, headers=OWN).status_code == 303
    assert parts.config.snapshot().timing == "realistic"
    assert parts.config.snapshot().delay_training == 2.0
    client.post(f"{CONSOLE}/test-double/config", data={"timing": "sometimes"}, headers=OWN)
    assert parts.config.snapshot().timing == "realistic"
    assert "timing" in flashes(client)
    fault = {"kind": "operation", "operation": "CreateProject", "error": "ThrottlingException"}
    client.post(f"{CONSOLE}/test-double/faults", data={**fault, "count": "2"}, headers=OWN)
    training = {"kind": "training", "code": "SERVICE_ERROR", "count": "1"}
    client.post(f"{CONSOLE}/test-double/faults", data=training, headers=OWN)
    assert parts.faults.list() == [
        {
            "operation": "CreateProject",
            "error": "ThrottlingException",
            "message": "Rate exceeded",
            "count": 2,
        },
        {"training": {"code": "SERVICE_ERROR", "count": 1}},
    ]
    assert "CreateProject" in page(client, "/test-double")
    client.post(f"{CONSOLE}/test-double/faults", data={**fault, "error": "Nope"}, headers=OWN)
    assert "cannot answer &#39;Nope&#39;" in flashes(client)
    client.post(f"{CONSOLE}/test-double/faults/clear", headers=OWN)
    assert parts.faults.list() == []
    rule = {"match": "s3_key", "value": "b/k.jpg", "labels": '[{"Name": "cat", "Confidence": 90}]'}
    client.post(f"{CONSOLE}/test-double/rules", data=rule, headers=OWN)
    assert parts.rules.list()[0]["labels"] == [{"Name": "cat", "Confidence": 90.0}]
    client.post(f"{CONSOLE}/test-double/rules", data={**rule, "labels": "[{"}, headers=OWN)
    assert "labels:" in flashes(client)
    client.post(f"{CONSOLE}/test-double/rules/clear", headers=OWN)
    assert parts.rules.list() == []
    call(client, "CreateProject", {"ProjectName": "p"})
    client.post(f"{CONSOLE}/test-double/reset", headers=OWN)
    assert call(client, "DescribeProjects")[1]["ProjectDescriptions"] == []
    assert parts.config.snapshot().timing == "instant"


# -- parsing --------------------------------------------------------------------------------------


def test_an_entry_shows_its_labels_boxes_and_errors():
    line = box_line("b.jpg", [("cat", (80, 60, 160, 120)), ("cat", (700, 500, 200, 200))])
    line["image"] = 0
    line["image-metadata"] = {
        "class-name": "pets",
        "confidence": 1,
        "type": "groundtruth/image-classification",
        "human-annotated": "yes",
        "creation-date": "2024-01-01T00:00:00",
    }
    line["bounding-box"]["annotations"][1]["cl-errors"] = [
        {"code": "ERROR_INVALID_BOUNDING_BOX", "message": "The bounding box is outside the image."}
    ]
    entry = entries.parse(json.dumps(line))
    assert entry.labels == ["pets"] and entry.all_labels == ["cat", "pets"]
    [box] = entry.boxes  # the box outside the image is not one the service counts
    assert (box.left, box.top, box.width, box.height) == pytest.approx((0.1, 0.1, 0.2, 0.2))
    assert [e["code"] for e in entry.errors] == ["ERROR_INVALID_BOUNDING_BOX"]


def test_an_edit_that_cannot_be_a_manifest_line_is_refused():
    with pytest.raises(entries.EditError, match="cannot be a label name"):
        entries.edited_line("s3://b/a.jpg", ["x-metadata"], [], None)
    with pytest.raises(entries.EditError, match="cannot be read"):
        entries.edited_line("s3://b/a.jpg", [], [entries.Box("a", 0, 0, 1, 1)], None)
    line = entries.edited_line(
        "s3://b/a.jpg", ["bounding-box"], [entries.Box("a", 0, 0, 1, 1)], (64, 64)
    )
    assert "bounding-box-1" in line and line["bounding-box"] == 1  # names never collide


def _classified(flags: dict) -> dict:
    return {
        "source-ref": "s3://b/t.jpg",
        "rekognition-custom-labels-training-0": 0,
        "rekognition-custom-labels-training-0-metadata": {
            "class-name": "cat",
            "type": "groundtruth/image-classification",
        },
        "rekognition-custom-labels-evaluation-0-metadata": {
            "class-name": "dog",
            "confidence": 0.8,
            "type": "groundtruth/image-classification",
            evaluation_report.DETAILS: flags,
        },
    }


def test_test_results_of_a_classifier():
    image = evaluation_report.test_image(_classified({"is-false-positive": True}))
    assert [m.label for m in image.truth] == ["cat"]
    [mark] = image.results
    assert (mark.label, mark.outcome, mark.confidence) == ("dog", "false positive", 80.0)
    negative = evaluation_report.test_image(_classified({"is-true-negative": True}))
    assert negative.results == [] and negative.outcomes() == set()


def _detected(objects: list, truth_objects: list | None = None) -> dict:
    size = [{"width": 100, "height": 50, "depth": 3}]
    box = {"left": 10, "top": 5, "width": 20, "height": 10, "class_id": 0}
    truth_meta = {"class-map": {"0": "cat"}, "type": "groundtruth/object-detection"}
    if truth_objects is not None:
        truth_meta["objects"] = truth_objects
    return {
        "source-ref": "s3://b/t.jpg",
        "rekognition-custom-labels-training-0": {"image_size": size, "annotations": [box]},
        "rekognition-custom-labels-training-0-metadata": truth_meta,
        "rekognition-custom-labels-evaluation": {
            "image_size": size,
            "annotations": [box] * len(objects),
        },
        "rekognition-custom-labels-evaluation-metadata": {
            "objects": objects,
            "class-map": {"0": "cat"},
            "type": "groundtruth/object-detection",
        },
    }


def test_test_results_of_a_detector_read_flags_where_they_are():
    found = {"confidence": 0.9, evaluation_report.DETAILS: {"is-true-positive": True}}
    below = {"confidence": 0.4, evaluation_report.DETAILS: {"is-false-negative": True}}
    image = evaluation_report.test_image(_detected([found, below]))
    [(outcome, box)] = [(m.outcome, m.box) for m in image.results]
    assert outcome == "true positive" and box == pytest.approx((0.1, 0.1, 0.2, 0.2))
    [truth] = image.truth
    assert truth.box == pytest.approx((0.1, 0.1, 0.2, 0.2))
    missed = evaluation_report.test_image(_detected([below, below]))
    assert [(m.outcome, m.confidence, m.box) for m in missed.results] == [
        ("false negative", 40.0, None)
    ]
    flat = {"confidence": 0.7, "is-false-positive": True, "rekognition-custom-labels-object-id": 3}
    later = evaluation_report.test_image(
        _detected([flat], truth_objects=[{"is-false-negative": True}])
    )
    assert sorted(m.outcome for m in later.results) == ["false negative", "false positive"]
    assert all(m.box for m in later.results)


def test_the_confusion_matrix_is_keyed_by_predicted_and_true_label():
    summary = {
        "EvaluationDetails": {"Labels": ["a", "b"]},
        "AggregatedEvaluationResults": {
            "ConfusionMatrix": [
                {"GroundTruthLabel": "a", "PredictedLabel": "b", "Value": 0.25},
                {"GroundTruthLabel": "c", "PredictedLabel": "a", "Value": 1},
            ]
        },
    }
    labels, values = evaluation_report.confusion(summary)
    assert labels == ["a", "b", "c"] and values == {("b", "a"): 0.25, ("a", "c"): 1.0}
    assert (
        evaluation_report.confusion({"AggregatedEvaluationResults": {"AveragePrecision": 1}})
        is None
    )


def test_a_project_is_deleted_once_its_children_are_gone(client):
    arn = dataset_from(client, [image_line("a.png", "x")])
    call(client, "DescribeDataset", {"DatasetArn": arn})  # instant timing: imported by now
    client.post("/_fakerek/config", json={"timing": "realistic", "delays": {"deleting": 30}})
    project = call(client, "DescribeProjects")[1]["ProjectDescriptions"][0]["ProjectArn"]
    answer = client.post(f"{CONSOLE}/projects/delete", data={"arn": project}, headers=OWN)
    assert answer.headers["Location"].endswith(f"/project?arn={project}")
    assert "delete the project once they are gone" in flashes(client)
    [left] = call(client, "DescribeProjects")[1]["ProjectDescriptions"]
    assert left["Status"] == "CREATED" and left["Datasets"][0]["Status"] == "DELETE_IN_PROGRESS"


def test_an_adapters_test_images_are_read_defensively():
    from fakerek.web.console import adapter_page

    good = {
        "source-ref": "s3://bkt/a.jpg",
        "content-moderation-groundtruth": {"ModerationLabels": [{"Name": "Violence"}]},
        "detect-moderation-labels": {
            "ModerationLabels": [{"Name": "Violence", "Confidence": 81.5}, {"Name": 3}]
        },
        "detect-moderation-labels-base-model": {"ModerationLabels": []},
    }
    text = "\n".join(
        [json.dumps(good), "not json", json.dumps({"source-ref": "nowhere"}), json.dumps([1])]
    )
    [image] = adapter_page.read_test_images(text)
    assert (image.bucket, image.key, image.truth) == ("bkt", "a.jpg", ["Violence"])
    assert image.adapter == [adapter_page.Prediction("Violence", 81.5)] and image.base == []
    assert adapter_page.improvement(4, 1) == 75.0
    assert adapter_page.improvement(0, 2) is None  # the base model made none to improve on
    evaluation = {
        "ContentModeration": {
            "InputConfidenceThresholdEvalResults": {"ConfidenceThreshold": 70.0},
            "AllConfidenceThresholdsEvalResults": [{"ConfidenceThreshold": 5.0}, "junk"],
        }
    }
    assert adapter_page.thresholds(evaluation) == [5.0, 70.0]
    assert adapter_page.at_threshold(evaluation, 5.0) == {"ConfidenceThreshold": 5.0}
    assert adapter_page.at_threshold(evaluation, None) == {"ConfidenceThreshold": 70.0}
    assert adapter_page.at_threshold(evaluation, 42.0) is None
