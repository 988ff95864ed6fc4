use std::fmt;

/// A mailbox address `local@domain` as used in the SMTP envelope (RFC 5321 section 4.1.2).
///
/// The domain is kept lower-case (domains are case-insensitive); the local part keeps its case,
/// as RFC 5321 section 2.4 says it may be significant, but every lookup in mailsim folds it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    local: String,
    domain: String,
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

impl Address {
    /// Parses `local@domain`, without angle brackets.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let (local, domain) = text.rsplit_once('@').ok_or(AddressError::MissingAt)?;
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
        if let Some(c) = local
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | '@'))
        {
            return Err(AddressError::BadCharacter(c));
        }
        if let Some(c) = domain.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'))
        }) {
            return Err(AddressError::BadCharacter(c));
        }
        Ok(Address {
            local: local.to_string(),
            domain: domain.to_ascii_lowercase(),
        })
    }

    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The form mailsim uses as a key: the whole address in lower case.
    pub fn key(&self) -> String {
        let mut key = String::with_capacity(self.local.len() + 1 + self.domain.len());
        key.push_str(&self.local);
        key.make_ascii_lowercase();
        key.push('@');
        key.push_str(&self.domain);
        key
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// Addresses go into many protocol lines and notes: `cat!` copies them without `Display`.
impl crate::text::Piece for Address {
    fn size(&self) -> usize {
        self.local.len() + 1 + self.domain.len()
    }
    fn push_to(&self, out: &mut String) {
        out.push_str(&self.local);
        out.push('@');
        out.push_str(&self.domain);
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
