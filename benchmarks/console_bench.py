"""Console benchmark: the dataset page of a dataset at the documented maximum (250,000 entries).

Builds the dataset through the API (a manifest uploaded to fakerek's S3, CreateDataset), then
requests the console's dataset page and prints the server-side render time that fakerek reports
in its `Server-Timing` header: the first request, then p50 / p95 of repeated requests, for the
first page, a later page, and filtered first pages. Thumbnails are separate requests and are
not part of the figure. Goal (issue 13): first page <= 200 ms server-side.

Run: python benchmarks/console_bench.py [--lines 250000]
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
import urllib.parse
import urllib.request

from dataset_bench import BUCKET, line, pct

from fakerek.testing import FakerekServer

REPEATS = 20


def render_ms(endpoint: str, query: dict[str, str]) -> tuple[float, str]:
    """(server-side milliseconds, page HTML) of one dataset page."""
    url = f"{endpoint}/_fakerek/console/dataset?{urllib.parse.urlencode(query, doseq=True)}"
    with urllib.request.urlopen(url, timeout=120) as response:
        timing = response.headers["Server-Timing"]
        body = response.read().decode()
    return float(timing.split("dur=")[1]), body


def measure(endpoint: str, query: dict[str, str]) -> tuple[float, list[float], str]:
    first, body = render_ms(endpoint, query)
    again = [render_ms(endpoint, query)[0] for _ in range(REPEATS)]
    return first, again, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=250_000)
    parser.add_argument("--labels", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "big.manifest")
        with open(path, "w") as handle:
            for i in range(args.lines):
                handle.write(line(i, args.labels) + "\n")
        with FakerekServer(os.path.join(work, "data"), args=["--log-level", "warning"]) as server:
            s3 = server.client("s3")
            client = server.client(config_options={"read_timeout": 900})
            s3.create_bucket(Bucket=BUCKET)
            s3.upload_file(path, BUCKET, "big.manifest")
            project = client.create_project(ProjectName="bench")["ProjectArn"]
            began = time.perf_counter()
            dataset = client.create_dataset(
                ProjectArn=project,
                DatasetType="TRAIN",
                DatasetSource={
                    "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "big.manifest"}}
                },
            )["DatasetArn"]
            found = client.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
            import_s = time.perf_counter() - began
            assert found["Status"] == "CREATE_COMPLETE", found

            cases = {}
            first, again, body = measure(server.endpoint, {"arn": dataset})
            cases["first page"] = (first, again)
            token = re.search(r"[?&;]t=([^&\"]+)", body)
            later = {"arn": dataset, "t": urllib.parse.unquote(token.group(1)) if token else ""}
            cases["second page"] = measure(server.endpoint, later)[:2]
            cases["first page, label=label7"] = measure(
                server.endpoint, {"arn": dataset, "label": "label7"}
            )[:2]
            cases["first page, contains=9.jpg"] = measure(
                server.endpoint, {"arn": dataset, "contains": "9.jpg"}
            )[:2]
            cases["first page, labeled=false (none match)"] = measure(
                server.endpoint, {"arn": dataset, "labeled": "false"}
            )[:2]
            cards = body.count('class="card"')

    print(f"machine: {os.cpu_count()} cores; dataset: {args.lines} entries, {args.labels} labels")
    print(f"import through the API (CreateDataset → CREATE_COMPLETE): {import_s:.2f} s")
    print(f"dataset page: {cards} images per page; server-side render (Server-Timing)")
    print(f"{'':42} {'first':>9} {'p50':>9} {'p95':>9}")
    for name, (first, again) in cases.items():
        print(f"{name:42} {first:7.1f}ms {pct(again, 50):7.1f}ms {pct(again, 95):7.1f}ms")


if __name__ == "__main__":
    main()
