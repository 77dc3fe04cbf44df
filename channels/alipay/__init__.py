"""Alipay OpenAPI channel."""
