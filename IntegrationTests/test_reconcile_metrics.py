"""The reconciliation sources' Prometheus gauges (doc/Operations.md, "Metrics") against a real
PACS that answers, a refused one and a source whose name needs escaping."""

import re

import pytest

import reconcile_support as rs

# Orthanc allows only letters, digits, "-" and "_" in DicomModalities names, but Sources may name
# anything (checked at query time): the label value must stay one valid series.
ODD = 'ris "old"'
SOURCES = [("pacs", "Patient"), ("down", "Patient"), (ODD, "Worklist")]
LINE = re.compile(r'^(inbound_reconciliation_[a-z_]+)(\{.*\})? (\S+)( \d+)?$')


@pytest.fixture(scope="module")
def site(plugin, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("reconcile-metrics"))
    yield from rs.running(plugin, folder, sources=SOURCES, TimeoutSeconds=2)


def metrics(server):
    """{(name, labels): value} of the reconciliation gauges, every line of them parsed."""
    r = server.admin("GET", "/tools/metrics-prometheus")
    assert r.status_code == 200, r.text
    found = {}
    for line in r.text.splitlines():
        if line.startswith("inbound_reconciliation_"):
            m = LINE.match(line)
            assert m, "not one Prometheus sample: %r" % line
            found[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return found


def label(source, query):
    return '{source="%s",query="%s"}' % (source.replace('"', '\\"'), query)


SERIES = [label("local", "Local"), label("pacs", "Patient"), label("down", "Patient"),
          label(ODD, "Worklist")]
GAUGES = ("up", "last_round_seconds", "failures_total", "last_elapsed_ms")


def test_sources_never_asked_are_minus_one_then_each_round_is_counted(site):
    server, env = site
    before = metrics(server)
    assert before[("inbound_reconciliation_rounds_total", "")] == 0
    expected = {("inbound_reconciliation_rounds_total", "")}
    for series in SERIES:
        for gauge in GAUGES:
            expected.add(("inbound_reconciliation_source_" + gauge, series))
        assert before[("inbound_reconciliation_source_up", series)] == -1
        assert before[("inbound_reconciliation_source_last_round_seconds", series)] == -1
        assert before[("inbound_reconciliation_source_failures_total", series)] == 0
        assert before[("inbound_reconciliation_source_last_elapsed_ms", series)] == -1
    assert set(before) == expected, sorted(set(before) ^ expected)

    upload = rs.send(server, rs.make_cd("doe", per_patient=1))
    answer = rs.candidates(server, upload.id)
    assert rs.source_of(answer, "pacs")["status"] == "answered"
    assert rs.source_of(answer, "down")["status"] == "failed"
    assert rs.source_of(answer, ODD)["status"] == "failed"
    rs.candidates(server, upload.id)  # from the cache: no round
    after = metrics(server)
    assert after[("inbound_reconciliation_rounds_total", "")] == 1
    for series, up, failures in ((SERIES[0], 1, 0), (SERIES[1], 1, 0), (SERIES[2], 0, 1),
                                 (SERIES[3], 0, 1)):
        assert after[("inbound_reconciliation_source_up", series)] == up, series
        assert after[("inbound_reconciliation_source_failures_total", series)] == failures
        assert 0 <= after[("inbound_reconciliation_source_last_round_seconds", series)] < 60
        assert 0 <= after[("inbound_reconciliation_source_last_elapsed_ms", series)] < 3000
    pacs = rs.source_of(answer, "pacs")
    assert after[("inbound_reconciliation_source_last_elapsed_ms", SERIES[1])] == \
        pacs["elapsedMs"]

    # Asked again: the refused one's failures add up, the PACS stays up.
    rs.candidates(server, upload.id, fresh=True)
    again = metrics(server)
    assert again[("inbound_reconciliation_rounds_total", "")] == 2
    assert again[("inbound_reconciliation_source_failures_total", SERIES[2])] == 2
    assert again[("inbound_reconciliation_source_up", SERIES[2])] == 0
    assert again[("inbound_reconciliation_source_up", SERIES[1])] == 1
    assert again[("inbound_reconciliation_source_failures_total", SERIES[1])] == 0
