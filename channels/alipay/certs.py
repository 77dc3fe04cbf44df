"""Alipay certificate rotation in certificate mode (pure): `alipay.open.app.alipaycert.download`,
the chain check of a downloaded Alipay public-key certificate, and the per-account cache.

What Alipay's own SDK does (alipay-sdk-java-all, v2/src/main/java/com/alipay/api/
AbstractAlipayClient.java, `checkResponseCertSign`, reached from `certificateExecute`):
- every signed answer carries `alipay_cert_sn`; when it is not the SN of a certificate the
  client already holds (`alipayPublicCertMap`, seeded with the configured
  alipayCertPublicKey_RSA2.crt), it calls `alipay.open.app.alipaycert.download` with
  biz_content `{"alipay_cert_sn": "<that SN>"}` (signed, with `app_cert_sn`, as any request);
- the download answer is parsed but NOT signature-checked (the SDK posts it with `doPost` and
  never runs `checkResponseCertSign` on it; alipay-easysdk's kernel and other ports skip the
  check for this one method): a non-success code means "支付宝公钥证书校验失败";
- `alipay_cert_content` is base64 of the certificate PEM; the SDK trusts it only when
  `AntCertificationUtil.isTrusted(cert, alipayRootCert)` holds (alipay-easysdk
  kernel/java/.../util/AntCertificationUtil.java `isTrusted` / `verifyCertChain` /
  `verifyCert`): the certificates of the content, ordered issuer -> subject (`sortByDn`; a
  broken or branching chain fails), each within its validity dates, the top one issued (name
  and signature) by a certificate of the root bundle, each next one signed by the previous;
- the first certificate of the content is the new Alipay certificate: its SN (md5 of issuer
  DN + decimal serial) keys the cache, and the original answer is verified with its key.
  An SN that still is not in the cache after the download fails the answer.

paymesh does the same, and additionally requires the downloaded certificate's SN to be the
one asked for, only checks RSA-signed certificates of the root bundle (it also holds SM2
roots), and caches per account (bounded; a cached certificate is dropped once expired).
A download that fails or a certificate that does not chain leaves the answer unverifiable
(`UnknownAlipayCert`, a `ResponseUnauthenticated`): never a definitive outcome.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.channels.alipay import sign
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.alipay.protocol import post, signed_params
from paymesh.channels.alipay.transformers import CODE_SUCCESS, get_str
from paymesh.channels.transport import HttpRequest, HttpResponse

M_CERT_DOWNLOAD: Final = "alipay.open.app.alipaycert.download"
MAX_CERTS_PER_ACCOUNT: Final = 8
MAX_ACCOUNTS: Final = 1024
# After a failed download, the same SN is not asked for again for this long (seconds).
RETRY_AFTER_SECONDS: Final = 60.0


class CertRefused(Exception):
    """The downloaded certificate cannot be trusted (or the download failed)."""


# --- the download call ----------------------------------------------------------------------


def build_download_request(account: AlipayAccount, cert_sn: str, now: datetime) -> HttpRequest:
    """alipay.open.app.alipaycert.download for `cert_sn` (the SDK's biz_content)."""
    return post(account, signed_params(account, M_CERT_DOWNLOAD, {"alipay_cert_sn": cert_sn}, now))


def parse_download_response(
    resp: HttpResponse, account: AlipayAccount, cert_sn: str, now: datetime
) -> x509.Certificate:
    """The downloaded Alipay certificate, once it chains to the account's root bundle and is
    the one asked for. Raises CertRefused otherwise."""
    if resp.status != 200:
        raise CertRefused(f"download answered HTTP {resp.status}")
    try:
        content = sign.split_response(resp.body, M_CERT_DOWNLOAD).content
    except (UnicodeDecodeError, ValueError) as e:
        raise CertRefused("malformed download answer") from e
    if get_str(content, "code") != CODE_SUCCESS:
        raise CertRefused(
            f"download refused: {get_str(content, 'sub_code') or get_str(content, 'code')}"
        )
    try:
        pem = base64.b64decode(get_str(content, "alipay_cert_content"), validate=True)
        chain = sign.load_certificates(pem)
    except (binascii.Error, ValueError) as e:
        raise CertRefused("alipay_cert_content is not a base64 PEM certificate") from e
    if not chain:
        raise CertRefused("alipay_cert_content holds no certificate")
    roots = [
        c
        for c in sign.load_certificates(account.alipay_root_cert_pem)
        if c.signature_algorithm_oid.dotted_string in sign.RSA_SIGNATURE_OIDS
    ]
    if not is_trusted(chain, roots, now):
        raise CertRefused("downloaded certificate does not chain to the configured root")
    leaf = chain[0]
    if sign.cert_sn(leaf) != cert_sn:
        raise CertRefused("downloaded certificate is not the one asked for")
    try:
        sign.public_key_of(leaf)
    except ValueError as e:
        raise CertRefused("downloaded certificate holds no RSA key") from e
    return leaf


# --- the chain check (AntCertificationUtil.isTrusted) ----------------------------------------


def _within(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _ordered(certs: Sequence[x509.Certificate]) -> list[x509.Certificate] | None:
    """`sortByDn`: the chain through certs[0], issuer first; None when it is not one chain
    holding every certificate (at most one self-signed)."""
    if sum(1 for c in certs if c.subject == c.issuer) > 1:
        return None
    by_subject = {c.subject: c for c in certs}
    by_issuer = {c.issuer: c for c in certs if c.subject != c.issuer}
    chain = [certs[0]]
    while chain[0].subject != chain[0].issuer and chain[0].issuer in by_subject:
        if len(chain) > len(certs):
            return None
        chain.insert(0, by_subject[chain[0].issuer])
    while chain[-1].subject in by_issuer and by_issuer[chain[-1].subject] not in chain:
        chain.append(by_issuer[chain[-1].subject])
    return chain if len(chain) == len(certs) else None


def is_trusted(
    certs: Sequence[x509.Certificate], roots: Sequence[x509.Certificate], now: datetime
) -> bool:
    """True when `certs` form one chain whose top is issued by one of `roots`, every
    certificate of it within its validity dates at `now`."""
    chain = _ordered(certs)
    if not chain or not roots:
        return False
    top = chain[0]
    issuers = [r for r in roots if r.subject == top.issuer]
    if not _within(top, now) or not any(_signed_by(top, r) for r in issuers):
        return False
    for prev, cert in itertools.pairwise(chain):
        if not _within(cert, now) or not _signed_by(cert, prev):
            return False
    return True


# --- the cache ----------------------------------------------------------------------------------


@dataclass
class _Entry:
    key: rsa.RSAPublicKey
    not_after: datetime


@dataclass
class _AccountCerts:
    certs: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    refused: dict[str, float] = field(default_factory=dict)  # SN -> monotonic time


def cache_key(account: AlipayAccount) -> tuple[str, str, str]:
    """Downloaded certificates belong to one app under one root bundle."""
    return (account.account_id, account.app_id, account.alipay_root_cert_sn)


class CertCache:
    """Rotated Alipay certificates per account, in process, bounded (LRU)."""

    def __init__(self) -> None:
        self._accounts: OrderedDict[tuple[str, str, str], _AccountCerts] = OrderedDict()

    def _of(self, account: AlipayAccount) -> _AccountCerts:
        k = cache_key(account)
        entry = self._accounts.get(k)
        if entry is None:
            entry = self._accounts[k] = _AccountCerts()
            while len(self._accounts) > MAX_ACCOUNTS:
                self._accounts.popitem(last=False)
        self._accounts.move_to_end(k)
        return entry

    def keys(self, account: AlipayAccount, now: datetime) -> dict[str, rsa.RSAPublicKey]:
        """The account's unexpired downloaded keys, by certificate SN."""
        if account.mode != "certificate":
            return {}
        entry = self._of(account)
        for sn in [sn for sn, e in entry.certs.items() if e.not_after < now]:
            del entry.certs[sn]
        return {sn: e.key for sn, e in entry.certs.items()}

    def add(self, account: AlipayAccount, cert: x509.Certificate) -> str:
        entry = self._of(account)
        sn = sign.cert_sn(cert)
        entry.certs[sn] = _Entry(sign.public_key_of(cert), cert.not_valid_after_utc)
        entry.certs.move_to_end(sn)
        entry.refused.pop(sn, None)
        while len(entry.certs) > MAX_CERTS_PER_ACCOUNT:
            entry.certs.popitem(last=False)
        return sn

    def refuse(self, account: AlipayAccount, cert_sn: str, at: float) -> None:
        entry = self._of(account)
        entry.refused[cert_sn] = at
        while len(entry.refused) > MAX_CERTS_PER_ACCOUNT:
            del entry.refused[next(iter(entry.refused))]

    def recently_refused(self, account: AlipayAccount, cert_sn: str, at: float) -> bool:
        since = self._of(account).refused.get(cert_sn)
        return since is not None and at - since < RETRY_AFTER_SECONDS


__all__ = [
    "M_CERT_DOWNLOAD",
    "CertCache",
    "CertRefused",
    "build_download_request",
    "cache_key",
    "is_trusted",
    "parse_download_response",
]
