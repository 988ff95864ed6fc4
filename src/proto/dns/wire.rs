//! DNS messages to and from bytes (RFC 1035 section 4), and rendered like `dig` for students.

use std::fmt;
use std::net::Ipv4Addr;

/// The record types mailsim speaks; anything else is carried as `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordType {
    A,
    Ns,
    Cname,
    Soa,
    Mx,
    Other(u16),
}

impl RecordType {
    /// The TYPE value (RFC 1035 section 3.2.2).
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Ns => 2,
            RecordType::Cname => 5,
            RecordType::Soa => 6,
            RecordType::Mx => 15,
            RecordType::Other(c) => c,
        }
    }

    pub fn from_code(code: u16) -> RecordType {
        match code {
            1 => RecordType::A,
            2 => RecordType::Ns,
            5 => RecordType::Cname,
            6 => RecordType::Soa,
            15 => RecordType::Mx,
            c => RecordType::Other(c),
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordType::A => write!(f, "A"),
            RecordType::Ns => write!(f, "NS"),
            RecordType::Cname => write!(f, "CNAME"),
            RecordType::Soa => write!(f, "SOA"),
            RecordType::Mx => write!(f, "MX"),
            RecordType::Other(c) => write!(f, "TYPE{c}"),
        }
    }
}

/// Record data. Names are lower case without the final dot; the root is "".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Ns(String),
    Cname(String),
    /// RFC 1035 section 3.3.9; the null MX of RFC 7505 has the exchange "" (the root).
    Mx {
        preference: u16,
        exchange: String,
    },
    Soa {
        mname: String,
        rname: String,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    Other {
        rtype: u16,
        data: Vec<u8>,
    },
}

impl RData {
    pub fn rtype(&self) -> RecordType {
        match self {
            RData::A(_) => RecordType::A,
            RData::Ns(_) => RecordType::Ns,
            RData::Cname(_) => RecordType::Cname,
            RData::Mx { .. } => RecordType::Mx,
            RData::Soa { .. } => RecordType::Soa,
            RData::Other { rtype, .. } => RecordType::Other(*rtype),
        }
    }
}

/// A resource record of class IN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

/// A name as a zone file writes it: with the final dot.
fn dotted(name: &str) -> String {
    format!("{name}.")
}

impl fmt::Display for Record {
    /// Zone-file style: `mx1.beta.example. 3600 IN A 192.0.2.20`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() {
            ".".to_string()
        } else {
            dotted(&self.name)
        };
        write!(f, "{name} {} IN {} ", self.ttl, self.data.rtype())?;
        match &self.data {
            RData::A(ip) => write!(f, "{ip}"),
            RData::Ns(n) | RData::Cname(n) => write!(f, "{}", dotted(n)),
            RData::Mx {
                preference,
                exchange,
            } if exchange.is_empty() => write!(f, "{preference} ."),
            RData::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {}", dotted(exchange)),
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => write!(
                f,
                "{} {} {serial} {refresh} {retry} {expire} {minimum}",
                dotted(mname),
                dotted(rname)
            ),
            RData::Other { data, .. } => write!(f, "\\# {}", data.len()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: RecordType,
}

/// The response code (RFC 1035 section 4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    /// The name does not exist (RFC 1035 calls it "Name Error").
    NxDomain,
    NotImp,
    Refused,
    Other(u8),
}

impl Rcode {
    fn code(self) -> u8 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::Other(c) => c & 0xF,
        }
    }

    fn from_code(c: u8) -> Rcode {
        match c {
            0 => Rcode::NoError,
            1 => Rcode::FormErr,
            2 => Rcode::ServFail,
            3 => Rcode::NxDomain,
            4 => Rcode::NotImp,
            5 => Rcode::Refused,
            c => Rcode::Other(c),
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rcode::NoError => write!(f, "NOERROR"),
            Rcode::FormErr => write!(f, "FORMERR"),
            Rcode::ServFail => write!(f, "SERVFAIL"),
            Rcode::NxDomain => write!(f, "NXDOMAIN"),
            Rcode::NotImp => write!(f, "NOTIMP"),
            Rcode::Refused => write!(f, "REFUSED"),
            Rcode::Other(c) => write!(f, "RCODE{c}"),
        }
    }
}

/// A DNS message (RFC 1035 section 4.1), class IN only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    pub response: bool,
    /// OPCODE (0 is a standard query).
    pub opcode: u8,
    pub authoritative: bool,
    pub truncated: bool,
    pub recursion_desired: bool,
    pub recursion_available: bool,
    pub rcode: Rcode,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

/// Why bytes are not a DNS message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsError {
    Truncated,
    BadLabel,
    NameTooLong,
    PointerLoop,
    BadRecord(&'static str),
    UnsupportedClass(u16),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Truncated => write!(f, "the message ends too early"),
            DnsError::BadLabel => write!(f, "a label is malformed"),
            DnsError::NameTooLong => write!(f, "a name is longer than 255 octets"),
            DnsError::PointerLoop => write!(f, "compression pointers loop"),
            DnsError::BadRecord(why) => write!(f, "bad record: {why}"),
            DnsError::UnsupportedClass(c) => write!(f, "class {c} is not IN"),
        }
    }
}

impl std::error::Error for DnsError {}

const CLASS_IN: u16 = 1;

impl DnsMessage {
    /// A standard query with recursion desired, as a stub resolver sends it.
    pub fn query(id: u16, name: &str, qtype: RecordType) -> DnsMessage {
        DnsMessage {
            id,
            response: false,
            opcode: 0,
            authoritative: false,
            truncated: false,
            recursion_desired: true,
            recursion_available: false,
            rcode: Rcode::NoError,
            questions: vec![Question {
                name: name.trim_end_matches('.').to_ascii_lowercase(),
                qtype,
            }],
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }

    /// The wire form. Names are compressed against earlier ones (RFC 1035 section 4.1.4).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer {
            buf: Vec::with_capacity(128),
            names: Vec::new(),
        };
        w.u16(self.id);
        let flags = (u16::from(self.response) << 15)
            | (u16::from(self.opcode & 0xF) << 11)
            | (u16::from(self.authoritative) << 10)
            | (u16::from(self.truncated) << 9)
            | (u16::from(self.recursion_desired) << 8)
            | (u16::from(self.recursion_available) << 7)
            | u16::from(self.rcode.code());
        w.u16(flags);
        for n in [
            self.questions.len(),
            self.answers.len(),
            self.authority.len(),
            self.additional.len(),
        ] {
            w.u16(n.min(u16::MAX as usize) as u16);
        }
        for q in &self.questions {
            w.name(&q.name);
            w.u16(q.qtype.code());
            w.u16(CLASS_IN);
        }
        for r in self
            .answers
            .iter()
            .chain(&self.authority)
            .chain(&self.additional)
        {
            w.record(r);
        }
        w.buf
    }

    /// Parses a message; never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<DnsMessage, DnsError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let id = r.u16()?;
        let flags = r.u16()?;
        let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
        // Each question takes at least 5 octets and each record 11: refuse absurd counts early.
        let least = counts[0] as usize * 5
            + (counts[1] as usize + counts[2] as usize + counts[3] as usize) * 11;
        if least > bytes.len() {
            return Err(DnsError::Truncated);
        }
        let mut questions = Vec::with_capacity(counts[0] as usize);
        for _ in 0..counts[0] {
            let name = r.name()?;
            let qtype = RecordType::from_code(r.u16()?);
            let class = r.u16()?;
            if class != CLASS_IN {
                return Err(DnsError::UnsupportedClass(class));
            }
            questions.push(Question { name, qtype });
        }
        let mut sections: [Vec<Record>; 3] = Default::default();
        for (i, section) in sections.iter_mut().enumerate() {
            for _ in 0..counts[i + 1] {
                section.push(r.record()?);
            }
        }
        let [answers, authority, additional] = sections;
        Ok(DnsMessage {
            id,
            response: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0xF) as u8,
            authoritative: flags & 0x0400 != 0,
            truncated: flags & 0x0200 != 0,
            recursion_desired: flags & 0x0100 != 0,
            recursion_available: flags & 0x0080 != 0,
            rcode: Rcode::from_code((flags & 0xF) as u8),
            questions,
            answers,
            authority,
            additional,
        })
    }

    /// A compact rendering in the style of `dig`, for the transcript.
    pub fn to_dig_text(&self) -> String {
        let mut flags = Vec::new();
        if self.response {
            flags.push("qr");
        }
        if self.authoritative {
            flags.push("aa");
        }
        if self.recursion_desired {
            flags.push("rd");
        }
        if self.recursion_available {
            flags.push("ra");
        }
        let kind = if self.response { "response" } else { "query" };
        let mut out = format!(
            ";; ->>HEADER<<- {kind}, status: {}, id: {}, flags: {}\n",
            self.rcode,
            self.id,
            flags.join(" ")
        );
        for q in &self.questions {
            let name = if q.name.is_empty() {
                ".".to_string()
            } else {
                dotted(&q.name)
            };
            out.push_str(&format!(";; QUESTION: {name} IN {}\n", q.qtype));
        }
        for (title, records) in [
            ("ANSWER", &self.answers),
            ("AUTHORITY", &self.authority),
            ("ADDITIONAL", &self.additional),
        ] {
            if !records.is_empty() {
                out.push_str(&format!(";; {title}:\n"));
                for r in records {
                    out.push_str(&format!("{r}\n"));
                }
            }
        }
        out.trim_end().to_string()
    }
}

struct Writer {
    buf: Vec<u8>,
    /// Names written so far with their offsets, for compression.
    names: Vec<(String, u16)>,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn name(&mut self, name: &str) {
        let mut rest = name;
        loop {
            if rest.is_empty() {
                self.buf.push(0);
                return;
            }
            if let Some((_, off)) = self.names.iter().find(|(n, _)| n == rest) {
                self.u16(0xC000 | off);
                return;
            }
            if self.buf.len() < 0x3FFF {
                self.names.push((rest.to_string(), self.buf.len() as u16));
            }
            let (label, tail) = rest.split_once('.').unwrap_or((rest, ""));
            let label = &label.as_bytes()[..label.len().min(63)];
            self.buf.push(label.len() as u8);
            self.buf.extend_from_slice(label);
            rest = tail;
        }
    }

    fn record(&mut self, r: &Record) {
        self.name(&r.name);
        self.u16(r.data.rtype().code());
        self.u16(CLASS_IN);
        self.u32(r.ttl);
        let len_at = self.buf.len();
        self.u16(0);
        match &r.data {
            RData::A(ip) => self.buf.extend_from_slice(&ip.octets()),
            RData::Ns(n) | RData::Cname(n) => self.name(n),
            RData::Mx {
                preference,
                exchange,
            } => {
                self.u16(*preference);
                self.name(exchange);
            }
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                self.name(mname);
                self.name(rname);
                for v in [serial, refresh, retry, expire, minimum] {
                    self.u32(*v);
                }
            }
            RData::Other { data, .. } => self.buf.extend_from_slice(data),
        }
        let len = (self.buf.len() - len_at - 2) as u16;
        self.buf[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DnsError> {
        let end = self.pos.checked_add(n).ok_or(DnsError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(DnsError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, DnsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DnsError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name (RFC 1035 section 4.1.4), lower-cased.
    fn name(&mut self) -> Result<String, DnsError> {
        let mut labels: Vec<String> = Vec::new();
        let mut pos = self.pos;
        let mut jumped = false;
        let mut jumps = 0;
        let mut total = 0usize;
        loop {
            let len = *self.buf.get(pos).ok_or(DnsError::Truncated)? as usize;
            match len & 0xC0 {
                0x00 => {
                    if len == 0 {
                        if !jumped {
                            self.pos = pos + 1;
                        }
                        break;
                    }
                    let label = self
                        .buf
                        .get(pos + 1..pos + 1 + len)
                        .ok_or(DnsError::Truncated)?;
                    total += len + 1;
                    if total > 255 {
                        return Err(DnsError::NameTooLong);
                    }
                    if label.contains(&b'.') {
                        return Err(DnsError::BadLabel);
                    }
                    labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
                    pos += 1 + len;
                }
                0xC0 => {
                    let low = *self.buf.get(pos + 1).ok_or(DnsError::Truncated)? as usize;
                    if !jumped {
                        self.pos = pos + 2;
                    }
                    jumped = true;
                    jumps += 1;
                    if jumps > 64 {
                        return Err(DnsError::PointerLoop);
                    }
                    pos = ((len & 0x3F) << 8) | low;
                }
                _ => return Err(DnsError::BadLabel),
            }
        }
        Ok(labels.join("."))
    }

    fn record(&mut self) -> Result<Record, DnsError> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        if class != CLASS_IN {
            return Err(DnsError::UnsupportedClass(class));
        }
        let ttl = self.u32()?;
        let len = self.u16()? as usize;
        let start = self.pos;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DnsError::Truncated)?;
        let data = match RecordType::from_code(rtype) {
            RecordType::A => {
                if len != 4 {
                    return Err(DnsError::BadRecord("an A record holds 4 octets"));
                }
                let b = self.take(4)?;
                RData::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            RecordType::Ns => RData::Ns(self.name()?),
            RecordType::Cname => RData::Cname(self.name()?),
            RecordType::Mx => {
                let preference = self.u16()?;
                RData::Mx {
                    preference,
                    exchange: self.name()?,
                }
            }
            RecordType::Soa => RData::Soa {
                mname: self.name()?,
                rname: self.name()?,
                serial: self.u32()?,
                refresh: self.u32()?,
                retry: self.u32()?,
                expire: self.u32()?,
                minimum: self.u32()?,
            },
            RecordType::Other(t) => RData::Other {
                rtype: t,
                data: self.take(len)?.to_vec(),
            },
        };
        if self.pos != end {
            return Err(DnsError::BadRecord("RDLENGTH does not match the data"));
        }
        Ok(Record { name, ttl, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mx_answer() -> DnsMessage {
        let mut m = DnsMessage::query(7, "beta.example", RecordType::Mx);
        m.response = true;
        m.authoritative = true;
        m.answers = vec![
            Record {
                name: "beta.example".into(),
                ttl: 3600,
                data: RData::Mx {
                    preference: 10,
                    exchange: "mx1.beta.example".into(),
                },
            },
            Record {
                name: "beta.example".into(),
                ttl: 3600,
                data: RData::Mx {
                    preference: 20,
                    exchange: "mx2.beta.example".into(),
                },
            },
        ];
        m.additional = vec![Record {
            name: "mx1.beta.example".into(),
            ttl: 3600,
            data: RData::A(Ipv4Addr::new(192, 0, 2, 20)),
        }];
        m
    }

    #[test]
    fn every_record_type_round_trips() {
        let mut m = mx_answer();
        m.authority = vec![
            Record {
                name: "beta.example".into(),
                ttl: 300,
                data: RData::Soa {
                    mname: "ns.beta.example".into(),
                    rname: "hostmaster.beta.example".into(),
                    serial: 1,
                    refresh: 2,
                    retry: 3,
                    expire: 4,
                    minimum: 300,
                },
            },
            Record {
                name: "beta.example".into(),
                ttl: 300,
                data: RData::Ns("ns.example".into()),
            },
            Record {
                name: "www.beta.example".into(),
                ttl: 60,
                data: RData::Cname("beta.example".into()),
            },
            Record {
                name: "beta.example".into(),
                ttl: 60,
                data: RData::Other {
                    rtype: 16,
                    data: b"\x05hello".to_vec(),
                },
            },
            Record {
                name: "null.example".into(),
                ttl: 60,
                data: RData::Mx {
                    preference: 0,
                    exchange: String::new(),
                },
            },
        ];
        assert_eq!(DnsMessage::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn names_are_compressed() {
        let bytes = mx_answer().encode();
        // "beta.example" appears four times in the message but is spelled out once.
        assert_eq!(bytes.windows(4).filter(|w| w == b"beta").count(), 1);
    }

    #[test]
    fn a_hand_built_mx_response_parses() {
        let mut b = vec![0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0];
        b.extend_from_slice(b"\x04beta\x07example\x00\x00\x0f\x00\x01");
        // Answer: the name as a pointer to offset 12, MX IN, TTL 3600, RDLENGTH 8.
        b.extend_from_slice(&[0xC0, 12, 0, 15, 0, 1, 0, 0, 0x0E, 0x10, 0, 8, 0, 10]);
        b.extend_from_slice(b"\x03mx1\xC0\x0C");
        let m = DnsMessage::decode(&b).unwrap();
        assert_eq!(m.id, 0x1234);
        assert!(m.response && m.authoritative);
        assert_eq!(
            m.answers[0].data,
            RData::Mx {
                preference: 10,
                exchange: "mx1.beta.example".into()
            }
        );
        assert_eq!(m.answers[0].ttl, 3600);
    }

    #[test]
    fn pointer_loops_and_truncation_are_errors() {
        let mut b = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        assert_eq!(DnsMessage::decode(&b), Err(DnsError::PointerLoop));
        let good = mx_answer().encode();
        for n in 0..good.len() {
            assert!(DnsMessage::decode(&good[..n]).is_err());
        }
    }

    #[test]
    fn dig_text_shows_the_null_mx_as_a_dot() {
        let mut m = DnsMessage::query(1, "noreply.example", RecordType::Mx);
        m.response = true;
        m.answers.push(Record {
            name: "noreply.example".into(),
            ttl: 300,
            data: RData::Mx {
                preference: 0,
                exchange: String::new(),
            },
        });
        let text = m.to_dig_text();
        assert!(text.contains(";; QUESTION: noreply.example. IN MX"));
        assert!(text.contains("noreply.example. 300 IN MX 0 ."));
    }

    fn name() -> impl Strategy<Value = String> {
        prop::collection::vec("[a-z0-9-]{1,12}", 0..4).prop_map(|l| l.join("."))
    }

    fn record() -> impl Strategy<Value = Record> {
        let data = prop_oneof![
            any::<[u8; 4]>().prop_map(|b| RData::A(b.into())),
            name().prop_map(RData::Cname),
            name().prop_map(RData::Ns),
            (any::<u16>(), name()).prop_map(|(preference, exchange)| RData::Mx {
                preference,
                exchange
            }),
        ];
        (name(), any::<u32>(), data).prop_map(|(name, ttl, data)| Record { name, ttl, data })
    }

    proptest! {
        #[test]
        fn random_messages_round_trip(
            id in any::<u16>(),
            qname in name(),
            answers in prop::collection::vec(record(), 0..5),
            additional in prop::collection::vec(record(), 0..3),
            rcode in 0u8..6,
        ) {
            let mut m = DnsMessage::query(id, &qname, RecordType::Mx);
            m.response = true;
            m.rcode = Rcode::from_code(rcode);
            m.answers = answers;
            m.additional = additional;
            prop_assert_eq!(DnsMessage::decode(&m.encode()).unwrap(), m);
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = DnsMessage::decode(&bytes);
        }
    }
}
