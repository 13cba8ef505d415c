"""Sessions and logins as an attacker meets them: revoked cookies, cookie flags, throttles, redirects."""

from __future__ import annotations

import pytest

from server import create_app
from server.access import deactivate_user, set_password
from server.models import User
from tests.server import dashboard_data as data


@pytest.fixture
def story(session, client, label_key):
    """Load the handover story with its users (sup, obs, sup14, prov)."""
    return data.build(session)


def _cookie(client):
    """Return the client's session cookie value (what an attacker would have saved)."""
    return client.get_cookie("session").value


def _replay(app, cookie):
    """Return a fresh client presenting a saved session cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def test_a_cookie_saved_before_logout_no_longer_works(app, client, story):
    data.login(client)
    client.get("/overview")
    saved = _cookie(client)
    assert _replay(app, saved).get("/overview").status_code == 200
    client.post("/logout", data={"csrf_token": data.csrf(client)})
    assert _replay(app, saved).get("/overview").status_code == 302  # to the login page


@pytest.mark.parametrize("change", ["password", "deactivate"])
def test_a_cookie_saved_before_a_password_change_or_deactivation_no_longer_works(
        app, client, story, db, change):
    data.login(client)
    saved = _cookie(client)
    with db.session() as s:
        if change == "password":
            set_password(s, "sup", "a brand new password")
        else:
            deactivate_user(s, "sup")
        s.commit()
    rv = _replay(app, saved).get("/overview")
    assert rv.status_code == 302 and rv.headers["Location"].startswith("/login")


def test_set_password_and_deactivate_user_commands_end_sessions(app, client, story, runner, db):
    data.login(client)
    saved = _cookie(client)
    result = runner.invoke(args=["set-password", "sup"], input="another password 1\n")
    assert result.exit_code == 0, result.output
    assert _replay(app, saved).get("/overview").status_code == 302
    assert data.login(client, password="another password 1").status_code == 302
    result = runner.invoke(args=["deactivate-user", "sup"])
    assert result.exit_code == 0, result.output
    assert data.login(client, password="another password 1").status_code == 401
    with db.session() as s:
        assert s.query(User).filter_by(username="sup").one().active is False


def test_the_session_cookie_is_samesite_lax_and_httponly(client, story):
    rv = data.login(client)
    cookie = rv.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back


def test_the_cookie_is_secure_when_https_is_configured(database_url, tmp_path, session, story):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t",
                      "INSTANCE_PATH": str(tmp_path / "i"), "PREFERRED_URL_SCHEME": "https"})
    rv = data.login(app.test_client())
    assert "Secure" in rv.headers["Set-Cookie"]


def test_the_cookie_is_secure_behind_a_trusted_proxy_speaking_https(database_url, tmp_path,
                                                                     session, story):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    trusting = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t",
                           "INSTANCE_PATH": str(tmp_path / "i"), "TRUSTED_PROXIES": 1})
    client = trusting.test_client()
    client.get("/login", headers=forwarded)
    token = data.csrf(client)
    rv = client.post("/login", headers=forwarded, data={
        "username": "sup", "password": data.PASSWORD, "csrf_token": token})
    assert rv.status_code == 302 and "Secure" in rv.headers["Set-Cookie"]
    # Without TRUSTED_PROXIES anybody could send the header: it is not believed.
    plain = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t",
                        "INSTANCE_PATH": str(tmp_path / "j")})
    client = plain.test_client()
    client.get("/login", headers=forwarded)
    rv = client.post("/login", headers=forwarded, data={
        "username": "sup", "password": data.PASSWORD, "csrf_token": data.csrf(client)})
    assert rv.status_code == 302 and "Secure" not in rv.headers["Set-Cookie"]


def _attempt(client, username, password, **kwargs):
    client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": data.csrf(client)}, **kwargs)


def test_wrong_passwords_are_throttled_and_then_the_right_one_is_refused_too(app, client, story):
    app.config["LOGIN_MAX_FAILURES"] = 5
    from server.dashboard import sessions
    sessions.init_app(app)  # the throttle is made from the settings at start
    for _ in range(5):
        assert _attempt(client, "sup", "wrong password").status_code == 401
    rv = _attempt(client, "sup", data.PASSWORD)
    assert rv.status_code == 429
    assert 1 <= int(rv.headers["Retry-After"]) <= 15 * 60
    assert "Terlalu banyak" in rv.get_data(as_text=True)
    assert client.get("/overview").status_code == 302  # not logged in
    # Asked for JSON, the same refusal comes in the API's error shape.
    rv = _attempt(client, "sup", data.PASSWORD, headers={"Accept": "application/json"})
    body = rv.get_json()
    assert rv.status_code == 429 and body["error"]["status"] == 429
    assert body["error"]["code"] == "too_many_logins" and rv.headers["Retry-After"]
    # Another user from another address is not locked out by it.
    other = app.test_client()
    assert _attempt(other, "obs", data.PASSWORD,
                    environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 302


def test_one_address_guessing_many_usernames_is_throttled(app, client, story):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 4
    from server.dashboard import sessions
    sessions.init_app(app)
    for name in ("a1", "a2", "a3", "a4"):
        assert _attempt(client, name, "guess guess").status_code == 401
    assert _attempt(client, "sup", data.PASSWORD).status_code == 429


def test_an_unknown_user_costs_the_same_password_check_as_a_known_one(client, story, monkeypatch):
    # Timing must not tell which usernames exist: both paths run one scrypt check.
    import server.access as access

    calls = []
    real = access.check_password_hash
    monkeypatch.setattr(access, "check_password_hash",
                        lambda h, p: calls.append(h) or real(h, p))
    assert _attempt(client, "nobody-here", "wrong password").status_code == 401
    assert _attempt(client, "sup", "wrong password").status_code == 401
    assert len(calls) == 2 and all(h.startswith("scrypt:") for h in calls)


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "/%0d%0a//evil",
                                    "/\\evil.example", "//evil.example", "https://evil.example",
                                    "/%20/evil.example", "/%0a"])
def test_redirects_after_login_and_language_stay_on_this_site(client, story, target):
    rv = client.get(f"/lang/en?next={target}")
    assert rv.status_code == 302
    assert rv.headers["Location"] == "/overview"
    client.get("/login")
    rv = client.post(f"/login?next={target}", data={
        "username": "sup", "password": data.PASSWORD, "csrf_token": data.csrf(client)})
    assert rv.status_code == 302 and rv.headers["Location"] == "/overview"


def test_a_same_site_path_is_still_followed(client, story):
    assert client.get("/lang/en?next=/scans/%3Fpage%3D2").headers["Location"] == "/scans/?page=2"


@pytest.mark.parametrize("anomaly_id", [2**31, 2**63, 2**64, 10**30, 0])
def test_out_of_range_anomaly_ids_are_404(client, story, anomaly_id):
    data.login(client)
    assert client.get(f"/anomalies/{anomaly_id}").status_code == 404
    assert client.post(f"/anomalies/{anomaly_id}/resolve",
                       data={"csrf_token": data.csrf(client), "note": "x"}).status_code == 404
