"""Session-wide test setup shared by every suite."""

from __future__ import annotations

import base64
import os
import secrets

from paymesh.config.crypto import MASTER_KEY_ENV

# Services encrypt channel secrets at rest with this key; tests get a random one per run.
os.environ.setdefault(MASTER_KEY_ENV, base64.b64encode(secrets.token_bytes(32)).decode())
