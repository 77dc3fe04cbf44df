"""The ops console: operators configure and supervise paymesh from web forms.

- `models`: its tables (users, sessions, audit log; migration `console`).
- `audit`: the durable audit log (who, when, which key, which fields; never values).
- `users`: operators (argon2id hashes, roles `admin` / `viewer`), sessions, login throttle.
- `service`: the one write path of the console and of `paymesh config`: validate with the
  models, compare-and-swap on the revision, audit.
- `forms`: HTML forms rendered from the models' JSON Schema, and form data back to documents.
- `web` (+ `views_*`): the aiohttp application; `cli`: `paymesh console` / `paymesh config`.
"""
