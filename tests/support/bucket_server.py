"""An S3 API server for the test session (moto's standalone server on 127.0.0.1), and an HTTP
edge in front of it that answers faults on cue: 503 SlowDown, 403 AccessDenied, or a connection
reset in the middle of an upload. Our code is never mocked: it talks S3 over HTTP to these.

A missing server is a failure, not a skip: `make test` installs moto (a dev dependency).
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.fake_server import Exchange, fake_server
from tests.support.service_process import BIN, free_port, wait_healthy

_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message></Error>"
)


# moto does not check signatures, but refuses anonymous reads of private objects.
_SIGNED = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=test-key/20260101/us-east-1/s3/aws4_request"
}


class S3Server:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._names = itertools.count(1)
        self._log = open(folder / "moto.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait(self, timeout: float = 30) -> None:
        wait_healthy(f"{self.url}/moto-api/", self.proc, timeout)

    def new_bucket(self) -> str:
        name = f"charts-{os.getpid()}-{next(self._names)}"
        self.create_bucket(name)
        return name

    def create_bucket(self, name: str) -> None:
        httpx.put(f"{self.url}/{name}", headers=_SIGNED).raise_for_status()

    def object(self, bucket: str, key: str) -> httpx.Response:
        """What the bucket itself holds under `key` (moto does not check signatures)."""
        return httpx.get(f"{self.url}/{bucket}/{key}", headers=_SIGNED)

    def keys(self, bucket: str) -> list[str]:
        listing = httpx.get(f"{self.url}/{bucket}?list-type=2", headers=_SIGNED).text
        return [part.split("</Key>")[0] for part in listing.split("<Key>")[1:]]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("moto"))
    try:
        server.wait()
        yield server
    finally:
        server.stop()


def bucket_env(server_url: str, bucket: str) -> dict[str, str]:
    """The settings `fly storage create` would set, for a bucket on `server_url`."""
    return {
        "BUCKET_NAME": bucket,
        "AWS_ENDPOINT_URL_S3": server_url,
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_REGION": "auto",
    }


# --- faults at the HTTP edge ----------------------------------------------------------------


@dataclass
class BucketEdge:
    """A proxy to the S3 server. Each fault in `faults` ("slowdown", "denied", "reset", "stall",
    or "pass") answers one request whose method is in `methods`, in order; the rest pass
    through. A stalled request passes through once `released` is set."""

    upstream: str
    faults: list[str] = field(default_factory=list)
    methods: tuple[str, ...] = ("PUT",)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    url: str = ""
    released: threading.Event = field(default_factory=threading.Event)

    def fault_for(self, method: str) -> str | None:
        if method in self.methods and self.faults:
            return self.faults.pop(0)
        return None

    def handle(self, call: Exchange) -> None:
        self.seen.append((call.method, call.path))
        fault = self.fault_for(call.method)
        if fault == "reset":
            length = int(call.headers.get("Content-Length") or 0)
            next(call.pieces(length // 2), b"")  # half the upload arrives, then the line drops
            call.reset()
            return
        body = call.body()
        if fault == "stall":
            self.released.wait(60)
        if fault in ("slowdown", "denied"):
            status, text = (503, _SLOW_DOWN) if fault == "slowdown" else (403, _DENIED)
            call.answer(status, text, "application/xml")
            return
        upstream = httpx.URL(self.upstream)
        conn = http.client.HTTPConnection(upstream.host, upstream.port, timeout=30)
        headers = {k: v for k, v in call.headers.items() if k.lower() != "connection"}
        conn.request(call.method, call.path, body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        conn.close()
        # A client that gave up waiting (a stalled request) has closed its end by now.
        with contextlib.suppress(ConnectionError):
            kept = {
                key: value
                for key, value in answer.getheaders()
                if key.lower() not in ("transfer-encoding", "content-length", "connection")
            }
            call.start(answer.status, len(data), kept)
            if call.method != "HEAD":
                call.write(data)


@pytest.fixture
def bucket_edge(s3_server: S3Server) -> Iterator[BucketEdge]:
    edge = BucketEdge(s3_server.url)
    with fake_server(edge.handle) as server:
        edge.url = server.url
        try:
            yield edge
        finally:
            edge.released.set()
