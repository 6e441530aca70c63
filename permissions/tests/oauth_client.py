"""A small OAuth client for the tests: what an MCP client does, over real HTTP (httpx)."""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx

REDIRECT_URI = "http://127.0.0.1:33418/callback"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.values[attrs["name"]] = attrs.get("value") or ""


def hidden_inputs(html: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(html)
    return parser.values


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


@dataclass
class McpOAuthClient:
    """One browser-and-client pair against ``base`` (a live server URL)."""

    base: str
    http: httpx.Client
    client_id: str = ""

    @classmethod
    def at(cls, base: str) -> "McpOAuthClient":
        return cls(base, httpx.Client(base_url=base, follow_redirects=False, timeout=10))

    def register(self, **metadata) -> httpx.Response:
        body = {"redirect_uris": [REDIRECT_URI], "client_name": "Test MCP client", **metadata}
        body.update(token_endpoint_auth_method=metadata.get("token_endpoint_auth_method", "none"))
        response = self.http.post("/oauth/register", json=body)
        if response.status_code == 201:
            self.client_id = response.json()["client_id"]
        return response

    def login(self, email: str, password: str) -> httpx.Response:
        page = self.http.get("/oauth/login")
        token = hidden_inputs(page.text)["csrfmiddlewaretoken"]
        return self.http.post(
            "/oauth/login",
            data={"username": email, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{self.base}/oauth/login"},
        )

    def authorize_params(self, challenge: str | None, **extra) -> dict:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "st-123",
            "resource": f"{self.base}/mcp",
        }
        if challenge is not None:
            params.update(code_challenge=challenge, code_challenge_method="S256")
        params.update(extra)
        return {key: value for key, value in params.items() if value is not None}

    def consent(self, page: httpx.Response, *, allow: bool = True) -> httpx.Response:
        fields = hidden_inputs(page.text)
        if allow:
            fields["allow"] = "Authorize"
        return self.http.post(
            "/oauth/authorize", data=fields, headers={"Referer": str(page.request.url)}
        )

    def code_for(self, challenge: str, **extra) -> dict[str, str]:
        """Authorize (as the signed-in user) and consent; the callback's query."""
        page = self.http.get("/oauth/authorize", params=self.authorize_params(challenge, **extra))
        assert page.status_code == 200, (page.status_code, page.headers.get("location"))
        answer = self.consent(page)
        assert answer.status_code == 302, answer.text
        assert answer.headers["location"].startswith(REDIRECT_URI)
        return query_of(answer.headers["location"])

    def token(self, **form) -> httpx.Response:
        return self.http.post("/oauth/token", data={"client_id": self.client_id, **form})

    def tokens_for(self, verifier: str, code: str, resource: str | None = None) -> dict:
        response = self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier,
            resource=resource or f"{self.base}/mcp",
        )
        assert response.status_code == 200, response.text
        return response.json()
