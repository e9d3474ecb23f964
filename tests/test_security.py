"""Web-surface safety in-process and on the real server: the Host allowlist (DNS rebinding), the
origins the control API and the console take changes from, the control API's JSON-only changes,
and CORS on the Rekognition endpoint and S3 (preflights, answers, no 500 on any OPTIONS).
The same attacks from a real browser are in test_security_browser.py."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import xml.etree.ElementTree as ElementTree

import pytest
from conftest import TARGET, call

from fakerek import config
from fakerek.app import create_app
from fakerek.config import SettingError, Settings
from fakerek.web import services_of

LISTED = "http://localhost:3000"
OTHER = "http://evil.example"
SDK_HEADERS = (  # what the AWS SDK for JavaScript v3 asks for in a Rekognition call's preflight
    "amz-sdk-invocation-id,amz-sdk-request,authorization,content-type,x-amz-content-sha256,"
    "x-amz-date,x-amz-target,x-amz-user-agent"
)
REBOUND = "attacker.example:4567"
SIGNED = {  # moto answers 403 to an unsigned GET of an object
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
}


@pytest.fixture
def make_client(tmp_path):
    """`make_client(**settings)`: an in-process test client of an app with these settings."""
    apps = []

    def make(**settings):
        app = create_app(Settings(data_dir=str(tmp_path / f"data{len(apps)}"), **settings))
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        services_of(app).close()


@pytest.fixture
def client(make_client):
    """The default settings but one listed CORS origin."""
    return make_client(cors_origins=LISTED)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The same, one for the module: for the tests that change nothing when fakerek is right."""
    app = create_app(
        Settings(data_dir=str(tmp_path_factory.mktemp("shared") / "data"), cors_origins=LISTED)
    )
    yield app.test_client()
    services_of(app).close()


def s3_error(answer) -> str:
    return ElementTree.fromstring(answer.data).findtext("Code") or ""


def projects(client) -> list[str]:
    return [p["ProjectArn"] for p in call(client, "DescribeProjects")[1]["ProjectDescriptions"]]


def timing(client) -> str:
    return client.get("/_fakerek/config").get_json()["timing"]


# -- Host -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:4567",
        "LocalHost.:4567",
        "my-bucket.localhost:4567",
        "127.0.0.1",
        "127.0.0.1:4567",
        "127.9.8.7:80",
        "[::1]:4567",
        "[::ffff:127.0.0.1]:4567",
    ],
)
def test_loopback_hosts_are_answered(shared, host):
    assert shared.get("/_fakerek/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        REBOUND,
        "attacker.example",
        "localhost.attacker.example:4567",
        "127.0.0.1.nip.example",
        "10.0.0.8:4567",
        "[::2]:4567",
        "::1",  # an IPv6 address without brackets is no Host
        "localhost:99999",
        "[::1",
        "exa mple",
        "",
    ],
)
def test_other_hosts_are_refused(shared, host):
    answer = shared.get("/_fakerek/health", headers={"Host": host})
    assert answer.status_code == 403 and "--allowed-hosts" in answer.get_json()["error"]


def test_a_refused_host_gets_a_rekognition_error_from_the_rekognition_endpoint(client):
    status, error = call(client, "CreateProject", {"ProjectName": "p"}, Host=REBOUND)
    assert status == 403 and error["__type"] == "AccessDeniedException"
    assert "attacker.example" in error["Message"]
    answer = client.post(
        "/",
        data="{}",
        headers={"Host": REBOUND, "X-Amz-Target": TARGET + "DescribeProjects"},
        content_type="application/x-amz-json-1.1",
    )
    assert answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert answer.content_type == "application/x-amz-json-1.1"
    assert projects(client) == []


def test_a_refused_host_gets_an_s3_error_from_s3(client):
    answer = client.put("/new-bucket", headers={"Host": REBOUND})
    assert answer.status_code == 403 and answer.content_type == "application/xml"
    assert s3_error(answer) == "AccessDenied"
    assert client.get("/new-bucket").status_code == 404  # not created


def test_a_refused_host_gets_a_json_error_from_the_control_api(client):
    client.post("/_fakerek/config", json={"timing": "realistic"})
    answer = client.post("/_fakerek/reset", json={}, headers={"Host": REBOUND})
    assert answer.status_code == 403 and "Host" in answer.get_json()["error"]
    assert timing(client) == "realistic"  # not reset


def test_a_refused_host_gets_the_console_error_page_or_json(client):
    page = client.get("/_fakerek/console/", headers={"Host": REBOUND})
    assert page.status_code == 403 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "<h1>Forbidden</h1>" in text and "attacker.example" in text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    created = client.post(
        "/_fakerek/console/projects",
        data={"name": "p"},
        headers={"Host": REBOUND, "Origin": "http://" + REBOUND},
    )
    assert created.status_code == 403
    saved = client.post(
        "/_fakerek/console/dataset/labels", json={"dataset": "x"}, headers={"Host": REBOUND}
    )
    assert saved.status_code == 403 and "--allowed-hosts" in saved.get_json()["error"]
    assert projects(client) == []


def test_allowed_hosts_are_answered_by_name_whatever_the_port(make_client):
    client = make_client(allowed_hosts="fakerek, *.svc.test")
    for host in ("fakerek", "fakerek:4567", "FAKEREK:80", "a.svc.test:1", "a.b.svc.test"):
        assert client.get("/_fakerek/health", headers={"Host": host}).status_code == 200, host
    for host in ("svc.test", "fakerek.evil", "xfakerek", "a.svc.test.evil"):
        assert client.get("/_fakerek/health", headers={"Host": host}).status_code == 403, host


def test_an_allowed_host_serves_every_surface(make_client):
    client = make_client(allowed_hosts="fakerek")
    status, created = call(client, "CreateProject", {"ProjectName": "p"}, Host="fakerek:4567")
    assert status == 200, created
    assert client.put("/bucket", headers={"Host": "fakerek:4567"}).status_code == 200
    reset = client.post("/_fakerek/reset", json={}, headers={"Host": "fakerek:4567"})
    assert reset.status_code == 200 and projects(client) == []


def test_star_allows_any_host(make_client):
    client = make_client(allowed_hosts="*")
    assert client.get("/_fakerek/health", headers={"Host": REBOUND}).status_code == 200


def test_the_bound_address_is_answered(make_client):
    client = make_client(host="192.0.2.10")
    assert client.get("/_fakerek/health", headers={"Host": "192.0.2.10:4567"}).status_code == 200
    assert client.get("/_fakerek/health", headers={"Host": "192.0.2.11"}).status_code == 403


def test_binding_every_address_answers_addresses_but_not_names(make_client):
    client = make_client(host="0.0.0.0")
    for host in ("172.17.0.2:4567", "192.0.2.1", "[2001:db8::1]:4567", "localhost"):
        assert client.get("/_fakerek/health", headers={"Host": host}).status_code == 200, host
    assert client.get("/_fakerek/health", headers={"Host": "fakerek:4567"}).status_code == 403


@pytest.mark.parametrize(
    "name, value",
    [
        ("allowed_hosts", "fakerek:4567"),
        ("allowed_hosts", "http://fakerek"),
        ("allowed_hosts", "fake rek"),
        ("allowed_hosts", "a/b"),
        ("cors_origins", "localhost:3000"),
        ("cors_origins", "http://localhost:3000/app"),
        ("cors_origins", "http://localhost:3000?x"),
        ("cors_origins", "http://"),
    ],
)
def test_malformed_security_settings_are_refused(name, value):
    with pytest.raises(SettingError, match=name):
        config.from_sources({name: value}, {})


def test_security_settings_read_from_flags_and_environment():
    settings = config.from_sources(
        {"cors_origins": " http://localhost:3000 , https://app.example "},
        {"FAKEREK_ALLOWED_HOSTS": "fakerek,[::1],*.svc.test"},
    )
    assert settings.cors_origin_list == ("http://localhost:3000", "https://app.example")
    assert settings.allowed_host_names == ("fakerek", "[::1]", "*.svc.test")


# -- the control API: own origins, JSON only ------------------------------------------------------


@pytest.mark.parametrize(
    "path, body",
    [
        ("/_fakerek/reset", {}),
        ("/_fakerek/config", {"timing": "instant"}),
        ("/_fakerek/faults", {"operation": "CreateProject", "error": "ThrottlingException"}),
        ("/_fakerek/rules", {"match": {"s3_key": "b/k"}, "labels": []}),
        ("/_fakerek/clock", {"advance": 1}),
    ],
)
@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_control_changes_must_be_json(shared, path, body, content_type):
    shared.post("/_fakerek/config", json={"timing": "realistic"})
    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = shared.post(path, data=json.dumps(body), headers=headers)
    assert answer.status_code == 415 and "application/json" in answer.get_json()["error"]
    assert timing(shared) == "realistic"
    assert shared.get("/_fakerek/faults").get_json() == {"faults": []}
    assert shared.get("/_fakerek/rules").get_json() == {"rules": []}


def test_control_deletes_must_be_json_too(client):
    client.post(
        "/_fakerek/faults", json={"operation": "CreateProject", "error": "ThrottlingException"}
    )
    assert client.delete("/_fakerek/faults").status_code == 415
    assert len(client.get("/_fakerek/faults").get_json()["faults"]) == 1
    assert client.delete("/_fakerek/faults", json={}).get_json() == {"faults": []}


def test_control_json_may_name_its_charset(client):
    answer = client.post(
        "/_fakerek/config",
        data='{"timing": "realistic"}',
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert answer.status_code == 200 and timing(client) == "realistic"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": OTHER},
        {"Origin": "null"},
        {"Origin": "http://localhost:1234"},  # another port of the same host: another site
        {"Origin": "http://" + REBOUND},
        {"Referer": "http://evil.example/page.html"},
        {"Referer": "http://localhost:1234/page.html"},
    ],
)
def test_control_changes_from_other_pages_are_refused(shared, headers):
    shared.post("/_fakerek/config", json={"timing": "realistic"})
    for path in ("/_fakerek/reset", "/_fakerek/config"):
        answer = shared.post(path, json={"timing": "instant"}, headers=headers)
        assert answer.status_code == 403 and "refused" in answer.get_json()["error"]
    assert shared.delete("/_fakerek/faults", json={}, headers=headers).status_code == 403
    assert timing(shared) == "realistic"


def test_control_changes_from_own_pages_and_from_clients_without_origin_are_taken(client):
    own = ("http://localhost", "http://127.0.0.1", "http://localhost:80", "http://[::1]")
    for origin in own:
        client.post("/_fakerek/config", json={"timing": "realistic"})
        answer = client.post("/_fakerek/reset", json={}, headers={"Origin": origin})
        assert answer.status_code == 200, (origin, answer.get_json())
        assert timing(client) == "instant"
    assert client.post("/_fakerek/config", json={"timing": "realistic"}).status_code == 200
    referer = {"Referer": "http://localhost/_fakerek/console/test-double"}
    assert client.post("/_fakerek/reset", json={}, headers=referer).status_code == 200


def test_own_origin_means_the_port_the_request_came_to(client):
    headers = {"Host": "localhost:4567", "Origin": "http://127.0.0.1:4567"}
    assert client.post("/_fakerek/reset", json={}, headers=headers).status_code == 200
    headers = {"Host": "localhost:4567", "Origin": "http://localhost:4568"}
    assert client.post("/_fakerek/reset", json={}, headers=headers).status_code == 403
    headers = {"Host": "localhost:4567", "Origin": "http://attacker.example:4567"}
    assert client.post("/_fakerek/reset", json={}, headers=headers).status_code == 403


def test_control_reads_answer_any_page_without_cors(client):
    answer = client.get("/_fakerek/config", headers={"Origin": OTHER})
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers


def test_listed_cors_origins_do_not_open_the_control_api(client):
    answer = client.post("/_fakerek/reset", json={}, headers={"Origin": LISTED})
    assert answer.status_code == 403
    preflight = client.options(
        "/_fakerek/reset",
        headers={"Origin": LISTED, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403 and "Access-Control-Allow-Origin" not in preflight.headers


# -- the console: own origins ---------------------------------------------------------------------


def test_console_changes_from_an_allowed_host_on_the_same_port_are_taken(client):
    form = {"name": "p", "account": "123456789012", "region": "us-east-1"}
    headers = {"Host": "localhost:4567", "Origin": "http://127.0.0.1:4567"}
    answer = client.post("/_fakerek/console/projects", data=form, headers=headers)
    assert answer.status_code == 303 and len(projects(client)) == 1


def test_console_changes_are_checked_against_allowed_hosts_not_the_host_header(make_client):
    client = make_client(allowed_hosts="*.svc.test")
    form = {"name": "p", "account": "123456789012", "region": "us-east-1"}
    host = "a.svc.test:4567"
    refused = client.post(
        "/_fakerek/console/projects",
        data=form,
        headers={"Host": host, "Origin": "http://evil.example:4567"},
    )
    assert refused.status_code == 403 and "refused" in refused.get_data(as_text=True)
    taken = client.post(
        "/_fakerek/console/projects", data=form, headers={"Host": host, "Origin": "http://" + host}
    )
    assert taken.status_code == 303 and len(projects(client)) == 1


@pytest.mark.parametrize(
    "settings, page",
    [
        ({"host": "0.0.0.0"}, "http://203.0.113.5:4567"),  # any address is a Host, not a page
        ({"host": "::"}, "http://[2001:db8::5]:4567"),
        ({"allowed_hosts": "*"}, "http://attacker.example:4567"),
    ],
)
def test_a_wildcard_host_setting_makes_no_other_site_an_own_page(make_client, settings, page):
    """Binding every address (the Docker image) or `--allowed-hosts *` lets any address or name
    reach fakerek as a Host; a page served on the same port by another machine (an attacker's
    server on :4567) is still another site's."""
    client = make_client(**settings)
    headers = {"Host": "localhost:4567", "Origin": page}
    form = {"name": "p", "account": "123456789012", "region": "us-east-1"}
    console = client.post("/_fakerek/console/projects", data=form, headers=headers)
    assert console.status_code == 403
    assert client.post("/_fakerek/reset", json={}, headers=headers).status_code == 403
    asked = {**headers, "Access-Control-Request-Method": "POST"}
    rekognition = client.options(
        "/", headers={**asked, "Access-Control-Request-Headers": "x-amz-target"}
    )
    assert rekognition.status_code == 403
    assert "Access-Control-Allow-Origin" not in rekognition.headers
    status, _ = call(client, "CreateProject", {"ProjectName": "p"}, **headers)
    assert status == 403 and projects(client) == []
    # the page fakerek serves under the name or address it was reached by is its own
    own = page.removeprefix("http://")
    taken = client.post(
        "/_fakerek/console/projects", data=form, headers={"Host": own, "Origin": page}
    )
    assert taken.status_code == 303 and len(projects(client)) == 1


# -- CORS on the Rekognition endpoint and S3 ------------------------------------------------------


def preflight(client, path: str, origin: str, method: str, headers: str = ""):
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=asked)


def test_a_listed_origin_passes_the_rekognition_preflight(shared):
    answer = preflight(shared, "/", LISTED, "POST", SDK_HEADERS)
    assert answer.status_code == 200 and answer.data == b""
    assert answer.headers["Access-Control-Allow-Origin"] == LISTED
    assert "POST" in answer.headers["Access-Control-Allow-Methods"].split(", ")
    allowed = answer.headers["Access-Control-Allow-Headers"].split(", ")
    assert sorted(allowed) == sorted(SDK_HEADERS.split(","))
    assert "Origin" in answer.headers["Vary"]


@pytest.mark.parametrize(
    "path, method, headers",
    [
        ("/", "GET", ""),  # ListBuckets
        ("/my-bucket", "PUT", "authorization,x-amz-date,x-amz-content-sha256"),
        ("/no-such-bucket/a/key.jpg", "PUT", "content-type,content-md5,x-amz-checksum-crc32"),
        ("/my-bucket/key", "GET", "range,if-none-match,amz-sdk-request"),
        ("/my-bucket?delete", "POST", "content-type,x-amz-sdk-checksum-algorithm"),
        ("/my-bucket/key", "DELETE", ""),
    ],
)
def test_a_listed_origin_passes_s3_preflights(shared, path, method, headers):
    answer = preflight(shared, path, LISTED, method, headers)
    assert answer.status_code == 200, answer.data
    assert answer.headers["Access-Control-Allow-Origin"] == LISTED
    assert method in answer.headers["Access-Control-Allow-Methods"]
    for header in filter(None, headers.split(",")):
        assert header in answer.headers["Access-Control-Allow-Headers"]


def test_listed_origins_are_compared_as_origins(make_client):
    client = make_client(cors_origins="HTTP://LocalHost:3000,https://app.example:443")
    for origin in ("http://localhost:3000", "https://app.example"):
        assert preflight(client, "/", origin, "POST", "x-amz-target").status_code == 200, origin
    for origin in ("https://localhost:3000", "http://app.example", "http://localhost:3001"):
        assert preflight(client, "/", origin, "POST", "x-amz-target").status_code == 403, origin


def test_star_allows_every_origin(make_client):
    client = make_client(cors_origins="*")
    answer = preflight(client, "/", OTHER, "POST", "x-amz-target")
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == OTHER


def test_unlisted_origins_fail_the_preflight(shared):
    rekognition = preflight(shared, "/", OTHER, "POST", SDK_HEADERS)
    assert rekognition.status_code == 403
    assert rekognition.get_json(force=True)["__type"] == "AccessDeniedException"
    s3 = preflight(shared, "/my-bucket/key", OTHER, "PUT", "content-type")
    assert s3.status_code == 403 and s3_error(s3) == "AccessForbidden"
    for answer in (rekognition, s3):
        assert not [k for k, _ in answer.headers if k.lower().startswith("access-control-")]


def test_no_origin_is_listed_by_default(make_client):
    client = make_client()
    answer = preflight(client, "/", LISTED, "POST", SDK_HEADERS)
    assert answer.status_code == 403 and "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize(
    "method, headers, status",
    [
        ("PATCH", "", 403),
        ("CONNECT", "", 403),
        ("PUT", "x-forwarded-for", 403),
        ("PUT", "content-type,cookie", 403),
        ("", "content-type", 400),  # no Access-Control-Request-Method: no preflight
    ],
)
def test_preflights_for_other_methods_or_headers_are_refused(shared, method, headers, status):
    answer = preflight(shared, "/my-bucket/key", LISTED, method, headers)
    assert answer.status_code == status and "Access-Control-Allow-Origin" not in answer.headers


def test_a_listed_origin_reads_rekognition_answers_and_errors(client):
    status, created = call(client, "CreateProject", {"ProjectName": "p"}, Origin=LISTED)
    assert status == 200
    answer = client.post(
        "/",
        data=json.dumps({"ProjectName": "p"}),
        headers={"Origin": LISTED, "X-Amz-Target": TARGET + "CreateProject"},
        content_type="application/x-amz-json-1.1",
    )
    assert answer.status_code == 400
    assert answer.headers.getlist("Access-Control-Allow-Origin") == [LISTED]
    exposed = answer.headers["Access-Control-Expose-Headers"].lower().split(", ")
    assert {"x-amzn-requestid", "x-amzn-errortype", "etag", "date"} <= set(exposed)
    assert answer.headers["Vary"] == "Origin"


def test_a_listed_origin_reads_s3_answers_with_fakerek_cors_only(client):
    client.put("/my-bucket")
    put = client.put("/my-bucket/key", data=b"hello", headers={"Origin": LISTED})
    assert put.status_code == 200
    assert put.headers.getlist("Access-Control-Allow-Origin") == [LISTED]
    got = client.get("/my-bucket/key", headers={"Origin": LISTED, **SIGNED})
    assert got.data == b"hello" and got.headers.getlist("Access-Control-Allow-Origin") == [LISTED]
    exposed = got.headers["Access-Control-Expose-Headers"].lower().split(", ")
    assert {"etag", "x-amz-request-id", "x-amzn-requestid"} <= set(exposed)
    assert got.headers.getlist("Vary") == ["Origin"]  # moto's is dropped, not repeated


def test_unlisted_origins_cannot_call_rekognition_or_s3(client):
    status, error = call(client, "CreateProject", {"ProjectName": "p"}, Origin=OTHER)
    assert status == 403 and error["__type"] == "AccessDeniedException"
    assert "--cors-origins" in error["Message"]
    form = client.post(  # a cross-site browser form upload
        "/my-bucket",
        data={"key": "k", "file": (b"x", "x.txt")},
        headers={"Origin": OTHER},
    )
    assert form.status_code == 403 and s3_error(form) == "AccessDenied"
    got = client.get("/", headers={"Origin": OTHER})
    assert got.status_code == 403 and "Access-Control-Allow-Origin" not in got.headers
    assert projects(client) == []


def test_bucket_cors_configurations_do_not_overrule_the_setting(client):
    client.put("/cors-bucket")
    rules = (
        "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
        "<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod></CORSRule>"
        "</CORSConfiguration>"
    )
    assert client.put("/cors-bucket?cors", data=rules).status_code == 200
    assert b"<AllowedOrigin>*</AllowedOrigin>" in client.get("/cors-bucket?cors").data
    refused = preflight(client, "/cors-bucket/k", OTHER, "PUT")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    assert client.get("/cors-bucket", headers={"Origin": OTHER}).status_code == 403
    own = client.get("/cors-bucket", headers={"Origin": "http://localhost"})
    assert own.status_code == 200 and "Access-Control-Allow-Origin" not in own.headers
    listed = client.get("/cors-bucket", headers={"Origin": LISTED})
    assert listed.headers.getlist("Access-Control-Allow-Origin") == [LISTED]
    assert "Access-Control-Allow-Methods" not in listed.headers  # moto's, dropped


OPTIONS_HEADERS = [
    {},
    {"Origin": LISTED},
    {"Origin": LISTED, "Access-Control-Request-Method": "PUT"},
    {"Origin": OTHER, "Access-Control-Request-Method": "PUT"},
    {"Origin": "http://localhost", "Access-Control-Request-Method": "POST"},
    {"X-Amz-Target": TARGET + "DescribeProjects"},
    {
        "Origin": LISTED,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-amz-target",
    },
]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/?x-id=ListBuckets",
        "/my-bucket",
        "/no-such-bucket",
        "/my-bucket/key",
        "/my-bucket/a/b%20c?uploads",
        "/my-bucket/key?uploadId=1&partNumber=1",
        "/my-bucket?cors",
        "/%ff",
        "/_fakerek/health",
        "/_fakerek/reset",
        "/_fakerek/faults",
        "/_fakerek/nothing",
        "/_fakerek/console/",
        "/_fakerek/console/projects",
        "/_fakerek/console/nothing",
    ],
)
def test_no_options_request_answers_500(shared, path):
    shared.put("/my-bucket")
    for headers in OPTIONS_HEADERS:
        answer = shared.options(path, headers=headers)
        assert answer.status_code < 500, (headers, answer.data[:300])
        if headers.get("Origin") == OTHER:
            assert answer.status_code == 403, headers
            assert "Access-Control-Allow-Origin" not in answer.headers


# -- the real server ------------------------------------------------------------------------------


def raw(server, method: str, path: str, headers: dict[str, str], body: bytes = b""):
    """A request sent as given (Host included) to a real server: (status, headers, body)."""
    parts = urllib.parse.urlsplit(server.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_real_server_options_on_the_root_is_no_500(fakerek):
    status, _, body = raw(fakerek, "OPTIONS", "/", {})
    assert status == 400 and b"<Code>BadRequest</Code>" in body
    status, headers, _ = raw(
        fakerek, "OPTIONS", "/", {"Origin": LISTED, "Access-Control-Request-Method": "GET"}
    )
    assert status == 403 and "access-control-allow-origin" not in headers  # none listed


def test_real_server_refuses_a_rebound_host_on_every_surface(fakerek):
    host = {"Host": REBOUND}
    status, headers, body = raw(
        fakerek,
        "POST",
        "/",
        {
            **host,
            "X-Amz-Target": TARGET + "CreateProject",
            "Content-Type": "application/x-amz-json-1.1",
        },
        b'{"ProjectName": "p"}',
    )
    assert status == 403 and json.loads(body)["__type"] == "AccessDeniedException"
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    status, _, body = raw(fakerek, "PUT", "/rebound-bucket", host)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    status, _, body = raw(fakerek, "GET", "/_fakerek/config", host)
    assert status == 403 and "Host" in json.loads(body)["error"]
    status, headers, body = raw(fakerek, "GET", "/_fakerek/console/", host)
    assert status == 403 and headers["content-type"].startswith("text/html")
    assert b"attacker.example" in body
    status, _, _ = raw(
        fakerek,
        "POST",
        "/_fakerek/reset",
        {**host, "Origin": "http://" + REBOUND, "Content-Type": "application/json"},
        b"{}",
    )
    assert status == 403
    rekognition = fakerek.client()
    assert rekognition.describe_projects()["ProjectDescriptions"] == []
    assert "rebound-bucket" not in [
        b["Name"] for b in fakerek.client("s3").list_buckets()["Buckets"]
    ]
    assert "refused PUT /rebound-bucket (S3)" in fakerek.log()


def test_real_server_control_api_takes_json_from_no_page_only(fakerek):
    fakerek.configure(timing="realistic")
    plain = {"Content-Type": "text/plain"}
    status, _, body = raw(fakerek, "POST", "/_fakerek/reset", plain, b"{}")
    assert status == 415 and "application/json" in json.loads(body)["error"]
    cross = {"Content-Type": "application/json", "Origin": "http://127.0.0.1:1"}
    status, _, _ = raw(fakerek, "POST", "/_fakerek/config", cross, b'{"timing": "instant"}')
    assert status == 403
    assert fakerek.control("GET", "config")["timing"] == "realistic"
    status, _, _ = raw(fakerek, "POST", "/_fakerek/reset", {"Content-Type": "application/json"})
    assert status == 200 and fakerek.control("GET", "config")["timing"] == "instant"
