"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.ports import free_port


class Recorder:
    def __init__(self):
        self.envelopes = []
        self.logins = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class SMTPServer:
    """aiosmtpd on 127.0.0.1; with ``credentials`` it requires AUTH LOGIN/PLAIN."""

    def __init__(self, credentials: tuple[str, str] | None = None):
        self.recorder = Recorder()
        self.port = free_port()
        self.credentials = credentials
        options = {}
        if credentials:
            options = {"authenticator": self.authenticate, "auth_required": True, "auth_require_tls": False}
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **options)

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        given = (auth_data.login.decode(), auth_data.password.decode())
        self.recorder.logins.append(given[0])
        return AuthResult(success=given == self.credentials)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    @property
    def config(self) -> dict:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port, "MAIL_TIMEOUT": 5}

    @property
    def messages(self) -> list[EmailMessage]:
        with self.recorder.lock:
            return [message_from_bytes(e.original_content, policy=policy.default) for e in self.recorder.envelopes]

    @property
    def recipients(self) -> list[list[str]]:
        with self.recorder.lock:
            return [list(e.rcpt_tos) for e in self.recorder.envelopes]
