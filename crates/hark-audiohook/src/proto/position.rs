//! Stream positions and durations as AudioHook writes them: `PT<seconds>S`.
//!
//! Kept internally as whole nanoseconds, which is sample-exact at 8 kHz (125 000 ns per sample)
//! and never goes through a float, so `PT0.0000001S` is never printed as `1e-7`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A non-negative stream position or duration, e.g. `PT1.5S`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    nanos: u64,
}

/// Why a duration string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}: expected PT<seconds>S, e.g. PT1.5S")]
pub struct PositionError(pub String);

impl Position {
    /// Position zero (`PT0S`).
    pub const ZERO: Position = Position { nanos: 0 };

    /// A position from whole nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        Position { nanos }
    }

    /// The position after `samples` samples at `rate` Hz (rounded down to the nanosecond).
    pub fn from_samples(samples: u64, rate: u32) -> Self {
        let nanos = u128::from(samples) * u128::from(NANOS_PER_SEC) / u128::from(rate.max(1));
        Position {
            nanos: u64::try_from(nanos).unwrap_or(u64::MAX),
        }
    }

    /// The number of whole samples at `rate` Hz up to this position (rounded down).
    pub fn to_samples(self, rate: u32) -> u64 {
        (u128::from(self.nanos) * u128::from(rate) / u128::from(NANOS_PER_SEC)) as u64
    }

    /// Whole nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// As a standard duration.
    pub const fn as_duration(self) -> Duration {
        Duration::from_nanos(self.nanos)
    }

    /// `self - other`, or zero if `other` is later.
    pub const fn saturating_sub(self, other: Position) -> Position {
        Position {
            nanos: self.nanos.saturating_sub(other.nanos),
        }
    }

    /// `self + other`, saturating at the largest position.
    pub const fn saturating_add(self, other: Position) -> Position {
        Position {
            nanos: self.nanos.saturating_add(other.nanos),
        }
    }
}

impl From<Duration> for Position {
    fn from(d: Duration) -> Self {
        Position {
            nanos: u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        }
    }
}

impl fmt::Display for Position {
    /// `PT{secs}S`, or `PT{secs}.{fraction}S` with trailing zeros trimmed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, frac) = (self.nanos / NANOS_PER_SEC, self.nanos % NANOS_PER_SEC);
        if frac == 0 {
            return write!(f, "PT{secs}S");
        }
        let digits = format!("{frac:09}");
        write!(f, "PT{secs}.{}S", digits.trim_end_matches('0'))
    }
}

impl FromStr for Position {
    type Err = PositionError;

    /// Accepts `PT1S`, `PT1.5S`, `PT.5S`, `PT1.S`; digits beyond nanoseconds are truncated.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PositionError(s.chars().take(64).collect());
        let body = s
            .strip_prefix("PT")
            .and_then(|b| b.strip_suffix('S'))
            .ok_or_else(bad)?;
        let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
            return Err(bad());
        }
        if !body.contains('.') && whole.is_empty() {
            return Err(bad());
        }
        let secs: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut nanos = 0u64;
        for (i, digit) in frac.bytes().take(9).enumerate() {
            nanos += u64::from(digit - b'0') * 10u64.pow(8 - i as u32);
        }
        secs.checked_mul(NANOS_PER_SEC)
            .and_then(|n| n.checked_add(nanos))
            .map(Position::from_nanos)
            .ok_or_else(bad)
    }
}

impl Serialize for Position {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Position {
        s.parse().unwrap()
    }

    #[test]
    fn formats_like_the_spec() {
        assert_eq!(Position::ZERO.to_string(), "PT0S");
        assert_eq!(Position::from_samples(1600, 8000).to_string(), "PT0.2S");
        assert_eq!(Position::from_samples(12_000, 8000).to_string(), "PT1.5S");
        assert_eq!(Position::from_nanos(1_308_200).to_string(), "PT0.0013082S");
        assert_eq!(Position::from_nanos(100).to_string(), "PT0.0000001S");
        assert_eq!(Position::from_nanos(10_000_000_000).to_string(), "PT10S");
    }

    #[test]
    fn parses_what_genesys_and_the_reference_send() {
        assert_eq!(p("PT0S"), Position::ZERO);
        assert_eq!(p("PT0.0S"), Position::ZERO);
        assert_eq!(p("PT5.581928956S").as_nanos(), 5_581_928_956);
        assert_eq!(p("PT1.S").as_nanos(), 1_000_000_000);
        assert_eq!(p("PT.5S").as_nanos(), 500_000_000);
        assert_eq!(
            p("PT0.0000000019S").as_nanos(),
            1,
            "beyond nanoseconds is truncated"
        );
        assert_eq!(p("PT1.5S").to_samples(8000), 12_000);
    }

    #[test]
    fn refuses_other_forms() {
        for bad in [
            "",
            "PT",
            "PTS",
            "PT.S",
            "PT1M5S",
            "PT-1S",
            "P1S",
            "PT1",
            "1S",
            "PT1e-7S",
            "PT 1S",
            "PT1.2.3S",
            "PT99999999999999999999S",
        ] {
            assert!(bad.parse::<Position>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn serde_uses_the_string_form() {
        let json = serde_json::to_string(&Position::from_samples(800, 8000)).unwrap();
        assert_eq!(json, "\"PT0.1S\"");
        assert_eq!(
            serde_json::from_str::<Position>("\"PT2S\"")
                .unwrap()
                .as_nanos(),
            2_000_000_000
        );
        assert!(serde_json::from_str::<Position>("2").is_err());
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(nanos in 0u64..u64::MAX / 2) {
            let pos = Position::from_nanos(nanos);
            prop_assert_eq!(pos.to_string().parse::<Position>().unwrap(), pos);
        }

        #[test]
        fn samples_round_trip_at_8k(samples in 0u64..1u64 << 40) {
            prop_assert_eq!(Position::from_samples(samples, 8000).to_samples(8000), samples);
        }
    }
}
