"""The S3 media settings (penpals.settings.s3_storage_options) against a real S3 server.

moto's standalone server runs on a loopback port for this module; the storages
are built exactly as settings.py builds them, pointed at that server through the
same environment variables production uses. No database is needed.

What moto (5.2) enforces, and so what these tests can prove over HTTP:
- An anonymous GET of an object is refused (403) unless a bucket policy allows
  it, which is how the private bucket must behave, so a private file reachable
  at a plain URL fails the tests.
- Presigned URLs are NOT verified: moto serves any URL containing "Signature="
  and ignores X-Amz-Expires, in every mode (with IAM auth switched on,
  INITIAL_NO_AUTH_ACTION_COUNT, it answers presigned URLs with a 500). So the
  signature and the lifetime of signed URLs are checked here by recomputing
  the AWS SigV4 query signature independently of botocore, not by waiting for
  the server to refuse an expired URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
import pytest
from botocore.config import Config as BotocoreConfig
from django.conf import settings
from django.core.files.base import ContentFile
from storages.backends.s3 import S3Storage

from penpals.settings import s3_storage_options

ACCESS_KEY = "penpals-test-access-key"
SECRET_KEY = "penpals-test-secret-key"
REGION = "us-east-1"
PUBLIC_BUCKET = "penpals-test-public"
PRIVATE_BUCKET = "penpals-test-private"
SERVER_START_TIMEOUT = 30.0

# Plain HTTP as a browser would do it, never through a proxy from the environment.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with _http.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_moto(log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start moto's server on a free loopback port; return it once it answers."""
    env = dict(os.environ)
    # Moto's default: no IAM auth, so the bucket's policy and the objects'
    # ACLs decide anonymous access, as on S3 and MinIO.
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    last_error = "no attempt"
    for _attempt in range(3):  # another process may take the port between probe and bind
        port = _free_loopback_port()
        endpoint = f"http://127.0.0.1:{port}"
        log = log_path.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, _ = http_get(f"{endpoint}/moto-api/")
            except OSError as error:
                last_error = str(error)
                time.sleep(0.1)
                continue
            if status == 200 and process.poll() is None:
                return process, endpoint
            last_error = f"HTTP {status}"
            time.sleep(0.1)
        _stop(process)
    pytest.fail(f"moto server did not start ({last_error}); log: {log_path.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A running S3 server with a public and a private bucket, like compose's createbuckets."""
    with pytest.MonkeyPatch.context() as mp:
        # A profile named in the environment must not leak into these clients.
        for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            mp.delenv(var, raising=False)
        process, endpoint = _start_moto(tmp_path_factory.mktemp("moto") / "server.log")
        try:
            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
                region_name=REGION,
                config=BotocoreConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
            )
            client.create_bucket(Bucket=PUBLIC_BUCKET)
            client.create_bucket(Bucket=PRIVATE_BUCKET)
            # As compose's createbuckets does: anyone may read (not list) the
            # public bucket's objects; the private bucket has no policy, so no
            # anonymous access at all.
            client.put_bucket_policy(
                Bucket=PUBLIC_BUCKET,
                Policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": ["*"]},
                                "Action": ["s3:GetObject"],
                                "Resource": [f"arn:aws:s3:::{PUBLIC_BUCKET}/*"],
                            }
                        ],
                    }
                ),
            )
            yield SimpleNamespace(endpoint=endpoint, client=client)
        finally:
            _stop(process)


@pytest.fixture
def make_storage(s3, monkeypatch):
    """Build an S3Storage from settings.s3_storage_options, configured by the environment."""
    monkeypatch.setenv("S3_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("S3_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("S3_REGION", REGION)
    for var in (
        "S3_ACCESS_KEY_ID_FILE",
        "S3_SECRET_ACCESS_KEY_FILE",
        "S3_PUBLIC_DOMAIN",
        "S3_ADDRESSING_STYLE",
    ):
        monkeypatch.delenv(var, raising=False)

    def make(bucket: str, *, is_private: bool, **overrides) -> S3Storage:
        options = s3_storage_options(bucket, is_private=is_private)
        options.update(overrides)
        return S3Storage(**options)

    return make


@pytest.fixture
def private_storage(make_storage) -> S3Storage:
    return make_storage(PRIVATE_BUCKET, is_private=True)


@pytest.fixture
def public_storage(make_storage) -> S3Storage:
    return make_storage(PUBLIC_BUCKET, is_private=False)


def unique_name(suffix: str = ".txt") -> str:
    return f"tests/{uuid.uuid4().hex}{suffix}"


def strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def sigv4_query_signature(url: str, secret_key: str) -> str:
    """The AWS SigV4 signature a presigned S3 GET URL must carry, computed from scratch.

    Independent of botocore, so it checks what moto does not: that the URL is
    signed with this secret, for this host, path, credential scope and lifetime.
    """
    parts = urlsplit(url)
    pairs = [
        (key, value)
        for key, value in (pair.split("=", 1) for pair in parts.query.split("&") if pair)
        if key != "X-Amz-Signature"
    ]
    canonical_query = "&".join(f"{key}={value}" for key, value in sorted(pairs))
    params = {key: unquote(value) for key, value in pairs}
    assert params["X-Amz-SignedHeaders"] == "host"
    canonical_request = "\n".join(
        [
            "GET",
            parts.path,
            canonical_query,
            f"host:{parts.netloc}",
            "",
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    amz_date = params["X-Amz-Date"]
    _access_key, date, region, service, terminator = params["X-Amz-Credential"].split("/")
    scope = f"{date}/{region}/{service}/{terminator}"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def test_it_stores_and_reads_back_a_private_file(private_storage, s3):
    content = b"%PDF-1.4 consent form " + uuid.uuid4().bytes
    name = private_storage.save(unique_name(".pdf"), ContentFile(content))

    assert private_storage.exists(name)
    with private_storage.open(name, "rb") as stored:
        assert stored.read() == content
    # It went to the private bucket, and only there.
    assert s3.client.get_object(Bucket=PRIVATE_BUCKET, Key=name)["Body"].read() == content
    assert s3.client.list_objects_v2(Bucket=PUBLIC_BUCKET, Prefix=name).get("KeyCount") == 0

    private_storage.delete(name)
    assert not private_storage.exists(name)


def test_it_never_overwrites_a_file_with_the_same_name(private_storage):
    wanted = unique_name()
    first = private_storage.save(wanted, ContentFile(b"first"))
    second = private_storage.save(wanted, ContentFile(b"second"))

    assert first == wanted
    assert second != first
    with private_storage.open(first, "rb") as stored:
        assert stored.read() == b"first"
    with private_storage.open(second, "rb") as stored:
        assert stored.read() == b"second"


def test_it_serves_private_files_through_signed_urls(private_storage):
    content = b"scanned letter " + uuid.uuid4().bytes
    name = private_storage.save(unique_name(), ContentFile(content))

    url = private_storage.url(name)

    assert url.startswith(f"{private_storage.endpoint_url}/{PRIVATE_BUCKET}/")
    params = query_of(url)
    assert params.get("X-Amz-Signature"), url
    assert params["X-Amz-Expires"] == str(settings.S3_SIGNED_URL_SECONDS)
    assert params["X-Amz-Signature"] == sigv4_query_signature(url, SECRET_KEY)
    assert http_get(url) == (200, content)


def test_it_refuses_private_files_at_their_plain_url(private_storage):
    content = b"inmate date of birth " + uuid.uuid4().bytes
    name = private_storage.save(unique_name(), ContentFile(content))
    plain_url = strip_query(private_storage.url(name))
    assert plain_url == f"{private_storage.endpoint_url}/{PRIVATE_BUCKET}/{name}"

    status, body = http_get(plain_url)

    assert status == 403
    assert content not in body


def test_it_gives_signed_urls_the_configured_lifetime(make_storage):
    # moto ignores X-Amz-Expires (see the module docstring), so an expired URL
    # would still be served: the lifetime is checked in the signed URL instead.
    storage = make_storage(PRIVATE_BUCKET, is_private=True, querystring_expire=1)
    name = storage.save(unique_name(), ContentFile(b"short-lived"))

    url = storage.url(name)

    params = query_of(url)
    assert params["X-Amz-Expires"] == "1"
    assert params["X-Amz-Credential"].startswith(f"{ACCESS_KEY}/")
    signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - signed_at).total_seconds()) < 60
    # The lifetime is covered by the signature: a URL whose expiry was edited
    # no longer matches, and one signed with another secret never did.
    assert params["X-Amz-Signature"] == sigv4_query_signature(url, SECRET_KEY)
    stretched = url.replace("X-Amz-Expires=1&", "X-Amz-Expires=604800&")
    assert stretched != url
    assert params["X-Amz-Signature"] != sigv4_query_signature(stretched, SECRET_KEY)
    assert params["X-Amz-Signature"] != sigv4_query_signature(url, "another-secret")


def test_it_serves_public_files_at_plain_urls(public_storage):
    content = b"\x89PNG processed photo " + uuid.uuid4().bytes
    name = public_storage.save(unique_name(".png"), ContentFile(content))

    url = public_storage.url(name)

    assert url == f"{public_storage.endpoint_url}/{PUBLIC_BUCKET}/{name}"
    assert "X-Amz-Signature" not in url
    assert http_get(url) == (200, content)


def test_it_never_serves_private_files_from_the_public_domain(make_storage, monkeypatch):
    monkeypatch.setenv("S3_PUBLIC_DOMAIN", "media.penpals.example")

    assert s3_storage_options(PUBLIC_BUCKET, is_private=False)["custom_domain"] == (
        "media.penpals.example"
    )
    private = make_storage(PRIVATE_BUCKET, is_private=True)
    url = private.url("consent/form.pdf")
    assert "media.penpals.example" not in url
    assert query_of(url).get("X-Amz-Signature")
