"""Page layout of the console: server-rendered HTML, no JavaScript."""

from __future__ import annotations

import html
from typing import Any

CSS = """
body{font:14px/1.45 system-ui,'Noto Sans CJK SC',sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;gap:20px;align-items:center}
header a{color:#cfe0ff;text-decoration:none}header .who{margin-left:auto;color:#aab}
header form{display:inline}header button{background:none;border:1px solid #556;color:#ddd;padding:2px 8px}
main{max-width:980px;margin:24px auto;padding:0 24px}
h1{font-size:20px}table.list{border-collapse:collapse;width:100%;background:#fff}
table.list td,table.list th{border-bottom:1px solid #e3e5ea;padding:6px 8px;text-align:left}
.field{background:#fff;border:1px solid #e3e5ea;border-radius:6px;padding:10px 12px;margin:8px 0}
.field label{display:block;font-weight:600;margin-bottom:4px}
.field input[type=text],.field input[type=number],.field input[type=password],.field select,.field textarea{width:100%;box-sizing:border-box;padding:6px;border:1px solid #c5c9d3;border-radius:4px;font:inherit}
.field textarea{font-family:ui-monospace,monospace;font-size:12px}
.field .desc{color:#667;margin:4px 0 0;font-size:12px}.req{color:#c33}
.has-error{border-color:#d33;background:#fff6f6}.error{color:#b00;font-weight:600;margin:4px 0 0}
.banner{padding:10px 12px;border-radius:6px;margin:12px 0}.banner.error{background:#fde8e8;color:#900}
.banner.ok{background:#e7f6ea;color:#155724}label.opt{display:inline-block;margin-right:14px;font-weight:400}
table.map td input{width:100%;box-sizing:border-box}button.primary{background:#2b6cde;color:#fff;border:0;padding:8px 18px;border-radius:4px;font:inherit}
a.chosen{font-weight:700}.inline{display:inline}.muted{color:#778}pre{background:#fff;border:1px solid #e3e5ea;padding:8px;overflow:auto}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf_token" value="{esc(token)}">'


def page(
    title: str,
    body: str,
    *,
    username: str = "",
    role: str = "",
    csrf: str = "",
) -> str:
    nav = ""
    if username:
        nav = (
            '<a href="/accounts">Channel accounts</a><a href="/apps">Apps</a>'
            '<a href="/ops">Supervision</a><a href="/recon">Reconciliation · 对账</a>'
            '<a href="/audit">Audit log</a>'
            f'<span class="who">{esc(username)} ({esc(role)})</span>'
            f'<form method="post" action="/logout">{csrf_field(csrf)}'
            '<button type="submit">Log out</button></form>'
        )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)} · paymesh console</title><style>{CSS}</style></head><body>"
        f"<header><strong>paymesh console</strong>{nav}</header>"
        f"<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )


def banner(text: str, kind: str = "error") -> str:
    return f'<div class="banner {esc(kind)}" role="alert">{esc(text)}</div>' if text else ""


__all__ = ["banner", "csrf_field", "esc", "page"]
