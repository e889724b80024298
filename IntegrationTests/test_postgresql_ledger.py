"""The same tests against both ledgers: the tests below, of other modules, run here a second time
with every Standalone and Internal keeping its ledger in PostgreSQL ("Inbound.Ledger":
"PostgreSQL", a database of its own on a real PostgreSQL 15 server; postgres.LedgerDatabases).
Gateways keep their SQLite ledger, as deployed.

Chosen for what the PostgreSQL ledger changes: the pull and its crashes (leases, start-up
recovery), notifications and their retries, forwards and releases, quotas, bans and their
expiry, the audit trail, cancel and expiry (the sweeper), the admin routes.
(Tests that write into ledger.sqlite themselves, such as the audit's pruning, are not here.)
INBOUND_TEST_LEDGER=postgresql runs any other module that way too."""

import pytest

import harness
import postgres

# The tests and the module fixtures they use, collected here again.
# (test_pull's kill -9 stream is left out: each restart waits Inbound.LeaseSeconds for the
# leases of the Orthanc's previous run, 70 s in all; test_scaleout.py kills an internal.)
from test_pull import (  # noqa: F401
    topology, test_the_patient_cd_arrives_inside_byte_for_byte,
    test_an_internal_orthanc_restarted_mid_stream_loses_nothing)
from test_notify import (  # noqa: F401
    sinks, certificate, receivers, cd,
    test_the_recipient_gets_one_mail_with_a_link_per_study_and_no_patient_data,
    test_the_mail_leaves_from_the_internal_orthanc_after_the_pull,
    test_relay_down_across_a_restart_every_mail_arrives_once,
    test_give_up_after_marks_failed_and_alerts_once_and_retry_delivers,
    test_webhook_signed_retried_and_delivered_once)
from test_release import (  # noqa: F401
    pacs, one_study, test_release_reconciled_reaches_the_pacs,
    test_auto_forward_waits_for_a_pacs_that_is_down,
    test_forward_given_up_alerts_and_can_be_retried)
from test_limits import (  # noqa: F401
    quota_server, banning, test_daily_quotas_hold_and_survive_a_restart,
    test_configured_ban_list_is_refused_and_cannot_be_lifted_online,
    test_manual_ban_expires_and_can_be_lifted,
    test_repeated_refusals_ban_automatically_for_a_while)
from test_audit_limits import (  # noqa: F401
    flooded, test_500_refusals_from_one_address_are_a_handful_of_entries,
    test_a_banned_client_is_not_itemized)
from test_admin import (  # noqa: F401
    completed, test_admin_list, test_admin_show, test_admin_delete_removes_the_study,
    test_admin_audit, test_refusals_are_audited)
from test_cancel_expiry import (  # noqa: F401
    test_cancel_removes_stored_data, test_idle_upload_expires,
    test_upload_idle_while_orthanc_was_down_expires)
from test_resume import test_upload_resumes_after_restart  # noqa: F401


@pytest.fixture(scope="module", autouse=True)
def postgresql_ledger():
    """Every server of this module's tests on the PostgreSQL ledger (autouse: set before the
    module's other fixtures start theirs)."""
    problems = postgres.missing_packages()
    if problems:
        pytest.fail("PostgreSQL is not installed:\n  " + "\n  ".join(problems), pytrace=False)
    previous, harness.LEDGER = harness.LEDGER, "postgresql"
    yield
    harness.LEDGER = previous


def test_the_servers_here_keep_their_ledger_in_postgresql(server):
    """This module really runs on PostgreSQL: the server's uploads are rows there, and no
    SQLite ledger exists beside its storage."""
    import os
    from harness import Upload
    assert server.ledger_database is not None
    upload = Upload.open(server)
    rows = server.ledger_database.query(
        "SELECT state FROM inbound.uploads WHERE id = '%s'" % upload.id)
    assert rows == [("open",)], rows
    ledgers = [os.path.join(d, f) for d, _, files in os.walk(server.workdir) for f in files
               if f.startswith("ledger.sqlite")]
    assert ledgers == [], ledgers
