"""Client-side authentication: a freshly signed JWT per connection attempt for the private endpoint."""

from __future__ import annotations

import uuid
import warnings

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from ._secrets import Credentials

__all__ = ["authorization_header"]


def authorization_header(credentials: Credentials, algorithm: str = "HS512") -> tuple[str, str]:
    """``("Authorization", "Bearer <JWT>")`` with ``access_key`` and a new uuid4 ``nonce``."""
    payload = {"access_key": credentials.access_key.reveal(), "nonce": str(uuid.uuid4())}
    with warnings.catch_warnings():
        # Upbit's secret keys are 40 bytes; PyJWT recommends 64 for HS512 and would warn on every
        # connect. The key length is Upbit's choice, not the user's: silence exactly that warning.
        warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
        token = jwt.encode(payload, credentials.secret_key.reveal(), algorithm=algorithm)
    return ("Authorization", f"Bearer {token}")
