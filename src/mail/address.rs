use std::fmt;

/// A mailbox address `local@domain` as used in the SMTP envelope (RFC 5321 section 4.1.2).
///
/// The domain is kept lower-case (domains are case-insensitive); the local part keeps its case,
/// as RFC 5321 section 2.4 says it may be significant, but every lookup in mailsim folds it.
///
/// Kept as one string `local@domain` with the place of the `@`: addresses are parsed, cloned and
/// written on every hop, and one allocation each is half the cost of two.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    text: String,
    at: usize,
}

/// Ordered by local part, then domain.
impl Ord for Address {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.local(), self.domain()).cmp(&(o.local(), o.domain()))
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// Why a string is not an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressError {
    MissingAt,
    EmptyLocalPart,
    EmptyDomain,
    /// RFC 5321 section 4.5.3.1.1: at most 64 octets.
    LocalPartTooLong,
    /// RFC 5321 section 4.5.3.1.2: at most 255 octets.
    DomainTooLong,
    BadCharacter(char),
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::MissingAt => write!(f, "an address needs an @ between user and domain"),
            AddressError::EmptyLocalPart => write!(f, "the part before @ is empty"),
            AddressError::EmptyDomain => write!(f, "the domain after @ is empty"),
            AddressError::LocalPartTooLong => write!(f, "the local part is longer than 64 octets"),
            AddressError::DomainTooLong => write!(f, "the domain is longer than 255 octets"),
            AddressError::BadCharacter(c) => write!(f, "the character {c:?} is not allowed here"),
        }
    }
}

impl std::error::Error for AddressError {}

/// A printable ASCII character other than `<`, `>`, `,` and `@`: fine in a local part.
const PLAIN_IN_LOCAL: u8 = 1;
/// A letter, a digit, or one of `.-_[]:` (an address literal's brackets and colons included).
const IN_DOMAIN: u8 = 2;

/// What each byte may be in an address, looked up once per byte.
static BYTE_CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_graphic() && !matches!(c, b'<' | b'>' | b',' | b'@') {
            class[b] |= PLAIN_IN_LOCAL;
        }
        if c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'[' | b']' | b':') {
            class[b] |= IN_DOMAIN;
        }
        b += 1;
    }
    class
};

impl Address {
    /// Parses `local@domain`, without angle brackets.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let at = memchr::memrchr(b'@', text.as_bytes()).ok_or(AddressError::MissingAt)?;
        let (local, domain) = (&text[..at], &text[at + 1..]);
        if local.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        if domain.is_empty() {
            return Err(AddressError::EmptyDomain);
        }
        if local.len() > 64 {
            return Err(AddressError::LocalPartTooLong);
        }
        if domain.len() > 255 {
            return Err(AddressError::DomainTooLong);
        }
        // Plain ASCII, as nearly every address is, is checked byte by byte from a table;
        // anything else goes through `char`s, for Unicode's white space and control characters.
        let bad_in_local =
            |c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | '@');
        if !local
            .bytes()
            .all(|b| BYTE_CLASS[b as usize] & PLAIN_IN_LOCAL != 0)
            && let Some(c) = local.chars().find(|&c| bad_in_local(c))
        {
            return Err(AddressError::BadCharacter(c));
        }
        // Every character allowed in a domain is ASCII: the `char` is only for the error.
        if !domain
            .bytes()
            .all(|b| BYTE_CLASS[b as usize] & IN_DOMAIN != 0)
            && let Some(c) = domain
                .chars()
                .find(|&c| !c.is_ascii() || BYTE_CLASS[c as usize] & IN_DOMAIN == 0)
        {
            return Err(AddressError::BadCharacter(c));
        }
        let mut text = String::with_capacity(text.len());
        text.push_str(local);
        text.push('@');
        text.push_str(domain);
        text[local.len() + 1..].make_ascii_lowercase();
        Ok(Address {
            text,
            at: local.len(),
        })
    }

    pub fn local(&self) -> &str {
        &self.text[..self.at]
    }

    pub fn domain(&self) -> &str {
        &self.text[self.at + 1..]
    }

    /// The whole address, `local@domain`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Addresses as a header field or a note lists them: `a@x.example, b@y.example`.
    pub fn list(addresses: &[Address]) -> String {
        let mut out = String::with_capacity(addresses.iter().map(|a| a.text.len() + 2).sum());
        for (i, a) in addresses.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(a.as_str());
        }
        out
    }

    /// The form mailsim uses as a key: the whole address in lower case.
    pub fn key(&self) -> String {
        self.text.to_ascii_lowercase()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Addresses go into many protocol lines and notes: `cat!` copies them without `Display`.
impl crate::text::Piece for Address {
    fn size(&self) -> usize {
        self.text.len()
    }
    fn push_to(&self, out: &mut String) {
        out.push_str(&self.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_is_folded_local_part_kept() {
        let a = Address::parse("Bob@Beta.Example").unwrap();
        assert_eq!(a.local(), "Bob");
        assert_eq!(a.domain(), "beta.example");
        assert_eq!(a.key(), "bob@beta.example");
    }

    #[test]
    fn limits_of_rfc5321_4_5_3_1() {
        let long = "x".repeat(65);
        assert_eq!(
            Address::parse(&format!("{long}@a.example")),
            Err(AddressError::LocalPartTooLong)
        );
        assert_eq!(Address::parse("nobody"), Err(AddressError::MissingAt));
        assert_eq!(
            Address::parse("a b@c.example"),
            Err(AddressError::BadCharacter(' '))
        );
    }
}
