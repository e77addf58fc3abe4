"""The scraping examples (listing -> detail with meta and CSV, JSON API, sitemap rules,
form POST, a login form with cookies), each run in every mode: the same lines in all of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crawlkit import MODES

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# example -> lines its output must contain, in every mode
EXPECTED: dict[str, list[str]] = {
    "shop_listing_detail.py": ["products: 75", "matches the shop: True",
                               "csv header: sku,name,price,in_stock,category,listing_page"],
    "shop_json_api.py": ["products: 75", "api pages: 8", "matches the shop: True"],
    "shop_sitemap.py": ["products: 75", "all products: True",
                        "api pages: [1, 2, 3, 4, 5, 6, 7, 8]"],
    "shop_search_form.py": ["POST results: 11", "GET results: 11", "as expected: True",
                            "posts seen by the server: 1"],
    "shop_login.py": ["login: ok (at /members/)", "reports: 5", "all reports: True",
                      "without cookies: login refused, reports 0"],
}


def _run(name: str, mode: str) -> list[str]:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--mode", mode],
                          capture_output=True, text=True, encoding="utf-8", timeout=180)
    assert proc.returncode == 0, f"{name} --mode {mode} exited {proc.returncode}\n{proc.stderr}"
    # the summary line carries timings; every other line must be the same in every mode
    return [line for line in proc.stdout.splitlines() if not line.startswith("crawlkit [")]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_gives_the_same_output_in_every_mode(name: str) -> None:
    outputs = {mode: _run(name, mode) for mode in MODES}
    for mode, lines in outputs.items():
        for expected in EXPECTED[name]:
            assert expected in lines, f"{name} --mode {mode}: {expected!r} not in {lines}"
    first = outputs[MODES[0]]
    assert all(lines == first for lines in outputs.values()), outputs
