"""Which certificates a crawl's TLS connections trust: the same rule in every strategy.

By default each HTTP library verifies against its usual store (requests:
certifi's bundle; aiohttp and geventhttpclient: the system's). A bundle named
by ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE`` or ``SSL_CERT_FILE`` (first one
set wins) replaces that store for all seven strategies alike, so a crawl behind
a corporate proxy or of a test server with its own CA verifies in every mode.
"""

from __future__ import annotations

import os
import ssl

BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


def ca_bundle() -> str | None:
    """The CA bundle the environment names, or ``None`` for the library's default."""
    for name in BUNDLE_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return None


def client_context() -> ssl.SSLContext | None:
    """A verifying client context on :func:`ca_bundle`, or ``None`` when none is named."""
    bundle = ca_bundle()
    if bundle is None:
        return None
    return ssl.create_default_context(cafile=bundle)
