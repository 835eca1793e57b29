"""Web sessions on a real uvicorn server and a real PostgreSQL: token expiry and renewal on
the requests API, session cookies (HttpOnly, SameSite, Secure only over https as a trusted
proxy says), CSRF tokens on every form POST (login included), security headers, and failed
logins slowed down (429 with Retry-After, then allowed again once the window has passed)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from click.testing import CliRunner
from reqfixtures import Archive, pay_in_full

from rsarchive.api import uvicorn_options
from rsarchive.api.requests_app import create_requests_app
from rsarchive.cli.main import cli
from rsarchive.db import connect
from rsarchive.settings import Settings
from rsarchive.testing.web import csrf_of, log_in
from rsarchive.testing.server import serve

pytestmark = pytest.mark.services


@contextmanager
def server(settings: Settings) -> Iterator[str]:
    """The requests app served the way ``rsarchive serve`` serves it (proxy options from settings)."""
    with serve(create_requests_app(settings), **uvicorn_options(settings)) as url:
        yield url


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def sql(settings: Settings, statement: str, *params: object) -> None:
    with connect(settings.internal_database_dsn) as conn:
        conn.execute(statement, params)
        conn.commit()


def cli_run(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), obj={"settings": settings}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_expired_token_is_refused_and_renew_restores_it(archive: Archive) -> None:
    settings = archive.settings
    with server(settings) as url:
        me = httpx.get(f"{url}/api/me", headers=archive.headers("alice"))
        assert me.status_code == 200 and me.json()["name"] == "alice"
        listed = cli_run(settings, "tokens", "list")
        (name,) = [line.split("\t")[0] for line in listed.splitlines() if line.startswith("alice/")]
        assert "\tactive\t" in next(line for line in listed.splitlines() if line.startswith(name))
        assert "expires " in listed

        sql(settings, "UPDATE rsarchive.api_tokens SET expires_at = now() - interval '1 minute' WHERE name = %s", name)
        refused = httpx.get(f"{url}/api/me", headers=archive.headers("alice"))
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert "hết hạn" in refused.json()["description"] and "expired at" in refused.json()["description_en"]
        expired_line = next(line for line in cli_run(settings, "tokens", "list").splitlines() if line.startswith(name))
        assert "\texpired\t" in expired_line
        users = json.loads(cli_run(settings, "users", "list", "--json"))
        assert next(u for u in users if u["name"] == "alice")["active_tokens"] == 0  # expired tokens are not active

        # the web login names the expiry too, and starts no session
        with httpx.Client() as client:
            page = log_in(client, url, "alice", archive.tokens["alice"])
            assert page.status_code == 401 and "expired at" in page.text
            assert not set_cookie_headers(page, "rsarchive_session")

        renewed = cli_run(settings, "tokens", "renew", name, "--days", "7")
        assert renewed.startswith(f"renewed {name}: expires ")
        assert httpx.get(f"{url}/api/me", headers=archive.headers("alice")).status_code == 200
        with connect(settings.internal_database_dsn) as conn:
            days = conn.execute("SELECT extract(epoch FROM expires_at - now()) / 86400 FROM rsarchive.api_tokens "
                                "WHERE name = %s", (name,)).fetchone()[0]
        assert 6.99 < float(days) <= 7.0
    unknown = CliRunner().invoke(cli, ["tokens", "renew", "nobody/0000"], obj={"settings": settings})
    assert unknown.exit_code != 0 and "no active token" in str(unknown.exception or unknown.output)


def test_new_tokens_expire_after_the_setting(archive: Archive) -> None:
    settings = archive.settings.derive(token_lifetime_days=3)
    cli_run(settings, "users", "add", "chi", "--role", "requester", "--org", "Viện Địa lý")
    cli_run(settings, "tokens", "add", "robot")
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute("SELECT name, extract(epoch FROM expires_at - created_at) / 86400 FROM rsarchive.api_tokens "
                            "WHERE name LIKE 'chi/%%' OR name = 'robot'").fetchall()
    assert len(rows) == 2 and all(abs(float(days) - 3) < 0.01 for _, days in rows), rows


def test_session_cookie_csrf_and_headers(archive: Archive) -> None:
    settings = archive.settings
    with server(settings) as url, httpx.Client() as client:
        form = client.get(f"{url}/web/login")
        assert form.status_code == 200
        (pre,) = set_cookie_headers(form, "rsarchive_csrf")
        assert "HttpOnly" in pre and "SameSite=strict" in pre and "Secure" not in pre
        for header in (form.headers, client.get(f"{url}/web/requests/new").headers):
            assert "frame-ancestors 'none'" in header["content-security-policy"]
            assert "default-src 'self'" in header["content-security-policy"]
            assert header["x-content-type-options"] == "nosniff" and header["x-frame-options"] == "DENY"
            assert header["referrer-policy"] == "strict-origin-when-cross-origin"

        # login without the CSRF token, or with a wrong one → 403 and no session
        for data in ({}, {"csrf_token": "x" * 43}):
            forged = client.post(f"{url}/web/login", data={"name": "alice", "token": archive.tokens["alice"], **data})
            assert forged.status_code == 403 and "CSRF" in forged.text and "Yêu cầu bị từ chối" in forged.text
            assert not set_cookie_headers(forged, "rsarchive_session")
        # a login form's token from another browser (another pre-session cookie) does not fit
        with httpx.Client() as other:
            foreign = csrf_of(other.get(f"{url}/web/login"))
        assert client.post(f"{url}/web/login", data={"name": "alice", "token": archive.tokens["alice"],
                                                     "csrf_token": foreign}).status_code == 403
        # the right user name is needed with the token
        wrong_user = log_in(client, url, "anna", archive.tokens["alice"])
        assert wrong_user.status_code == 401 and "Tên người dùng hoặc mã truy cập không đúng" in wrong_user.text

        done = log_in(client, url, "alice", archive.tokens["alice"])
        assert done.status_code == 303 and done.headers["location"] == "/web/"
        (cookie,) = set_cookie_headers(done, "rsarchive_session")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert f"Max-Age={settings.session_lifetime_minutes * 60}" in cookie
        assert archive.tokens["alice"] not in cookie  # the cookie holds a session secret, never the token

        # a form POST without the token → 403 (nothing stored); with it → the request is made
        new = client.get(f"{url}/web/requests/new")
        assert new.status_code == 200
        fields = {"contact_name": "Nguyễn Văn A", "contact_email": "a@monre.gov.vn", "purpose": "state_management",
                  "bbox": "105.0, 21.0, 105.2, 21.2", "start": "2024-02-15", "end": "2024-04-30", "levels": "product",
                  "intended_use": "Land-use inventory of Hà Nội"}
        refused = client.post(f"{url}/web/requests/new", data=fields)
        assert refused.status_code == 403 and "CSRF" in refused.text
        with connect(settings.internal_database_dsn) as conn:
            assert conn.execute("SELECT count(*) FROM rsarchive.data_requests").fetchone()[0] == 0
        made = client.post(f"{url}/web/requests/new", data={**fields, "csrf_token": csrf_of(new)})
        assert made.status_code == 303 and re.fullmatch(r"/web/requests/\d+", made.headers["location"])
        # another session's token does not fit this session
        with httpx.Client() as other:
            log_in(other, url, "anna", archive.tokens["anna"])
            anna_csrf = csrf_of(other.get(f"{url}/web/requests/new"))
        assert client.post(f"{url}/web/requests/new", data={**fields, "csrf_token": anna_csrf}).status_code == 403

        # the session ends at its expiry (absolute): the pages send the user to log in again
        sql(settings, "UPDATE rsarchive.web_sessions SET expires_at = now() - interval '1 second'")
        expired = client.get(f"{url}/web/requests")
        assert expired.status_code == 303 and expired.headers["location"] == "/web/login?expired=1"
        assert "Phiên đăng nhập đã hết hạn" in client.get(f"{url}/web/login?expired=1").text

        # logout (a form POST too) ends the session in the database, not only in the browser
        log_in(client, url, "alice", archive.tokens["alice"])
        secret = client.cookies["rsarchive_session"]
        page = client.get(f"{url}/web/requests")
        assert page.status_code == 200
        assert client.post(f"{url}/web/logout").status_code == 403
        assert client.post(f"{url}/web/logout", data={"csrf_token": csrf_of(page)}).status_code == 303
        stolen = httpx.get(f"{url}/web/requests", cookies={"rsarchive_session": secret})
        assert stolen.status_code == 303 and stolen.headers["location"].startswith("/web/login")


@pytest.mark.parametrize("trusted, secure", [("127.0.0.1", True), ("10.9.8.7", False)])
def test_secure_cookie_only_behind_a_trusted_proxy(archive: Archive, trusted: str, secure: bool) -> None:
    settings = archive.settings.derive(trusted_proxies=trusted)
    with server(settings) as url, httpx.Client() as client:
        https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        form = client.get(f"{url}/web/login", headers=https)
        (pre,) = set_cookie_headers(form, "rsarchive_csrf")
        assert ("Secure" in pre) is secure
        # a client keeps a Secure cookie for https: send it back as a browser behind the proxy would
        done = client.post(f"{url}/web/login", headers={**https, "Cookie": pre.split(";")[0]},
                           data={"name": "alice", "token": archive.tokens["alice"], "csrf_token": csrf_of(form)})
        assert done.status_code == 303
        (cookie,) = set_cookie_headers(done, "rsarchive_session")
        assert ("Secure" in cookie) is secure and "HttpOnly" in cookie
        hsts = client.get(f"{url}/web/login", headers=https).headers.get("strict-transport-security")
        assert (hsts == "max-age=31536000") is secure
        # the client address that counts failed logins is the proxy's word only when it is trusted
        client.post(f"{url}/web/login", headers={**https, "Cookie": pre.split(";")[0]},
                    data={"name": "alice", "token": "rsa_wrong", "csrf_token": csrf_of(form)})
        with connect(settings.internal_database_dsn) as conn:
            keys = {k for (k,) in conn.execute("SELECT key FROM rsarchive.login_failures").fetchall()}
        assert keys == {"account:alice", "address:203.0.113.9" if secure else "address:127.0.0.1"}
        # without the header the same proxy's request is plain http: no Secure flag
        with httpx.Client() as plain:
            (cookie,) = set_cookie_headers(log_in(plain, url, "bob", archive.tokens["bob"]), "rsarchive_session")
        assert "Secure" not in cookie
    with pytest.raises(Exception, match="not an IP address"):
        archive.settings.derive(trusted_proxies="proxy.example.com")


def test_failed_logins_are_slowed_down(archive: Archive) -> None:
    settings = archive.settings.derive(login_max_failures=3, login_window_seconds=3)
    with server(settings) as url, httpx.Client() as client:
        started = time.monotonic()
        for _ in range(3):
            assert log_in(client, url, "alice", "rsa_wrong").status_code == 401
        locked = log_in(client, url, "alice", archive.tokens["alice"])  # the right token, but locked
        assert locked.status_code == 429, locked.text[:500]
        assert 1 <= int(locked.headers["retry-after"]) <= 3
        assert "Quá nhiều lần đăng nhập sai" in locked.text and not set_cookie_headers(locked, "rsarchive_session")
        # the address is locked for every account, the account from every address
        assert log_in(client, url, "bob", archive.tokens["bob"]).status_code == 429
        with connect(settings.internal_database_dsn) as conn:
            keys = {k for (k,) in conn.execute("SELECT key FROM rsarchive.login_failures").fetchall()}
        assert keys == {"account:alice", "address:127.0.0.1"}
        # the refused attempts were not counted: the lock ends when the window has passed
        time.sleep(max(0.0, started + 3.2 - time.monotonic()))
        assert log_in(client, url, "alice", archive.tokens["alice"]).status_code == 303


def test_downloads_refuse_an_expired_token_and_its_sessions(archive: Archive) -> None:
    from reqfixtures import request_body

    settings = archive.settings
    with server(settings) as url, httpx.Client() as browser:
        officer = archive.headers("olga")
        rid = httpx.post(f"{url}/api/requests", json=request_body(), headers=archive.headers("alice")).json()["id"]
        for step, body in (("review", None), ("approve", {"contract_ref": "HD-1"}), ("fulfil", None)):
            assert httpx.post(f"{url}/api/requests/{rid}/{step}", json=body, headers=officer).status_code == 200
        with httpx.Client(base_url=url) as api:
            pay_in_full(api, archive, rid)
        delivery = httpx.get(f"{url}/api/requests/{rid}/delivery", headers=archive.headers("alice")).json()
        link = delivery["items"][0]["assets"][0]["url"]
        assert link.startswith(f"{url}/downloads/")
        assert log_in(browser, url, "alice", archive.tokens["alice"]).status_code == 303
        assert httpx.get(link, headers=archive.headers("alice")).status_code == 200
        assert browser.get(link).status_code == 200  # the web session's cookie

        sql(settings, "UPDATE rsarchive.api_tokens t SET expires_at = now() FROM rsarchive.users u "
                      "WHERE u.id = t.user_id AND u.name = 'alice'")
        by_token = httpx.get(link, headers=archive.headers("alice"))
        assert by_token.status_code == 401 and "expired at" in by_token.json()["description_en"]
        by_session = browser.get(link)  # a session ends with its token
        assert by_session.status_code == 401 and "expired at" in by_session.json()["description_en"]
        page = browser.get(f"{url}/web/requests")
        assert page.status_code == 303 and page.headers["location"] == "/web/login?expired=1"
