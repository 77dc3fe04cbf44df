"""WeChat Pay v3 protocol, pure: signing our requests, verifying the platform's answers,
classifying its errors (`checked_body`), and the platform certificates (`/v3/certificates`).

Trust rule: an answer that cannot be authenticated (missing headers, unknown serial, bad
signature, timestamp more than 5 minutes away) is never trusted; for responses this raises
`ResponseUnauthenticated` (a `ChannelUnavailable`), so nothing becomes terminal on it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paymesh.channels.base import ResponseUnauthenticated, parse_rfc3339
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.channels.wechat import sign
from paymesh.channels.wechat.config import WechatAccount
from paymesh.channels.wechat.transformers import get_obj, get_str, loads_object
from paymesh.errors import ChannelError, ChannelUnavailable

MAX_SKEW_SECONDS: Final = 300
# The allow-list: WeChat error codes that say the request was refused and nothing was done
# (APIv3 "错误码" tables of 申请退款 https://pay.weixin.qq.com/doc/v3/merchant/4013071036,
# 发起转账 https://pay.weixin.qq.com/doc/v3/merchant/4012716434, the JSAPI/Native 下单 and
# 查询 pages, and the common error codes of https://pay.weixin.qq.com/doc/v3/merchant/4012081650).
# Only a *signed and verified* 4xx with one of these codes is a refusal (ChannelError).
# Everything else (SYSTEM_ERROR / FREQUENCY_LIMITED / BANK_ERROR, any code not listed, a
# code-less 4xx such as an intermediary's 408, an unsigned 4xx, any 5xx) leaves the outcome
# unknown (ChannelUnavailable): WeChat's own guidance is to retry with the same merchant
# number ("请不要更换商户退款单号，请使用原商户退款单号" / "请商户务必不要立即更换商户订单号重试").
DEFINITIVE_CODES: Final = frozenset(
    {
        "PARAM_ERROR",  # 400 参数错误
        "INVALID_REQUEST",  # 400 不符合业务规则 (e.g. 订单已全额退款, 场景未开通)
        "APPID_MCHID_NOT_MATCH",  # 400
        "MCH_NOT_EXISTS",  # 400 商户号不存在
        "ORDER_CLOSED",  # 400 订单已关闭
        "ORDERPAID",  # 400 订单已支付 (关闭订单 / 下单)
        "SIGN_ERROR",  # 401 签名错误 (the request was not authenticated: not acted on)
        "NO_AUTH",  # 403 无权限
        "NOT_ENOUGH",  # 403 余额不足 (退款申请失败)
        "USER_ACCOUNT_ABNORMAL",  # 403 退款请求失败: 用户账户异常
        "RULE_LIMIT",  # 403 业务规则限制
        "TRADE_ERROR",  # 403 交易错误
        "ACCOUNT_ERROR",  # 403 账号异常
        "REQUEST_BLOCKED",  # 403 请求受阻
        "OUT_TRADE_NO_USED",  # 403 商户订单号重复
        "ORDER_NOT_EXIST",  # 404 订单不存在
        "RESOURCE_NOT_EXISTS",  # 404 订单/退款单不存在
        "NOT_FOUND",  # 404 记录不存在 (transfer bills)
        "NO_STATEMENT_EXIST",  # 400 账单不存在 (申请交易账单)
    }
)
CERTIFICATES_PATH: Final = "/v3/certificates"

H_TIMESTAMP: Final = "wechatpay-timestamp"
H_NONCE: Final = "wechatpay-nonce"
H_SIGNATURE: Final = "wechatpay-signature"
H_SERIAL: Final = "wechatpay-serial"
H_SIGNATURE_TYPE: Final = "wechatpay-signature-type"

PlatformKeys = Mapping[str, rsa.RSAPublicKey]
"""Platform verification keys by serial (certificate serial, uppercase hex, or PUB_KEY_ID_...)."""


class UnknownSerial(ResponseUnauthenticated):
    """Signed with a platform key we do not have (refresh certificates, then retry)."""

    def __init__(self, serial: str) -> None:
        super().__init__("response signed by an unknown platform serial", metadata={})
        self.serial = serial


class StaleTimestamp(ResponseUnauthenticated):
    """Wechatpay-Timestamp more than 5 minutes away from our clock."""


# --- keys -------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    return sign.load_private_key(pem)


def merchant_key(account: WechatAccount) -> rsa.RSAPrivateKey:
    return _private_key(account.private_key_pem.get_secret_value())


@lru_cache(maxsize=64)
def _configured_keys(
    public_key_id: str, public_key_pem: str, certificates: tuple[str, ...]
) -> Mapping[str, rsa.RSAPublicKey]:
    keys: dict[str, rsa.RSAPublicKey] = {}
    if public_key_id and public_key_pem:
        keys[public_key_id] = sign.load_public_key(public_key_pem)
    for pem in certificates:
        cert = sign.load_certificate(pem)
        keys[sign.certificate_serial(cert)] = sign.public_key_of(cert)
    return keys


def configured_platform_keys(account: WechatAccount) -> Mapping[str, rsa.RSAPublicKey]:
    """Platform keys named in the account config (public-key mode and/or certificates)."""
    return _configured_keys(
        account.platform_public_key_id,
        account.platform_public_key_pem,
        tuple(account.platform_certificates),
    )


def preferred_platform_serial(keys: PlatformKeys) -> str:
    """The key to encrypt sensitive fields with: the public key id if any, else any cert."""
    for serial in keys:
        if serial.startswith(sign.PUBLIC_KEY_ID_PREFIX):
            return serial
    return next(iter(sorted(keys)), "")


def encrypt_sensitive(key: rsa.RSAPublicKey, plaintext: str) -> str:
    """RSAES-OAEP (SHA-1, as WeChat specifies) for fields like `user_name`; base64."""
    sha1 = hashes.SHA1()  # noqa: S303 - WeChat's OAEP parameters, not a signature hash
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=sha1), algorithm=sha1, label=None)
    data = key.encrypt(plaintext.encode("utf-8"), oaep)
    return base64.b64encode(data).decode("ascii")


# --- our requests -------------------------------------------------------------------------


def sign_request(
    account: WechatAccount,
    method: str,
    path_with_query: str,
    body: bytes,
    now: datetime,
    nonce: str,
    *,
    extra_headers: Mapping[str, str] | None = None,
    redact_keys: frozenset[str] = frozenset(),
) -> HttpRequest:
    """A signed request to `account.base_url + path_with_query`.

    The signed path is the path the server sees on the request line, i.e. it includes any
    path prefix of `base_url` (a sandbox mounted under a prefix verifies the same string).
    """
    base = account.base_url.rstrip("/")
    url = base + path_with_query
    parts = urlsplit(url)
    signed_path = parts.path + (f"?{parts.query}" if parts.query else "")
    timestamp = str(int(now.timestamp()))
    message = sign.request_message(method, signed_path, timestamp, nonce, body)
    signature = sign.rsa_sign(merchant_key(account), message)
    headers = {
        "Authorization": sign.authorization_header(
            account.mchid, account.merchant_serial_no.upper(), nonce, timestamp, signature
        ),
        "Accept": "application/json",
    }
    if body:
        headers["Content-Type"] = "application/json"
    if account.platform_public_key_id:
        # Public-key mode: naming the key asks WeChat to sign the answer with it.
        headers["Wechatpay-Serial"] = account.platform_public_key_id
    headers.update(extra_headers or {})
    return HttpRequest(
        method=method.upper(), url=url, headers=headers, body=body, redact_keys=redact_keys
    )


# --- the platform's signatures --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    timestamp: str
    nonce: str
    signature: str
    serial: str
    signature_type: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> SignedHeaders:
        h = {k.lower(): v for k, v in headers.items()}
        return cls(
            timestamp=h.get(H_TIMESTAMP, "").strip(),
            nonce=h.get(H_NONCE, "").strip(),
            signature=h.get(H_SIGNATURE, "").strip(),
            serial=h.get(H_SERIAL, "").strip(),
            signature_type=h.get(H_SIGNATURE_TYPE, "").strip(),
        )

    @property
    def present(self) -> bool:
        return bool(self.timestamp or self.signature or self.serial)


def _hex_value(serial: str) -> int | None:
    try:
        return int(serial, 16)
    except ValueError:
        return None


def find_key(keys: PlatformKeys, serial: str) -> rsa.RSAPublicKey | None:
    """The key named `serial`; certificate serials compare as hex numbers (case, zeros)."""
    key = keys.get(serial) or keys.get(serial.upper())
    if key is not None or serial.startswith(sign.PUBLIC_KEY_ID_PREFIX):
        return key
    wanted = _hex_value(serial)
    if wanted is None:
        return None
    for name, candidate in keys.items():
        if _hex_value(name) == wanted:
            return candidate
    return None


def verify_signature(
    headers: Mapping[str, str], body: bytes, keys: PlatformKeys, now: datetime
) -> str:
    """Authenticate a platform-signed response or callback; returns the signing serial.

    Raises ResponseUnauthenticated (or its subclasses UnknownSerial / StaleTimestamp).
    """
    h = SignedHeaders.from_headers(headers)
    if not (h.timestamp and h.nonce and h.signature and h.serial):
        raise ResponseUnauthenticated("response signature headers missing")
    if h.signature_type and h.signature_type != sign.SCHEME:
        raise ResponseUnauthenticated("unsupported signature type")
    # ASCII digits only, and short: int() of a 5,000-digit header would raise ValueError.
    if not (h.timestamp.isascii() and h.timestamp.isdigit()) or len(h.timestamp) > 12:
        raise ResponseUnauthenticated("response timestamp malformed")
    if abs(int(now.timestamp()) - int(h.timestamp)) > MAX_SKEW_SECONDS:
        raise StaleTimestamp("response timestamp outside the 5 minute window")
    key = find_key(keys, h.serial)
    if key is None:
        raise UnknownSerial(h.serial)
    if not sign.rsa_verify(key, sign.response_message(h.timestamp, h.nonce, body), h.signature):
        raise ResponseUnauthenticated("response signature invalid")
    return h.serial


# --- platform certificates ------------------------------------------------------------------


def build_certificates_request(account: WechatAccount, now: datetime, nonce: str) -> HttpRequest:
    return sign_request(account, "GET", CERTIFICATES_PATH, b"", now, nonce)


def _decrypt_certificate(
    account: WechatAccount, item: Mapping[str, Any], now: datetime
) -> tuple[str, rsa.RSAPublicKey] | None:
    enc = get_obj(item, "encrypt_certificate")
    serial = get_str(item, "serial_no").upper()
    try:
        pem = sign.aes_gcm_decrypt(
            account.api_v3_key.get_secret_value(),
            get_str(enc, "nonce"),
            get_str(enc, "associated_data"),
            get_str(enc, "ciphertext"),
        )
        cert = sign.load_certificate(pem)
    except ValueError as e:
        raise ChannelUnavailable("platform certificate could not be decrypted") from e
    if sign.certificate_serial(cert) != serial:
        raise ChannelUnavailable("platform certificate serial mismatch")
    expire = parse_rfc3339(get_str(item, "expire_time"))
    if expire is not None and expire <= now:
        return None
    return serial, sign.public_key_of(cert)


def parse_certificates_response(
    resp: HttpResponse, account: WechatAccount, now: datetime, known: PlatformKeys
) -> dict[str, rsa.RSAPublicKey]:
    """Decrypt the certificates (AES-GCM with the APIv3 key authenticates them), then verify
    the response itself against the union of known and downloaded keys."""
    if resp.status != 200:
        raise ChannelUnavailable(
            f"certificate download failed: HTTP {resp.status}",
            metadata={"http_status": str(resp.status)},
        )
    data = loads_object(resp.body)
    downloaded: dict[str, rsa.RSAPublicKey] = {}
    items = data.get("data")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            got = _decrypt_certificate(account, item, now)
            if got is not None:
                downloaded[got[0]] = got[1]
    verify_signature(resp.headers, resp.body, {**known, **downloaded}, now)
    return downloaded


def account_cache_key(account: WechatAccount) -> str:
    """Identifies an account's key material (the key changes when the APIv3 key changes)."""
    digest = hashlib.sha256(
        f"{account.base_url}|{account.mchid}|{account.api_v3_key.get_secret_value()}".encode()
    ).hexdigest()[:16]
    return f"{account.account_id}:{digest}"


# --- every answer: authenticate, then classify ---------------------------------------------------------------


def checked_body(resp: HttpResponse, keys: PlatformKeys, now: datetime) -> dict[str, Any]:
    """Authenticate `resp` and return its JSON object ({} for an empty 2xx body).

    Raises ChannelError for a 4xx refusal, ChannelUnavailable for everything uncertain.
    """
    if 200 <= resp.status < 300:
        verify_signature(resp.headers, resp.body, keys, now)
        return loads_object(resp.body) if resp.body.strip() else {}
    if resp.status >= 500 or resp.status == 429 or resp.status < 400:
        raise ChannelUnavailable(
            f"WeChat Pay answered HTTP {resp.status}",
            metadata={"http_status": str(resp.status)},
        )
    # 4xx: only WeChat's own signed word can be a refusal. An unsigned 4xx may come from
    # anything between us and WeChat (a proxy's 408, a WAF page): outcome unknown.
    if not SignedHeaders.from_headers(resp.headers).present:
        raise ChannelUnavailable(
            f"unsigned HTTP {resp.status}: not WeChat Pay's answer",
            metadata={"http_status": str(resp.status)},
        )
    verify_signature(resp.headers, resp.body, keys, now)
    try:
        data = loads_object(resp.body)
    except ChannelUnavailable:
        data = {}
    code = get_str(data, "code")
    message = get_str(data, "message")
    if code not in DEFINITIVE_CODES:
        raise ChannelUnavailable(
            f"WeChat Pay outcome unknown: {code or 'HTTP ' + str(resp.status)}",
            metadata={"provider_code": code, "http_status": str(resp.status)},
        )
    raise ChannelError(
        f"WeChat Pay refused: {code}",
        provider_code=code,
        provider_message=message,
        metadata={"http_status": str(resp.status)},
    )


__all__ = [
    "DEFINITIVE_CODES",
    "MAX_SKEW_SECONDS",
    "PlatformKeys",
    "ResponseUnauthenticated",
    "SignedHeaders",
    "StaleTimestamp",
    "UnknownSerial",
    "account_cache_key",
    "build_certificates_request",
    "checked_body",
    "configured_platform_keys",
    "encrypt_sensitive",
    "find_key",
    "merchant_key",
    "parse_certificates_response",
    "preferred_platform_serial",
    "sign_request",
    "verify_signature",
]
