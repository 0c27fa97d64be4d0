//! Durations as Istio writes them in YAML: `"1.5s"`, `"100ms"`, `"1m"`, `"1h30m"`.
//!
//! Istio accepts Go's `time.ParseDuration` syntax for its duration fields, so we do too:
//! one or more `<decimal><unit>` pairs, units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`.
//! Negative durations are rejected: no Istio field takes one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration that serializes as Istio writes it (`"2s"`, `"500ms"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (write it like \"1.5s\", \"100ms\" or \"2m\")")]
pub struct DurationError {
    pub input: String,
    pub reason: &'static str,
}

impl Duration {
    pub const ZERO: Duration = Duration(std::time::Duration::ZERO);

    pub fn from_secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }

    pub fn from_millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }

    pub fn as_std(self) -> std::time::Duration {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| DurationError {
            input: input.to_string(),
            reason,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("empty"));
        }
        if s.starts_with('-') {
            return Err(err("must not be negative"));
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        if s == "0" {
            return Ok(Duration::ZERO);
        }
        let mut rest = s;
        let mut total_nanos: u128 = 0;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| err("missing unit"))?;
            if num_len == 0 {
                return Err(err("expected a number"));
            }
            let (num, after) = rest.split_at(num_len);
            let unit_len = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, after) = after.split_at(unit_len);
            let unit_nanos: u128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => return Err(err("unknown unit (use ns, us, ms, s, m or h)")),
            };
            let (int_part, frac_part) = match num.split_once('.') {
                Some((i, f)) => (i, f),
                None => (num, ""),
            };
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(err("expected a number"));
            }
            if frac_part.contains('.') {
                return Err(err("malformed number"));
            }
            let int: u128 = if int_part.is_empty() {
                0
            } else {
                int_part.parse().map_err(|_| err("number too large"))?
            };
            let mut nanos = int
                .checked_mul(unit_nanos)
                .ok_or_else(|| err("too large"))?;
            // Fractional part: scale digit by digit so "0.5s" is exact.
            let mut scale = unit_nanos;
            for d in frac_part.bytes() {
                scale /= 10;
                nanos += u128::from(d - b'0') * scale;
            }
            total_nanos = total_nanos
                .checked_add(nanos)
                .ok_or_else(|| err("too large"))?;
            rest = after;
        }
        let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| err("too large"))?;
        let sub = (total_nanos % 1_000_000_000) as u32;
        Ok(Duration(std::time::Duration::new(secs, sub)))
    }
}

impl fmt::Display for Duration {
    /// Prints the shortest exact form Istio accepts: `2s`, `1.5s`, `250ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos.is_multiple_of(1_000_000_000) {
            return write!(f, "{}s", nanos / 1_000_000_000);
        }
        if nanos.is_multiple_of(1_000_000) {
            return write!(f, "{}ms", nanos / 1_000_000);
        }
        if nanos.is_multiple_of(1_000) {
            return write!(f, "{}us", nanos / 1_000);
        }
        write!(f, "{nanos}ns")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A string in Istio's duration syntax (`2s`, `1500ms`, `1h30m`, `0.5s`, `0`).
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": r"^(0|([0-9]+(\.[0-9]+)?(h|m|s|ms|us|µs|ns))+)$",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> std::time::Duration {
        s.parse::<Duration>().expect(s).0
    }

    #[test]
    fn parses_istio_forms() {
        assert_eq!(parse("2s"), std::time::Duration::from_secs(2));
        assert_eq!(parse("0.5s"), std::time::Duration::from_millis(500));
        assert_eq!(parse("100ms"), std::time::Duration::from_millis(100));
        assert_eq!(parse("1m"), std::time::Duration::from_secs(60));
        assert_eq!(parse("1h30m"), std::time::Duration::from_secs(5400));
        assert_eq!(parse("1.5h"), std::time::Duration::from_secs(5400));
        assert_eq!(parse("250us"), std::time::Duration::from_micros(250));
        assert_eq!(parse("0"), std::time::Duration::ZERO);
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in ["", "5", "s", "-1s", "1x", "1.2.3s", "abc", "1s2", ".s"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["2s", "1500ms", "250us", "7ns", "0s"] {
            let d: Duration = s.parse().expect(s);
            assert_eq!(d.to_string().parse::<Duration>().expect(s), d);
        }
        assert_eq!(parse("1.5s"), Duration::from_millis(1500).0);
        assert_eq!(Duration::from_millis(1500).to_string(), "1500ms");
    }
}
