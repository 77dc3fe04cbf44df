"""The cashier's pages: mobile-first plain HTML and CSS, 简体中文 first then English.

Pure functions from what a page shows to its HTML. Every page works without JavaScript
(forms, links, `<meta refresh>` while a payment settles); the only scripts are the wallet
bridges WeChat's and Alipay's browsers provide (`WeixinJSBridge`), used where a wallet
needs them to show its pay sheet.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from paymesh.money import yuan

CSS = """
*{box-sizing:border-box}[hidden]{display:none!important}
body{margin:0;font:16px/1.5 system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC',sans-serif;
color:#1d2330;background:#f2f3f5}
main{max-width:480px;margin:0 auto;padding:16px}
.card{background:#fff;border-radius:12px;padding:20px 16px;margin:0 0 12px;
box-shadow:0 1px 2px rgba(0,0,0,.06)}
.merchant{color:#667;font-size:14px;margin:0}
h1{font-size:20px;margin:4px 0 2px}
.en{color:#778;font-size:13px;display:block;font-weight:400}
.amount{font-size:40px;font-weight:600;margin:12px 0 4px;letter-spacing:.5px}
.amount small{font-size:20px;margin-right:2px}
.subject{color:#445;margin:0}
button,.button{display:block;width:100%;border:0;border-radius:8px;padding:14px;font:inherit;
font-size:17px;text-align:center;text-decoration:none;margin:8px 0;cursor:pointer}
.pay{background:#07c160;color:#fff}.pay .en{color:rgba(255,255,255,.85)}.pay.alipay{background:#1677ff}.pay.unionpay{background:#d7000f}
.secondary{background:#eef0f3;color:#1d2330}
.status{font-size:22px;font-weight:600;margin:8px 0}
.ok{color:#07a050}.bad{color:#c4231a}.wait{color:#b26a00}
.qr{display:flex;flex-wrap:wrap;gap:12px;justify-content:space-between}
.qr figure{margin:0;flex:1 1 130px;text-align:center}
.qr svg{width:100%;max-width:180px;height:auto;background:#fff}
.qr figcaption{font-size:14px}
label{display:block;font-weight:600;margin:8px 0 4px}
input[type=text]{width:100%;font-size:28px;padding:10px;border:1px solid #c5c9d3;border-radius:8px}
.error{color:#c4231a}.muted{color:#778;font-size:13px}
#sheet{position:fixed;inset:auto 0 0 0;background:#fff;padding:16px;border-radius:12px 12px 0 0;
box-shadow:0 -2px 12px rgba(0,0,0,.2)}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


@dataclass(frozen=True)
class OrderView:
    merchant: str
    subject: str
    amount: int  # fen
    order_id: str


def both(zh: str, en: str) -> str:
    return f'{esc(zh)}<span class="en" lang="en">{esc(en)}</span>'


def layout(
    title_zh: str,
    title_en: str,
    body: str,
    *,
    refresh_seconds: int | None = None,
    head_extra: str = "",
) -> str:
    refresh = (
        f'<meta http-equiv="refresh" content="{refresh_seconds}">'
        if refresh_seconds is not None
        else ""
    )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"{refresh}<title>{esc(title_zh)} · {esc(title_en)}</title><style>{CSS}</style>"
        f"{head_extra}</head><body><main>{body}</main></body></html>"
    )


def _order_card(view: OrderView) -> str:
    return (
        '<section class="card">'
        f'<p class="merchant">{esc(view.merchant)}</p>'
        f'<p class="amount" data-fen="{view.amount}"><small>¥</small>{yuan(view.amount)}</p>'
        f'<p class="subject">{esc(view.subject)}</p>'
        "</section>"
    )


PROBLEMS: Mapping[str, tuple[str, str, str, str]] = {
    # kind: (title zh, title en, text zh, text en)
    "invalid": (
        "链接无效",
        "Invalid link",
        "这个收款链接不完整或已被改动，无法打开。请重新扫描商户提供的二维码。",
        "This payment link is incomplete or was altered. Scan the merchant's code again.",
    ),
    "expired": (
        "订单已过期",
        "Order expired",
        "这笔订单已超过支付时间，未扣款。请联系商户重新下单。",
        "This order is past its payment time; nothing was charged. Ask the merchant again.",
    ),
    "closed": (
        "订单已关闭",
        "Order closed",
        "这笔订单已关闭，不能再支付。",
        "This order is closed and can no longer be paid.",
    ),
    "failed": (
        "支付失败",
        "Payment failed",
        "这笔订单支付失败，未扣款。请联系商户重新下单。",
        "This order failed; nothing was charged. Ask the merchant for a new one.",
    ),
    "busy": (
        "订单正在支付中",
        "Payment in progress",
        "这笔订单已在其他钱包或由其他付款人发起支付。请在原钱包中完成，或稍后再试。",
        "This order is being paid in another wallet or by someone else. Finish it there, "
        "or try again later.",
    ),
    "unavailable": (
        "暂时无法支付",
        "Payment unavailable",
        "支付渠道暂时没有回应，未扣款。请稍后再试。",
        "The payment provider did not answer; nothing was charged. Please try again.",
    ),
    "refused": (
        "支付渠道拒绝了这笔支付",
        "The provider refused this payment",
        "未扣款。请换一种钱包，或联系商户。",
        "Nothing was charged. Try another wallet, or ask the merchant.",
    ),
    "no_wallet": (
        "商户未开通此钱包",
        "Wallet not offered",
        "这家商户不支持用此钱包付款。请换一种钱包扫码。",
        "This merchant does not take this wallet. Scan with another wallet.",
    ),
    "amount": (
        "金额无效",
        "Invalid amount",
        "请输入大于 0 的金额，最多两位小数。",
        "Enter an amount above 0 with at most two decimals.",
    ),
}


def problem_page(kind: str, detail: str = "", back_url: str = "") -> str:
    zh, en, text_zh, text_en = PROBLEMS[kind]
    back = (
        f'<a class="button secondary" href="{esc(back_url)}">返回<span class="en">Back</span></a>'
        if back_url
        else ""
    )
    more = f'<p class="muted">{esc(detail)}</p>' if detail else ""
    body = (
        f'<section class="card problem" data-problem="{esc(kind)}">'
        f'<h1 class="bad">{both(zh, en)}</h1><p>{esc(text_zh)}</p>'
        f'<p class="en" lang="en">{esc(text_en)}</p>{more}{back}</section>'
    )
    return layout(zh, en, body)


@dataclass(frozen=True)
class WalletChoice:
    name: str  # wechat | alipay | unionpay
    title_zh: str
    title_en: str
    qr_svg: str  # the cashier link as a QR code, for that wallet to scan


def chooser_page(
    view: OrderView,
    choices: Sequence[WalletChoice],
    buttons: Sequence[tuple[str, str, str]],
    pay_action: str,
) -> str:
    """No wallet browser: QR codes to scan with a wallet, and (`buttons`: name, titles) the
    ways that also pay in this browser."""
    figures = "".join(
        f'<figure data-wallet="{esc(c.name)}">{c.qr_svg}'
        f"<figcaption>用{esc(c.title_zh)}扫码<br>"
        f'<span class="en">Scan with {esc(c.title_en)}</span></figcaption></figure>'
        for c in choices
    )
    forms = "".join(
        f'<form method="post" action="{esc(pay_action)}">'
        f'<input type="hidden" name="wallet" value="{esc(name)}">'
        f'<button class="pay {esc(name.split("-")[0])}" type="submit">在浏览器中用{esc(zh)}支付'
        f'<span class="en">Pay with {esc(en)} in this browser</span></button></form>'
        for name, zh, en in buttons
    )
    body = (
        _order_card(view)
        + '<section class="card"><h1>请用钱包扫码支付<span class="en">Scan with your wallet '
        f'to pay</span></h1><div class="qr">{figures}</div></section>'
        + (f'<section class="card">{forms}</section>' if forms else "")
    )
    return layout("收银台", "Checkout", body)


def confirm_page(
    view: OrderView,
    wallet: str,
    title_zh: str,
    title_en: str,
    action: str,
    fields: Mapping[str, str],
) -> str:
    """In a wallet's browser: the order and one button; the trade starts when it is pressed."""
    hidden = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items()
    )
    body = _order_card(view) + (
        f'<form class="card" method="post" action="{esc(action)}">{hidden}'
        f'<button class="pay {esc(wallet)}" type="submit">{esc(title_zh)} 确认支付 ¥{yuan(view.amount)}'
        f'<span class="en">Pay ¥{yuan(view.amount)} with {esc(title_en)}</span></button></form>'
    )
    return layout("确认支付", "Confirm payment", body)


def wechat_pay_page(
    view: OrderView, params: Mapping[str, str], result_url: str, bridge_stub: str = ""
) -> str:
    """Asks WeChat's browser for its pay sheet (`getBrandWCPayRequest` with the parameters
    the channel signed); the result page says what happened. `bridge_stub`: a script URL
    that provides `WeixinJSBridge` outside WeChat (the sandbox's)."""
    stub = f'<script src="{esc(bridge_stub)}"></script>' if bridge_stub else ""
    data = json.dumps(dict(params), ensure_ascii=False).replace("</", "<\\/")
    script = (
        "<script>(function(){var p=" + data + ",done=" + json.dumps(result_url) + ";"
        "function pay(){WeixinJSBridge.invoke('getBrandWCPayRequest',p,function(r){"
        "var m=(r&&r.err_msg)||'';"
        "if(m==='get_brand_wcpay_request:ok'){location.href=done;}"
        "else{var e=document.getElementById('msg');e.className='error';"
        "e.textContent=(m.indexOf('cancel')>=0?'已取消支付 · Payment cancelled':"
        "'支付未完成 · Payment not completed')+' ('+m+')';"
        "document.getElementById('again').hidden=false;}});}"
        "window.cashierPay=pay;"
        "if(typeof WeixinJSBridge==='undefined'){document.addEventListener("
        "'WeixinJSBridgeReady',pay,false);}else{pay();}})();</script>"
    )
    body = _order_card(view) + (
        '<section class="card"><p id="msg" class="wait">正在打开微信支付…'
        '<span class="en">Opening WeChat Pay…</span></p>'
        '<button id="again" class="pay" type="button" hidden onclick="cashierPay()">'
        '重新支付<span class="en">Try again</span></button>'
        f'<a class="button secondary" href="{esc(result_url)}">查看支付结果'
        '<span class="en">Check the result</span></a>'
        "<noscript><p>请在微信中打开此页面。Open this page in WeChat.</p></noscript></section>"
    )
    return layout("微信支付", "WeChat Pay", body + stub + script)


def alipay_pay_page(view: OrderView, trade_no: str, result_url: str, bridge_stub: str = "") -> str:
    """Asks Alipay's browser for its pay sheet (`AlipayJSBridge.call('tradePay',
    {tradeNO})`, the trade alipay.trade.create opened for this buyer); result code 9000 is
    paid, 6001 cancelled by the payer. `bridge_stub`: the sandbox's `AlipayJSBridge`."""
    stub = f'<script src="{esc(bridge_stub)}"></script>' if bridge_stub else ""
    data = json.dumps({"tradeNO": trade_no}).replace("</", "<\\/")
    script = (
        "<script>(function(){var p=" + data + ",done=" + json.dumps(result_url) + ";"
        "function pay(){AlipayJSBridge.call('tradePay',p,function(r){"
        "var c=(r&&r.resultCode)||'';"
        "if(c==='9000'||c==='8000'){location.href=done;}"
        "else{var e=document.getElementById('msg');e.className='error';"
        "e.textContent=(c==='6001'?'已取消支付 · Payment cancelled':"
        "'支付未完成 · Payment not completed')+' ('+c+')';"
        "document.getElementById('again').hidden=false;}});}"
        "window.cashierPay=pay;"
        "if(typeof AlipayJSBridge==='undefined'){document.addEventListener("
        "'AlipayJSBridgeReady',pay,false);}else{pay();}})();</script>"
    )
    body = _order_card(view) + (
        '<section class="card"><p id="msg" class="wait">正在打开支付宝…'
        '<span class="en">Opening Alipay…</span></p>'
        '<button id="again" class="pay alipay" type="button" hidden onclick="cashierPay()">'
        '重新支付<span class="en">Try again</span></button>'
        f'<a class="button secondary" href="{esc(result_url)}">查看支付结果'
        '<span class="en">Check the result</span></a>'
        "<noscript><p>请在支付宝中打开此页面。Open this page in Alipay.</p></noscript></section>"
    )
    return layout("支付宝", "Alipay", body + stub + script)


def result_page(view: OrderView, status: str, self_url: str, return_url: str = "") -> str:
    if status == "PAID":
        head = ("支付成功", "Payment successful", "ok")
    elif status == "PENDING":
        head = ("正在确认支付结果…", "Confirming the payment…", "wait")
    elif status == "CLOSED":
        head = ("订单已关闭", "Order closed", "bad")
    else:
        head = ("支付失败", "Payment failed", "bad")
    zh, en, cls = head
    refresh = 2 if status == "PENDING" else None
    again = (
        f'<a class="button secondary" href="{esc(self_url)}">刷新<span class="en">Refresh</span></a>'
        if status == "PENDING"
        else ""
    )
    if status == "PAID" and return_url.startswith(("http://", "https://")):
        again = (
            f'<a class="button secondary back" href="{esc(return_url)}">返回商户'
            '<span class="en">Back to the merchant</span></a>'
        )
    body = _order_card(view) + (
        f'<section class="card result" data-status="{esc(status)}">'
        f'<p class="status {cls}">{both(zh, en)}</p>'
        f'<p class="muted">订单号 Order {esc(view.order_id)}</p>{again}</section>'
    )
    return layout(zh, en, body, refresh_seconds=refresh)


def static_page(merchant: str, action: str, error: str = "", amount: str = "") -> str:
    """A counter code: the payer types the amount; submitting creates the order."""
    err = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    body = (
        f'<section class="card"><p class="merchant">{esc(merchant)}</p>'
        f"<h1>{both('付款给商户', 'Pay the merchant')}</h1>"
        f'<form method="post" action="{esc(action)}">'
        '<label for="amount">金额（元）<span class="en">Amount (yuan)</span></label>'
        f'<input id="amount" name="amount" type="text" inputmode="decimal" autocomplete="off" '
        f'required pattern="[0-9]+(\\.[0-9]{{1,2}})?" value="{esc(amount)}" placeholder="0.00">'
        f'{err}<button class="pay" type="submit">下一步<span class="en">Next</span></button>'
        "</form></section>"
    )
    return layout("付款", "Pay", body)


__all__ = [
    "OrderView",
    "WalletChoice",
    "alipay_pay_page",
    "chooser_page",
    "confirm_page",
    "esc",
    "layout",
    "problem_page",
    "result_page",
    "static_page",
    "wechat_pay_page",
    "yuan",
]
