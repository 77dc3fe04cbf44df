"""Notification pipeline: outbox relay -> bus (NATS JetStream or in-process) -> notifier.

Modules: `bus` (Bus, JetStreamBus, MemoryBus), `relay` (OutboxRelay), `notifier` (Notifier),
`ssrf` (notify_url guard), `store` (attempts and delivery state), `resend` (re-send API).
"""
