from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest
from hypothesis import settings

from crawlkit.frontiers import disk as disk_frontier
from crawlkit.lab.demo import DemoSite, SiteSpec
from crawlkit.lab.servers import wait_for_port
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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, for the whole session."""
    binary = shutil.which("redis-server")
    if binary is None:
        # CI installs it (.ci/run) and must run these tests; elsewhere say why they did not run
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run should have installed it")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, timeout=10)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture()
def small_disk_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny buffers for the durable frontier, so that a few hundred URLs go through
    disk many times over."""
    monkeypatch.setattr(disk_frontier, "BUFFER", 3)
    monkeypatch.setattr(disk_frontier, "BUFFERED", 7)
