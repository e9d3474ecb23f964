"""Defects found by using the console in a real browser as a new user would, each pinned by a
test: the browser ones reuse test_console_browser's chromium and page checks on a server of
their own (no trained models up front); the others use the in-process test client.
"""

from __future__ import annotations

import io

import pytest
import test_console_browser as shared
from conftest import call
from images import SHAPES, scene
from manifests import BUCKET, image_line, project_from
from test_console import OWN, flashes, page, png
from test_versions import OUT

from fakerek.testing import FakerekServer

CONSOLE = shared.CONSOLE
browser = shared.browser  # the module's chromium (skips or fails as the browser tests do)


@pytest.fixture(scope="module")
def hunt(tmp_path_factory):
    """A server with a bucket of images in one folder per shape, and nothing else."""
    with FakerekServer(str(tmp_path_factory.mktemp("hunt"))) as server:
        client, s3 = server.client(), server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket=OUT)
        for i in range(12):
            shape = SHAPES[i % 3]
            data, _ = scene(4000 + i, [shape])
            s3.put_object(Bucket=BUCKET, Key=f"hunt/{shape}/{i}.jpg", Body=data)
        yield {"server": server, "client": client, "s3": s3}


@pytest.fixture
def pages(browser, hunt, tmp_path, request):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield shared.Pages(page, hunt["server"].endpoint, tmp_path, request.node.name)
    context.close()


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_long_names_stay_inside_the_page(hunt, pages):
    name = "n" * 255  # the longest project (and model) name CreateProject accepts
    client = hunt["client"]
    arn = client.create_project(ProjectName=name)["ProjectArn"]
    try:
        pages.open(CONSOLE)
        assert pages.page.get_by_role("link", name=name).is_visible()
        assert _fits(pages.page), "the projects table is wider than the window"
        pages.open(f"{CONSOLE}project?arn={arn}")
        assert _fits(pages.page), "the breadcrumbs are wider than the window"
        pages.shot("long-name")
    finally:
        client.delete_project(ProjectArn=arn)


def _train_dataset(client, project: str) -> str:
    [described] = client.describe_projects(ProjectNames=[project])["ProjectDescriptions"]
    return next(d["DatasetArn"] for d in described["Datasets"] if d["DatasetType"] == "TRAIN")


def test_labels_with_runs_of_white_space_filter_and_assign_as_themselves(hunt, pages):
    """An <option> without a value sends its text with white space collapsed and trimmed."""
    client, s3 = hunt["client"], hunt["s3"]
    spaced, tabbed = "two  spaces", "tab\tlabel"
    lines = [image_line("hunt/circle/0.jpg", spaced), image_line("hunt/square/1.jpg", tabbed)]
    lines.append(image_line("hunt/triangle/2.jpg"))
    project_from(client, s3, "white-space", lines)
    dataset = _train_dataset(client, "white-space")
    pages.open(f"{CONSOLE}dataset?arn={dataset}")
    page = pages.page
    for label, key in ((spaced, "hunt/circle/0.jpg"), (tabbed, "hunt/square/1.jpg")):
        page.locator("#filter-label").select_option(label)
        pages.click("button", "Apply filters")
        assert page.locator("#gallery .card .key").all_inner_texts() == [key]
    pages.click("link", "Clear filters")
    page.get_by_label("Select hunt/triangle/2.jpg").check()
    page.locator("#assign-label").select_option(spaced)
    page.get_by_role("button", name="Assign label").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Save changes").click()
    pages.check()
    labels = client.list_dataset_labels(DatasetArn=dataset)["DatasetLabelDescriptions"]
    assert {d["LabelName"]: d["LabelStats"]["EntryCount"] for d in labels} == {
        spaced: 2,
        tabbed: 1,
    }


def test_choosing_the_label_of_the_next_box_leaves_the_drawn_one_alone(hunt, pages):
    client, s3 = hunt["client"], hunt["s3"]
    lines = [image_line("hunt/circle/3.jpg", "cat"), image_line("hunt/square/4.jpg", "dog")]
    project_from(client, s3, "two-boxes", lines)
    pages.open(f"{CONSOLE}dataset?arn={_train_dataset(client, 'two-boxes')}")
    page = pages.page
    page.locator("#gallery .card").first.get_by_role("button", name="Draw bounding boxes").click()
    shared.wait_for_the_editor_image(page)
    canvas = page.locator("#editor-svg")
    page.get_by_label("Label of new boxes").select_option("cat")
    shared._drag(page, canvas, (0.05, 0.05), (0.35, 0.35))
    page.get_by_label("Label of new boxes").select_option("dog")
    shared._drag(page, canvas, (0.55, 0.55), (0.95, 0.95))
    assert canvas.locator("rect title").all_text_contents() == ["cat", "dog"]
    shared._drag(page, canvas, (0.20, 0.20), (0.20, 0.20))  # a click on the cat box selects it
    page.get_by_label("Label of new boxes").select_option("dog")  # and relabels it
    assert canvas.locator("rect title").all_text_contents() == ["dog", "dog"]
    page.get_by_role("button", name="Done").click()
    assert not pages.errors


def _folder_project(pages, name: str) -> None:
    """A project with a training dataset from the S3 folders, made on the pages."""
    page = pages.page
    pages.open(CONSOLE)
    page.get_by_label("Project name").fill(name)
    pages.click("button", "Create project")
    page.get_by_label("Import images from Amazon S3 bucket").check()
    page.get_by_label("S3 folder").fill(f"s3://{BUCKET}/hunt/")
    pages.click("button", "Create dataset")
    pages.click("link", name)


def test_a_model_that_cannot_be_started_says_why(hunt, pages):
    page = pages.page
    pages.open(f"{CONSOLE}test-double")
    page.get_by_label("Failure code").select_option("SERVICE_ERROR")
    pages.click("button", "Add training fault")
    _folder_project(pages, "failing")
    page.get_by_label("Output S3 bucket").fill(OUT)
    pages.click("button", "Train model")
    row = page.locator("table").nth(1).locator("tbody tr").first
    assert "TRAINING_FAILED" in row.inner_text()
    row.get_by_role("link").click()
    pages.check()
    shown = page.locator("#use-model").inner_text()
    assert "once training has completed" not in shown
    assert "Training failed: this model cannot be started. Train a new model." in shown
    assert page.get_by_role("button", name="Start").count() == 0
    pages.shot("training-failed")


def test_statuses_in_progress_refresh_themselves(hunt, pages):
    """Realistic timing: the dataset, the training and the start finish while the person
    looks at the page, which shows it without being told to; typed input is never lost. Each
    lasts a few polls, so that a slow machine still sees (and types into) the page before it
    changes."""
    from playwright.sync_api import expect  # installed: the browser fixture skips otherwise

    server, page = hunt["server"], pages.page
    server.configure(timing="realistic", delays={"dataset": 5, "training": 5, "starting": 5})
    try:
        pages.open(CONSOLE)
        page.get_by_label("Project name").fill("waiting")
        pages.click("button", "Create project")
        page.get_by_label("Import images from Amazon S3 bucket").check()
        page.get_by_label("S3 folder").fill(f"s3://{BUCKET}/hunt/")
        pages.click("button", "Create dataset")
        assert "CREATE_IN_PROGRESS" in page.locator("dl.details").inner_text()
        page.wait_for_selector("#gallery .card", timeout=20_000)  # reloaded once imported
        pages.check()
        assert "CREATE_COMPLETE" in page.locator("dl.details").inner_text()
        pages.click("link", "waiting")
        page.get_by_label("Output S3 bucket").fill(OUT)
        pages.click("button", "Train model")
        models = page.locator("table").nth(1)
        assert "TRAINING_IN_PROGRESS" in models.inner_text()
        expect(models).to_contain_text("TRAINING_COMPLETED", timeout=20_000)
        pages.check()
        models.locator("tbody th a").first.click()
        pages.check()
        pages.click("button", "Start")
        assert "STARTING" in page.locator("dl.details").inner_text()
        page.get_by_label("Minimum confidence").fill("42")  # a reload would lose it
        expect(page.locator("#statuses-changed")).to_contain_text(
            "Statuses have changed", timeout=20_000
        )
        assert page.get_by_label("Minimum confidence").input_value() == "42"
        page.get_by_role("link", name="Refresh", exact=True).first.click()
        pages.check()
        assert "RUNNING" in page.locator("dl.details").inner_text()
        pages.shot("refreshed")
    finally:
        server.configure(timing="instant")


def test_a_slow_poll_is_not_overlapped_by_the_next(browser, tmp_path):
    """A page read that takes longer than the polling interval (a busy server: training uses
    every core) is not joined by another one: the next read starts once this one answered."""
    slow_fetch = """
        window.polls = 0; window.reading = 0; window.mostAtOnce = 0;
        const fetchNow = window.fetch.bind(window);
        window.fetch = async (...args) => {
          window.polls += 1; window.reading += 1;
          window.mostAtOnce = Math.max(window.mostAtOnce, window.reading);
          try {
            const answer = await fetchNow(...args);
            await new Promise((resolve) => setTimeout(resolve, 3000));
            return answer;
          } finally {
            window.reading -= 1;
          }
        };
    """
    with FakerekServer(str(tmp_path / "server")) as server:
        client = server.client()
        server.configure(timing="realistic", delays={"dataset": 120})
        project = client.create_project(ProjectName="slow")["ProjectArn"]
        client.create_dataset(ProjectArn=project, DatasetType="TRAIN")
        context = browser.new_context(bypass_csp=True)  # for the predicates Playwright evals
        try:
            page = context.new_page()
            page.add_init_script(slow_fetch)
            page.goto(f"{server.endpoint}{CONSOLE}project?arn={project}")
            assert page.locator(".status-progress").count() == 1
            page.wait_for_function("() => window.polls >= 2", timeout=20_000)
            assert page.evaluate("window.mostAtOnce") == 1
        finally:
            context.close()


# -- in process ----------------------------------------------------------------------------------

PREFIX = "/_fakerek/console"


def test_a_minimum_confidence_that_is_not_a_number_is_refused(client):
    """NaN cannot travel in a request's JSON (the API answers SerializationException): the
    console must not call DetectCustomLabels with it either."""
    project = call(client, "CreateProject", {"ProjectName": "p"})[1]["ProjectArn"]
    model = project.replace(":project/p/", ":project/p/version/v1/")
    for text in ("nan", "NaN", "-nan"):
        answer = client.post(
            f"{PREFIX}/model/detect",
            data={
                "arn": model,
                "min_confidence": text,
                "image": (io.BytesIO(png(64, 48)), "a.png"),
            },
            headers=OWN,
        )
        assert answer.status_code == 303
        assert "The minimum confidence is a number from 0 to 100." in flashes(client)


def test_the_new_dataset_message_names_it_as_the_console_does(client):
    project = call(client, "CreateProject", {"ProjectName": "p"})[1]["ProjectArn"]
    for kind, text in (("TRAIN", "training"), ("TEST", "test")):
        form = {"project": project, "type": kind, "source": "empty"}
        assert client.post(f"{PREFIX}/datasets", data=form, headers=OWN).status_code == 303
        assert f"The {text} dataset is being created." in flashes(client)


def test_delete_buttons_in_tables_say_what_they_delete(client):
    """A row's "Delete" button is named after its row for assistive technology."""
    project = call(client, "CreateProject", {"ProjectName": "p"})[1]["ProjectArn"]
    call(client, "CreateDataset", {"ProjectArn": project, "DatasetType": "TRAIN"})
    listed = page(client, "/")
    assert 'aria-label="Delete project p with its datasets and models">Delete<' in listed
    shown = page(client, f"/project?arn={project}")
    assert 'aria-label="Delete the training dataset">Delete<' in shown
    assert ">Delete project</button>" in shown  # the page's own button says it already


def test_test_double_numbers_that_are_none_get_a_message_naming_the_field(client):
    for form, shown in (
        ({"timing": "instant", "delay_training": ""}, "delay_training: nothing is not a number"),
        ({"timing": "instant", "delay_starting": "soon"}, "delay_starting: soon is not a number"),
    ):
        client.post(f"{PREFIX}/test-double/config", data=form, headers=OWN)
        assert shown in flashes(client)
    fault = {"kind": "operation", "operation": "CreateProject", "error": "ThrottlingException"}
    client.post(f"{PREFIX}/test-double/faults", data={**fault, "count": "1.5"}, headers=OWN)
    assert "count: 1.5 is not a whole number" in flashes(client)
    training = {"kind": "training", "code": "SERVICE_ERROR", "count": "x"}
    client.post(f"{PREFIX}/test-double/faults", data=training, headers=OWN)
    assert "count: x is not a whole number" in flashes(client)
