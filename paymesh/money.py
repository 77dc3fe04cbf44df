"""Money is integer minor units (fen) everywhere; `yuan` is how people and providers read it.

The one formatter for pages (cashier, console, sandbox) and for provider fields given in yuan
(Alipay's `total_amount`: the channel's own `fen_to_yuan` also checks the provider's range).
This module imports nothing: it sits at the bottom of the layers.
"""

from __future__ import annotations


def yuan(fen: int) -> str:
    """Minor units as yuan with two decimals: 1234 -> "12.34", -5 -> "-0.05", 0 -> "0.00"."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


__all__ = ["yuan"]
