"""The harness itself, with a plain Orthanc (no plugin): start, restart, stop, start-up errors."""

import pytest

import harness
from data import CT_SMALL


def test_start_restart_keeps_data_and_stop(start_plain_orthanc):
    server = start_plain_orthanc()
    assert server.admin_json("GET", "/system")["Name"] == "InboundTest"
    r = server.admin("POST", "/instances", data=harness.read(CT_SMALL))
    assert r.status_code == 200, r.text
    instance = r.json()["ID"]
    pid = server.process.pid

    server.restart()
    assert server.process.pid != pid
    assert server.all_instances() == {instance}
    assert server.instance_file(instance) == harness.read(CT_SMALL)

    process = server.process
    server.stop()
    assert process.poll() is not None
    assert not server.running()


def test_start_failure_reports_the_log(start_plain_orthanc, tmp_path):
    not_a_library = tmp_path / "not-a-plugin.so"
    not_a_library.write_text("this is not a shared library\n")
    with pytest.raises(harness.ServerError) as error:
        start_plain_orthanc(orthanc={"Plugins": [str(not_a_library)]})
    assert "Orthanc log" in str(error.value)
    assert "not-a-plugin.so" in str(error.value)
