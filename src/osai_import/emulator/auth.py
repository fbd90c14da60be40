"""Issue and check the bearer tokens (HS256 JWTs) that SignIn hands out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path


class TokenError(ValueError):
    """Say why a bearer token is refused (the message goes into WWW-Authenticate)."""


def _b64(data: bytes) -> str:
    """Encode base64url without padding, as JWTs do."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Sign tokens with a key kept in the data folder, so they outlive a restart.

    The key also depends on the access token: restarting with another access token
    invalidates every bearer token issued under the old one.
    """

    def __init__(self, data_dir: Path, access_token: str) -> None:
        self.access_token = access_token
        self._key = hashlib.sha256(_load_secret(data_dir) + access_token.encode()).digest()

    def accepts(self, access_token: str) -> bool:
        """Tell whether an access token given to SignIn is the right one."""
        return hmac.compare_digest(access_token.encode(), self.access_token.encode())

    def issue(self, now: float, ttl: float) -> str:
        """Return a bearer token valid for ``ttl`` seconds from ``now``."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        claims = {"sub": "local-user", "iat": now, "exp": now + ttl,
                  "jti": secrets.token_hex(8)}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{payload}.{self._sign(header, payload)}"

    def check(self, token: str, now: float) -> None:
        """Raise TokenError unless the token is ours and unexpired."""
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("The token is not a JWT.")
        header, payload, signature = parts
        if not hmac.compare_digest(signature, self._sign(header, payload)):
            raise TokenError("The signature is invalid.")
        try:
            expires = float(json.loads(_unb64(payload))["exp"])
        except (ValueError, KeyError, TypeError):
            raise TokenError("The token has no valid 'exp' claim.") from None
        if now >= expires:
            raise TokenError(f"The token expired at {expires:.3f} (now {now:.3f}).")

    def _sign(self, header: str, payload: str) -> str:
        """Return the HS256 signature of a header and payload."""
        digest = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return _b64(digest)


def _load_secret(data_dir: Path) -> bytes:
    """Read the signing secret of this data folder, creating it on first use."""
    path = Path(data_dir) / "signing.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    secret = secrets.token_bytes(32)
    # O_EXCL: if two servers start on one folder at once, the loser reads the winner's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret
