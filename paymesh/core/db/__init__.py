"""The gateways' database: ORM models, engine, Alembic migrations and the store.

State changes go only through `Store` (one conditional UPDATE per transition, outbox row
in the same transaction).
"""
