//! Building the simulation's many short strings without the formatting machinery.
//!
//! Every hop writes protocol lines and notes (`MAIL FROM:<...> SIZE=...`, "mx.beta.example takes
//! responsibility..."). `format!` dispatches each argument through `Display` and grows its buffer
//! as it goes; [`cat!`](crate::cat) measures the pieces first and copies them into one allocation
//! of the right size. The benchmark world spends a sixth of its time in `format!` otherwise.

/// A piece [`cat!`](crate::cat) can join: text or a number.
pub trait Piece {
    /// An upper bound of the bytes [`Piece::push_to`] appends.
    fn size(&self) -> usize;
    fn push_to(&self, out: &mut String);
}

impl Piece for str {
    fn size(&self) -> usize {
        self.len()
    }
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Piece for String {
    fn size(&self) -> usize {
        self.len()
    }
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Piece for char {
    fn size(&self) -> usize {
        self.len_utf8()
    }
    fn push_to(&self, out: &mut String) {
        out.push(*self);
    }
}

impl<T: Piece + ?Sized> Piece for &T {
    fn size(&self) -> usize {
        (**self).size()
    }
    fn push_to(&self, out: &mut String) {
        (**self).push_to(out);
    }
}

/// An IPv4 address as its `Display` writes it (`10.0.0.1`): every connection stamps its
/// client's, and `Display` for addresses costs a thousand instructions.
impl Piece for std::net::Ipv4Addr {
    fn size(&self) -> usize {
        15
    }
    fn push_to(&self, out: &mut String) {
        for (i, octet) in self.octets().into_iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            push_decimal(out, u64::from(octet), 1);
        }
    }
}

macro_rules! number_piece {
    ($($t:ty),*) => {$(
        impl Piece for $t {
            fn size(&self) -> usize {
                20
            }
            fn push_to(&self, out: &mut String) {
                push_decimal(out, *self as u64, 1);
            }
        }
    )*};
}
number_piece!(u8, u16, u32, u64, usize);

/// Appends `n` in decimal with at least `width` digits (leading zeros).
pub fn push_decimal(out: &mut String, n: u64, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// Joins text and numbers into a new `String` with one allocation:
/// `cat!(host, " connects to ", server, " port ", 25u16)`.
#[macro_export]
macro_rules! cat {
    ($($piece:expr),+ $(,)?) => {
        $crate::text::join(&[$(&$piece as &dyn $crate::text::Piece),+])
    };
}

/// The pieces of a text, not yet joined: `pieces!(host, " connects to ", server)`. The
/// simulation hands its notes over so, and the trace copies them straight into its store.
#[macro_export]
macro_rules! pieces {
    ($($piece:expr),+ $(,)?) => {
        &[$(&$piece as &dyn $crate::text::Piece),+][..]
    };
}

/// A count and its noun, singular for one: `counted(1, "entry", "entries")` is "1 entry",
/// `counted(3, "entry", "entries")` "3 entries".
pub fn counted(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What [`cat!`](crate::cat) expands to: each piece is evaluated once, measured, then copied.
pub fn join(pieces: &[&dyn Piece]) -> String {
    let mut out = String::with_capacity(pieces.iter().map(|p| p.size()).sum());
    for p in pieces {
        p.push_to(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::push_decimal;

    #[test]
    fn a_count_of_one_is_singular() {
        assert_eq!(super::counted(1, "message", "messages"), "1 message");
        assert_eq!(super::counted(0, "message", "messages"), "0 messages");
        assert_eq!(super::counted(2, "entry", "entries"), "2 entries");
    }

    #[test]
    fn cat_joins_text_chars_and_numbers() {
        let host = String::from("mx.beta.example");
        let s = crate::cat!(&host, " port ", 25u16, ' ', "(", 0usize, ")");
        assert_eq!(s, "mx.beta.example port 25 (0)");
        assert_eq!(crate::cat!(u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn addresses_and_record_types_read_as_their_display() {
        use std::net::Ipv4Addr;
        for ip in [
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(255, 255, 255, 255),
            Ipv4Addr::UNSPECIFIED,
        ] {
            assert_eq!(crate::cat!(ip), ip.to_string());
        }
        use crate::proto::dns::RecordType;
        for t in RecordType::KNOWN
            .into_iter()
            .chain([RecordType::Other(65535)])
        {
            assert_eq!(crate::cat!(t), t.to_string());
        }
    }

    #[test]
    fn decimals_pad_to_their_width() {
        let mut s = String::new();
        push_decimal(&mut s, 7, 2);
        push_decimal(&mut s, 2026, 4);
        push_decimal(&mut s, 0, 1);
        push_decimal(&mut s, 12345, 2);
        assert_eq!(s, "07".to_owned() + "2026" + "0" + "12345");
    }
}
