"""A real PostgreSQL server for the tests (Debian's postgresql), and the settings of Debian's
orthanc-postgresql plugins that make Orthanc keep its index (and optionally its files) in it.

The server runs as the "postgres" user (PostgreSQL refuses root) in a temporary directory of
its own: its cluster, its log and its Unix socket. It listens on 127.0.0.1 on a free port;
over TCP only password logins are accepted (scram-sha-256), the superuser has no password and
comes in through the private socket only. It is stopped with "pg_ctl stop -m fast", and by
its pid if that fails.
"""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import harness

# Debian's orthanc-postgresql (version 4.0 on Debian 12).
PLUGIN_DIRECTORY = "/usr/share/orthanc/plugins"
INDEX_PLUGIN = os.path.join(PLUGIN_DIRECTORY, "libOrthancPostgreSQLIndex.so")
STORAGE_PLUGIN = os.path.join(PLUGIN_DIRECTORY, "libOrthancPostgreSQLStorage.so")
OS_USER = "postgres"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"  # util-linux

# Orthanc's resource types in its database schema.
PATIENT, STUDY, SERIES, INSTANCE = 0, 1, 2, 3


def binaries():
    """The bin folder of the newest PostgreSQL server installed (/usr/lib/postgresql/15/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def missing_packages():
    """What is not installed, as an explanation naming the Debian packages (empty: all there)."""
    problems = []
    for plugin in (INDEX_PLUGIN, STORAGE_PLUGIN):
        if not os.path.isfile(plugin):
            problems.append("%s is missing: install the Debian package orthanc-postgresql "
                            "(apt-get install orthanc-postgresql)" % plugin)
    if binaries() is None:
        problems.append("no PostgreSQL server in /usr/lib/postgresql/*/bin: install the Debian "
                        "package postgresql (apt-get install postgresql)")
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        problems.append("there is no \"%s\" user: install the Debian package postgresql" % OS_USER)
    return problems


def orthanc_settings(database, storage=False):
    """The "PostgreSQL" section of Orthanc's configuration for "database" (a Database), with
    the plugins it needs: the index always, the storage area too when "storage"."""
    section = {
        "EnableIndex": True,
        "EnableStorage": bool(storage),
        "Host": "127.0.0.1",
        "Port": database.server.port,
        "Database": database.name,
        "Username": database.user,
        "Password": database.password,
        "Lock": True,
        "EnableSsl": False,
        "MaximumConnectionRetries": 10,
        "ConnectionRetryInterval": 1,
    }
    plugins = [INDEX_PLUGIN] + ([STORAGE_PLUGIN] if storage else [])
    return section, plugins


class Database:
    """One database and its owner, who logs in with a password over TCP."""

    def __init__(self, server, name, user, password):
        self.server = server
        self.name = name
        self.user = user
        self.password = password

    def query(self, sql):
        """Rows of a query run with psql as the database's owner, over TCP with its password:
        a list of tuples of strings."""
        return self.server.psql(sql, database=self.name, user=self.user, password=self.password)

    def scalar(self, sql):
        rows = self.query(sql)
        assert len(rows) == 1 and len(rows[0]) == 1, (sql, rows)
        return rows[0][0]


class PostgreSQL:
    def __init__(self, startup_timeout=30):
        self.bin = binaries()
        self.startup_timeout = startup_timeout
        self.workdir = tempfile.mkdtemp(prefix="inbound-pg-")
        self.data = os.path.join(self.workdir, "data")
        self.log_path = os.path.join(self.workdir, "postgresql.log")
        self.port = None
        self.pid = None
        user = pwd.getpwnam(OS_USER)
        os.chown(self.workdir, user.pw_uid, user.pw_gid)

    # ---------------------------------------------------------------- lifecycle

    def _run(self, *command, check=True, timeout=60, env=None):
        """Runs a PostgreSQL program as the postgres user (runuser), in the working directory."""
        result = subprocess.run([RUNUSER, "-u", OS_USER, "--"] + list(command),
                                cwd=self.workdir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                timeout=timeout, env=env)
        if check and result.returncode != 0:
            raise RuntimeError("%s exited with code %d:\n%s\n%s" % (
                " ".join(command), result.returncode,
                result.stdout.decode("utf-8", "replace"), self.log_tail()))
        return result

    def start(self):
        if not os.path.isdir(self.data):
            # fsync only matters when the machine itself dies; these tests kill Orthanc, not
            # PostgreSQL, and a committed transaction is visible to the next connection anyway.
            self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres",
                      "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
            with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
                f.write("# written by IntegrationTests/postgres.py\n"
                        "local all postgres trust\n"
                        "host  all all 127.0.0.1/32 scram-sha-256\n")
        for attempt in range(3):
            if self.port is None:
                self.port = harness.free_port()
            options = ("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off "
                       "-c full_page_writes=off -c max_connections=50"
                       % (self.port, self.workdir))
            result = self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data,
                               "-l", self.log_path, "-w", "-t", str(self.startup_timeout),
                               "-o", options, "start", check=False,
                               timeout=self.startup_timeout + 10)
            if result.returncode == 0:
                self.pid = self._postmaster_pid()
                return self
            if attempt < 2 and "already in use" in self.log_tail():
                self.port = None  # the free port was taken meanwhile: try another
                continue
            raise RuntimeError("PostgreSQL did not start:\n%s\n%s" % (
                result.stdout.decode("utf-8", "replace"), self.log_tail()))

    def _postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline().strip())

    def running(self):
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self):
        """pg_ctl stop -m fast; the postmaster is killed by its pid if that does not work."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast", "-w",
                      "-t", "20", "stop", check=False, timeout=30)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        try:
            os.kill(pid, signal.SIGKILL)   # its backends follow once they see it gone
        except ProcessLookupError:
            pass

    def cleanup(self):
        try:
            self.stop()
        finally:
            if not os.environ.get("INBOUND_KEEP_TMP"):
                shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines=100):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no PostgreSQL log at %s)" % self.log_path
        tail = text.splitlines()[-lines:]
        return "----- PostgreSQL log %s (last %d lines) -----\n%s" % (
            self.log_path, len(tail), "\n".join(tail))

    # ---------------------------------------------------------------- SQL

    def psql(self, sql, database="postgres", user=None, password=None):
        """Rows of "sql" (tuples of strings). Without a user: as the superuser through the
        private Unix socket; with one: over TCP on 127.0.0.1 with its password."""
        command = [os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-F", "\t",
                   "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}
        if user is None:
            command += ["-h", self.workdir, "-p", str(self.port), "-U", "postgres"]
            result = self._run(*command, check=False, env=env)
        else:
            command += ["-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-w"]
            env["PGPASSWORD"] = password
            result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, timeout=60, env=env)
        output = result.stdout.decode("utf-8", "replace")
        if result.returncode != 0:
            raise AssertionError("psql %r as %s failed (%d): %s" % (
                sql, user or "postgres", result.returncode, output))
        return [tuple(line.split("\t")) for line in output.splitlines() if line]

    def create_database(self, name, user, password):
        """A database owned by a new user who logs in with "password"."""
        for sql in ("CREATE ROLE %s LOGIN PASSWORD '%s'" % (user, password.replace("'", "''")),
                    "CREATE DATABASE %s OWNER %s ENCODING 'UTF8'" % (name, user)):
            self.psql(sql)
        return Database(self, name, user, password)


class LedgerDatabases:
    """The plugin's ledgers in PostgreSQL for harness.LEDGER = "postgresql" ("the same tests
    against both ledgers"): one server for the test session, started at the first use and
    stopped at its end, and a database (and owner) per Orthanc server."""

    _server = None
    _count = 0

    @classmethod
    def create(cls):
        if cls._server is None:
            problems = missing_packages()
            if problems:
                raise harness.ServerError("the PostgreSQL ledger needs PostgreSQL:\n  "
                                          + "\n  ".join(problems))
            server = PostgreSQL()
            try:
                server.start()
            except BaseException:
                server.cleanup()
                raise
            import atexit
            atexit.register(server.cleanup)
            cls._server = server
        cls._count += 1
        name = "ledger_%d_%d" % (os.getpid(), cls._count)
        return cls._server.create_database(name, name, "a-password-for-" + name)

    @staticmethod
    def settings(database):
        """Orthanc's "PostgreSQL" section naming the database, read by the plugin alone: no
        orthanc-postgresql plugin is loaded, Orthanc's own index stays in SQLite."""
        section, _ = orthanc_settings(database)
        section.update({"EnableIndex": False, "EnableStorage": False, "Lock": False})
        return section
