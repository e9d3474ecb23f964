"""Dataset benchmark: a manifest at the documented maximum (250,000 lines) through fakerek.

Prints
  * CreateDataset import time (call → CREATE_COMPLETE) and the server's peak RSS;
  * ListDatasetEntries p50/p95 per page of 100 at 250k entries (first pages, middle, filtered);
  * `fakerek manifest validate` throughput in lines/s, without images on the whole manifest and
    with image checks on a smaller one whose images are real objects in fakerek's S3.

Goals (issue 3): import <= 60 s, peak RSS <= 500 MB, page p50 <= 20 ms.
Run: python benchmarks/dataset_bench.py [--lines 250000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from PIL import Image

from fakerek.testing import FakerekServer

BUCKET = "bench-images"


def line(i: int, labels: int) -> str:
    if i % 4 == 3:  # a quarter of the lines carry boxes
        return json.dumps(
            {
                "source-ref": f"s3://{BUCKET}/img/{i:06d}.jpg",
                "bb": {
                    "image_size": [{"width": 640, "height": 480, "depth": 3}],
                    "annotations": [
                        {"class_id": 0, "left": 10, "top": 20, "width": 100, "height": 80}
                    ],
                },
                "bb-metadata": {
                    "objects": [{"confidence": 1}],
                    "class-map": {"0": f"label{i % labels}"},
                    "type": "groundtruth/object-detection",
                    "human-annotated": "yes",
                    "creation-date": "2024-01-01T00:00:00",
                },
            }
        )
    return json.dumps(
        {
            "source-ref": f"s3://{BUCKET}/img/{i:06d}.jpg",
            "a": 0,
            "a-metadata": {
                "class-name": f"label{i % labels}",
                "confidence": 1,
                "type": "groundtruth/image-classification",
                "human-annotated": "yes",
                "creation-date": "2024-01-01T00:00:00",
            },
        }
    )


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for row in status:
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    """Restart the kernel's peak-RSS count (VmHWM) of a process."""
    with open(f"/proc/{pid}/clear_refs", "w") as handle:
        handle.write("5")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed_pages(client, dataset: str, pages: int, **filters) -> list[float]:
    times, token = [], ""
    for _ in range(pages):
        began = time.perf_counter()
        page = client.list_dataset_entries(DatasetArn=dataset, NextToken=token, **filters)
        times.append((time.perf_counter() - began) * 1000)
        token = page.get("NextToken", "")
        if not token:
            break
    return times


def validate_rate(path: str, lines: int, endpoint: str | None) -> float:
    command = [sys.executable, "-m", "fakerek", "manifest", "validate", path]
    command += ["--endpoint-url", endpoint] if endpoint else ["--no-images"]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    began = time.perf_counter()
    subprocess.run(command, capture_output=True, env=env, check=False)
    return lines / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=250_000)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--image-lines", type=int, default=2_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "big.manifest")
        with open(path, "w") as handle:
            for i in range(args.lines):
                handle.write(line(i, args.labels) + "\n")
        size_mb = os.path.getsize(path) / 1e6

        with FakerekServer(os.path.join(work, "data"), args=["--log-level", "warning"]) as server:
            s3 = server.client("s3")
            client = server.client(config_options={"read_timeout": 900})
            s3.create_bucket(Bucket=BUCKET)
            s3.upload_file(path, BUCKET, "big.manifest")
            upload_rss = peak_rss_mb(server.pid)
            reset_peak(server.pid)
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
            rss = peak_rss_mb(server.pid)

            first = timed_pages(client, dataset, 200)
            filtered = timed_pages(client, dataset, 50, ContainsLabels=["label7"])
            boxes = timed_pages(client, dataset, 50, SourceRefContains="9.jpg")

            picture = io.BytesIO()
            Image.new("RGB", (320, 240), (10, 120, 200)).save(picture, "JPEG")
            small = os.path.join(work, "small.manifest")
            with open(small, "w") as handle:
                for i in range(args.image_lines):
                    s3.put_object(Bucket=BUCKET, Key=f"img/{i:06d}.jpg", Body=picture.getvalue())
                    handle.write(line(i, args.labels) + "\n")
            with_images = validate_rate(small, args.image_lines, server.endpoint)
        without_images = validate_rate(path, args.lines, None)

    print(
        f"machine: {os.cpu_count()} cores; manifest: {args.lines} lines, {size_mb:.1f} MB, "
        f"{args.labels} labels, a quarter with boxes"
    )
    print(
        f"import (CreateDataset → CREATE_COMPLETE)      {import_s:8.2f} s   "
        f"({args.lines / import_s:,.0f} lines/s)"
    )
    print(f"server peak RSS during the import              {rss:8.1f} MB")
    print(f"  (peak while moto received the manifest upload: {upload_rss:.1f} MB)")
    print(f"stats: {found['DatasetStats']}")
    print(
        f"ListDatasetEntries page of 100, p50 / p95     {pct(first, 50):8.2f} / "
        f"{pct(first, 95):.2f} ms  ({len(first)} pages from the start)"
    )
    print(
        f"  ContainsLabels=[label7], p50 / p95          {pct(filtered, 50):8.2f} / "
        f"{pct(filtered, 95):.2f} ms"
    )
    print(
        f"  SourceRefContains='9.jpg', p50 / p95        {pct(boxes, 50):8.2f} / "
        f"{pct(boxes, 95):.2f} ms"
    )
    print(f"manifest validate, no images                   {without_images:10,.0f} lines/s")
    print(
        f"manifest validate, images from fakerek's S3    {with_images:10,.0f} lines/s "
        f"({args.image_lines} lines)"
    )
    print(f"(median page over all pages: {statistics.median(first + filtered + boxes):.2f} ms)")


if __name__ == "__main__":
    main()
