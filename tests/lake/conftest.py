"""Fixtures for the lake tests: a temporary lake and an S3-compatible server on 127.0.0.1.

Records come from ``lake_records.py`` (a plain module beside this file: pytest puts this folder
on ``sys.path``, and multiprocessing children inherit it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.lake_records import moto_server


@pytest.fixture
def lake(tmp_path: Path) -> str:
    return str(tmp_path / "lake")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    """A moto S3 server on 127.0.0.1 (random port) with a bucket; yields storage options.

    The server runs in a child process: a few deltalake calls (``set_table_properties``) hold
    the GIL while they wait for the store, which would starve an in-process server thread.
    """
    boto3 = pytest.importorskip("boto3")
    with moto_server() as endpoint:
        options = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing-key-id",
            "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=options["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=options["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        ).create_bucket(Bucket="ib-lake")
        yield options


@pytest.fixture
def s3_lake(s3_server: dict[str, str], request: pytest.FixtureRequest) -> str:
    """A fresh prefix in the moto bucket for one test."""
    return f"s3://ib-lake/{request.node.name}-{os.getpid()}"
