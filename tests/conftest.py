from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from crawlkit.lab.demo import DemoSite, SiteSpec
from servers import FaultServer

SITE_SPEC = SiteSpec(pages=300, links=8)

# Property tests: a bounded run by default, a long search with HYPOTHESIS_PROFILE=long.
settings.register_profile("ci", max_examples=150, deadline=None, print_blob=True)
settings.register_profile("long", max_examples=20_000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSite]:
    """The 300-page demo link graph, served once for the whole session."""
    with DemoSite(SITE_SPEC) as site:
        yield site


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def site_factory() -> Iterator[object]:
    """Start demo sites of any shape; all are stopped after the test."""
    started: list[DemoSite] = []

    def make(**kwargs: object) -> DemoSite:
        site = DemoSite(SiteSpec(**kwargs))  # type: ignore[arg-type]
        site.start()
        started.append(site)
        return site

    yield make
    for site in started:
        site.stop()
