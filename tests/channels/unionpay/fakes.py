"""UnionPay test fakes: an account signing with a certificate of a given PKI, and answers
signed as UnionPay signs them (the PKI itself is the sandbox's, channels/sandbox/unionpay_pki)."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from paymesh.channels.sandbox.unionpay_pki import UnionpayPKI
from paymesh.channels.transport import HttpResponse
from paymesh.channels.unionpay import sign
from paymesh.channels.unionpay.config import UnionpayAccount
from paymesh.channels.unionpay.transformers import encode_kv

MER_ID = "777290058110048"


def account_for(pki: UnionpayPKI, mer_id: str = MER_ID, **fields: str) -> UnionpayAccount:
    """An account whose signing certificate `pki` issued and which trusts `pki`'s chain."""
    merchant = pki.issue_merchant(mer_id)
    p12 = sign.export_pkcs12(merchant.cert, merchant.key, "pw")
    return UnionpayAccount(
        account_id="up", base_url="https://gateway.test.95516.com", mer_id=mer_id,
        sign_cert_p12=base64.b64encode(p12).decode(), sign_cert_password="pw",
        root_cert_pem=pki.root_pem, middle_cert_pem=pki.intermediate_pem,
        notify_url="https://shop.example/n", **fields,
    )  # fmt: skip


def answer(
    pki: UnionpayPKI, fields: Mapping[str, str], status: int = 200, mer_id: str = MER_ID
) -> HttpResponse:
    """A synchronous `k=v` answer signed by `pki`'s UnionPay certificate."""
    body = encode_kv(pki.sign_as_unionpay({"merId": mer_id, **fields}))
    return HttpResponse(status=status, headers={}, body=body.encode())


__all__ = ["MER_ID", "account_for", "answer"]
