"""Web-surface safety in a real browser: Debian's chromium, driven by Playwright, against a real
server with a trained, running model.

Pages come from a small http.server of the test's own on another loopback port, under two
origins: `http://localhost:<port>` (the server's --cors-origins lists it) and
`http://127.0.0.1:<port>` (not listed). Chromium resolves the made-up name `rebind.test` to
127.0.0.1 (`--host-resolver-rules`), as DNS rebinding would make it. Every attack is checked
twice: fakerek's state is unchanged, and its log shows the requests arrived and were refused
(so a browser that never sent them would not pass). The AWS SDK for JavaScript v3 comes from
`browser_sdk/rekognition-sdk.js` (see the README there).

Like the console's browser tests, these skip without chromium except where a browser must be
present (`CI` set, or /usr/bin/chromium installed): there a missing browser fails them.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from images import scene
from manifests import BUCKET, project_from
from test_console_browser import CHROMIUM, CHROMIUM_ARGS, _unavailable
from test_versions import OUT, upload_shapes

from fakerek.testing import FakerekServer

REBIND = "rebind.test"
SDK = Path(__file__).parent / "browser_sdk" / "rekognition-sdk.js"
# Every way a page can try to change fakerek's state without fakerek's consent: fetches that
# need no preflight (no-cors, text/plain or no body), JSON fetches (a preflight when cross-site),
# and form posts (urlencoded, and text/plain shaped into JSON). `target` is fakerek's address,
# "" when the page itself is served under a name that resolves to fakerek.
ATTACK = """<!doctype html>
<meta charset="utf-8">
<title>Another site</title>
<h1>Another site</h1>
<script>
"use strict";
function submitForm(action, enctype, fields) {
  return new Promise((resolve) => {
    const sink = "sink" + Math.random().toString(36).slice(2);
    const frame = document.createElement("iframe");
    frame.name = sink;
    document.body.appendChild(frame);
    const form = document.createElement("form");
    form.method = "POST";
    form.action = action;
    form.enctype = enctype;
    form.target = sink;
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    const done = () => resolve(["form", action, enctype]);
    frame.addEventListener("load", done, {once: true});
    setTimeout(done, 5000);
    form.submit();
  });
}
async function send(url, options) {
  try {
    const answer = await fetch(url, options);
    return ["fetch", url, options.mode || "cors", answer.type, answer.status];
  } catch (error) {
    return ["fetch", url, options.mode || "cors", "error", String(error)];
  }
}
async function attack(target, withReset) {
  const plain = (body) => ({
    method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body,
  });
  const json = (body) => ({
    method: "POST", headers: {"Content-Type": "application/json"}, body,
  });
  const form = "application/x-www-form-urlencoded";
  const config = '{"max_tags_per_resource": 7}';
  const fault = '{"operation": "ListProjectPolicies", "error": "ThrottlingException", "count": 5}';
  const results = [
    await send(target + "/_fakerek/config", plain(config)),
    await send(target + "/_fakerek/faults", plain(fault)),
    await send(target + "/_fakerek/config", json(config)),
    await send(target + "/_fakerek/faults", json(fault)),
    await submitForm(target + "/_fakerek/config", "text/plain",
      {'{"max_tags_per_resource": 7, "s3_denied_buckets": "': '"}'}),
    await submitForm(target + "/_fakerek/console/projects", form,
      {name: "pwned", account: "123456789012", region: "us-east-1"}),
    await submitForm(target + "/_fakerek/console/test-double/config", form,
      {timing: "realistic"}),
    await submitForm(target + "/_fakerek/console/test-double/faults", form,
      {kind: "operation", operation: "ListProjectPolicies", error: "ThrottlingException",
       count: "5"}),
  ];
  if (withReset) {
    results.push(await send(target + "/_fakerek/reset", plain("{}")));
    results.push(await send(target + "/_fakerek/reset", {method: "POST", mode: "no-cors"}));
    results.push(await send(target + "/_fakerek/reset", json("{}")));
    results.push(await submitForm(target + "/_fakerek/reset", form, {}));
    results.push(await submitForm(target + "/_fakerek/console/test-double/reset", form, {}));
  }
  return results;
}
</script>
"""
SDK_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>A web application</title>
<h1>A web application</h1>
<script src="/rekognition-sdk.js"></script>
"""
# CreateProject, DescribeProjects, DetectCustomLabels and an error, as a web application would
# call them; what came back, as JSON.
SDK_CALLS = """async ({endpoint, name, model, image}) => {
  const sdk = window.FakerekSdk;
  const client = new sdk.RekognitionClient({
    region: "us-east-1",
    endpoint,
    credentials: {accessKeyId: "testing", secretAccessKey: "testing"},
    maxAttempts: 1,
  });
  const out = {};
  try {
    const created = await client.send(new sdk.CreateProjectCommand({ProjectName: name}));
    out.created = [created.ProjectArn, created.$metadata.httpStatusCode,
                   created.$metadata.requestId];
  } catch (error) {
    out.refused = [error.name, String(error.message)];
    return out;
  }
  const described = await client.send(new sdk.DescribeProjectsCommand({ProjectNames: [name]}));
  out.described = described.ProjectDescriptions.map((p) => [p.ProjectArn, p.Status]);
  const bytes = Uint8Array.from(atob(image), (c) => c.charCodeAt(0));
  const detected = await client.send(new sdk.DetectCustomLabelsCommand({
    ProjectVersionArn: model, Image: {Bytes: bytes}, MinConfidence: 0,
  }));
  out.labels = detected.CustomLabels.map((label) => [label.Name, label.Confidence]);
  try {
    await client.send(new sdk.CreateProjectCommand({ProjectName: name}));
    out.again = "answered";
  } catch (error) {
    out.again = [error.name, error.$metadata.httpStatusCode, error.$metadata.requestId];
  }
  return out;
}"""


@pytest.fixture(scope="module")
def site() -> Iterator[int]:
    """The other site: an http.server on a loopback port of its own; returns the port."""
    files = {
        "/attack.html": ("text/html; charset=utf-8", ATTACK.encode()),
        "/sdk.html": ("text/html; charset=utf-8", SDK_PAGE.encode()),
        "/rekognition-sdk.js": ("text/javascript", SDK.read_bytes()),
    }

    class Pages(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            content_type, body = files.get(self.path, ("text/plain", b""))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def world(site, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A server that lists `http://localhost:<site port>` in --cors-origins, with a project to
    keep and a trained classifier, started."""
    listed = f"http://localhost:{site}"
    with FakerekServer(
        str(tmp_path_factory.mktemp("security")), args=["--cors-origins", listed]
    ) as server:
        client, s3 = server.client(), server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket=OUT)
        project = project_from(client, s3, "shapes", upload_shapes(s3, 24), "shapes.manifest")
        model = client.create_project_version(
            ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": OUT}
        )["ProjectVersionArn"]
        client.get_waiter("project_version_training_completed").wait(
            ProjectArn=project, VersionNames=["v1"]
        )
        client.start_project_version(ProjectVersionArn=model, MinInferenceUnits=1)
        client.get_waiter("project_version_running").wait(ProjectArn=project, VersionNames=["v1"])
        yield {"server": server, "client": client, "model": model, "listed": listed}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    if not os.path.exists(CHROMIUM):
        _unavailable(f"chromium is not installed at {CHROMIUM}")
    args = [
        *CHROMIUM_ARGS,
        f"--host-resolver-rules=MAP {REBIND} 127.0.0.1",
        # Plain http for the made-up name; and no Local (Private) Network Access checks, which
        # would stop the rebound page's requests in Chromium before they reach fakerek: this is
        # a browser without them (as Firefox and Safari are), so fakerek's own checks are tested.
        "--disable-features=HttpsUpgrades,LocalNetworkAccessChecks,"
        "BlockInsecurePrivateNetworkRequests",
    ]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def state(world) -> dict[str, Any]:
    """What the attacks aim at: live settings, pending faults, projects."""
    server = world["server"]
    projects = world["client"].describe_projects()["ProjectDescriptions"]
    return {
        "config": server.control("GET", "config"),
        "faults": server.control("GET", "faults")["faults"],
        "projects": sorted(p["ProjectArn"].split("/")[1] for p in projects),
    }


def port_of(server: FakerekServer) -> int:
    return int(server.endpoint.rsplit(":", 1)[1])


def attack(page, url: str, target: str, with_reset: bool) -> list:
    page.goto(url)
    return page.evaluate("([target, withReset]) => attack(target, withReset)", [target, with_reset])


def test_pages_on_other_loopback_ports_cannot_drive_fakerek(world, page, site):
    server = world["server"]
    before = state(world)
    assert before["projects"] == ["shapes"] and before["config"]["timing"] == "instant"
    for origin in (f"http://127.0.0.1:{site}", world["listed"]):  # listed for CORS only
        logged = len(server.log())
        results = attack(page, f"{origin}/attack.html", server.endpoint, with_reset=True)
        assert state(world) == before, results
        json_fetches = [r for r in results if r[0] == "fetch" and r[2] == "cors"]
        assert json_fetches and all(r[3] == "error" for r in json_fetches), results
        log = server.log()[logged:]
        refused = f"): a change from {origin} is refused"
        for request in (
            "POST /_fakerek/config (control API",
            "POST /_fakerek/faults (control API",
            "OPTIONS /_fakerek/config (control API",  # the JSON fetch's preflight
            "POST /_fakerek/reset (control API",
            "POST /_fakerek/console/projects (console",
            "POST /_fakerek/console/test-double/config (console",
            "POST /_fakerek/console/test-double/faults (console",
            "POST /_fakerek/console/test-double/reset (console",
        ):
            assert f"refused {request}{refused}" in log, (request, log)


def test_a_rebound_name_cannot_drive_fakerek(world, page):
    """The page is served under rebind.test at fakerek's own port (as an attacker's DNS first
    answers), then its requests go to fakerek (as the attacker's DNS then answers 127.0.0.1):
    same-origin in the browser's eyes, so even JSON fetches need no preflight."""
    server = world["server"]
    port = port_of(server)
    rebound = f"http://{REBIND}:{port}"
    page.route(f"{rebound}/attack.html", lambda route: route.fulfill(body=ATTACK, status=200))
    before = state(world)
    logged = len(server.log())
    results = attack(page, f"{rebound}/attack.html", "", with_reset=True)
    assert state(world) == before, results
    log = server.log()[logged:]
    refused = f"): the Host '{REBIND}:{port}' is refused"
    for request in (
        "POST /_fakerek/config (control API",
        "POST /_fakerek/faults (control API",
        "POST /_fakerek/reset (control API",
        "POST /_fakerek/console/projects (console",
        "POST /_fakerek/console/test-double/config (console",
        "POST /_fakerek/console/test-double/reset (console",
    ):
        assert f"refused {request}{refused}" in log, (request, log, results)
    json_fetches = [r for r in results if r[0] == "fetch" and r[2] == "cors"]
    assert json_fetches and all(r[4] == 403 for r in json_fetches), results


def test_the_same_attack_from_an_allowed_name_does_change_state(world, page):
    """The check on the two tests above: the attack page works when fakerek serves it, so
    their unchanged state is fakerek's refusal, not a broken page."""
    server = world["server"]
    own = f"http://127.0.0.1:{port_of(server)}"
    page.route(f"{own}/attack.html", lambda route: route.fulfill(body=ATTACK, status=200))
    before = state(world)
    try:
        attack(page, f"{own}/attack.html", "", with_reset=False)
        after = state(world)
        assert after["config"]["max_tags_per_resource"] == 7
        assert after["config"]["timing"] == "realistic"
        assert [f["operation"] for f in after["faults"]] == ["ListProjectPolicies"] * 2
        assert after["projects"] == ["pwned", "shapes"]
    finally:
        server.control("POST", "config", before["config"])
        server.control("DELETE", "faults")
        for project in world["client"].describe_projects(ProjectNames=["pwned"])[
            "ProjectDescriptions"
        ]:
            world["client"].delete_project(ProjectArn=project["ProjectArn"])
    assert state(world) == before


def test_the_aws_sdk_for_javascript_runs_from_a_listed_origin(world, page):
    client, model = world["client"], world["model"]
    image, _ = scene(4242, ["circle"])
    page.goto(f"{world['listed']}/sdk.html")
    out = page.evaluate(
        SDK_CALLS,
        {
            "endpoint": world["server"].endpoint,
            "name": "from-the-browser",
            "model": model,
            "image": base64.b64encode(image).decode(),
        },
    )
    [described] = client.describe_projects(ProjectNames=["from-the-browser"])["ProjectDescriptions"]
    arn, status, request_id = out["created"]
    assert (arn, status) == (described["ProjectArn"], 200)
    assert request_id  # x-amzn-RequestId is exposed to the page
    assert out["described"] == [[arn, described["Status"]]]
    expected = client.detect_custom_labels(
        ProjectVersionArn=model, Image={"Bytes": image}, MinConfidence=0
    )["CustomLabels"]
    assert expected and [name for name, _ in out["labels"]] == [x["Name"] for x in expected]
    for (_, confidence), label in zip(out["labels"], expected, strict=True):
        assert confidence == pytest.approx(label["Confidence"])
    name, status, error_request_id = out["again"]  # the error's type is read from the answer
    assert (name, status) == ("ResourceInUseException", 400) and error_request_id
    client.delete_project(ProjectArn=arn)


def test_the_same_sdk_page_on_an_unlisted_origin_is_refused(world, page, site):
    server = world["server"]
    unlisted = f"http://127.0.0.1:{site}"
    logged = len(server.log())
    page.goto(f"{unlisted}/sdk.html")
    out = page.evaluate(
        SDK_CALLS,
        {"endpoint": server.endpoint, "name": "from-elsewhere", "model": "", "image": ""},
    )
    assert out["refused"][0] == "TypeError" and "fetch" in out["refused"][1], out
    assert "from-elsewhere" not in state(world)["projects"]
    assert (
        f"refused OPTIONS / (Rekognition endpoint): a request from a page of {unlisted} is "
        "refused" in server.log()[logged:]
    )


def test_the_committed_sdk_bundle_is_the_pinned_version():
    """browser_sdk/rekognition-sdk.js is rebuilt with package.json (see the README there)."""
    package = json.loads((SDK.parent / "package.json").read_text())
    version = package["dependencies"]["@aws-sdk/client-rekognition"]
    bundle = SDK.read_text()
    assert f'"{version}"' in bundle and "var FakerekSdk=" in bundle
    assert SDK.stat().st_size < 1_000_000
