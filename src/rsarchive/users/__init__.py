"""Users, roles, clearance and API tokens, below both the web layer and the CLI.

- :mod:`rsarchive.users.identity`: organisations, user accounts, roles, clearance, the
  tokens of users, and who a token belongs to (:class:`~rsarchive.users.identity.Principal`).
- :mod:`rsarchive.users.tokens`: tokens without a user (``rsarchive tokens``) and the
  per-request token lookup of the internal STAC API.

Nothing here imports FastAPI or :mod:`rsarchive.api`; the API (:mod:`rsarchive.api.auth`)
and the CLI (``rsarchive users``, ``rsarchive tokens``) both use these modules.
"""
