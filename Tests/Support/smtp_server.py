"""A real SMTP server for the tests (aiosmtpd), writing each message it accepts to a folder.

    smtp_server.py --port 0 --maildir DIR [--auth USER:PASS] [--tls-cert C --tls-key K]
                   [--implicit-tls]

Prints "READY <port>" on stdout once it listens. Each message is saved as DIR/<n>.eml, with
the envelope in DIR/<n>.json ({"from", "to", "auth"}). With --auth, AUTH PLAIN/LOGIN is
required; with --tls-cert/--tls-key, STARTTLS is offered (and required when --auth is set, as
aiosmtpd does), or with --implicit-tls the whole connection is TLS (SMTPS).
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, maildir):
        self.maildir = maildir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.maildir, str(self.count))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "auth": session.auth_data.login.decode() if session.auth_data else None,
                },
                f,
            )
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 Message accepted for delivery"


def main():
    # A parent may hand us a blocked signal mask (threads of a Swift test runner do): unblock,
    # so that SIGTERM stops us.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--auth")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.maildir, exist_ok=True)

    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)

    credentials = None
    if args.auth:
        user, password = args.auth.split(":", 1)
        credentials = (user.encode(), password.encode())

    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == credentials:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    handler = Sink(args.maildir)

    def factory():
        return SMTP(
            handler,
            hostname="gatehouse-test-smtp",
            tls_context=None if args.implicit_tls else tls,
            require_starttls=bool(tls) and not args.implicit_tls,
            authenticator=authenticator if credentials else None,
            auth_required=bool(credentials),
            auth_require_tls=bool(tls),
        )

    loop = asyncio.new_event_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    server = loop.run_until_complete(
        loop.create_server(factory, sock=sock, ssl=tls if args.implicit_tls else None)
    )
    print("READY", sock.getsockname()[1], flush=True)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
