//! Times in scenario files: `"90s"`, `"30m"`, `"2h"`, `"1d"`, `"250ms"`, or a bare number of milliseconds.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A virtual time or duration in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    /// Parses `"250ms"`, `"90s"`, `"30m"`, `"2h"`, `"4d"`, or combinations such as `"1h30m"`.
    pub fn parse(text: &str) -> Result<Millis, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty time; write e.g. \"90s\", \"30m\" or \"2h\"".into());
        }
        if let Ok(n) = text.parse::<u64>() {
            return Ok(Millis(n));
        }
        let mut total: u64 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!(
                    "{text:?} is not a time; write e.g. \"90s\", \"30m\" or \"2h\""
                ));
            }
            let n: u64 = rest[..digits]
                .parse()
                .map_err(|_| format!("{text:?}: number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let factor = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" | "min" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                unit => {
                    return Err(format!(
                        "unknown time unit {unit:?} in {text:?}; use ms, s, m, h or d"
                    ));
                }
            };
            rest = &rest[unit_len..];
            total = n
                .checked_mul(factor)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("{text:?}: time too large"))?;
        }
        Ok(Millis(total))
    }
}

impl fmt::Display for Millis {
    /// The shortest exact form, as a teacher would write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms == 0 {
            return write!(f, "0s");
        }
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Millis;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a time such as \"90s\", \"30m\", \"2h\" or a number of milliseconds"
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Millis, E> {
                Ok(Millis(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Millis, E> {
                u64::try_from(v)
                    .map(Millis)
                    .map_err(|_| E::custom("a time cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Millis, E> {
                Millis::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teacher_friendly_times() {
        assert_eq!(Millis::parse("90s"), Ok(Millis(90_000)));
        assert_eq!(Millis::parse("1h30m"), Ok(Millis(5_400_000)));
        assert_eq!(Millis::parse("250ms"), Ok(Millis(250)));
        assert_eq!(Millis::parse("1500"), Ok(Millis(1500)));
        assert!(Millis::parse("5 minutes").is_err());
        assert_eq!(Millis(5_400_000).to_string(), "90m");
        assert_eq!(Millis(7_200_000).to_string(), "2h");
    }
}
