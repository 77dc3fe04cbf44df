"""UnionPay ACP 5.1.0 envelope (pure): the common fields, signing, the form POST, and the
authentication and respCode classification every answer goes through.

- Requests: `version=5.1.0 encoding=UTF-8 signMethod=01 txnType txnSubType bizType
  accessType merId` + `certId` (decimal serial of the PKCS#12 signing certificate) and the
  double-hash `signature` (sign.py); a form POST (`application/x-www-form-urlencoded`).
- Answers: `k=v&...` (transformers.parse_kv), believed only when `signPubKeyCert` chains to
  the account's root through its intermediate, is UnionPay's (CN rule) and signs the other
  fields (acpsdk `AcpService.validate`); anything else -> `ResponseUnauthenticated`
  (ChannelUnavailable: outcome unknown, never terminal). Non-200 HTTP is unknown too
  (acpsdk demos: "未返回正确的http状态" -> query later).
- respCode (acpsdk demos `Form_6_2_FrontConsume`/`BackRcvResponse`/`Form_6_5_Query`
  comments, 《平台接入接口规范-第5部分-附录》): `00` success / accepted; `03` `04` `05`
  "交易状态未明" -> query later (ChannelUnavailable); "其他应答码为失败" -> ChannelError with
  the provider's code and message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final
from urllib.parse import urlencode

from paymesh.channels.base import ResponseUnauthenticated
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.channels.unionpay import sign
from paymesh.channels.unionpay.config import UnionpayAccount
from paymesh.channels.unionpay.transformers import (
    ENCODING,
    REDACT_KEYS,
    RESP_OK,
    RESP_UNKNOWN,
    VERSION,
    parse_kv,
)
from paymesh.errors import ChannelError, ChannelUnavailable

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded;charset=UTF-8"


def common_fields(account: UnionpayAccount, txn: tuple[str, str], biz_type: str) -> dict[str, str]:
    return {
        "version": VERSION,
        "encoding": ENCODING,
        "signMethod": sign.SIGN_METHOD_RSA,
        "txnType": txn[0],
        "txnSubType": txn[1],
        "bizType": biz_type,
        "accessType": account.access_type,
        "merId": account.mer_id,
    }


def signed(account: UnionpayAccount, fields: Mapping[str, str]) -> dict[str, str]:
    """`fields` (empty values dropped) + certId + signature."""
    cert = account.signing_cert()
    out = {k: v for k, v in fields.items() if v != ""}
    out["certId"] = cert.cert_id
    out[sign.SIGNATURE_FIELD] = sign.sign_fields(cert.key, out)
    return out


def post(url: str, fields: Mapping[str, str]) -> HttpRequest:
    return HttpRequest(
        method="POST",
        url=url,
        headers={"Content-Type": FORM_CONTENT_TYPE},
        body=urlencode(fields).encode("ascii"),
        redact_keys=REDACT_KEYS,
    )


def verified_fields(resp: HttpResponse, account: UnionpayAccount, now: datetime) -> dict[str, str]:
    """Authenticate a synchronous answer and return its fields (whatever its respCode)."""
    if resp.status != 200:
        raise ChannelUnavailable(
            f"UnionPay answered HTTP {resp.status}", metadata={"http_status": str(resp.status)}
        )
    try:
        fields = parse_kv(resp.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ChannelUnavailable("malformed UnionPay answer") from e
    try:
        sign.verify_message(fields, account.trust_roots(), account.trust_intermediates(), now)
    except ValueError as e:  # CertificateRejected included
        raise ResponseUnauthenticated(
            f"UnionPay answer does not authenticate: {e}",
            metadata={"provider_code": fields.get("respCode", "")},
        ) from e
    if fields.get("merId") and fields["merId"] != account.mer_id:
        raise ChannelUnavailable("UnionPay answered for another merId")
    return fields


def raise_for_code(fields: Mapping[str, str]) -> None:
    """respCode 00 passes; 03/04/05 -> ChannelUnavailable (query later); else ChannelError."""
    code = fields.get("respCode", "")
    if code == RESP_OK:
        return
    msg = fields.get("respMsg", "")
    if code in RESP_UNKNOWN or not code:
        raise ChannelUnavailable(
            f"UnionPay outcome unknown: {code or 'no respCode'}",
            metadata={"provider_code": code, "provider_message": msg},
        )
    raise ChannelError(f"UnionPay refused: {code}", provider_code=code, provider_message=msg)


__all__ = [
    "FORM_CONTENT_TYPE",
    "ResponseUnauthenticated",
    "common_fields",
    "post",
    "raise_for_code",
    "signed",
    "verified_fields",
]
