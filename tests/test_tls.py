"""HTTPS in every strategy: verified against the CA the environment names, refused otherwise."""

from __future__ import annotations

import ssl

import pytest
import trustme

import crawlkit
from crawlkit import MODES
from crawlkit.tls import BUNDLE_VARIABLES
from servers import PoliteServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(ca):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with PoliteServer(pages=3, ssl_context=context) as server:
        yield server


@pytest.fixture()
def trusted(ca, tmp_path, monkeypatch):
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    for name in BUNDLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return pem


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
@pytest.mark.parametrize("mode", MODES)
def test_https_is_verified_against_the_named_bundle(mode, variable, tls_server, trusted,
                                                    monkeypatch):
    monkeypatch.setenv(variable, str(trusted))
    result = crawlkit.crawl([tls_server.url + "/p/0"], mode=mode, follow=True,
                            obey_robots=False, retries=0)
    assert tls_server.url.startswith("https://")
    ok = sorted(r["url"][len(tls_server.url):] for r in result if r["error"] is None)
    assert ok == ["/p/0", "/p/1", "/p/2", "/private/0", "/private/1"]


@pytest.mark.parametrize("mode", MODES)
def test_an_untrusted_certificate_is_an_ssl_error(mode, tls_server, trusted, tmp_path,
                                                  monkeypatch):
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    result = crawlkit.crawl([tls_server.url + "/p/0"], mode=mode, obey_robots=False, retries=0)
    assert [(r["url"], r["error"]) for r in result] == [(tls_server.url + "/p/0", "ssl error")]
