"""The Discord-shaped payloads and the fake Discord that mock mode and the other tests rely on."""

from __future__ import annotations

import json

import anyio
import httpx
from nacl.signing import SigningKey

from app import text_rules
from app.discord import protocol
from app.interactions.signatures import verify
from app.mock import payloads
from app.mock.discord import FakeDiscord

API = "http://discord.test/api/v10"


def test_new_ids_are_distinct_snowflakes() -> None:
    ids = [payloads.new_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(text_rules.snowflake(one) == one for one in ids)


def test_signed_headers_verify_with_the_signers_key() -> None:
    key = SigningKey.generate()
    body = json.dumps(payloads.guild_interaction(protocol.PING, None, user={"id": "1"})).encode()
    headers = payloads.signed_headers(key, body)
    signature = headers[protocol.SIGNATURE_HEADER]
    assert verify(key.verify_key, signature, headers[protocol.TIMESTAMP_HEADER], body)


def test_the_webhook_keeps_follow_ups_and_edits_by_token() -> None:
    async def exchange() -> list[httpx.Response]:
        fake = FakeDiscord(API)
        webhook = f"{API}/webhooks/{payloads.APPLICATION_ID}/token-1"
        async with httpx.AsyncClient(transport=fake) as http:
            return [
                await http.patch(f"{webhook}/messages/@original", json={"content": "a"}),
                await http.patch(f"{webhook}/messages/@original", json={"embeds": []}),
                await http.post(webhook, json={"content": "later"}),
                await http.get(f"{webhook}/messages/@original"),
                await http.get(f"{webhook}/messages/9"),
                await http.put(f"{webhook}/messages/@original"),
                await http.delete(f"{webhook}/messages/@original"),
                await http.get(f"{webhook}/messages/@original"),
                await http.get("https://elsewhere.test/"),
            ]

    edited, again, follow_up, read, missing, put, deleted, gone, elsewhere = anyio.run(exchange)
    assert edited.json() == {"content": "a", "id": "@original"}
    assert read.json() == again.json() == {"content": "a", "embeds": [], "id": "@original"}
    assert follow_up.json()["content"] == "later"
    assert (missing.status_code, missing.json()["code"]) == (404, protocol.UNKNOWN_MESSAGE)
    assert put.status_code == 405
    assert deleted.status_code == 204
    assert (gone.status_code, gone.json()["code"]) == (404, protocol.UNKNOWN_MESSAGE)
    assert elsewhere.status_code == 404


def test_the_cdn_serves_only_the_files_it_was_given() -> None:
    fake = FakeDiscord(API, recording=True)
    url = fake.add_file("spy.png", b"\x89PNG", failures=1)

    async def fetch() -> list[int]:
        async with httpx.AsyncClient(transport=fake) as http:
            urls = (url, url, f"{protocol.CDN}/attachments/1/2/other.png")
            return [(await http.get(one)).status_code for one in urls]

    assert anyio.run(fetch) == [503, 200, 404]
    assert fake.downloads == [url, url, f"{protocol.CDN}/attachments/1/2/other.png"]


def test_the_webhook_reads_a_multipart_edit_and_keeps_its_files() -> None:
    payload = {
        "flags": 1 << 15,
        "components": [{"type": 12, "items": [{"media": {"url": "attachment://a.png"}}]}],
        "attachments": [{"id": "0", "filename": "a.png"}],
    }

    async def exchange() -> list[httpx.Response]:
        fake = FakeDiscord(API)
        original = f"{API}/webhooks/{payloads.APPLICATION_ID}/token-2/messages/@original"
        async with httpx.AsyncClient(transport=fake) as http:
            form: list[tuple[str, tuple[str | None, bytes | str, str]]] = [
                ("payload_json", (None, json.dumps(payload), "application/json")),
                ("files[0]", ("a.png", b"\x89PNG-bytes", "image/png")),
            ]
            edited = await http.patch(original, files=form)
            broken = await http.patch(
                original,
                content=b"--x\r\nnot a form",
                headers={"content-type": "multipart/form-data; boundary=x"},
            )
            kept = fake.uploads("token-2")
            assert kept["a.png"].data == b"\x89PNG-bytes"
            return [edited, broken]

    edited, broken = anyio.run(exchange)
    assert edited.status_code == 200
    shown = edited.json()["attachments"]
    assert shown == [{"id": "0", "filename": "a.png", "size": 10, "content_type": "image/png"}]
    assert broken.status_code == 400
