"""UnionPay online payment (ACP 5.1.0) channel."""
