//! The one byte range a `Range` header asks of a file (RFC 9110 §14.1.2, single ranges only).

/// What a `Range` header asks of a file of known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// No usable range (none, several, or another unit): the whole file, `200`.
    Whole,
    /// Bytes `first..=last`, `206`.
    Part {
        /// The first byte.
        first: u64,
        /// The last byte (inclusive).
        last: u64,
    },
    /// A range outside the file, `416`.
    Unsatisfiable,
}

impl ByteRange {
    /// The range `bytes=a-b`, `bytes=a-` or `bytes=-n` of a `total`-byte file; several ranges
    /// or none mean the whole file.
    pub fn parse(header: Option<&str>, total: u64) -> ByteRange {
        let Some(spec) = header
            .and_then(|r| r.strip_prefix("bytes="))
            .filter(|s| !s.contains(','))
        else {
            return ByteRange::Whole;
        };
        let last_byte = total.saturating_sub(1);
        let parsed = match spec.split_once('-') {
            Some(("", suffix)) => suffix
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(|n| (total.saturating_sub(n), last_byte)),
            Some((a, "")) => a.parse::<u64>().ok().map(|a| (a, last_byte)),
            Some((a, b)) => a
                .parse::<u64>()
                .ok()
                .zip(b.parse::<u64>().ok())
                .map(|(a, b)| (a, b.min(last_byte))),
            None => None,
        };
        match parsed.filter(|(a, b)| a <= b && *a < total) {
            Some((first, last)) => ByteRange::Part { first, last },
            None => ByteRange::Unsatisfiable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange::{self, *};

    #[test]
    fn single_ranges_are_read_and_clamped() {
        let r = |h: &str| ByteRange::parse(Some(h), 100);
        assert_eq!(ByteRange::parse(None, 100), Whole);
        assert_eq!(
            r("bytes=10-19"),
            Part {
                first: 10,
                last: 19
            }
        );
        assert_eq!(
            r("bytes=90-"),
            Part {
                first: 90,
                last: 99
            }
        );
        assert_eq!(
            r("bytes=-5"),
            Part {
                first: 95,
                last: 99
            }
        );
        assert_eq!(r("bytes=-500"), Part { first: 0, last: 99 });
        assert_eq!(
            r("bytes=95-500"),
            Part {
                first: 95,
                last: 99
            }
        );
    }

    #[test]
    fn impossible_ranges_are_unsatisfiable_and_several_mean_the_whole_file() {
        let r = |h: &str| ByteRange::parse(Some(h), 100);
        for bad in [
            "bytes=100-",
            "bytes=9-3",
            "bytes=x-3",
            "bytes=-0",
            "bytes=5",
        ] {
            assert_eq!(r(bad), Unsatisfiable, "{bad}");
        }
        assert_eq!(r("bytes=0-1,5-6"), Whole);
        assert_eq!(r("items=0-1"), Whole);
        assert_eq!(ByteRange::parse(Some("bytes=0-"), 0), Unsatisfiable);
    }
}
