"""PostgreSQL for the benchmarks of issue 21 (scaleout.py, ledger.py): the server the
integration tests start (IntegrationTests/postgres.py), but durable, the settings of Debian's
orthanc-postgresql for several Orthancs on one index, and the CPU of the whole server."""

import os

import postgres  # IntegrationTests: the real PostgreSQL server, Debian's orthanc-postgresql
from bench_support import BenchmarkError

# postgres.py turns fsync off for the tests (they kill Orthanc, not PostgreSQL). A benchmark
# of the ledger's cost must pay what a real server pays for a commit, as the SQLite ledger
# pays its own fsync: these options are left out.
NOT_DURABLE = ("-c fsync=off ", "-c full_page_writes=off ")


class DurablePostgreSQL(postgres.PostgreSQL):
    """The integration tests' server with fsync and full page writes on (PostgreSQL's
    defaults), its cluster under the benchmarks' work folder (the disk they measure)."""

    def __init__(self, workdir):
        import tempfile
        saved, tempfile.tempdir = tempfile.tempdir, workdir
        try:
            super().__init__(startup_timeout=60)
        finally:
            tempfile.tempdir = saved

    def _run(self, *command, **kwargs):
        command = list(command)
        if "-o" in command:
            i = command.index("-o") + 1
            for option in NOT_DURABLE:
                command[i] = command[i].replace(option, "")
        return super()._run(*command, **kwargs)

    def start(self):
        super().start()
        settings = dict(self.psql("SELECT name, setting FROM pg_settings WHERE name IN "
                                  "('fsync', 'full_page_writes', 'synchronous_commit')"))
        if settings.get("fsync") != "on" or settings.get("full_page_writes") != "on":
            raise BenchmarkError("PostgreSQL runs with %s, not durable" % settings)
        self.settings = settings
        self.version = self.psql("SHOW server_version")[0][0]
        return self


def start_server(workdir):
    problems = postgres.missing_packages()
    if problems:
        raise BenchmarkError("PostgreSQL for Orthanc is not installed:\n  " + "\n  ".join(problems))
    server = DurablePostgreSQL(workdir)
    try:
        server.start()
    except BaseException:
        print(server.log_tail())
        server.cleanup()
        raise
    return server


def describe(server):
    """The server as the reports' "machine" section names it: its version and the settings
    that make it durable."""
    return {"version": server.version, "settings": server.settings}


def stop_server(server, keep):
    """Stops a server of start_server() (None: it never started); with "keep" (a benchmark's
    --keep) its cluster stays on disk, to be looked at, else it is removed."""
    if server is None:
        return
    if keep:
        server.stop()
    else:
        server.cleanup()


def orthanc_settings(database, ledger):
    """Orthanc's configuration for its index in "database" without the lock (several Orthancs
    on one index), and the plugin's ledger ("SQLite" or "PostgreSQL"): (Orthanc's settings,
    the index plugin, the Inbound settings)."""
    section, plugins = postgres.orthanc_settings(database, storage=False)
    section["Lock"] = False
    inbound = {"Ledger": "PostgreSQL"} if ledger == "PostgreSQL" else {}
    return {"PostgreSQL": section}, plugins, inbound


def cpu_seconds(server):
    """CPU time (user + system, s) of the PostgreSQL server: the postmaster, the backends and
    helpers alive now, and those that ended (the postmaster waited for them: its cutime)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        pid, ppid = int(entry), int(fields[1])
        if pid == server.pid:
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        elif ppid == server.pid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def check_ledger(database, root, in_postgresql):
    """That an Orthanc whose folders are under "root" kept the plugin's ledger where it was
    configured to: in "database" (the tables of its schema "inbound" are there and no
    ledger.sqlite under root), or in a SQLite file under root."""
    files = [os.path.join(d, f) for d, _, names in os.walk(root) for f in names
             if f == "ledger.sqlite"]
    if in_postgresql:
        tables = int(database.scalar("SELECT count(*) FROM information_schema.tables "
                                     "WHERE table_schema = 'inbound'"))
        if tables == 0 or files:
            raise BenchmarkError("the ledger under %s is not in PostgreSQL: %d tables in the "
                                 "schema inbound of %s, SQLite files %s" % (
                                     root, tables, database.name, files))
    elif not files:
        raise BenchmarkError("no SQLite ledger under %s" % root)
