"""The upload page in a real browser: Debian's Chromium driven by playwright-core
(IntegrationTests/Browser/upload.test.mjs), against a real Orthanc with the plugin."""

import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER = os.path.join(HERE, "Browser")
CHROMIUM = "/usr/bin/chromium"


def run(command, **kwargs):
    result = subprocess.run(command, cwd=BROWSER, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)
    return result.returncode, result.stdout


@pytest.fixture(scope="module")
def node_packages():
    for tool in ("node", "npm"):
        assert shutil.which(tool), "%s is missing (Resources/Scripts/install-dependencies.sh)" % tool
    assert os.path.exists(CHROMIUM), "Debian's chromium is missing"
    code, output = run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], timeout=600)
    assert code == 0, output


def test_the_upload_page_in_chromium(node_packages, server):
    """Every browser scenario: the patient CD sent through the page with its receipt, no
    request outside the site, unticked studies not sent, resume after closing the page, a
    ZIP, a phone-sized screen, accessibility rules, the server's refusals."""
    env = dict(os.environ)
    env["INBOUND_URL"] = server.url + "/inbound/"
    env["CHROMIUM"] = CHROMIUM
    env.setdefault("SCREENSHOT_DIR", os.path.join(HERE, "..", "build", "screenshots"))
    os.makedirs(env["SCREENSHOT_DIR"], exist_ok=True)
    code, output = run(["node", "--test", "--test-concurrency=1", "upload.test.mjs"],
                       env=env, timeout=900)
    print(output)
    assert code == 0, output[-6000:]
    assert "# fail 0" in output and "# pass" in output, output[-3000:]
