#!/usr/bin/env bash
# Real reference servers on loopback for tests/fidelity/compare.py, from Debian's packages,
# without systemd: Postfix (MX 12525, submission 12587 with SASL through Dovecot), Dovecot
# (IMAP 12143, POP3 12110) and dnsmasq (DNS 12053), all configured inside DIR and mirroring
# tests/fidelity/fidelity.ron (domain fidelity.example, users alice and bob).
#
#   tests/fidelity/real-servers.sh start DIR   # as root; DIR is created if missing
#   tests/fidelity/real-servers.sh stop DIR
#
# Needs: postfix dovecot-imapd dovecot-pop3d dnsmasq (see .ci/run).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [[ -z "$cmd" || -z "$dir" ]]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi

DOMAIN=fidelity.example
MX_PORT=12525
SUBMISSION_PORT=12587
IMAP_PORT=12143
POP3_PORT=12110
DNS_PORT=12053
# The virtual mailboxes belong to nobody: Postfix's virtual(8) writes them, Dovecot reads them.
VUID=$(id -u nobody)
VGID=$(id -g nobody)

stop() {
  [[ -d "$dir" ]] || return 0
  if [[ -f "$dir/postfix/main.cf" ]]; then
    postfix -c "$dir/postfix" stop </dev/null >/dev/null 2>&1 || true
  fi
  if [[ -f "$dir/dovecot.conf" ]]; then
    doveadm -c "$dir/dovecot.conf" stop </dev/null >/dev/null 2>&1 || true
  fi
  if [[ -f "$dir/dnsmasq.pid" ]]; then
    kill "$(cat "$dir/dnsmasq.pid")" 2>/dev/null || true
    rm -f "$dir/dnsmasq.pid"
  fi
  # Wait until the ports are free again, so that a new start can bind them.
  for _ in $(seq 50); do
    if ! (ss -ltnu 2>/dev/null || true) | grep -qE "127\.0\.0\.1:(${MX_PORT}|${SUBMISSION_PORT}|${IMAP_PORT}|${POP3_PORT}|${DNS_PORT})\b"; then
      break
    fi
    sleep 0.1
  done
}

start() {
  for tool in postfix dovecot dnsmasq; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is not installed" >&2; exit 3; }
  done
  [[ "$(id -u)" -eq 0 ]] || { echo "$0: must run as root (Postfix and Dovecot drop privileges)" >&2; exit 3; }
  stop
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod 755 "$dir"
  mkdir -p "$dir/postfix" "$dir/spool" "$dir/data" "$dir/mail/$DOMAIN" "$dir/dovecot-run" "$dir/dovecot-state"
  chown postfix "$dir/data"
  chown -R "$VUID:$VGID" "$dir/mail"

  # --- Dovecot: IMAP, POP3 and the SASL socket that Postfix's submission port asks.
  cat >"$dir/users" <<USERS
alice@$DOMAIN:{PLAIN}wonderland:$VUID:$VGID::$dir/mail/$DOMAIN/alice::
bob@$DOMAIN:{PLAIN}builder:$VUID:$VGID::$dir/mail/$DOMAIN/bob::
USERS
  chmod 644 "$dir/users"
  cat >"$dir/dovecot.conf" <<CONF
base_dir = $dir/dovecot-run
state_dir = $dir/dovecot-state
log_path = $dir/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_default_realm = $DOMAIN
auth_username_format = %Lu
first_valid_uid = 1
mail_location = maildir:$dir/mail/%d/%n
passdb {
  driver = passwd-file
  args = scheme=PLAIN $dir/users
}
userdb {
  driver = passwd-file
  args = $dir/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0600
  }
}
# No authentication penalty (a growing delay after each failed login from an address): the
# dialogues fail a password on purpose, and every client is 127.0.0.1.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  unix_listener $dir/postfix-auth {
    mode = 0666
  }
}
CONF
  dovecot -c "$dir/dovecot.conf" </dev/null >>"$dir/start.log" 2>&1

  # --- Postfix: the MX port and the submission port of mx.fidelity.example.
  cat >"$dir/postfix/vmailbox" <<MAPS
alice@$DOMAIN $DOMAIN/alice/
bob@$DOMAIN $DOMAIN/bob/
MAPS
  cat >"$dir/postfix/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
meta_directory = /etc/postfix
mail_owner = postfix
maillog_file_prefixes = $dir
maillog_file = $dir/postfix.log
myhostname = mx.$DOMAIN
mydomain = $DOMAIN
myorigin = $DOMAIN
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/postfix/vmailbox
virtual_uid_maps = static:$VUID
virtual_gid_maps = static:$VGID
virtual_minimum_uid = 1
# Relaying: only for authenticated clients; mynetworks does not count (every test client is
# on loopback, like a stranger on the Internet would not be).
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_sasl_type = dovecot
smtpd_sasl_path = $dir/postfix-auth
smtpd_sasl_auth_enable = no
smtpd_tls_security_level = none
smtpd_error_sleep_time = 0
smtpd_banner = \$myhostname ESMTP
default_destination_concurrency_limit = 2
# Mail to anywhere else is not this test's business: it waits in the queue.
default_transport = retry:no deliveries outside $DOMAIN in fidelity tests
CONF
  cat >"$dir/postfix/master.cf" <<CONF
127.0.0.1:$MX_PORT inet n - n - - smtpd
127.0.0.1:$SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CONF
  postfix -c "$dir/postfix" start </dev/null >>"$dir/start.log" 2>&1

  # --- dnsmasq: the zone of fidelity.example, and nothing else.
  cat >"$dir/dnsmasq.conf" <<CONF
port=$DNS_PORT
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-dhcp-interface=
local=/$DOMAIN/
mx-host=$DOMAIN,mx.$DOMAIN,10
host-record=mx.$DOMAIN,192.0.2.25
host-record=ns.$DOMAIN,192.0.2.53
cname=mail.$DOMAIN,mx.$DOMAIN
pid-file=$dir/dnsmasq.pid
log-facility=$dir/dnsmasq.log
log-queries
CONF
  dnsmasq --conf-file="$dir/dnsmasq.conf" </dev/null >>"$dir/start.log" 2>&1

  # Ready when every port answers.
  for _ in $(seq 100); do
    if python3 - "$MX_PORT" "$SUBMISSION_PORT" "$IMAP_PORT" "$POP3_PORT" <<'PY' 2>/dev/null
import socket, sys
for p in sys.argv[1:]:
    socket.create_connection(("127.0.0.1", int(p)), timeout=1).close()
PY
    then
      return 0
    fi
    sleep 0.1
  done
  echo "$0: the servers did not come up; logs in $dir" >&2
  tail -n 20 "$dir"/*.log >&2 || true
  exit 1
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
