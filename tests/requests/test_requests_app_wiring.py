"""The requests routes inside the archive's app (create_app), and the internal STAC API
reading roles from the identity tables."""

from __future__ import annotations

import pytest
from reqfixtures import Archive

from rsarchive.db import transaction
from rsarchive.users import identity
from rsarchive.users.tokens import create_token

pytestmark = pytest.mark.services


def test_internal_stac_uses_roles(archive: Archive) -> None:
    from fastapi.testclient import TestClient

    from rsarchive.api import create_app

    legacy = create_token(archive.settings.internal_database_dsn, "station-1")  # made before roles existed
    with TestClient(create_app(archive.settings)) as client:
        url = "/internal/stac/collections"
        for user in ("olga", "oscar", "root"):
            assert client.get(url, headers=archive.headers(user)).status_code == 200, user
        assert client.get(url, headers={"Authorization": f"Bearer {legacy}"}).status_code == 200
        assert client.get(url, headers=archive.headers("alice")).status_code == 403
        assert client.get(url, headers={"Authorization": "Bearer rsa_nope"}).status_code == 401
        # a revoked user's token (not yet in the middleware's 10 s cache of good tokens) is refused
        with transaction(archive.settings) as conn:
            rita = identity.add_user(conn, "rita", "operator")
            identity.revoke_user(conn, "rita")
        assert client.get(url, headers={"Authorization": f"Bearer {rita}"}).status_code == 401
        # the requests API is part of the same app
        assert client.get("/api/me", headers=archive.headers("alice")).json()["name"] == "alice"
        assert client.get("/api/me", headers={"Authorization": f"Bearer {legacy}"}).json()["role"] == "operator"
        assert client.get("/api/requests", headers={"Authorization": f"Bearer {legacy}"}).status_code == 403
        assert client.get("/web/login").status_code == 200
        assert "/api/requests" in client.get("/api").json()["paths"]
