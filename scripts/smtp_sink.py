"""smtp_sink.py: the local stack's SMTP sink: aiosmtpd's Maildir handler
(every accepted mail lands in MAILDIR/new) that also answers like a real
server refusing a recipient, so the tests can see how the notifier takes it:
an address containing "reject550" is refused for good (550), one containing
"tempfail451" is refused for now (451) the first time and accepted after.
Run by scripts/stack.sh as `python3 -m aiosmtpd -c smtp_sink.Sink MAILDIR`
with this folder on PYTHONPATH. No TLS, no AUTH."""
from aiosmtpd.handlers import Mailbox


class Sink(Mailbox):
    def __init__(self, mail_dir):
        super().__init__(mail_dir)
        self.deferred = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        a = address.lower()
        if "reject550" in a:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if "tempfail451" in a and a not in self.deferred:
            self.deferred.add(a)
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
