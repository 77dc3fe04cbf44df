"""Drives the OFFICIAL Alipay SDK (`alipay-sdk-python`) against the provider sandbox.

That SDK installs the top-level package `alipay`, as python-alipay-sdk in the project's venv
does, so `test_official_sdk.py` runs this script with a separate venv's python (`-I`): a JSON
job on stdin, JSON results on stdout. Standard library and the SDK only; the SDK has no type
information, so its modules are loaded by name and typed as Any.

Job: `{"gateway", "app_id", "app_private_key", "alipay_public_key", "steps": [...]}` with keys
as bare base64 (PKCS#1 private key, SubjectPublicKeyInfo public key), as the SDK wants them.
Steps: `{"op": "precreate", "out_trade_no", "total_amount", "subject", "notify_url"}`,
`{"op": "query", "out_trade_no"[, "alipay_public_key"]}` (another key: the SDK's response
verification must then fail), `{"op": "verify_notify", "params": {...}}` (a notify's form).
"""

from __future__ import annotations

import http.client
import importlib
import json
import sys
from typing import Any
from urllib.parse import urlparse


def sdk(module: str) -> Any:
    return importlib.import_module(module)


def honour_port() -> bool:
    """The SDK's `WebUtils.get_http_connection` always connects to port 80 (443 for https) and
    appends the URL's port (an int) to a str, a TypeError: no gateway on another port can be
    reached. Put the same function, port honoured, in its place; returns whether the SDK's own
    one fails on such a URL."""
    web = sdk("alipay.aop.api.util.WebUtils")
    try:
        web.get_http_connection("http://127.0.0.1:1/gateway.do", "a=b", 1)
        broken = False
    except TypeError:
        broken = True

    def get_http_connection(url: str, query_string: str, timeout: float) -> tuple[str, Any]:
        parts = urlparse(url)
        https = parts.scheme == "https"
        cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
        connection = cls(host=parts.hostname or "", port=parts.port, timeout=timeout)
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{query_string}", connection

    web.get_http_connection = get_http_connection
    return broken


def client(job: dict[str, Any], alipay_public_key: str) -> Any:
    config = sdk("alipay.aop.api.AlipayClientConfig").AlipayClientConfig()
    config.server_url = job["gateway"]
    config.app_id = job["app_id"]
    config.app_private_key = job["app_private_key"]
    config.alipay_public_key = alipay_public_key
    config.sign_type = "RSA2"
    return sdk("alipay.aop.api.DefaultAlipayClient").DefaultAlipayClient(config)


def execute(job: dict[str, Any], request: Any, response: Any, key: str) -> dict[str, Any]:
    """`execute` returns the verified `..._response` object as a string, or raises."""
    try:
        body = client(job, key).execute(request)
    except Exception as e:
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    response.parse_response_content(body)
    return {"ok": True, "body": json.loads(body), "is_success": bool(response.is_success())}


def precreate(job: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    model = sdk("alipay.aop.api.domain.AlipayTradePrecreateModel").AlipayTradePrecreateModel()
    model.out_trade_no = step["out_trade_no"]
    model.total_amount = step["total_amount"]
    model.subject = step["subject"]
    mod = sdk("alipay.aop.api.request.AlipayTradePrecreateRequest")
    request = mod.AlipayTradePrecreateRequest(biz_model=model)
    request.notify_url = step["notify_url"]
    response = sdk("alipay.aop.api.response.AlipayTradePrecreateResponse")
    return execute(job, request, response.AlipayTradePrecreateResponse(), job["alipay_public_key"])


def query(job: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    model = sdk("alipay.aop.api.domain.AlipayTradeQueryModel").AlipayTradeQueryModel()
    model.out_trade_no = step["out_trade_no"]
    request = sdk("alipay.aop.api.request.AlipayTradeQueryRequest").AlipayTradeQueryRequest(
        biz_model=model
    )
    response = sdk("alipay.aop.api.response.AlipayTradeQueryResponse").AlipayTradeQueryResponse()
    return execute(job, request, response, step.get("alipay_public_key", job["alipay_public_key"]))


def verify_notify(job: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    """Alipay signs a notify's sorted `k=v&..` of every parameter but `sign` and `sign_type`."""
    utils = sdk("alipay.aop.api.util.SignatureUtils")
    params = dict(step["params"])
    signature = params.pop("sign")
    params.pop("sign_type", None)
    content = utils.get_sign_content(params)
    try:
        ok = utils.verify_with_rsa(job["alipay_public_key"], content.encode("utf-8"), signature)
    except Exception as e:
        return {"verified": False, "error": f"{type(e).__name__}: {e}"}
    return {"verified": bool(ok)}


OPS = {"precreate": precreate, "query": query, "verify_notify": verify_notify}


def main() -> None:
    job: dict[str, Any] = json.load(sys.stdin)
    port_bug = honour_port()
    version = sdk("alipay.aop.api.constant.CommonConstants").ALIPAY_SDK_PYTHON_VERSION
    results = [OPS[step["op"]](job, step) for step in job["steps"]]
    out = {"sdk_version": version, "sdk_port_bug": port_bug, "results": results}
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
