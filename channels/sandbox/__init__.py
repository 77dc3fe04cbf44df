"""The provider sandbox (`paymesh sandbox`): WeChat Pay v3, Alipay OpenAPI and UnionPay ACP.

Modules: `app` (server and entry points), `state` (records), `faults`, `callbacks`
(sender), `control` (the `/_sandbox/` JSON API), `page` (payer page), `pki` (sandbox CA),
`bills`, `provider` (what a provider module implements) and per provider `<name>.py` (the
provider), `<name>_api.py` (its endpoints), `<name>_errors.py` (its error shapes) and
`<name>_views.py` (pages), as channels/README.md describes; `unionpay_pki` (a CFCA-like
chain).
"""

from paymesh.channels.sandbox.app import (
    SandboxServer,
    build_app,
    run_sandbox,
    serve,
    start_sandbox,
)
from paymesh.channels.sandbox.state import SandboxState

__all__ = ["SandboxServer", "SandboxState", "build_app", "run_sandbox", "serve", "start_sandbox"]
