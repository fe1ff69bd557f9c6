"""The S3 server the tests use applies a conditional create atomically, as S3 does.

The S3 lease tests (two processes, one holder) are only as good as the server under them:
moto checks ``If-None-Match: *`` and stores the object as two steps, on threads, so two
creates of one key could both succeed (a CI run saw two lease holders). The fixture's server
serialises writes; this checks the property itself, many creates of one key at once.
"""

from __future__ import annotations

import sys
import threading
import uuid

import pytest

from tests._s3 import s3_client

# Without the fixture's serialised writes this failed within 6-45 rounds of 16 (3 tries).
pytestmark = [pytest.mark.services, pytest.mark.slow]


def _race(client, bucket: str, key: str, n: int) -> list[int]:
    from botocore.exceptions import ClientError

    won: list[int] = []
    start = threading.Barrier(n)

    def create(i: int) -> None:
        start.wait()
        try:
            client.put_object(Bucket=bucket, Key=key, Body=str(i).encode(), IfNoneMatch="*")
            won.append(i)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] in ("PreconditionFailed", "412")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won


def test_of_concurrent_creates_of_one_key_exactly_one_wins(s3_endpoint: str) -> None:
    client = s3_client(s3_endpoint)
    bucket = f"atomic-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    # The server runs in this process: switching threads every few microseconds opens any
    # window between a check and a store, as a loaded machine does.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for round_ in range(100):
            won = _race(client, bucket, f"k{round_}", 16)
            assert len(won) == 1, f"round {round_}: {len(won)} creates of one key succeeded"
    finally:
        sys.setswitchinterval(interval)
