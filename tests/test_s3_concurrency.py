"""Many clients on one key: no 5xx, and every GET returns a whole body some PUT sent."""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

BUCKET = "busy"


def _body(writer: int, round_: int) -> bytes:
    mark = f"<{writer}:{round_}>".encode()
    return mark * (200 + 997 * ((writer + round_) % 40))  # 1 KB to 300 KB


def test_concurrent_overwrites_reads_and_deletes_of_one_key(fakerek):
    fakerek.client("s3").create_bucket(Bucket=BUCKET)
    sent: set[bytes] = set()
    problems: list[str] = []
    reads = [0]
    lock = threading.Lock()

    def writer(n: int) -> None:
        s3 = fakerek.client("s3")
        for round_ in range(25):
            body = _body(n, round_)
            with lock:
                sent.add(body)
            try:
                if round_ % 10 == 9:
                    s3.delete_object(Bucket=BUCKET, Key="hot")
                else:
                    s3.put_object(Bucket=BUCKET, Key="hot", Body=body)
            except ClientError as error:
                problems.append(f"write: {error}")

    def reader() -> None:
        s3 = fakerek.client("s3")
        for _ in range(60):
            try:
                got = s3.get_object(Bucket=BUCKET, Key="hot")["Body"].read()
            except ClientError as error:
                if error.response["Error"]["Code"] != "NoSuchKey":
                    problems.append(f"read: {error}")
                continue
            with lock:
                reads[0] += 1
                if got not in sent:
                    problems.append(f"read a torn or unknown body of {len(got)} bytes")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(12)]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert problems == []
    assert reads[0] > 0
    assert "Traceback" not in fakerek.log()
