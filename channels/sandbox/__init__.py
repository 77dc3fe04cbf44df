"""The provider sandbox: WeChat Pay v3, Alipay OpenAPI and UnionPay ACP 5.1.0.

Modules: `app` (server and entry points), `state` (records), `faults`, `callbacks`
(sender), `control` (the `/_sandbox/` JSON API), `page` (payer page), `pki` (sandbox CA),
`provider` (what a provider module implements), `wechat`, `wechat_api`, `wechat_views`,
`alipay*`, `unionpay`, `unionpay_api`, `unionpay_pki` (its CFCA-like chain), `bills`.
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
