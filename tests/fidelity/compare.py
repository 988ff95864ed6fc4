#!/usr/bin/env python3
"""Fidelity: the same client dialogues against `mailsim serve` and against real servers.

Starts `mailsim serve tests/fidelity/fidelity.ron` on free loopback ports, runs every dialogue
against it and against the real servers that tests/fidelity/real-servers.sh started (Postfix,
Dovecot, dnsmasq), and compares what matters for a client, not the vendors' text:

- SMTP: the reply code of every step, and the enhanced status code (RFC 3463) where both
  servers give one;
- POP3: +OK or -ERR (and the message count of STAT);
- IMAP: the tagged OK/NO/BAD and the kinds of untagged responses before it (FLAGS, EXISTS,
  OK[UIDVALIDITY]...);
- DNS: the rcode and the answer records (name, type, data; not the TTL).

The dialogues: smtplib on the submission port (AUTH, relay refused without it) and on the MX
port (known and unknown users, relaying); raw SMTP lines for the error cases and for the error
limit; poplib and imaplib as a mail program uses them; raw POP3 and IMAP lines for the error
cases; hand-made DNS queries over UDP (MX, A, CNAME, NXDOMAIN, no data).

Prints a table of the differences. A difference listed in KNOWN-DIFFERENCES.md (its step and
both values, exactly) is deliberate; any other makes the exit status 1.

    tests/fidelity/compare.py [--mailsim target/debug/mailsim] [--all]

Standard library only.
"""
import argparse
import imaplib
import os
import poplib
import random
import re
import smtplib
import socket
import struct
import subprocess
import sys
import tempfile
import time
import json

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HOST = "127.0.0.1"
# The ports real-servers.sh listens on.
REAL = {"submission": 12587, "smtp": 12525, "pop3": 12110, "imap": 12143, "dns": 12053}
DOMAIN = "fidelity.example"
ALICE, ALICE_PW = "alice@" + DOMAIN, "wonderland"
BOB, BOB_PW = "bob@" + DOMAIN, "builder"
TIMEOUT = 5.0


class Dialogue:
    """The observations of one dialogue against one server, in order: (step, kind, value)."""

    def __init__(self, name):
        self.name = name
        self.steps = []

    def add(self, step, kind, value):
        self.steps.append((f"{self.name}: {step}", kind, value))


# ----------------------------------------------------------------------------------- SMTP

ENHANCED = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})(?:\s|$)")


def smtp_value(code, text):
    """'250 2.1.0' when the reply has an enhanced status code, else '250'."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    first = (text or "").splitlines()[0] if text else ""
    m = ENHANCED.match(first.strip())
    return f"{code} {m.group(1)}" if m else str(code)


class Lines:
    """A raw line connection."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")

    def send(self, line):
        self.sock.sendall(line.encode("latin-1") + b"\r\n")

    def readline(self):
        line = self.file.readline()
        if not line:
            raise EOFError("connection closed")
        return line.decode("latin-1").rstrip("\r\n")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def smtp_reply(conn):
    lines = []
    while True:
        line = conn.readline()
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            break
    code = lines[-1][:3]
    return smtp_value(code, lines[0][4:])


def guarded(fn):
    """The value of a step, or what went wrong with the connection."""
    try:
        return fn()
    except socket.timeout:
        return "(no reply)"
    except (EOFError, ConnectionError, smtplib.SMTPServerDisconnected):
        return "(closed)"
    except OSError:
        # An earlier step timed out: the connection cannot be read any more.
        return "(no reply)"


def send_data(s, body):
    """DATA with its message through smtplib; a refusal is a reply like any other."""
    try:
        return smtp_value(*s.data(body))
    except smtplib.SMTPDataError as e:
        return smtp_value(e.smtp_code, e.smtp_error)


def smtp_submission(ports):
    d = Dialogue("submission")
    s = smtplib.SMTP(timeout=TIMEOUT)
    code, msg = s.connect(HOST, ports["submission"])
    d.add("greeting", "smtp", smtp_value(code, msg))
    code, msg = s.ehlo("laptop.fidelity.example")
    d.add("EHLO", "smtp", smtp_value(code, msg))
    d.add("EHLO offers AUTH", "value", "yes" if s.has_extn("auth") else "no")
    # Without AUTH: no relaying for a stranger (RFC 6409 section 4.3, RFC 5321 section 3.6.2).
    d.add("MAIL before AUTH", "smtp", guarded(lambda: smtp_value(*s.mail(ALICE))))
    d.add("RCPT elsewhere before AUTH", "smtp",
          guarded(lambda: smtp_value(*s.rcpt("carol@elsewhere.example"))))
    d.add("RSET", "smtp", guarded(lambda: smtp_value(*s.rset())))

    def login(password):
        try:
            code, msg = s.login(ALICE, password)
            return smtp_value(code, msg)
        except smtplib.SMTPAuthenticationError as e:
            return smtp_value(e.smtp_code, e.smtp_error)

    d.add("AUTH wrong password", "smtp", guarded(lambda: login("wrong")))
    d.add("AUTH", "smtp", guarded(lambda: login(ALICE_PW)))
    d.add("MAIL after AUTH", "smtp", guarded(lambda: smtp_value(*s.mail(ALICE))))
    d.add("RCPT bob", "smtp", guarded(lambda: smtp_value(*s.rcpt(BOB))))

    body = f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: submitted\r\n\r\nHello Bob.\r\n"
    d.add("DATA", "smtp", guarded(lambda: send_data(s, body)))
    d.add("QUIT", "smtp", guarded(lambda: smtp_value(*s.docmd("QUIT"))))
    s.close()
    return d


def smtp_mx(ports):
    d = Dialogue("mx")
    s = smtplib.SMTP(timeout=TIMEOUT)
    code, msg = s.connect(HOST, ports["smtp"])
    d.add("greeting", "smtp", smtp_value(code, msg))
    code, msg = s.ehlo("mx.stranger.example")
    d.add("EHLO", "smtp", smtp_value(code, msg))
    d.add("EHLO offers AUTH", "value", "yes" if s.has_extn("auth") else "no")
    d.add("MAIL", "smtp", guarded(lambda: smtp_value(*s.mail("eve@stranger.example"))))
    d.add("RCPT elsewhere (relay)", "smtp",
          guarded(lambda: smtp_value(*s.rcpt("carol@elsewhere.example"))))
    d.add("RCPT known user", "smtp", guarded(lambda: smtp_value(*s.rcpt(BOB))))
    d.add("RCPT unknown user", "smtp",
          guarded(lambda: smtp_value(*s.rcpt("nobody@" + DOMAIN))))

    body = f"From: eve@stranger.example\r\nTo: {BOB}\r\nSubject: from afar\r\n\r\nHi.\r\n"
    d.add("DATA", "smtp", guarded(lambda: send_data(s, body)))
    d.add("QUIT", "smtp", guarded(lambda: smtp_value(*s.docmd("QUIT"))))
    s.close()
    return d


def smtp_raw(ports, name, lines):
    d = Dialogue(name)
    c = Lines(ports["smtp"])
    d.add("greeting", "smtp", guarded(lambda: smtp_reply(c)))
    for step, line in lines:
        def step_fn(line=line):
            c.send(line)
            return smtp_reply(c)

        d.add(step, "smtp", guarded(step_fn))
    c.close()
    return d


def smtp_errors(ports):
    """Raw lines for the error cases, on two connections: each stays under the error limit."""
    out = smtp_raw(ports, "smtp-raw", [
        ("garbage verb", "FROBNICATE now"),
        ("MAIL before EHLO", "MAIL FROM:<eve@stranger.example>"),
        ("EHLO", "EHLO client.stranger.example"),
        ("RCPT before MAIL", f"RCPT TO:<{BOB}>"),
        ("DATA before MAIL", "DATA"),
        ("MAIL unclosed <", "MAIL FROM:<eve@stranger.example"),
        ("MAIL without colon", "MAIL FROM eve@stranger.example"),
        ("MAIL without <>", "MAIL FROM:eve@stranger.example"),
        ("RSET", "RSET"),
        ("MAIL bad address", "MAIL FROM:<eve@@stranger.example>"),
        ("QUIT", "QUIT"),
    ]).steps
    out += smtp_raw(ports, "smtp-raw2", [
        ("EHLO", "EHLO client.stranger.example"),
        ("MAIL", "MAIL FROM:<eve@stranger.example>"),
        ("second MAIL", "MAIL FROM:<eve@stranger.example>"),
        ("DATA before RCPT", "DATA"),
        ("RCPT without colon", f"RCPT TO {BOB}"),
        ("RCPT bad address", f"RCPT TO:<bob@@{DOMAIN}>"),
        ("RCPT unclosed <", f"RCPT TO:<{BOB}"),
        ("NOOP", "NOOP"),
        ("RSET", "RSET"),
        ("VRFY known", f"VRFY {BOB}"),
        ("VRFY unknown", f"VRFY nobody@{DOMAIN}"),
        ("VRFY no argument", "VRFY"),
        ("HELP", "HELP"),
        ("QUIT", "QUIT"),
    ]).steps
    return out


def smtp_flood(ports):
    """Garbage until the server gives up: after how many errors, and with what."""
    d = Dialogue("smtp-flood")
    c = Lines(ports["smtp"])
    smtp_reply(c)
    c.send("EHLO client.stranger.example")
    smtp_reply(c)
    value = "no limit within 30 errors"
    for n in range(1, 31):
        try:
            c.send("FROBNICATE")
            r = smtp_reply(c)
        except (EOFError, OSError):
            value = f"(closed) at line {n}"
            break
        if r.startswith("421"):
            # A 421 sent right after the reply to an error is read here, one line later.
            value = f"{r} at line {n}"
            break
    d.add("garbage until closed", "value", value)
    c.close()
    return d


# ----------------------------------------------------------------------------------- POP3

MULTILINE = re.compile(r"^(LIST|UIDL|CAPA)$|^(RETR|TOP) ", re.I)


def pop3_step(c, line):
    c.send(line)
    status = c.readline()
    ok = status.startswith("+OK")
    if ok and MULTILINE.match(line):
        while c.readline() != ".":
            pass
    if not ok:
        return "-ERR" if status.startswith("-ERR") else f"?{status[:10]}"
    if line.upper() == "STAT":
        c.last_stat = status.split()[1:3]
    return "+OK"


def pop3(ports):
    d = Dialogue("pop3")
    c = Lines(ports["pop3"])
    stats = []  # (count, octets) after each STAT
    d.add("greeting", "pop3", guarded(lambda: "+OK" if c.readline().startswith("+OK") else "-ERR"))
    for step, line in [
        ("STAT before login", "STAT"),
        ("USER", "USER bob"),
        ("PASS wrong", "PASS wrong"),
        ("USER again", "USER bob"),
        ("PASS", "PASS " + BOB_PW),
        ("STAT", "STAT"),
        ("LIST", "LIST"),
        ("LIST missing", "LIST 99"),
        ("RETR missing", "RETR 99"),
        ("DELE 1", "DELE 1"),
        ("RETR deleted", "RETR 1"),
        ("DELE deleted", "DELE 1"),
        ("RSET", "RSET"),
        ("STAT after RSET", "STAT"),
        ("STAT after RSET as before DELE", None),
        ("UIDL", "UIDL"),
        ("UIDL 1", "UIDL 1"),
        ("TOP 1 0", "TOP 1 0"),
        ("TOP missing", "TOP 99 0"),
        ("garbage", "FROBNICATE"),
        ("NOOP", "NOOP"),
        ("QUIT", "QUIT"),
    ]:
        if line is None:
            d.add(step, "value", "yes" if stats[-2] == stats[-1] else f"no: {stats[-2:]}")
            continue
        d.add(step, "pop3", guarded(lambda line=line: pop3_step(c, line)))
        if line == "STAT":
            stats.append(getattr(c, "last_stat", None))
    c.close()
    return d


def mail_count(ports):
    p = poplib.POP3(HOST, ports["pop3"], timeout=TIMEOUT)
    p.user("bob")
    p.pass_(BOB_PW)
    n, _ = p.stat()
    p.quit()
    return n


def wait_for_mail(ports, count, deadline_s=30):
    """Polls Bob's mailbox until `count` messages are in (the dialogues above sent them)."""
    deadline = time.time() + deadline_s
    while True:
        try:
            p = poplib.POP3(HOST, ports["pop3"], timeout=TIMEOUT)
            p.user("bob")
            p.pass_(BOB_PW)
            n, _ = p.stat()
            p.quit()
            if n >= count:
                return
        except (poplib.error_proto, OSError):
            pass
        if time.time() > deadline:
            raise SystemExit(f"Bob's mailbox never got {count} messages on port {ports['pop3']}")
        time.sleep(0.2)


# ----------------------------------------------------------------------------------- IMAP

def imap_kind(line):
    """The kind of an untagged response: EXISTS, FLAGS, OK[UIDVALIDITY], SEARCH..."""
    words = line[2:].split(" ", 2)
    if words[0].isdigit() and len(words) > 1:
        return words[1].upper()
    kind = words[0].upper()
    m = re.match(r"\* \w+ \[([A-Z0-9.-]+)", line, re.I)
    if kind in ("OK", "NO", "BAD", "BYE", "PREAUTH") and m:
        return f"{kind}[{m.group(1).upper()}]"
    return kind


def imap_read(c, tag):
    """Reads to the tagged reply of `tag` (or a lone untagged BAD): 'OK EXISTS,FLAGS,...'."""
    kinds = []
    while True:
        try:
            line = c.readline()
        except EOFError:
            return "(closed) " + ",".join(kinds) if kinds else "(closed)"
        # A literal: its octets, then the rest of the response on the next line.
        while re.search(r"\{\d+\}$", line):
            n = int(re.search(r"\{(\d+)\}$", line).group(1))
            c.file.read(n)
            line = c.readline()
        if line.startswith(tag + " "):
            status = line[len(tag) + 1:].split(" ", 1)[0].upper()
            return status + " " + ",".join(sorted(set(kinds))) if kinds else status
        if line.startswith("* BAD") and tag in ("*", "garbage"):
            return "* BAD"
        if line.startswith("* "):
            kinds.append(imap_kind(line))
        elif line.startswith("+"):
            return "+ (continuation)"


def poplib_client(ports):
    """Python's poplib, the way a mail program reads a mailbox without deleting."""
    d = Dialogue("poplib")

    def call(fn):
        try:
            resp = fn()
            if isinstance(resp, tuple):
                resp = resp[0]
            return "+OK" if resp is None or resp.startswith(b"+OK") else "?"
        except poplib.error_proto:
            return "-ERR"

    p = poplib.POP3(HOST, ports["pop3"], timeout=TIMEOUT)
    d.add("greeting", "pop3", "+OK" if p.getwelcome().startswith(b"+OK") else "-ERR")
    d.add("capa", "value", "ok" if isinstance(p.capa(), dict) else "?")
    d.add("user", "pop3", call(lambda: p.user("bob")))
    d.add("pass_", "pop3", call(lambda: p.pass_(BOB_PW)))
    d.add("stat", "value", "ok" if p.stat()[0] >= 2 else "fewer than 2")
    d.add("list", "pop3", call(p.list))
    d.add("uidl", "pop3", call(p.uidl))
    d.add("retr 1", "pop3", call(lambda: p.retr(1)))
    d.add("top 1 0", "pop3", call(lambda: p.top(1, 0)))
    d.add("retr 99", "pop3", call(lambda: p.retr(99)))
    d.add("quit", "pop3", call(p.quit))
    return d


def imaplib_client(ports):
    """Python's imaplib: its status words (OK, NO) or the exception it raises on BAD."""
    d = Dialogue("imaplib")

    def call(fn):
        try:
            return fn()[0]
        except imaplib.IMAP4.error as e:
            return "error (BAD or NO): " + type(e).__name__

    im = imaplib.IMAP4(HOST, ports["imap"], timeout=TIMEOUT)
    d.add("login wrong password", "imap", call(lambda: im.login("bob", "wrong")))
    d.add("login", "imap", call(lambda: im.login(BOB, BOB_PW)))
    d.add("list", "imap", call(im.list))
    d.add("select missing", "imap", call(lambda: im.select("Nope")))
    d.add("select INBOX", "imap", call(lambda: im.select("INBOX")))
    d.add("search ALL", "imap", call(lambda: im.search(None, "ALL")))
    d.add("fetch 1 header", "imap", call(lambda: im.fetch("1", "(BODY.PEEK[HEADER])")))
    d.add("uid fetch 1:* flags", "imap", call(lambda: im.uid("FETCH", "1:*", "(FLAGS)")))

    def seen():
        typ, data = im.fetch("1", "(FLAGS)")
        return "yes" if b"\\Seen" in data[0] else "no"

    # poplib's RETR 1 above: does the POP3 server mark the message read for IMAP?
    d.add("message 1 \\Seen after POP3 RETR", "value", guarded(seen))
    d.add("close", "imap", call(im.close))
    d.add("logout", "imap", call(im.logout))
    return d


def imap_prelogin(ports):
    """Bad commands before LOGIN, more than a careful server lets pass."""
    d = Dialogue("imap-prelogin")
    c = Lines(ports["imap"])
    c.readline()
    for n in range(1, 6):
        def step_fn(n=n):
            c.send(f"b{n} FROBNICATE")
            return imap_read(c, f"b{n}")

        d.add(f"bad command {n}", "imap", guarded(step_fn))
    c.close()
    return d


def imap(ports):
    d = Dialogue("imap")
    c = Lines(ports["imap"])

    def greeting():
        line = c.readline()
        return line.split(" ")[1].upper()

    d.add("greeting", "imap", guarded(greeting))
    steps = [
        ("SELECT before LOGIN", "a1", "SELECT INBOX"),
        ("FETCH before LOGIN", "a2", "FETCH 1 (FLAGS)"),
        ("CAPABILITY", "a3", "CAPABILITY"),
        ("LOGIN wrong password", "a5", "LOGIN bob wrong"),
        ("LOGIN", "a6", f"LOGIN bob {BOB_PW}"),
        ("garbage command", "a4", "FROBNICATE"),
        ("tag without command", "garbage", ""),
        ("* as tag", "*", "NOOP"),
        ("SELECT missing mailbox", "a7", "SELECT Nope"),
        ("SELECT INBOX", "a8", "SELECT INBOX"),
        ("FETCH missing message", "a9", "FETCH 99 (FLAGS)"),
        ("UID FETCH missing UID", "a10", "UID FETCH 999 (FLAGS)"),
        ("UID SEARCH ALL", "a11", "UID SEARCH ALL"),
        ("STORE +FLAGS \\Flagged", "a12", "STORE 1 +FLAGS (\\Flagged)"),
        ("STORE +FLAGS \\Seen, already set", "a18", "STORE 1 +FLAGS (\\Seen)"),
        ("STORE missing message", "a13", "STORE 99 +FLAGS (\\Flagged)"),
        ("STORE +FLAGS.SILENT \\Deleted", "a14", "STORE 1 +FLAGS.SILENT (\\Deleted)"),
        ("EXPUNGE", "a15", "EXPUNGE"),
        ("NOOP", "a16", "NOOP"),
        ("LOGOUT", "a17", "LOGOUT"),
    ]
    for step, tag, command in steps:
        def step_fn(tag=tag, command=command):
            c.send(f"{tag} {command}".rstrip())
            return imap_read(c, tag)

        d.add(step, "imap", guarded(step_fn))
    c.close()
    return d


# ------------------------------------------------------------------------------------ DNS

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def dns_name(msg, off):
    labels = []
    jumped = False
    end = off
    for _ in range(128):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            ptr = struct.unpack(">H", msg[off:off + 2])[0] & 0x3FFF
            if not jumped:
                end = off + 2
            jumped = True
            off = ptr
            continue
        if n == 0:
            if not jumped:
                end = off + 1
            break
        labels.append(msg[off + 1:off + 1 + n].decode("latin-1").lower())
        off += 1 + n
    return ".".join(labels), end


def dns_query(port, name, qtype):
    """A hand-made RFC 1035 query over UDP: 'NOERROR mx.fidelity.example A 192.0.2.25; ...'."""
    qid = random.randrange(65536)
    question = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack(
        ">HH", TYPES[qtype], 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(TIMEOUT)
    try:
        sock.sendto(query, (HOST, port))
        msg, _ = sock.recvfrom(4096)
    except socket.timeout:
        return "(no reply)"
    finally:
        sock.close()
    rid, flags, qd, an, _ns, _ar = struct.unpack(">HHHHHH", msg[:12])
    if rid != qid:
        return "(wrong id)"
    off = 12
    for _ in range(qd):
        _, off = dns_name(msg, off)
        off += 4
    answers = []
    for _ in range(an):
        owner, off = dns_name(msg, off)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        if rtype == 1:
            data = socket.inet_ntoa(rdata)
        elif rtype == 15:
            data = f"{struct.unpack('>H', rdata[:2])[0]} {dns_name(msg, off + 2)[0]}"
        elif rtype in (2, 5):
            data = dns_name(msg, off)[0]
        else:
            data = rdata.hex()
        off += rdlen
        answers.append(f"{owner} {TYPE_NAMES.get(rtype, rtype)} {data}")
    rcode = RCODES.get(flags & 0xF, str(flags & 0xF))
    return " ".join([rcode] + (["; ".join(answers)] if answers else []))


def dns(ports):
    d = Dialogue("dns")
    for qtype, name in [
        ("MX", DOMAIN),
        ("A", "mx." + DOMAIN),
        ("A", "ns." + DOMAIN),
        ("CNAME", "mail." + DOMAIN),
        ("A", "mail." + DOMAIN),
        ("MX", "mail." + DOMAIN),
        ("A", "nosuch." + DOMAIN),
        ("MX", "nosuch." + DOMAIN),
        ("AAAA", "mx." + DOMAIN),
        ("MX", "mx." + DOMAIN),
    ]:
        d.add(f"{qtype} {name}", "dns", dns_query(ports["dns"], name, qtype))
    return d


# ------------------------------------------------------------------------------ comparing

def run_all(ports):
    before = mail_count(ports)
    out = []
    out += smtp_submission(ports).steps
    out += smtp_mx(ports).steps
    out += smtp_errors(ports)
    out += smtp_flood(ports).steps
    wait_for_mail(ports, before + 2)
    out += poplib_client(ports).steps
    out += pop3(ports).steps
    out += imap_prelogin(ports).steps
    out += imaplib_client(ports).steps
    out += imap(ports).steps
    out += dns(ports).steps
    return out


def same(kind, a, b):
    if kind == "smtp" and a[:3] == b[:3] and a[:3].isdigit():
        ea, eb = a[4:], b[4:]
        return not ea or not eb or ea == eb
    return a == b


def known_differences(path):
    """Rows of the table in KNOWN-DIFFERENCES.md: | `step` | `mailsim` | `real` | why | RFC |."""
    known = {}
    row = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*`([^`]*)`\s*\|\s*`([^`]*)`\s*\|")
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = row.match(line)
            if m:
                known[m.group(1)] = (m.group(2), m.group(3))
    return known


def start_mailsim(binary, tmp):
    ports_file = os.path.join(tmp, "ports.json")
    args = [binary, "serve", os.path.join(HERE, "fidelity.ron"), "--format", "quiet",
            "--speed", "600", "--ports-file", ports_file]
    for flag in ("--submission-port", "--smtp-port", "--pop3-port", "--imap-port", "--dns-port"):
        args += [flag, "0"]
    log = open(os.path.join(tmp, "mailsim.log"), "wb")
    child = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.time() + 20
    while True:
        try:
            with open(ports_file) as f:
                return child, json.load(f)
        except (OSError, ValueError):
            pass
        if child.poll() is not None or time.time() > deadline:
            child.kill()
            raise SystemExit("mailsim serve did not start:\n" + open(log.name).read())
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mailsim", default=os.environ.get(
        "MAILSIM_BIN", os.path.join(ROOT, "target", "debug", "mailsim")))
    ap.add_argument("--known", default=os.path.join(HERE, "KNOWN-DIFFERENCES.md"))
    ap.add_argument("--all", action="store_true", help="print every step, not only differences")
    args = ap.parse_args()

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="mailsim-fidelity-") as tmp:
        child, ports = start_mailsim(args.mailsim, tmp)
        try:
            ours = run_all(ports)
        finally:
            child.terminate()
            child.wait(timeout=10)
    theirs = run_all(REAL)
    known = known_differences(args.known)

    if [s for s, _, _ in ours] != [s for s, _, _ in theirs]:
        raise SystemExit("the dialogues took different steps (a bug in compare.py)")
    rows, unknown, seen = [], 0, set()
    for (step, kind, a), (_, _, b) in zip(ours, theirs):
        if same(kind, a, b):
            status = "same"
        elif known.get(step) == (a, b):
            status = "known"
            seen.add(step)
        else:
            status = "DIFF"
            unknown += 1
        if status != "same" or args.all:
            rows.append((status, step, a, b))

    w1 = max([len(r[1]) for r in rows] + [4])
    w2 = max([len(r[2]) for r in rows] + [7])
    print(f"{'':5}  {'step':{w1}}  {'mailsim':{w2}}  real servers")
    for status, step, a, b in rows:
        print(f"{status:5}  {step:{w1}}  {a:{w2}}  {b}")
    stale = sorted(set(known) - seen)
    for step in stale:
        print(f"note: KNOWN-DIFFERENCES.md lists `{step}` {known[step]}, which did not occur as listed")
    differ = sum(1 for r in rows if r[0] != "same")
    print(f"{len(ours)} steps compared in {time.time() - started:.1f}s: {differ} differ, "
          f"{differ - unknown} of them listed in KNOWN-DIFFERENCES.md, {unknown} not listed")
    sys.exit(1 if unknown else 0)


if __name__ == "__main__":
    main()
