"""The origin check on its own: which pages may open a chat (chatbot/server/origins.py),
and how ALLOWED_ORIGINS and TRUSTED_PROXIES are read (chatbot/config.py)."""
import pytest

from chatbot.config import ConfigError, Settings, normal_origin
from chatbot.server.origins import check, is_allowed, own_origin

HOST = "chat.riverside-derm.example"
OWN = own_origin("https://chat.riverside-derm.example/")  # from PUBLIC_URL
LISTED = ("https://riverside-derm.example", "https://www.riverside-derm.example")


@pytest.mark.parametrize("origin", [
    None,                                   # curl, scripts: no browser, no hijacking
    "https://chat.riverside-derm.example",  # the server's own pages, from PUBLIC_URL
    "https://chat.riverside-derm.example:443",  # the same origin, its default port spelt out
    "https://riverside-derm.example",       # listed in ALLOWED_ORIGINS
    "https://WWW.Riverside-Derm.example/",  # browsers' case and a stray slash
])
def test_allowed(origin):
    assert is_allowed(origin, HOST, LISTED, OWN)


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "null",                                       # sandboxed iframes, file:// pages
    "https://riverside-derm.example.evil.example",
    "https://chat.riverside-derm.example.evil.example",
    "http://localhost.evil.example",
    "https://evil.example@chat.riverside-derm.example",
    "ftp://chat.riverside-derm.example",
    "http://chat.riverside-derm.example",         # the scheme is exact
    "https://chat.riverside-derm.example:8443",   # another port is another origin
    "https://riverside-derm.example:8443",
    "https://chat.riverside-derm.example/path",
    "http://127.0.0.1:notaport",
    "",
    # local pages are not allowed on a production server reached by its public name
    "http://localhost:5173", "http://127.0.0.1:8000", "http://[::1]:3000", "https://localhost",
])
def test_refused(origin):
    assert not is_allowed(origin, HOST, LISTED, OWN)


def test_the_own_origin_comes_from_configuration_not_from_host():
    """DNS rebinding: a page at evil.example whose name now points at this server sends
    Origin and Host both evil.example; Host cannot vouch for it."""
    assert not is_allowed("https://evil.example", "evil.example", (), None)
    assert not is_allowed("http://evil.example:8000", "evil.example:8000", (), None)
    assert not is_allowed("https://chat.riverside-derm.example", HOST, (), None)


def test_local_pages_in_development_and_on_a_loopback_server():
    assert is_allowed("http://localhost:5173", HOST, (), OWN, development=True)
    assert not is_allowed("https://evil.example", HOST, (), OWN, development=True)
    # the Procfile's server listening on 8000, reached at 127.0.0.1 (a laptop, the eval
    # tool): its own pages may chat (websocket clients may leave the port out of Host)...
    assert is_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", (), None, port=8000)
    assert is_allowed("http://127.0.0.1:8000", "127.0.0.1", (), None, port=8000)
    assert is_allowed("http://localhost:8000", "127.0.0.1", (), None, port=8000)
    assert is_allowed("http://[::1]:8000", "[::1]:8000", (), None, port=8000)
    # ...not another local app's page (another port), nor without knowing the port...
    assert not is_allowed("http://localhost:5173", "127.0.0.1:8000", (), None, port=8000)
    assert not is_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", (), None)
    # ...nor once it is reached by a public name, nor when the Host is malformed
    assert not is_allowed("http://localhost:8000", HOST, (), None, port=8000)
    assert not is_allowed("http://localhost:8000", "127.0.0.1.evil.example", (), None, port=8000)
    assert not is_allowed("http://localhost:8000", "[::1", (), None, port=8000)


def test_the_normalised_origin_is_what_is_echoed():
    assert check("HTTPS://WWW.Riverside-Derm.example:443/", HOST, LISTED, OWN) \
        == "https://www.riverside-derm.example"
    assert check(None, HOST, LISTED, OWN) == ""
    assert check("https://evil.example", HOST, LISTED, OWN) is None


@pytest.mark.parametrize("raw, expected", [
    ("https://clinic.example", ("https://clinic.example",)),
    (" https://Clinic.example/ , http://clinic.example:8080", ("https://clinic.example",
                                                              "http://clinic.example:8080")),
    ("https://clinic.example:443", ("https://clinic.example",)),
    ("", ()),
])
def test_allowed_origins_setting(raw, expected):
    assert Settings.from_env({"ALLOWED_ORIGINS": raw}).allowed_origins == expected


@pytest.mark.parametrize("raw", ["*", "clinic.example", "https://clinic.example/chat",
                                 "https://*.clinic.example", "https://clinic.example?x=1",
                                 "javascript:alert(1)", "https://user@clinic.example",
                                 "https://clinic.example,null"])
def test_a_bad_allowed_origins_value_names_the_variable(raw):
    with pytest.raises(ConfigError, match="^ALLOWED_ORIGINS must list origins"):
        Settings.from_env({"ALLOWED_ORIGINS": raw})


def test_trusted_proxies_setting():
    nets = Settings.from_env({"TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"}).trusted_proxies
    assert [str(n) for n in nets] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    with pytest.raises(ConfigError, match="^TRUSTED_PROXIES must list"):
        Settings.from_env({"TRUSTED_PROXIES": "nginx"})


def test_normal_origin():
    assert normal_origin("http://LOCALHOST:80") == "http://localhost"
    assert normal_origin("http://[::1]:3000/") == "http://[::1]:3000"
    assert normal_origin("null") is None
