"""WeChat Pay API v3 channel."""
