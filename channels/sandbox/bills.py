"""Daily trade bills of the sandbox, in the providers' file formats.

A bill lists the day's (China time) paid trades and succeeded refunds of one merchant, with
a 0.6 % fee (returned pro rata on refunds), and any armed bill discrepancy applied:

- `bill_unknown_trade` `{"out_trade_no"?, "amount"?: 100, "date"?}`: a paid trade the merchant
  never created, on the bill of `date` (default: the day it was armed, China time; the
  default number is random);
- `bill_amount_off` `{"out_trade_no", "delta"?: 1}`: that trade's amount differs by `delta` fen;
- `bill_refund_missing` `{"out_refund_no"}`: that refund is left out;
- `bill_status_differs` `{"out_trade_no"}`: WeChat only, that trade's line says `REVOKED`
  (Alipay's bill has no state column).

Bill faults stay armed until cleared (a bill reads the same every time it is downloaded).
The formats are those `paymesh.channels.{wechat,alipay}.bill` parse; see there for sources.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from paymesh.channels.sandbox.faults import Fault
from paymesh.channels.sandbox.state import CHINA_TZ, ItemStatus, SandboxState, random_digits

FEE_RATE = Decimal("0.006")
YUAN = Decimal(100)


@dataclass(frozen=True)
class Entry:
    kind: str  # "payment" | "refund"
    out_trade_no: str
    channel_trade_no: str
    amount: int  # fen: the trade's amount, or the refund's
    trade_amount: int
    booked_at: dt.datetime
    subject: str = ""
    out_refund_no: str = ""
    channel_refund_no: str = ""
    state: str = "SUCCESS"

    @property
    def fee_yuan(self) -> Decimal:
        """The fee in yuan, exact (WeChat prints five decimals): charged or returned."""
        return Decimal(self.amount) * FEE_RATE / YUAN


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.astimezone(CHINA_TZ).date() if value else None


def entries(state: SandboxState, channel: str, merchant_id: str, day: dt.date) -> list[Entry]:
    """The day's lines for one merchant, discrepancies applied, in booking order."""
    out: list[Entry] = []
    for t in state.trades.values():
        if t.channel == channel and t.merchant_id == merchant_id and _day(t.paid_at) == day:
            assert t.paid_at is not None
            out.append(
                Entry("payment", t.out_trade_no, t.channel_trade_no, t.amount, t.amount,
                      t.paid_at, t.subject)
            )  # fmt: skip
    for r in state.refunds.values():
        if (
            r.channel == channel
            and r.merchant_id == merchant_id
            and r.status == ItemStatus.SUCCEEDED
            and _day(r.success_at) == day
        ):
            trade = state.trade(channel, merchant_id, r.out_trade_no)
            assert r.success_at is not None
            out.append(
                Entry(
                    "refund",
                    r.out_trade_no,
                    trade.channel_trade_no if trade else "",
                    r.amount,
                    trade.amount if trade else r.total,
                    r.success_at,
                    trade.subject if trade else "",
                    out_refund_no=r.out_refund_no,
                    channel_refund_no=r.channel_refund_no,
                )
            )
    faults = [f for f in state.faults.armed(channel) if f.fault.startswith("bill_")]
    out = _apply(out, faults, day)
    return sorted(out, key=lambda e: e.booked_at)


def _apply(lines: list[Entry], faults: Iterable[Fault], day: dt.date) -> list[Entry]:
    for f in faults:
        if f.fault == "bill_unknown_trade":
            if f.extra.get("date") != day.isoformat():
                continue
            no = f.out_trade_no or "SBX" + random_digits(20)
            f.out_trade_no = no  # the same number on every download
            at = dt.datetime.combine(day, dt.time(12, 0), CHINA_TZ)
            amount = f.amount or 100
            lines.append(Entry("payment", no, "42" + random_digits(26), amount, amount, at, "?"))
        elif f.fault == "bill_amount_off":
            lines = [
                replace(e, amount=e.amount + f.delta, trade_amount=e.trade_amount + f.delta)
                if e.kind == "payment" and e.out_trade_no == f.out_trade_no
                else e
                for e in lines
            ]
        elif f.fault == "bill_refund_missing":
            no = str(f.extra.get("out_refund_no", ""))
            lines = [e for e in lines if not (e.kind == "refund" and e.out_refund_no == no)]
        elif f.fault == "bill_status_differs":
            lines = [
                replace(e, state="REVOKED")
                if e.kind == "payment" and e.out_trade_no == f.out_trade_no
                else e
                for e in lines
            ]
        f.fired += 1
    return lines


# --- WeChat: CSV, backtick-prefixed fields, summary ---------------------------------------------

WECHAT_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
WECHAT_SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def _y(fen: int | Decimal, places: int = 2) -> str:
    value = Decimal(fen) / YUAN
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _clean(text: str) -> str:
    return text.replace(",", " ").replace("\n", " ").replace("`", "'")


def wechat_csv(lines: list[Entry], mchid: str, appid: str) -> bytes:
    rows = [WECHAT_HEADER]
    settle = refunded = orders = applied = Decimal(0)
    fees = Decimal(0)
    for e in lines:
        when = e.booked_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
        fee = e.fee_yuan if e.kind == "payment" else -e.fee_yuan
        if e.kind == "payment":
            cells = [
                e.state,
                "OTHERS",
                "CNY",
                _y(e.amount),
                "0.00",
                "0",
                "0",
                "0.00",
                "0.00",
                "",
                "",
            ]
            settle += Decimal(e.amount) / YUAN
        else:
            cells = ["REFUND", "OTHERS", "CNY", "0.00", "0.00", e.channel_refund_no,
                     e.out_refund_no, _y(e.amount), "0.00", "ORIGINAL", "SUCCESS"]  # fmt: skip
            refunded += Decimal(e.amount) / YUAN
            applied += Decimal(e.amount) / YUAN
        orders += Decimal(e.trade_amount) / YUAN
        fees += fee
        row = [when, appid, mchid, "0", "", e.channel_trade_no, e.out_trade_no,
               "oSandboxPayer", "NATIVE", *cells, _clean(e.subject), "", f"{fee:.5f}", "0.60%",
               _y(e.trade_amount), _y(e.amount) if e.kind == "refund" else "0.00", ""]  # fmt: skip
        rows.append(",".join("`" + c for c in row))
    rows.append(WECHAT_SUMMARY)
    totals = [str(len(lines)), f"{settle:.2f}", f"{refunded:.2f}", "0.00", f"{fees:.5f}",
              f"{orders:.2f}", f"{applied:.2f}"]  # fmt: skip
    rows.append(",".join("`" + c for c in totals))
    return ("\r\n".join(rows) + "\r\n").encode("utf-8")


def sha1_hex(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


# --- Alipay: zip of two GBK CSV files ------------------------------------------------------------

ALIPAY_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,"
    "券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,"
    "分润（元）,备注"
)
ALIPAY_SUMMARY = (
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,"
    "商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"
)
_DASH = "-" * 41


class _GbkName(zipfile.ZipInfo):
    """An entry whose name is stored in GBK without the UTF-8 flag, as Alipay writes it."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.filename.encode("gbk"), self.flag_bits


def _cn_day(day: dt.date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def alipay_zip(lines: list[Entry], pid: str, day: dt.date) -> bytes:
    account = f"#账号：[{pid}0156]"
    period = (
        f"#起始日期：[{_cn_day(day)} 00:00:00]   "
        f"终止日期：[{_cn_day(day + dt.timedelta(days=1))} 00:00:00]"
    )
    exported = f"#导出时间：[{_cn_day(day + dt.timedelta(days=1))} 09:00:00]"
    detail = [
        "#支付宝业务明细查询",
        account,
        period,
        f"#{_DASH}业务明细列表{'-' * 40}",
        ALIPAY_HEADER,
    ]
    trade_n = refund_n = 0
    trade_sum = refund_sum = amount_sum = fee_sum = Decimal(0)
    for e in lines:
        sign = 1 if e.kind == "payment" else -1
        amount = Decimal(sign * e.amount) / YUAN
        fee = Decimal(-sign) * (e.fee_yuan.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        created = e.booked_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
        detail.append(
            ",".join([f"{e.channel_trade_no}\t", f"{e.out_trade_no}\t",
                      "交易\t" if sign > 0 else "退款\t", _clean(e.subject), created, created,
                      "\t", "\t", "\t", "\t", "sandbox***@example.com\t", f"{amount:.2f}",
                      f"{amount:.2f}", "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00\t",
                      "0.00", f"{e.out_refund_no}\t", f"{fee:.2f}", "0.00", ""])
        )  # fmt: skip
        if sign > 0:
            trade_n += 1
            trade_sum += amount
        else:
            refund_n += 1
            refund_sum += amount
        amount_sum += amount
        fee_sum += fee
    detail += [
        f"#{_DASH}业务明细列表结束{'-' * 36}",
        f"#交易合计：{trade_n}笔，商家实收共{trade_sum:.2f}元，商家优惠共0.00元",
        f"#退款合计：{refund_n}笔，商家实收退款共{refund_sum:.2f}元，商家优惠退款共0.00元",
        exported,
    ]
    summary = [
        "#支付宝业务汇总查询", account, period, f"#{_DASH}业务汇总列表{'-' * 40}", ALIPAY_SUMMARY,
        f"合计,,{trade_n},{refund_n},{amount_sum:.2f},{amount_sum:.2f},0.00,0.00,0.00,"
        f"{fee_sum:.2f},0.00,{amount_sum + fee_sum:.2f}",
        f"#{'-' * 40}业务汇总列表结束{'-' * 37}", exported,
    ]  # fmt: skip
    stamp = day.strftime("%Y%m%d")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (
            (f"{pid}0156_{stamp}_业务明细.csv", detail),
            (f"{pid}0156_{stamp}_业务明细(汇总).csv", summary),
        ):
            info = _GbkName(name, date_time=(day.year, day.month, day.day, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, ("\r\n".join(text) + "\r\n").encode("gbk", errors="replace"))
    return buf.getvalue()


__all__ = ["Entry", "alipay_zip", "entries", "sha1_hex", "wechat_csv"]


# --- UnionPay: zip of fixed-width GBK ZM file, served base64(deflate(zip)) ---------------------


def _cd(sign: str, fen: int) -> str:
    return f"{sign}{fen:012d}"


def unionpay_zm(lines: list[Entry], mer_id: str) -> bytes:
    """The INN...ZM_<merId> file: one fixed-width line per payment / refund (widths from
    `paymesh.channels.unionpay.bill.ZM_FIELDS`, the spec's table)."""
    from paymesh.channels.unionpay.bill import ZM_FIELDS, format_zm_line

    names = [name for name, _ in ZM_FIELDS]
    out = []
    for e in lines:
        fee = int((Decimal(e.amount) * FEE_RATE).quantize(Decimal(1), ROUND_HALF_UP))
        at = e.booked_at.astimezone(CHINA_TZ)
        refund = e.kind == "refund"
        qid = (e.channel_refund_no if refund else e.channel_trade_no)[-21:]
        v = dict.fromkeys(names, "")
        v.update({
            "交易代码": "S30" if refund else "S22", "代理机构标识码": "00010000", "发送机构标识码": "00010000",
            "系统跟踪号": qid[-6:], "交易传输时间": at.strftime("%m%d%H%M%S"),
            "帐号": "6216261000000000018", "交易金额": f"{e.amount:012d}", "商户类别": "5411",
            "终端类型": "07", "查询流水号": qid,
            "商户订单号": e.out_refund_no if refund else e.out_trade_no, "支付卡类型": "01",
            "商户手续费": _cd("C" if refund else "D", fee),
            "结算金额": _cd("D" if refund else "C", e.amount - fee), "支付方式": "0001",
            "交易类型": "04" if refund else "01", "交易子类": "00" if refund else "01",
            "业务类型": "000201", "帐号类型": "01", "交互方式": "1",
            "原交易查询流水号": e.channel_trade_no[-21:] if refund else "", "商户代码": mer_id,
            "分账入账方式": "0", "清算净额": _cd("D" if refund else "C", e.amount - fee),
            "交易介质": "1", "原始交易订单号": e.out_trade_no if refund else "",
        })  # fmt: skip
        out.append(format_zm_line([v[n] for n in names]))
    return b"\r\n".join(out) + (b"\r\n" if out else b"")


def unionpay_zip(lines: list[Entry], mer_id: str, day: dt.date) -> bytes:
    """The day's zip as UnionPay's file transfer returns it (before deflate and base64)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"INN{day.strftime('%y%m%d')}01ZM_{mer_id}", unionpay_zm(lines, mer_id))
        zf.writestr(f"INN{day.strftime('%y%m%d')}01ZME_{mer_id}", b"")
    return buf.getvalue()
