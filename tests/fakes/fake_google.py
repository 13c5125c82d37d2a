"""A fake Google OAuth token endpoint and FCM HTTP v1 `messages:send`.

`POST /token` takes the JWT-bearer grant that google-auth sends for a service account and checks
the assertion is an RS256 JWT signed by that account's key (PyJWT, public key); it issues an
access token that `POST /v1/projects/{project}/messages:send` then requires as a bearer token.

Magic device tokens (their prefix) pick an FCM error with the real JSON shape:
`unregistered…` → 404 UNREGISTERED, `invalid…` → 400 INVALID_ARGUMENT, `unavailable…` → 503
UNAVAILABLE, `internal…` → 500 INTERNAL, `quota…` → 429 QUOTA_EXCEEDED, `mismatch…` → 403
SENDER_ID_MISMATCH; the 429 and the 503 carry Retry-After. `fail_next(n)` answers the next n
sends with a 503.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth signs the assertion for Google's token endpoint whatever token_uri it posts to.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
# Scopes that let a token call FCM (firebase-admin asks for cloud-platform among others).
FCM_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/firebase.messaging",
        "https://www.googleapis.com/auth/cloud-platform",
    }
)
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
# prefix → (HTTP status, canonical status, FCM errorCode, message)
MAGIC_ERRORS: dict[str, tuple[int, str, str, str]] = {
    "unregistered": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    "invalid": (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    "unavailable": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
    "internal": (500, "INTERNAL", "INTERNAL", "Internal error encountered."),
    "quota": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for sending."),
    "mismatch": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
}
TARGETS = ("token", "fid", "topic", "condition")


@dataclass(frozen=True)
class ServiceAccountKey:
    project_id: str
    client_email: str
    private_key_id: str
    private_key_pem: str
    public_key_pem: str

    def info(self, token_uri: str) -> dict[str, str]:
        """The service-account JSON, as the Firebase console would download it."""
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }


def generate_service_account_key(project_id: str = "lastmile-test") -> ServiceAccountKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return ServiceAccountKey(
        project_id=project_id,
        client_email=f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com",
        private_key_id=secrets.token_hex(20),
        private_key_pem=private_pem,
        public_key_pem=public_pem,
    )


@dataclass(frozen=True)
class FcmRequest:
    """An accepted messages:send request."""

    name: str
    authorization: str
    project: str
    target_kind: str  # "token" or "fid" (or "topic"/"condition")
    target: str
    title: str | None
    body: str | None
    data: dict[str, str]
    validate_only: bool
    message: dict[str, Any]


@dataclass
class FakeGoogle:
    key: ServiceAccountKey
    retry_after_s: int = 13
    latency_s: float = 0.0
    requests: list[FcmRequest] = field(default_factory=list)
    token_requests: int = 0  # grants issued
    attempts: int = 0  # authenticated sends, failed ones included
    issued_tokens: set[str] = field(default_factory=set)
    _fail_next: int = 0

    def fail_next(self, count: int) -> None:
        self._fail_next = count

    def revoke_tokens(self) -> None:
        """Forget every issued access token (the SDK must fetch a new one)."""
        self.issued_tokens.clear()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != JWT_BEARER:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
        token_uri = str(request.url.with_query(None))
        try:
            claims = jwt.decode(
                str(form.get("assertion", "")),
                self.key.public_key_pem,
                algorithms=["RS256"],
                audience=[GOOGLE_TOKEN_AUDIENCE, token_uri],
                options={"require": ["iss", "aud", "iat", "exp"]},
                leeway=30,
            )
        except jwt.InvalidTokenError:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        scopes = set(str(claims.get("scope", "")).split())
        if claims["iss"] != self.key.client_email or not scopes & FCM_SCOPES:
            return _oauth_error("invalid_grant", "Invalid JWT: wrong issuer or scope.")
        access_token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.issued_tokens.add(access_token)
        self.token_requests += 1
        body = {"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}
        return web.json_response(body)

    async def _send(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or token not in self.issued_tokens:
            return _fcm_error(
                401, "UNAUTHENTICATED", None, "Request had invalid authentication credentials."
            )
        project = request.match_info["project"]
        if project != self.key.project_id:
            return _fcm_error(403, "PERMISSION_DENIED", None, "Permission denied on project.")
        self.attempts += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self._fail_next > 0:
            self._fail_next -= 1
            return _fcm_error(503, "UNAVAILABLE", "UNAVAILABLE", "The service is unavailable.")
        try:
            body = json.loads(await request.read())
            message = body["message"]
        except (ValueError, KeyError, TypeError):
            return _fcm_error(400, "INVALID_ARGUMENT", None, "Invalid JSON payload received.")
        return self._deliver(authorization, project, body, message)

    def _deliver(
        self, authorization: str, project: str, body: dict[str, Any], message: dict[str, Any]
    ) -> web.Response:
        targets = [kind for kind in TARGETS if message.get(kind)]
        if len(targets) != 1:
            return _fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Exactly one target.")
        target = str(message[targets[0]])
        for prefix, (status, canonical, fcm_code, text) in MAGIC_ERRORS.items():
            if target.startswith(prefix):
                retry = status in (429, 503)
                headers = {"Retry-After": str(self.retry_after_s)} if retry else None
                return _fcm_error(status, canonical, fcm_code, text, headers=headers)
        name = f"projects/{project}/messages/{secrets.randbelow(10**18)}"
        notification = message.get("notification") or {}
        self.requests.append(
            FcmRequest(
                name=name,
                authorization=authorization,
                project=project,
                target_kind=targets[0],
                target=target,
                title=notification.get("title"),
                body=notification.get("body"),
                data=dict(message.get("data") or {}),
                validate_only=bool(body.get("validate_only")),
                message=message,
            )
        )
        return web.json_response({"name": name})


def _oauth_error(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=400)


def _fcm_error(
    status: int,
    canonical: str,
    fcm_code: str | None,
    message: str,
    *,
    headers: dict[str, str] | None = None,
) -> web.Response:
    details = [{"@type": FCM_ERROR_TYPE, "errorCode": fcm_code}] if fcm_code else []
    body = {"error": {"code": status, "message": message, "status": canonical, "details": details}}
    return web.json_response(body, status=status, headers=headers)
