"""pytest fixtures: the plugin under test and Orthanc servers started for a module or a test."""

import os

import pytest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# Servers started and not yet cleaned up; their logs are attached to the report of a failed test.
LIVE_SERVERS = []


def plugin_path():
    return os.environ.get("INBOUND_PLUGIN", os.path.join(REPO, "build", "libOrthancInbound.so"))


def _start(plugin, **kwargs):
    server = harness.OrthancServer(plugin, **kwargs)
    LIVE_SERVERS.append(server)
    try:
        server.start()
    except Exception:
        _cleanup(server)
        raise
    return server


def _cleanup(server, check=False):
    try:
        if check:
            server.stop_cleanly()
    finally:
        _remove(server)


def _remove(server):
    try:
        server.cleanup()
    finally:
        if server in LIVE_SERVERS:
            LIVE_SERVERS.remove(server)


@pytest.fixture(scope="session")
def plugin():
    path = plugin_path()
    if not os.path.isfile(path):
        pytest.fail("the plugin %s does not exist: build it first, or set INBOUND_PLUGIN" % path,
                    pytrace=False)
    return os.path.abspath(path)


@pytest.fixture(scope="module")
def server(plugin):
    """One Orthanc with the plugin and the default test configuration, shared by a module."""
    s = _start(plugin)
    yield s
    _cleanup(s, check=True)


@pytest.fixture
def start_server(plugin):
    """Starts Orthanc servers of the test's own: start_server(inbound={...}, orthanc={...})."""
    started = []

    def start(**kwargs):
        s = _start(plugin, **kwargs)
        started.append(s)
        return s

    yield start
    errors = []
    for s in started:
        try:
            _cleanup(s, check=True)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def start_plain_orthanc():
    """Starts Orthanc servers without any plugin (to check the harness itself)."""
    started = []

    def start(**kwargs):
        s = _start(None, **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        _cleanup(s)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for s in LIVE_SERVERS:
            report.sections.append(("Orthanc log (port %s)" % s.port, s.log_tail()))
