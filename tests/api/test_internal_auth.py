"""The internal API needs a token (hashed at rest); the public one is anonymous and read-only."""

from __future__ import annotations

import httpx
from click.testing import CliRunner

from rsarchive.db import connect


def test_tokens(loaded, monkeypatch) -> None:
    from rsarchive.cli.main import cli

    url = loaded.base_url + "/internal/stac/collections"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer rsa_wrong"}).status_code == 401

    monkeypatch.setenv("RSARCHIVE_INTERNAL_DSN", loaded.settings.internal_database_dsn)
    runner = CliRunner()
    result = runner.invoke(cli, ["tokens", "add", "operator-1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("rsa_")
    with connect(loaded.settings.internal_database_dsn) as conn:
        stored = conn.execute("SELECT token_sha256 FROM rsarchive.api_tokens WHERE name = 'operator-1'").fetchone()[0]
    assert token not in stored and len(stored) == 64

    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert {c["id"] for c in response.json()["collections"]} >= {"vnredsat1-product", "vnredsat1-level0"}

    # an expired token is refused at once; `tokens list` says so; `tokens renew` makes it work again
    with connect(loaded.settings.internal_database_dsn) as conn:
        conn.execute("UPDATE rsarchive.api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'operator-1'")
        conn.commit()
    expired = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401 and expired.json()["code"] == "AuthError"
    assert "token expired at" in expired.json()["description_en"]
    listed = runner.invoke(cli, ["tokens", "list"], catch_exceptions=False).output
    assert "operator-1\texpired\t" in listed
    result = runner.invoke(cli, ["tokens", "renew", "operator-1", "--days", "2"], catch_exceptions=False)
    assert result.exit_code == 0 and result.output.startswith("renewed operator-1: expires ")
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert "operator-1\tactive\t" in runner.invoke(cli, ["tokens", "list"], catch_exceptions=False).output

    result = runner.invoke(cli, ["tokens", "revoke", "operator-1"], catch_exceptions=False)
    assert result.exit_code == 0
    # no cache: the token that just worked fails on the very next request
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with connect(loaded.settings.internal_database_dsn) as conn:
        last_used = conn.execute("SELECT last_used_at FROM rsarchive.api_tokens WHERE name = 'operator-1'").fetchone()[0]
    assert last_used is not None


def test_public_is_read_only(loaded) -> None:
    item = {"type": "Feature", "id": "x", "collection": "vnredsat1-product"}
    assert httpx.post(loaded.public_url + "collections/vnredsat1-product/items", json=item).status_code in (404, 405)
    assert httpx.delete(loaded.public_url + "collections/vnredsat1-product").status_code in (404, 405)
