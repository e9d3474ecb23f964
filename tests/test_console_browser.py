"""The console in a real browser: Debian's chromium driven by Playwright against a real server.

One server, one browser and one trained classifier and detector for the module. Screenshots of
every page visited land in each test's temporary directory (and, when FAKEREK_SCREENSHOTS names
a directory, there too). Without chromium the tests skip, except where a browser must be
present (`CI` set, or /usr/bin/chromium installed): there a missing browser fails them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from images import SHAPES, scene
from manifests import BUCKET, image_line, project_from
from test_versions import OUT, read_json, upload_boxes, upload_shapes

from fakerek.testing import FakerekServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONSOLE = "/_fakerek/console/"


def _browser_required() -> bool:
    return bool(os.environ.get("CI")) or os.path.exists(CHROMIUM)


def _unavailable(reason: str) -> None:
    if _browser_required():
        pytest.fail(f"{reason} (a browser is required: CI is set or {CHROMIUM} exists)")
    pytest.skip(f"{reason}: install it (apt-get install chromium) to run the browser tests")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    if not os.path.exists(CHROMIUM):
        _unavailable(f"chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A server with a trained classifier (shapes) and a trained detector (boxes)."""
    with FakerekServer(str(tmp_path_factory.mktemp("console"))) as server:
        client, s3 = server.client(), server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket=OUT)
        shapes = project_from(client, s3, "shapes", upload_shapes(s3, 30), "shapes.manifest")
        boxes = project_from(client, s3, "boxes", upload_boxes(s3, 40), "boxes.manifest")
        models = {}
        for name, project in (("shapes", shapes), ("boxes", boxes)):
            models[name] = client.create_project_version(
                ProjectArn=project,
                VersionName="v1",
                OutputConfig={"S3Bucket": OUT, "S3KeyPrefix": f"{name}/"},
            )["ProjectVersionArn"]
            client.get_waiter("project_version_training_completed").wait(
                ProjectArn=project, VersionNames=["v1"]
            )
        yield {
            "server": server,
            "client": client,
            "s3": s3,
            "projects": {"shapes": shapes, "boxes": boxes},
            "models": models,
        }


class Pages:
    """A browser page on the console that checks what every page promises, and keeps a
    screenshot of each page it visits."""

    def __init__(self, page, endpoint: str, folder: Path, test: str):
        self.page, self.endpoint, self.folder, self.test = page, endpoint, folder, test
        self.shots = 0
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.accept()

    def open(self, path: str) -> None:
        self.page.goto(self.endpoint + path)
        self.check()

    def check(self) -> None:
        """One h1, alt text on every image, header cells in every table, no script error."""
        page = self.page
        page.wait_for_load_state("load")
        assert page.locator("h1").count() == 1, page.url
        for image in page.locator("img").all():
            assert image.get_attribute("alt"), f"an image without alt text on {page.url}"
        for table in page.locator("table").all():
            assert table.locator("th").count() > 0, f"a table without header cells on {page.url}"
        assert not self.errors, self.errors

    def shot(self, name: str) -> Path:
        self.page.wait_for_load_state("networkidle")
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        copies = os.environ.get("FAKEREK_SCREENSHOTS")
        if copies:
            os.makedirs(copies, exist_ok=True)
            shutil.copy(path, Path(copies) / f"{self.test}-{path.name}")
        return path

    def heading(self) -> str:
        return self.page.locator("h1").inner_text()

    def click(self, role: str, name: str, exact: bool = True) -> None:
        self.page.get_by_role(role, name=name, exact=exact).first.click()
        self.check()


@pytest.fixture
def pages(browser, world, tmp_path, request):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Pages(page, world["server"].endpoint, tmp_path, request.node.name)
    context.close()
    print(f"screenshots: {tmp_path}")


def metric(value: float) -> str:
    return f"{value:.3f}"


def test_navigate_projects_project_dataset_model(world, pages):
    pages.open(CONSOLE)
    assert pages.heading() == "Projects"
    assert pages.page.get_by_role("link", name="shapes", exact=True).is_visible()
    pages.shot("projects")
    pages.click("link", "shapes")
    assert pages.heading() == "shapes"
    assert pages.page.get_by_role("cell", name="CREATE_COMPLETE").first.is_visible()
    pages.shot("project")
    pages.click("link", "Training dataset")
    assert pages.heading() == "Training dataset"
    cards = pages.page.locator("#gallery .card")
    assert cards.count() == 30  # training splits off its test images; the dataset keeps them
    pages.shot("dataset")
    pages.page.get_by_role("link", name="shapes", exact=True).click()
    pages.click("link", "v1")
    assert pages.heading() == "v1"
    assert pages.page.get_by_text("TRAINING_COMPLETED").first.is_visible()
    pages.shot("model")
    pages.click("link", "Test double")
    assert pages.heading() == "Test double"
    pages.shot("test-double")


def test_dataset_filters_and_thumbnails(world, pages):
    dataset = _train_dataset(world, "shapes")
    pages.open(f"{CONSOLE}dataset?arn={dataset}")
    assert pages.page.locator("#gallery .card").count() == 30
    image = pages.page.get_by_alt_text("img0.jpg", exact=True)
    assert image.evaluate("i => i.complete && i.naturalWidth > 0 && i.naturalWidth <= 320")
    pages.page.locator("#filter-label").select_option("circle")
    pages.click("button", "Apply filters")
    assert pages.page.locator("#gallery .card").count() == 10
    pages.page.get_by_label("Source-ref contains").fill("img1")
    pages.click("button", "Apply filters")
    keys = pages.page.locator("#gallery .card .key").all_inner_texts()
    assert keys == ["img12.jpg", "img15.jpg", "img18.jpg"]  # circles whose key contains img1
    pages.shot("dataset-filtered")


def _train_dataset(world, project: str) -> str:
    [described] = world["client"].describe_projects(ProjectNames=[project])["ProjectDescriptions"]
    return next(d["DatasetArn"] for d in described["Datasets"] if d["DatasetType"] == "TRAIN")


def _version(world, name: str) -> dict:
    [found] = world["client"].describe_project_versions(
        ProjectArn=world["projects"][name], VersionNames=["v1"]
    )["ProjectVersionDescriptions"]
    return found


def test_per_label_table_and_confusion_matrix_match_the_summary(world, pages):
    described = _version(world, "shapes")
    summary = read_json(world["s3"], described["EvaluationResult"]["Summary"])
    pages.open(f"{CONSOLE}model?arn={world['models']['shapes']}")
    tiles = pages.page.locator("dl.metrics")
    assert metric(described["EvaluationResult"]["F1Score"]) in tiles.inner_text()
    rows = pages.page.locator("#per-label tbody tr")
    shown = [row.locator("th, td").all_inner_texts() for row in rows.all()]
    assert shown == [
        [
            r["Label"],
            metric(r["Metrics"]["F1Score"]),
            str(r["NumberOfTestingImages"]),
            metric(r["Metrics"]["Precision"]),
            metric(r["Metrics"]["Recall"]),
            metric(r["Metrics"]["Threshold"]),
        ]
        for r in summary["LabelEvaluationResults"]
    ]
    cells = pages.page.locator("#confusion-matrix td.heat")
    drawn = {
        (c.get_attribute("data-predicted"), c.get_attribute("data-truth")): float(
            c.get_attribute("data-value")
        )
        for c in cells.all()
    }
    expected = {
        (c["PredictedLabel"], c["GroundTruthLabel"]): c["Value"]
        for c in summary["AggregatedEvaluationResults"]["ConfusionMatrix"]
    }
    assert drawn == pytest.approx(expected)
    assert len(drawn) == len(SHAPES) ** 2
    tested = summary["EvaluationDetails"]["NumberOfTestingImages"]
    assert pages.page.locator("#test-gallery .card").count() == tested
    pages.shot("model-evaluation")


def test_localisation_model_shows_average_precision_and_boxes(world, pages):
    described = _version(world, "boxes")
    summary = read_json(world["s3"], described["EvaluationResult"]["Summary"])
    pages.open(f"{CONSOLE}model?arn={world['models']['boxes']}")
    tiles = pages.page.locator("dl.metrics").inner_text()
    assert "Mean average precision (mAP)" in tiles
    assert metric(summary["AggregatedEvaluationResults"]["AveragePrecision"]) in tiles
    assert pages.page.locator("#confusion-matrix").count() == 0
    gallery = pages.page.locator("#test-gallery")
    assert (
        gallery.locator("rect.box.truth").count()
        >= summary["EvaluationDetails"]["NumberOfTestingImages"]
    )
    assert gallery.locator("rect.box.tp").count() >= 1
    pages.page.get_by_label("Result", exact=True).select_option("tp")
    pages.click("button", "Apply filters")
    badges = pages.page.locator("#test-gallery .card").first.locator(".badge").all_inner_texts()
    assert "True positive" in badges
    pages.shot("model-localisation")


def wait_for_the_editor_image(page) -> None:
    """Until the box editor has sized its image. A locator assertion, not `wait_for_function`:
    Playwright polls a string predicate with eval, which the console's CSP refuses whenever the
    first check finds the image not sized yet."""
    from playwright.sync_api import expect  # installed: the browser fixture skips otherwise

    expect(page.locator("#editor-image")).to_have_attribute("style", re.compile(r"(^|;)\s*width:"))


def _drag(page, frame, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag over `frame` between two points given as ratios of its size."""
    box = frame.bounding_box()
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    for step in range(1, 6):
        x = start[0] + (end[0] - start[0]) * step / 5
        y = start[1] + (end[1] - start[1]) * step / 5
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.mouse.up()


def test_label_an_image_and_draw_a_box_then_list_them(world, pages):
    client, s3 = world["client"], world["s3"]
    project = client.create_project(ProjectName="labeling")["ProjectArn"]
    dataset = client.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    pages.open(f"{CONSOLE}dataset?arn={dataset}")
    files = []
    for i, shape in enumerate(("circle", "square")):
        data, _ = scene(500 + i, [shape], size=(400, 300))
        files.append({"name": f"pet{i}.jpg", "mimeType": "image/jpeg", "buffer": data})
    pages.page.get_by_label("Upload to S3 folder").fill(f"s3://{BUCKET}/labeling/")
    pages.page.get_by_label("Images (PNG or JPEG, up to 50)").set_input_files(files)
    pages.click("button", "Upload images")
    assert "2 image(s) uploaded, 2 added" in pages.page.locator(".flash").inner_text()
    assert s3.head_object(Bucket=BUCKET, Key="labeling/pet0.jpg")["ContentLength"] > 0

    page = pages.page
    page.get_by_label("New label").fill("cat")
    page.get_by_role("button", name="Add label").click()
    page.get_by_label("New label").fill("dog")
    page.get_by_role("button", name="Add label").click()
    page.get_by_label("Select labeling/pet0.jpg").check()
    page.locator("#assign-label").select_option("cat")
    page.get_by_role("button", name="Assign label").click()

    second = page.locator("#gallery .card").nth(1)
    second.get_by_role("button", name="Draw bounding boxes").click()
    editor = page.locator("#editor")
    assert editor.is_visible()
    wait_for_the_editor_image(page)
    page.get_by_label("Label of new boxes").select_option("dog")
    canvas = page.locator("#editor-svg")
    _drag(page, canvas, (0.10, 0.20), (0.50, 0.70))  # a box: left .1, top .2, .4 x .5
    _drag(page, canvas, (0.60, 0.10), (0.90, 0.40))  # a second box, deleted below
    assert editor.locator("rect.box").count() == 2
    page.get_by_role("button", name="Delete box").click()
    assert editor.locator("rect.box").count() == 1
    _drag(page, canvas, (0.30, 0.45), (0.35, 0.50))  # move the first box by (.05, .05)
    pages.shot("box-editor")
    page.get_by_role("button", name="Done").click()
    assert "2 images with unsaved changes" in page.locator("#changes").inner_text()
    with page.expect_navigation():  # the upload's message is still on the page: wait for the
        page.get_by_role("button", name="Save changes").click()  # next one, not for a flash
    page.wait_for_selector(".flash-success")
    pages.check()
    assert "Changes to 2 image(s) saved." in page.locator(".flash").inner_text()
    pages.shot("labeled")

    listed = [
        json.loads(e) for e in client.list_dataset_entries(DatasetArn=dataset)["DatasetEntries"]
    ]
    by_ref = {e["source-ref"]: e for e in listed}
    for entry in listed:
        assert entry.pop("cl-metadata") == {"is_labeled": True}
    cat = by_ref[f"s3://{BUCKET}/labeling/pet0.jpg"]
    assert [v["class-name"] for k, v in cat.items() if k.endswith("-metadata")] == ["cat"]
    dog = by_ref[f"s3://{BUCKET}/labeling/pet1.jpg"]
    [attribute] = [k for k in dog if k.endswith("-metadata")]
    boxes = dog[attribute.removesuffix("-metadata")]
    assert boxes["image_size"] == [{"width": 400, "height": 300, "depth": 3}]
    [drawn] = boxes["annotations"]
    assert dog[attribute]["class-map"][str(drawn["class_id"])] == "dog"
    assert drawn["left"] == pytest.approx(0.15 * 400, abs=6)
    assert drawn["top"] == pytest.approx(0.25 * 300, abs=6)
    assert drawn["width"] == pytest.approx(0.40 * 400, abs=6)
    assert drawn["height"] == pytest.approx(0.50 * 300, abs=6)
    labels = client.list_dataset_labels(DatasetArn=dataset)["DatasetLabelDescriptions"]
    assert {(d["LabelName"], d["LabelStats"].get("BoundingBoxCount")) for d in labels} == {
        ("cat", None),  # a label on no box: EntryCount alone, as AWS shows image-level labels
        ("dog", 1),
    }
    assert not any("alert" in d for d in pages.dialogs)


def test_user_text_is_shown_as_text(world, pages):
    client, s3 = world["client"], world["s3"]
    label = "<script>alert(1)</script>"
    key = "xss/<img src=x onerror=alert(2)>.jpg"
    data, _ = scene(900, ["circle"])
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    project = project_from(client, s3, "escaping", [image_line(key, label)], "xss.manifest")
    dataset = _train_dataset(world, "escaping")
    pages.open(f"{CONSOLE}dataset?arn={dataset}")
    page = pages.page
    assert page.locator("#gallery .chip", has_text=label).inner_text() == label
    assert page.get_by_text(key, exact=True).first.is_visible()
    assert page.get_by_alt_text(key, exact=True).count() == 1
    assert page.locator("script:not([src]):not([type='application/json'])").count() == 0
    pages.open(f"{CONSOLE}project?arn={project}")
    assert pages.dialogs == []
    pages.shot("escaped")


def test_from_nothing_to_a_detection_with_the_console_only(world, pages):
    """Images put in S3 in one folder per label; everything else is done on the pages, as an
    account whose buckets they are (the console reads S3 as the account it shows)."""
    account = "111122223333"
    s3 = world["server"].client("s3", account=account)
    images, results = "their-images", "their-results"
    s3.create_bucket(Bucket=images)
    s3.create_bucket(Bucket=results)
    for i in range(24):
        shape = SHAPES[i % 3]
        data, _ = scene(3000 + i, [shape])
        s3.put_object(Bucket=images, Key=f"folders/{shape}/{i}.jpg", Body=data)
    page = pages.page
    pages.open(f"{CONSOLE}?scope={account}:us-east-1")
    page.get_by_label("Project name").fill("from-the-console")
    pages.click("button", "Create project")
    assert pages.heading() == "from-the-console"
    page.get_by_label("Import images from Amazon S3 bucket").check()
    page.get_by_label("S3 folder").fill(f"s3://{images}/folders/")
    pages.click("button", "Create dataset")
    assert pages.heading() == "Training dataset"
    assert page.locator("#gallery .card").count() == 24
    page.get_by_role("link", name="from-the-console").click()
    pages.click("button", "Distribute training dataset")
    page.get_by_label("Output S3 bucket").fill(results)
    page.get_by_label("Output S3 prefix").fill("console/")
    pages.click("button", "Train model")
    row = page.locator("table").nth(1).locator("tbody tr").first
    assert "TRAINING_COMPLETED" in row.inner_text()
    pages.shot("trained")
    row.get_by_role("link").click()
    pages.check()
    page.get_by_label("Minimum inference units").fill("1")
    pages.click("button", "Start")

    rekognition = world["server"].client(account=account)
    [project] = rekognition.describe_projects()["ProjectDescriptions"]
    [model] = rekognition.describe_project_versions(ProjectArn=project["ProjectArn"])[
        "ProjectVersionDescriptions"
    ]
    assert model["Status"] == "RUNNING" and model["MinInferenceUnits"] == 1
    image, _ = scene(7002, ["triangle"])
    page.get_by_label("Image (PNG or JPEG, up to 4 MB)").set_input_files(
        {"name": "try.jpg", "mimeType": "image/jpeg", "buffer": image}
    )
    page.get_by_label("Minimum confidence").fill("0")
    pages.click("button", "Detect labels")
    detected = page.locator("#detected-labels tbody th").all_inner_texts()
    assert detected[0] == "triangle" and sorted(detected) == sorted(SHAPES)
    assert re.search(r"Requests\s+1", page.locator("#usage").inner_text())
    pages.shot("detection")
    pages.click("button", "Stop")
    [model] = rekognition.describe_project_versions(ProjectArn=project["ProjectArn"])[
        "ProjectVersionDescriptions"
    ]
    assert model["Status"] == "STOPPED"
    assert "STOPPED" in page.locator("dl.details").inner_text()


def test_an_adapter_from_the_console_projects_page_to_a_detection(world, pages):
    """Adapters: the Features filter, an adapter project, training from a manifest, the adapter
    page (status, performance against the base model, test images), trying an image, and a
    newer base model deprecating the adapter."""
    from test_moderation import BUCKET as ADAPTER_BUCKET
    from test_moderation import put_manifest, upload_images

    account = "444455556666"
    s3 = world["server"].client("s3", account=account)  # the account's own bucket
    s3.create_bucket(Bucket=ADAPTER_BUCKET)
    put_manifest(s3, "console/train.manifest", upload_images(s3, "console", 24, 5100))
    page = pages.page
    pages.open(f"{CONSOLE}?scope={account}:us-east-1")
    with page.expect_navigation():
        page.get_by_label("Features").select_option("CONTENT_MODERATION")
    pages.check()
    assert "No adapter projects" in page.locator("main").inner_text()
    page.get_by_label("Project name").fill("adapters")
    assert page.get_by_label("Feature", exact=True).input_value() == "CONTENT_MODERATION"
    page.get_by_label("Auto-update (adapters)").select_option("DISABLED")
    pages.click("button", "Create project")
    assert pages.heading() == "adapters"
    assert "auto-update disabled" in page.locator("main").inner_text()
    page.get_by_label("Training manifest").fill(f"s3://{ADAPTER_BUCKET}/console/train.manifest")
    page.get_by_label("Confidence threshold").fill("60")
    page.get_by_label("Output S3 bucket").fill(ADAPTER_BUCKET)
    page.get_by_label("Output S3 prefix").fill("console-results/")
    pages.click("button", "Train adapter")
    row = page.locator("#adapters tbody tr").first
    assert "TRAINING_COMPLETED" in row.inner_text() and "7.0" in row.inner_text()
    pages.shot("adapter-project")
    row.get_by_role("link").click()
    pages.check()
    details = page.locator("#adapter-details").inner_text()
    assert "TRAINING_COMPLETED" in details and "The adapter is ready to use." in details
    assert "Autosplit from the training data" in details
    labels = page.locator("#label-performance tbody th").all_inner_texts()
    assert labels == ["Alcohol", "Violence"]
    assert page.get_by_label("Threshold").input_value() == "60.0"
    assert page.locator("#adapter-tests .card").count() == 5  # a fifth of 24
    pages.shot("adapter")
    with page.expect_navigation():
        page.get_by_label("Threshold").select_option("5.0")
    pages.check()
    assert "At confidence 5.0" in page.locator("#evaluation").inner_text()
    circle, _ = scene(5200, ["circle"])
    page.get_by_label("Image (PNG or JPEG, up to 5 MB)").set_input_files(
        {"name": "circle.jpg", "mimeType": "image/jpeg", "buffer": circle}
    )
    assert page.get_by_label("Minimum confidence").input_value() == "60.0"
    page.get_by_label("Minimum confidence").fill("0")
    pages.click("button", "Detect moderation labels")
    detected = page.locator("#detected-labels tbody th").all_inner_texts()
    assert detected[0] == "Violence" and sorted(detected) == ["Alcohol", "Violence"]
    assert "with the adapter" in page.locator("#detected-labels caption").inner_text()
    pages.shot("adapter-detection")
    # the projects page lists adapter projects only when the filter asks for them
    pages.open(f"{CONSOLE}?scope={account}:us-east-1&features=CUSTOM_LABELS")
    assert not page.get_by_role("link", name="adapters", exact=True).count()
    pages.open(f"{CONSOLE}?scope={account}:us-east-1&features=ALL")
    assert "Custom Moderation" in page.locator("tbody").inner_text()
    # a newer base model: the adapter is deprecated
    pages.click("link", "Test double")
    page.get_by_label("New base model version").fill("7.1")
    pages.click("button", "Release base model")
    assert "Base model 7.1 released: 1 adapter(s) deprecated" in page.locator("main").inner_text()
    assert page.locator("#base-model-version").inner_text() == "7.1"
    pages.shot("test-double-release")
    rekognition = world["server"].client(account=account)
    [project] = rekognition.describe_projects(Features=["CONTENT_MODERATION"])[
        "ProjectDescriptions"
    ]
    [adapter] = rekognition.describe_project_versions(ProjectArn=project["ProjectArn"])[
        "ProjectVersionDescriptions"
    ]
    assert adapter["Status"] == "DEPRECATED"
    pages.open(f"{CONSOLE}model?arn={adapter['ProjectVersionArn']}")
    assert "DEPRECATED" in page.locator("#adapter-details").inner_text()
