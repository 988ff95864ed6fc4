//! DNS messages to and from bytes (RFC 1035 section 4), and rendered like `dig` for students.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

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
    /// The types mailsim knows by name.
    pub const KNOWN: [RecordType; 5] = [
        RecordType::A,
        RecordType::Ns,
        RecordType::Cname,
        RecordType::Soa,
        RecordType::Mx,
    ];

    /// The type's mnemonic (RFC 1035 section 3.2.2), `None` for a type without one here.
    pub fn name(self) -> Option<&'static str> {
        match self {
            RecordType::A => Some("A"),
            RecordType::Ns => Some("NS"),
            RecordType::Cname => Some("CNAME"),
            RecordType::Soa => Some("SOA"),
            RecordType::Mx => Some("MX"),
            RecordType::Other(_) => None,
        }
    }

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

    /// The type a name such as `MX` stands for (any case); `None` for any other name (the
    /// `TYPE99` form that `Display` writes for other types included).
    pub fn from_name(name: &str) -> Option<RecordType> {
        Self::KNOWN
            .into_iter()
            .find(|t| t.name().is_some_and(|n| n.eq_ignore_ascii_case(name)))
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

/// The type's name (`MX`, or `TYPE99` for a type without one), for [`cat!`](crate::cat): cache
/// hits name it on every hop. `Display` writes the same.
impl crate::text::Piece for RecordType {
    fn size(&self) -> usize {
        9
    }
    fn push_to(&self, out: &mut String) {
        match self.name() {
            Some(name) => out.push_str(name),
            None => {
                out.push_str("TYPE");
                crate::text::push_decimal(out, u64::from(self.code()), 1);
            }
        }
    }
}

/// A domain name, lower case without the final dot (the root is ""). Shared, not copied: the
/// same few names go from an answer to a resolver's cache, to its next answers and to the MX
/// plan of every message sent to the domain.
pub type Name = Arc<str>;

/// Record data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Ns(Name),
    Cname(Name),
    /// RFC 1035 section 3.3.9; the null MX of RFC 7505 has the exchange "" (the root).
    Mx {
        preference: u16,
        exchange: Name,
    },
    Soa {
        mname: Name,
        rname: Name,
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
    pub name: Name,
    pub ttl: u32,
    pub data: RData,
}

/// Zone-file style, `mx1.beta.example. 3600 IN A 192.0.2.20` (names with their final dot, so
/// the root is "."), pushed without the formatting machinery: a resolver's cache hits show their
/// records on every hop.
impl crate::text::Piece for Record {
    fn size(&self) -> usize {
        let data = match &self.data {
            RData::A(_) => 15,
            RData::Ns(n) | RData::Cname(n) => n.len() + 1,
            RData::Mx { exchange, .. } => 6 + exchange.len() + 1,
            RData::Soa { mname, rname, .. } => mname.len() + rname.len() + 2 + 5 * 11,
            RData::Other { data, .. } => 24 + 2 * data.len(),
        };
        self.name.len() + 1 + 11 + 4 + 9 + 1 + data
    }

    fn push_to(&self, out: &mut String) {
        use crate::text::push_decimal;
        fn dotted(out: &mut String, name: &str) {
            out.push_str(name);
            out.push('.');
        }
        dotted(out, &self.name);
        out.push(' ');
        push_decimal(out, u64::from(self.ttl), 1);
        out.push_str(" IN ");
        self.data.rtype().push_to(out);
        out.push(' ');
        match &self.data {
            RData::A(ip) => ip.push_to(out),
            RData::Ns(n) | RData::Cname(n) => dotted(out, n),
            RData::Mx {
                preference,
                exchange,
            } => {
                push_decimal(out, u64::from(*preference), 1);
                out.push(' ');
                dotted(out, exchange);
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
                dotted(out, mname);
                out.push(' ');
                dotted(out, rname);
                for n in [serial, refresh, retry, expire, minimum] {
                    out.push(' ');
                    push_decimal(out, u64::from(*n), 1);
                }
            }
            // The generic form of RFC 3597 section 5.
            RData::Other { data, .. } => {
                out.push_str("\\# ");
                push_decimal(out, data.len() as u64, 1);
                if !data.is_empty() {
                    out.push(' ');
                }
                for b in data {
                    out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                    out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xF)]));
                }
            }
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::cat!(self))
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::cat!(self))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
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
/// The EDNS pseudo-record (RFC 6891 section 6.1.1).
const TYPE_OPT: u16 = 41;

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
                name: name.trim_end_matches('.').to_ascii_lowercase().into(),
                qtype,
            }],
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }

    /// The wire form of [`query`](Self::query)`(id, name, qtype)`, written directly: a query
    /// holds one name, so there is nothing to compress, and a resolver sends thousands.
    pub fn query_bytes(id: u16, name: &str, qtype: RecordType) -> Vec<u8> {
        let name = name.trim_end_matches('.');
        let mut buf = Vec::with_capacity(12 + name.len() + 6);
        // The header: the ID, recursion desired (section 4.1.1), one question.
        for v in [id, 1 << 8, 1, 0, 0, 0] {
            buf.extend_from_slice(&v.to_be_bytes());
        }
        for label in name.split('.').filter(|l| !l.is_empty()) {
            let label = &label.as_bytes()[..label.len().min(63)];
            buf.push(label.len() as u8);
            buf.extend(label.iter().map(u8::to_ascii_lowercase));
        }
        buf.push(0);
        buf.extend_from_slice(&qtype.code().to_be_bytes());
        buf.extend_from_slice(&CLASS_IN.to_be_bytes());
        buf
    }

    /// The wire form. Names are compressed against earlier ones (RFC 1035 section 4.1.4).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
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
                let (record, class) = r.record()?;
                // dig adds an EDNS OPT pseudo-record whose class is its UDP payload size (RFC 6891
                // section 6.1.2). It is no data: skip it, and the answer is plain RFC 1035 DNS.
                if i == 2 && record.data.rtype() == RecordType::Other(TYPE_OPT) {
                    continue;
                }
                if class != CLASS_IN {
                    return Err(DnsError::UnsupportedClass(class));
                }
                section.push(record);
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
        if self.truncated {
            flags.push("tc");
        }
        if self.recursion_desired {
            flags.push("rd");
        }
        if self.recursion_available {
            flags.push("ra");
        }
        // As dig prints it, without its blank lines and with spaces for its tabs: the header,
        // the flags and counts, then each section that has records.
        let mut out = format!(
            ";; ->>HEADER<<- opcode: QUERY, status: {}, id: {}\n\
             ;; flags: {}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}\n",
            self.rcode,
            self.id,
            flags.join(" "),
            self.questions.len(),
            self.answers.len(),
            self.authority.len(),
            self.additional.len(),
        );
        if !self.questions.is_empty() {
            out.push_str(";; QUESTION SECTION:\n");
        }
        for q in &self.questions {
            // The name with its final dot, as in the records.
            out.push_str(&format!(";{}. IN {}\n", q.name, q.qtype));
        }
        for (title, records) in [
            ("ANSWER", &self.answers),
            ("AUTHORITY", &self.authority),
            ("ADDITIONAL", &self.additional),
        ] {
            if !records.is_empty() {
                out.push_str(&format!(";; {title} SECTION:\n"));
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
    /// Every name written so far, back to back (without empty labels), for compression.
    written: String,
    /// Suffixes written so far: where each starts in `written`, where it ends, and its offset
    /// in the message.
    suffixes: Vec<(u32, u32, u16)>,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            buf: Vec::with_capacity(128),
            written: String::new(),
            suffixes: Vec::new(),
        }
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes a name, its longest suffix already written replaced by a pointer (RFC 1035
    /// section 4.1.4). Empty labels (a stray dot) are skipped: a zero octet would end the name.
    /// Suffixes are compared as text in `written`, so writing a name allocates nothing new.
    fn name(&mut self, name: &str) {
        let start = self.written.len();
        for label in name.split('.').filter(|l| !l.is_empty()) {
            if self.written.len() > start {
                self.written.push('.');
            }
            self.written.push_str(label);
        }
        let end = self.written.len();
        let mut at = start;
        while at < end {
            let suffix = &self.written[at..end];
            let known = self
                .suffixes
                .iter()
                .find(|&&(s, e, _)| &self.written[s as usize..e as usize] == suffix);
            if let Some(&(_, _, off)) = known {
                self.u16(0xC000 | off);
                return;
            }
            // A pointer holds a 14-bit offset.
            if self.buf.len() <= 0x3FFF {
                self.suffixes
                    .push((at as u32, end as u32, self.buf.len() as u16));
            }
            let label_end = memchr::memchr(b'.', suffix.as_bytes()).map_or(end, |i| at + i);
            let label = &self.written.as_bytes()[at..label_end];
            let label = &label[..label.len().min(63)];
            self.buf.push(label.len() as u8);
            self.buf.extend_from_slice(label);
            at = label_end + 1;
        }
        self.buf.push(0);
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

    /// A possibly compressed name (RFC 1035 section 4.1.4), lower-cased. Pointers are followed
    /// at most 64 times, so a loop ends in an error rather than hanging.
    fn name(&mut self) -> Result<Name, DnsError> {
        // Spelled out on the stack (at most 253 octets, section 2.3.4), then allocated once.
        let mut name = [0u8; 255];
        let mut n = 0;
        let mut pos = self.pos;
        let mut jumped = false;
        let mut jumps = 0;
        // The wire length: each label with its length octet, and the final zero octet.
        let mut total = 1usize;
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
                    if n > 0 {
                        name[n] = b'.';
                        n += 1;
                    }
                    // Within bounds: `n` stays two below `total`, which is at most 255.
                    name[n..n + len].copy_from_slice(label);
                    name[n..n + len].make_ascii_lowercase();
                    n += len;
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
        // Names are kept as text. RFC 1035 section 3.1 lets a label hold any octet, but
        // replacing bytes that are not UTF-8 would change the name (and its length, past the 63
        // octets of section 2.3.4): refuse such a label, as a host name is letters, digits and
        // hyphens anyway (section 2.3.1).
        std::str::from_utf8(&name[..n])
            .map(Name::from)
            .map_err(|_| DnsError::BadLabel)
    }

    /// A record and its CLASS, which the caller checks (an OPT record's is no class).
    fn record(&mut self) -> Result<(Record, u16), DnsError> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
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
        Ok((Record { name, ttl, data }, class))
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
    fn a_type_is_found_by_the_name_it_is_written_with() {
        for t in RecordType::KNOWN {
            assert_eq!(RecordType::from_name(&t.to_string()), Some(t));
            assert_eq!(
                RecordType::from_name(&t.to_string().to_lowercase()),
                Some(t)
            );
        }
        for other in ["AAAA", "TYPE99", "", "M X"] {
            assert_eq!(RecordType::from_name(other), None, "{other:?}");
        }
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
                    exchange: "".into(),
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
        // Header: id 0x1234, QR AA RD, NOERROR; one question, one answer, one additional.
        let mut b = vec![0x12, 0x34, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 1];
        // Question at offset 12: beta.example MX IN.
        b.extend_from_slice(b"\x04beta\x07example\x00");
        b.extend_from_slice(&[0, 15, 0, 1]);
        // Answer at offset 30: the owner a pointer to 12, MX IN, TTL 3600, RDLENGTH 8.
        b.extend_from_slice(&[0xC0, 12, 0, 15, 0, 1, 0, 0, 0x0E, 0x10, 0, 8]);
        // RDATA at offset 42: preference 10, then "mx1" and a pointer to "beta.example".
        b.extend_from_slice(&[0, 10]);
        b.extend_from_slice(b"\x03mx1\xC0\x0C");
        // Additional: the owner a pointer to "mx1" at 44 (itself ending in a pointer), A IN.
        b.extend_from_slice(&[0xC0, 44, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 192, 0, 2, 20]);
        let m = DnsMessage::decode(&b).unwrap();
        assert_eq!(m.id, 0x1234);
        assert!(m.response && m.authoritative && m.recursion_desired);
        assert!(!m.recursion_available && !m.truncated);
        assert_eq!(m.rcode, Rcode::NoError);
        assert_eq!(
            m.questions,
            vec![Question {
                name: "beta.example".into(),
                qtype: RecordType::Mx
            }]
        );
        assert_eq!(
            m.answers,
            vec![Record {
                name: "beta.example".into(),
                ttl: 3600,
                data: RData::Mx {
                    preference: 10,
                    exchange: "mx1.beta.example".into()
                },
            }]
        );
        assert_eq!(
            m.additional[0].to_string(),
            "mx1.beta.example. 3600 IN A 192.0.2.20"
        );
        // Our encoder compresses the same way, to the byte.
        assert_eq!(m.encode(), b);
    }

    #[test]
    fn a_dig_query_with_edns_is_read_without_its_opt_record() {
        // What `dig beta.example MX` sends: RD and AD set, an OPT record asking for 1232 octets.
        let mut b = vec![0xBE, 0xEF, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1];
        b.extend_from_slice(b"\x04beta\x07example\x00\x00\x0f\x00\x01");
        b.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 12]);
        b.extend_from_slice(&[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]); // a COOKIE option
        let m = DnsMessage::decode(&b).unwrap();
        assert_eq!(m, DnsMessage::query(0xBEEF, "beta.example", RecordType::Mx));
    }

    #[test]
    fn other_classes_and_bad_names_are_errors() {
        let header = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let mut chaos = header.to_vec();
        chaos.extend_from_slice(b"\x07version\x04bind\x00\x00\x10\x00\x03");
        assert_eq!(
            DnsMessage::decode(&chaos),
            Err(DnsError::UnsupportedClass(3))
        );
        // 0x40 and 0x80 label types are reserved (RFC 1035 section 4.1.4; RFC 6891 section 5).
        let mut reserved = header.to_vec();
        reserved.extend_from_slice(&[0x41, b'a', 0, 0, 1, 0, 1]);
        assert_eq!(DnsMessage::decode(&reserved), Err(DnsError::BadLabel));
        // Five labels of 63 octets make 321 octets, over the 255 of RFC 1035 section 3.1.
        let mut long = header.to_vec();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(DnsMessage::decode(&long), Err(DnsError::NameTooLong));
        // A label may not hold a dot: it would read as two.
        let mut dotted = header.to_vec();
        dotted.extend_from_slice(b"\x03a.b\x00\x00\x01\x00\x01");
        assert_eq!(DnsMessage::decode(&dotted), Err(DnsError::BadLabel));
        // Counts that the bytes cannot hold are refused before anything is allocated.
        let absurd = [0, 1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];
        assert_eq!(DnsMessage::decode(&absurd), Err(DnsError::Truncated));
    }

    /// Found by the `dns_wire` fuzz target: a 30-octet label holding 18 octets that are not
    /// UTF-8 was read with replacement characters, three octets each, into 66 octets; encoding
    /// cut it to 63 (RFC 1035 section 2.3.4), so the message no longer encoded to itself.
    #[test]
    fn a_label_that_is_not_utf8_is_a_bad_label() {
        let bytes = [
            0x00, 0x07, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x1e, 0x00,
            0x00, 0x00, 0x68, 0x65, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf7, 0xff, 0xff, 0x65,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x32, 0x61, 0x6d, 0x70, 0x6c, 0x65,
            0x00, 0x00, 0x01, 0xe6, 0x00, 0x01, 0x00, 0x00, 0x29, 0x10, 0x00, 0x00, 0x0a, 0x03,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(DnsMessage::decode(&bytes), Err(DnsError::BadLabel));
        // UTF-8 labels keep their octets, so they still round-trip.
        let m = DnsMessage::query(1, "b\u{e9}ta.example", RecordType::Mx);
        assert_eq!(DnsMessage::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn stray_dots_in_names_still_encode_a_valid_name() {
        let m = DnsMessage::query(1, "beta..example.", RecordType::A);
        let back = DnsMessage::decode(&m.encode()).unwrap();
        assert_eq!(&*back.questions[0].name, "beta.example");
    }

    #[test]
    fn records_display_in_zone_file_style() {
        let rec = |name: &str, data| Record {
            name: name.into(),
            ttl: 3600,
            data,
        };
        let lines: Vec<String> = [
            rec("mx1.beta.example", RData::A(Ipv4Addr::new(192, 0, 2, 20))),
            rec(
                "beta.example",
                RData::Mx {
                    preference: 10,
                    exchange: "mx1.beta.example".into(),
                },
            ),
            rec(
                "noreply.example",
                RData::Mx {
                    preference: 0,
                    exchange: "".into(),
                },
            ),
            rec("www.beta.example", RData::Cname("beta.example".into())),
            rec("", RData::Ns("a.root-servers.example".into())),
            rec(
                "beta.example",
                RData::Other {
                    rtype: 16,
                    data: vec![2, b'h', b'i'],
                },
            ),
        ]
        .iter()
        .map(|r| r.to_string())
        .collect();
        assert_eq!(
            lines,
            [
                "mx1.beta.example. 3600 IN A 192.0.2.20",
                "beta.example. 3600 IN MX 10 mx1.beta.example.",
                "noreply.example. 3600 IN MX 0 .",
                "www.beta.example. 3600 IN CNAME beta.example.",
                ". 3600 IN NS a.root-servers.example.",
                "beta.example. 3600 IN TYPE16 \\# 3 026869",
            ]
        );
    }

    #[test]
    fn soa_and_empty_unknown_records_in_zone_file_style() {
        let soa = Record {
            name: "beta.example".into(),
            ttl: 30,
            data: RData::Soa {
                mname: "ns.beta.example".into(),
                rname: "hostmaster.beta.example".into(),
                serial: 1,
                refresh: 3600,
                retry: 600,
                expire: 86_400,
                minimum: 4_294_967_295,
            },
        };
        assert_eq!(
            soa.to_string(),
            "beta.example. 30 IN SOA ns.beta.example. hostmaster.beta.example. 1 3600 600 86400 4294967295"
        );
        let empty = Record {
            name: "".into(),
            ttl: 0,
            data: RData::Other {
                rtype: 65_535,
                data: vec![],
            },
        };
        assert_eq!(empty.to_string(), ". 0 IN TYPE65535 \\# 0");
    }

    #[test]
    fn dig_text_of_an_mx_answer() {
        assert_eq!(
            mx_answer().to_dig_text(),
            ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 7\n\
             ;; flags: qr aa rd; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1\n\
             ;; QUESTION SECTION:\n\
             ;beta.example. IN MX\n\
             ;; ANSWER SECTION:\n\
             beta.example. 3600 IN MX 10 mx1.beta.example.\n\
             beta.example. 3600 IN MX 20 mx2.beta.example.\n\
             ;; ADDITIONAL SECTION:\n\
             mx1.beta.example. 3600 IN A 192.0.2.20"
        );
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
                exchange: "".into(),
            },
        });
        let text = m.to_dig_text();
        assert!(text.contains("\n;noreply.example. IN MX\n"));
        assert!(text.contains("noreply.example. 300 IN MX 0 ."));
    }

    fn name() -> impl Strategy<Value = Name> {
        prop::collection::vec("[a-z0-9-]{1,12}", 0..4).prop_map(|l| l.join(".").into())
    }

    fn record() -> impl Strategy<Value = Record> {
        let soa = (name(), name(), any::<[u32; 5]>()).prop_map(|(mname, rname, n)| RData::Soa {
            mname,
            rname,
            serial: n[0],
            refresh: n[1],
            retry: n[2],
            expire: n[3],
            minimum: n[4],
        });
        // Types the decoder does not know, OPT (41) aside: it is dropped on reading.
        let other = (
            (16u16..41).prop_union(42..300),
            prop::collection::vec(any::<u8>(), 0..20),
        )
            .prop_map(|(rtype, data)| RData::Other { rtype, data });
        let data = prop_oneof![
            any::<[u8; 4]>().prop_map(|b| RData::A(b.into())),
            name().prop_map(RData::Cname),
            name().prop_map(RData::Ns),
            (any::<u16>(), name()).prop_map(|(preference, exchange)| RData::Mx {
                preference,
                exchange
            }),
            soa,
            other,
        ];
        (name(), any::<u32>(), data).prop_map(|(name, ttl, data)| Record { name, ttl, data })
    }

    fn records(max: usize) -> impl Strategy<Value = Vec<Record>> {
        prop::collection::vec(record(), 0..max)
    }

    proptest! {
        #[test]
        fn random_messages_round_trip(
            id in any::<u16>(),
            qname in name(),
            qtype in any::<u16>(),
            flags in any::<[bool; 6]>(),
            opcode in 0u8..16,
            rcode in 0u8..16,
            sections in (records(5), records(3), records(3)),
        ) {
            let mut m = DnsMessage::query(id, &qname, RecordType::from_code(qtype));
            [
                m.response,
                m.authoritative,
                m.truncated,
                m.recursion_desired,
                m.recursion_available,
            ] = [flags[0], flags[1], flags[2], flags[3], flags[4]];
            if flags[5] {
                m.questions.clear();
            }
            m.opcode = opcode;
            m.rcode = Rcode::from_code(rcode);
            (m.answers, m.authority, m.additional) = sections;
            prop_assert_eq!(DnsMessage::decode(&m.encode()).unwrap(), m);
        }

        #[test]
        fn a_query_written_directly_is_the_query_encoded(
            id in any::<u16>(),
            qname in "[a-zA-Z0-9.-]{0,80}|[a-z]{60,70}(\\.[a-z]{1,5}){0,2}\\.?",
            qtype in any::<u16>(),
        ) {
            let qtype = RecordType::from_code(qtype);
            prop_assert_eq!(
                DnsMessage::query_bytes(id, &qname, qtype),
                DnsMessage::query(id, &qname, qtype).encode()
            );
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = DnsMessage::decode(&bytes);
        }

        /// Damage to a real message is likelier than random bytes to reach deep into the parser.
        #[test]
        fn damaged_messages_never_panic(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = mx_answer().encode();
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            let _ = DnsMessage::decode(&bytes);
            let _ = DnsMessage::decode(&bytes[..cut.index(bytes.len())]);
        }
    }
}
