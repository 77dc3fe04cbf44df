"""The money state machine every service shares: models, migrations, transitions, ids, outbox.

Gateways, callbacks, the order monitor and notify depend on it; it depends only on
`paymesh.runtime`, `paymesh.config`, `paymesh.errors` and the generated protos.
"""
