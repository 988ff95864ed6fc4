"""Python's standard mail clients against `mailsim serve`: submit, relay refusal, IMAP, POP3.

Run by tests/it/live.rs with the ports file as its argument; prints OK at the end.
"""
import json
import imaplib
import poplib
import smtplib
import sys
import time
from email.message import EmailMessage

ports = json.load(open(sys.argv[1]))
HOST = "127.0.0.1"

# Alice submits with AUTH on the submission port (RFC 6409).
msg = EmailMessage()
msg["From"] = "alice@alpha.example"
msg["To"] = "bob@beta.example"
msg["Subject"] = "Sent by smtplib"
msg.set_content("Hello Bob, from a real client.\n.a line that starts with a dot\n")
with smtplib.SMTP(HOST, ports["submission"]) as s:
    s.ehlo("laptop")
    assert s.has_extn("auth"), "submission offers AUTH"
    s.login("alice@alpha.example", "wonderland")
    refused = s.send_message(msg)
    assert refused == {}, refused

# Without AUTH, the MX port takes mail for its own domain but relays for no one: 550 5.7.1
# (RFC 5321 section 3.6.2).
with smtplib.SMTP(HOST, ports["smtp"]) as s:
    s.ehlo("stranger.example")
    code, _ = s.mail("eve@stranger.example")
    assert code == 250
    code, text = s.rcpt("someone@elsewhere.example")
    assert code == 550 and b"5.7.1" in text, (code, text)
    code, _ = s.rcpt("bob@beta.example")
    assert code == 250, code

# A wrong password gets 535 and no relaying.
with smtplib.SMTP(HOST, ports["submission"]) as s:
    try:
        s.login("alice@alpha.example", "wrong")
        raise AssertionError("a wrong password was accepted")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535

# Bob's IMAP client waits for the message to travel through the simulated network.
deadline = time.time() + 30
while True:
    im = imaplib.IMAP4(HOST, ports["imap"])
    im.login("bob@beta.example", "builder")
    typ, data = im.select("INBOX")
    typ, found = im.search(None, "SUBJECT", '"Sent by smtplib"')
    if found[0]:
        break
    im.logout()
    assert time.time() < deadline, "the message never reached Bob's mailbox"
    time.sleep(0.2)
num = found[0].split()[-1]
# A fresh start numbers UIDs from 1 again, so its UIDVALIDITY is new too (RFC 3501 2.3.1.1).
validity = int(im.untagged_responses["UIDVALIDITY"][-1])
assert validity > 1_600_000_000, validity
# Mail programs list a folder by a few header fields (BODY.PEEK[HEADER.FIELDS (...)]).
typ, listed = im.fetch(num, "(UID BODY.PEEK[HEADER.FIELDS (From Subject)])")
assert typ == "OK" and b"Subject: Sent by smtplib" in listed[0][1], listed
typ, parts = im.fetch(num, "(BODY[])")
body = parts[0][1].decode()
assert "Received: from laptop" in body, body
assert "\r\n.a line that starts with a dot\r\n" in body, "dot-stuffing undone"
assert "Return-Path: <alice@alpha.example>" in body
# A mail program keeps a copy of what it sent: CREATE, then APPEND with a literal, which the
# server invites with "+" (RFC 3501 sections 6.3.3, 6.3.11 and 7.5).
typ, _ = im.append("Sent", "\\Seen", None, b"Subject: my copy\r\n\r\nkept\r\n")
assert typ == "NO", "APPEND to a folder that does not exist"
assert im.create("Sent")[0] == "OK"
when = imaplib.Time2Internaldate(time.time())
assert im.append("Sent", "\\Seen", when, b"Subject: my copy\r\n\r\nkept\r\n")[0] == "OK"
typ, data = im.select("Sent")
assert data == [b"1"], data
typ, parts = im.fetch("1", "(FLAGS BODY[])")
assert b"\\Seen" in parts[0][0] and b"kept" in parts[0][1], parts
im.logout()

# POP3 sees the same mailbox; with IMAP's flags it is still there (nothing deleted).
p = poplib.POP3(HOST, ports["pop3"])
p.user("bob")
p.pass_("builder")
count, size = p.stat()
assert count >= 1, count
resp, lines, octets = p.retr(count)
assert any(b"Sent by smtplib" in l for l in lines)
p.quit()
print("OK")
