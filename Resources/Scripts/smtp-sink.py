#!/usr/bin/python3
"""A real SMTP server that keeps every message it receives in a folder.

Used by the demonstration and by the integration tests in place of the hospital's mail relay.
It runs on Debian's python3-aiosmtpd (call it with /usr/bin/python3):

    smtp-sink.py --host 127.0.0.1 --port 2525 --dir /tmp/mail
    smtp-sink.py --port 2525 --dir /tmp/mail --tls-cert c.pem --tls-key k.pem --auth user:secret
    smtp-sink.py --port 2465 --dir /tmp/mail --tls-cert c.pem --tls-key k.pem --implicit-tls

Each message becomes two files, numbered in the order of arrival: "<seq>.json" with
{"mail_from", "rcpt_tos", "received", "tls", "user"} is written first, then "<seq>.eml" (the
raw bytes of the message as received, after SMTP's dot-unstuffing) is renamed into place, so
whoever sees an .eml also sees its .json. Both are written to a temporary name and renamed.

--tls-cert/--tls-key offer STARTTLS with that certificate; with --implicit-tls the connection
is TLS from the first byte (SMTPS) instead. --auth USER:PASSWORD requires authentication
(PLAIN or LOGIN), over TLS only, before any MAIL FROM. --require-starttls refuses mail on a
connection that did not switch to TLS.

Prints one line "smtp-sink ready on HOST:PORT ..." once it listens; stops cleanly on SIGTERM
or SIGINT (exit code 0).
"""

import argparse
import asyncio
import datetime
import json
import logging
import os
import re
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

SEQUENCE = re.compile(r"^(\d+)\.(?:eml|json)$")


class FolderHandler:
    """Writes each message to the folder; numbers continue after what the folder holds."""

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        numbers = [int(m.group(1)) for m in map(SEQUENCE.match, os.listdir(folder)) if m]
        self.sequence = max(numbers, default=0)

    def _write(self, name, payload):
        temporary = os.path.join(self.folder, ".%s.tmp" % name)
        with open(temporary, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.rename(temporary, os.path.join(self.folder, name))

    async def handle_DATA(self, server, session, envelope):
        self.sequence += 1
        stem = "%06d" % self.sequence
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("ssl_object") is not None
        user = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            user = session.auth_data.login.decode("utf-8", "replace")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "received": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "tls": tls,
            "user": user,
            "peer": list(session.peer) if session.peer else None,
        }
        content = envelope.original_content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        self._write(stem + ".json", json.dumps(meta, indent=1).encode())
        self._write(stem + ".eml", content)
        print("smtp-sink: message %s from %s to %s (%d bytes%s)"
              % (stem, envelope.mail_from, ", ".join(envelope.rcpt_tos), len(content),
                 ", TLS" if tls else ""), flush=True)
        return "250 OK: queued as %s" % stem


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if mechanism not in ("PLAIN", "LOGIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login == self.user and auth_data.password == self.password
        print("smtp-sink: AUTH %s as %r: %s" % (mechanism, auth_data.login.decode("utf-8", "replace"),
                                                "accepted" if ok else "refused"), flush=True)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def parse_arguments(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2525, help="0: any free port (printed)")
    p.add_argument("--dir", required=True, help="folder receiving <seq>.eml and <seq>.json")
    p.add_argument("--tls-cert", help="PEM certificate (chain) offered with STARTTLS or SMTPS")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--implicit-tls", action="store_true", help="SMTPS: TLS from the first byte")
    p.add_argument("--require-starttls", action="store_true",
                   help="refuse mail on a connection without STARTTLS")
    p.add_argument("--auth", metavar="USER:PASSWORD",
                   help="require AUTH PLAIN or LOGIN (over TLS) with these credentials")
    p.add_argument("--hostname", default="smtp-sink.test", help="name in the greeting")
    p.add_argument("--max-size", type=int, default=64 * 1024 * 1024, help="largest message")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.implicit_tls and not args.tls_cert:
        p.error("--implicit-tls needs --tls-cert and --tls-key")
    if args.require_starttls and (not args.tls_cert or args.implicit_tls):
        p.error("--require-starttls needs --tls-cert (and no --implicit-tls)")
    if args.auth is not None:
        if ":" not in args.auth:
            p.error("--auth wants USER:PASSWORD")
        if not args.tls_cert:
            p.error("--auth needs TLS (--tls-cert, --tls-key): credentials never travel in clear")
    return args


async def serve(args):
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    handler = FolderHandler(os.path.abspath(args.dir))
    kwargs = dict(hostname=args.hostname, data_size_limit=args.max_size,
                  ident="smtp-sink (aiosmtpd)")
    if context is not None and not args.implicit_tls:
        kwargs.update(tls_context=context, require_starttls=args.require_starttls)
    if args.auth is not None:
        user, _, password = args.auth.partition(":")
        # With SMTPS the connection is TLS already: aiosmtpd only knows STARTTLS as "TLS".
        kwargs.update(authenticator=Authenticator(user, password), auth_required=True,
                      auth_require_tls=not args.implicit_tls)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, loop=loop, **kwargs), host=args.host, port=args.port,
        ssl=context if args.implicit_tls else None, reuse_address=True)
    port = server.sockets[0].getsockname()[1]

    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)

    mode = "SMTPS (implicit TLS)" if args.implicit_tls else (
        "STARTTLS offered" if context else "plain SMTP")
    print("smtp-sink ready on %s:%d, %s%s, messages in %s" % (
        args.host, port, mode, ", AUTH required" if args.auth else "", handler.folder),
        flush=True)
    await stopped.wait()
    server.close()
    await server.wait_closed()
    print("smtp-sink stopped", flush=True)


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    # aiosmtpd warns when AUTH is required without STARTTLS (our SMTPS case) and logs each
    # session at INFO: only warnings of substance go to stderr.
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING, format="smtp-sink %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
