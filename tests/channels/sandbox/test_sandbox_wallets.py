"""The sandbox's wallet OAuth (WeChat snsapi_base, Alipay auth_base) with paymesh's own
channels exchanging the codes (IdentifyPayer): the same payer gets the same id, a code works
once, for its own app only, and bad requests get the provider's answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.alipay import oauth as alipay_oauth
from paymesh.channels.alipay.channel import AlipayChannel
from paymesh.channels.sandbox import SandboxServer
from paymesh.channels.transport import Transport
from paymesh.channels.wechat import oauth as wechat_oauth
from paymesh.channels.wechat.channel import WechatChannel
from paymesh.config.file_store import FileConfigStore
from paymesh.config.repository import ConfigRepository
from paymesh.dev.seed import private_key_pem, seed_alipay, seed_wechat
from paymesh.errors import ChannelError

BACK = "https://shop.example/cashier/o/T?as=x"


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[ConfigRepository]:
    store = FileConfigStore(tmp_path / "config.json")
    yield ConfigRepository(store)
    await store.close()


async def _code(http: aiohttp.ClientSession, url: str, name: str, payer: str) -> str:
    async with http.get(url, allow_redirects=False, cookies={"sandbox_payer": payer}) as r:
        assert r.status == 302, await r.text()
        location = r.headers["Location"]
    assert location.startswith(BACK + "&")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st8"]
    return query[name][0]


async def test_wechat_snsapi_base(
    sandbox: SandboxServer, http: aiohttp.ClientSession, repo: ConfigRepository
) -> None:
    account = await seed_wechat(
        repo, sandbox.url, private_key_pem(), mchid="1900007777", appid="wx77"
    )
    ref = pb.AccountRef(channel="wechat", account_id=account.account_id)
    channel = WechatChannel(Transport(timeout_seconds=5))
    try:
        url = wechat_oauth.authorize_url(account, BACK, "st8")
        ids = []
        for _ in range(2):
            code = await _code(http, url, "code", "payer-a")
            out = await channel.identify_payer(
                account, svc.IdentifyPayerRequest(account=ref, code=code)
            )
            ids.append(out.payer_id)
            logged = out.exchanges[0].url  # the channel log holds neither code nor secret
            assert code not in logged
            assert account.mp_app_secret is not None
            assert account.mp_app_secret.get_secret_value() not in logged
        assert ids[0] == ids[1]
        assert ids[0].startswith("o")
        other = await _code(http, url, "code", "payer-b")
        assert (
            await channel.identify_payer(account, svc.IdentifyPayerRequest(account=ref, code=other))
        ).payer_id != ids[0]
        with pytest.raises(ChannelError) as used:  # a code works once
            await channel.identify_payer(account, svc.IdentifyPayerRequest(account=ref, code=other))
        assert used.value.metadata["provider_code"] == "40163"
        with pytest.raises(ChannelError) as unknown:
            await channel.identify_payer(
                account, svc.IdentifyPayerRequest(account=ref, code="nope")
            )
        assert unknown.value.metadata["provider_code"] == "40029"
        async with http.get(
            url.replace("scope=snsapi_base", "scope=nope"), allow_redirects=False
        ) as r:
            assert r.status == 400
            assert "Scope" in await r.text()
    finally:
        await channel.aclose()


async def test_alipay_auth_base(
    sandbox: SandboxServer, http: aiohttp.ClientSession, repo: ConfigRepository
) -> None:
    account = await seed_alipay(repo, sandbox.url, private_key_pem(), app_id="2021000177770001")
    other = await seed_alipay(
        repo, sandbox.url, private_key_pem(), account_id="ali-2", app_id="2021000177770002"
    )
    ref = pb.AccountRef(channel="alipay", account_id=account.account_id)
    channel = AlipayChannel(Transport(timeout_seconds=5))
    try:
        url = alipay_oauth.authorize_url(account, BACK, "st8")
        code = await _code(http, url, "auth_code", "payer-a")
        out = await channel.identify_payer(
            account, svc.IdentifyPayerRequest(account=ref, code=code)
        )
        assert out.payer_id.startswith("2088")
        assert len(out.payer_id) == 16
        again = await _code(http, url, "auth_code", "payer-a")
        assert (
            await channel.identify_payer(account, svc.IdentifyPayerRequest(account=ref, code=again))
        ).payer_id == out.payer_id
        for bad_account, bad_code in (
            (account, again),
            (account, "nope"),
            (other, await _code(http, url, "auth_code", "payer-a")),
        ):
            with pytest.raises(ChannelError) as refused:
                await channel.identify_payer(
                    bad_account, svc.IdentifyPayerRequest(account=ref, code=bad_code)
                )
            assert refused.value.metadata["provider_code"] == "isv.code-invalid"
    finally:
        await channel.aclose()
