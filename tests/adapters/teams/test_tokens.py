"""Forged Bot Framework tokens are a 401 (or a 503 when the signing keys cannot be fetched), never a 500.

botframework would fetch its OpenID metadata and signing keys with `requests`, synchronously, on the event
loop; whybot fills the library's key cache itself with aiohttp (adapters/teams/signing_keys.py). The fake
issuer runs in its own thread so a test can also make it hang, and records who fetched."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from botframework.connector.auth import jwt_token_extractor
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.adapters.teams.test_adapter import post
from tests.peers.bot_framework import FakeConnector

APP_ID = "00000000-0000-0000-0000-00000000b07"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims() -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "https://api.botframework.com", "aud": APP_ID, "iat": now, "nbf": now - 5, "exp": now + 600,
            "serviceurl": "http://127.0.0.1:1/"}


def forged_tokens() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "alg=none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}.",
        "HS256": jwt.encode(claims(), "guessed-secret-guessed-secret-32b", algorithm="HS256"),
        "unknown kid": jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "no-such-key"}),
        "no kid": jwt.encode(claims(), key, algorithm="RS256"),
        "garbage header": "eyJub3QiOiJqc29u.e30.",
        "three dots": "a.b.c.d",
    }


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeIssuer:
    """login.botframework.com on loopback: an OpenID configuration and one signing key, `known-key`."""

    def __init__(self, *, broken: bool = False, hang_s: float = 0.0) -> None:
        issuer = self
        self.broken = broken
        self.hang_s = hang_s
        self.agents: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.agents.append(self.headers.get("User-Agent", ""))
                if issuer.hang_s:
                    time.sleep(issuer.hang_s)
                if issuer.broken:
                    body = b"<html>not json</html>"
                elif self.path == "/openid":
                    body = json.dumps({"jwks_uri": f"{issuer.url}/keys"}).encode()
                else:
                    jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
                    body = json.dumps({"keys": [{**jwk, "kid": "known-key", "endorsements": ["msteams"]}]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting on a hang
                    return

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _use(monkeypatch: pytest.MonkeyPatch, issuer: FakeIssuer) -> None:
    metadata = jwt_token_extractor._OpenIdMetadata(f"{issuer.url}/openid")
    monkeypatch.setattr(jwt_token_extractor.JwtTokenExtractor, "get_open_id_metadata",
                        staticmethod(lambda url: metadata))


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIssuer]:
    peer = FakeIssuer()
    _use(monkeypatch, peer)
    yield peer
    peer.close()


async def test_forged_tokens_are_401(secured: TestClient, connector: FakeConnector, issuer: FakeIssuer) -> None:
    activity = connector.channel_mention("help")
    for name, token in forged_tokens().items():
        status, payload = await post(secured, activity, Authorization=f"Bearer {token}")
        assert status == 401, (name, status, payload)
    assert connector.calls == []


async def test_a_token_signed_with_the_issuers_key_gets_past_authentication(
        secured: TestClient, connector: FakeConnector, issuer: FakeIssuer) -> None:
    """The same request with a genuine token is not a 401: the fake issuer really is what is consulted."""
    activity = connector.channel_mention("help")
    token = jwt.encode({**claims(), "serviceurl": activity["serviceUrl"]}, KEY, algorithm="RS256",
                       headers={"kid": "known-key"})
    status, payload = await post(secured, activity, Authorization=f"Bearer {token}")
    assert status not in (401, 500), (status, payload)
    assert issuer.agents and all("aiohttp" in agent for agent in issuer.agents)  # never the library's requests


async def test_a_hanging_key_server_never_stalls_the_server(
        secured: TestClient, connector: FakeConnector, monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys are fetched without blocking the loop: other requests are served meanwhile, and the
    Teams request is refused with a 503 (Bot Framework redelivers) once the fetch times out."""
    slow = FakeIssuer(hang_s=8.0)
    _use(monkeypatch, slow)
    try:
        token = jwt.encode(claims(), KEY, algorithm="RS256", headers={"kid": "known-key"})
        teams = asyncio.create_task(post(secured, connector.channel_mention("help"), Authorization=f"Bearer {token}"))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        health = await secured.get("/healthz")
        assert health.status == 200 and time.monotonic() - started < 1.0
        status, _ = await teams
        assert status == 503
    finally:
        slow.close()


async def test_an_unreachable_or_broken_issuer_is_503_or_401_never_500(
        secured: TestClient, connector: FakeConnector, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = FakeIssuer(broken=True)
    try:
        for peer_url in (broken.url, "http://127.0.0.1:9"):
            issuer = FakeIssuer.__new__(FakeIssuer)
            issuer.url = peer_url
            _use(monkeypatch, issuer)
            for name, token in forged_tokens().items():
                status, _ = await post(secured, connector.channel_mention("help"), Authorization=f"Bearer {token}")
                assert status in (401, 503), (peer_url, name, status)
    finally:
        broken.close()
