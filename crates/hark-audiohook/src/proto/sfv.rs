//! Structured Field Values (RFC 8941): the dictionary parser and inner-list serializer that
//! HTTP message signatures need for `Signature-Input` and `Signature`.
//!
//! The parser follows the RFC's algorithm (section 4.2) and refuses anything outside the
//! grammar; it never panics on any input.

use std::fmt::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A bare item value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BareItem {
    /// An integer (at most 15 digits).
    Integer(i64),
    /// A decimal, kept exactly as thousandths.
    Decimal(i64),
    /// A quoted string.
    String(String),
    /// A token.
    Token(String),
    /// A byte sequence (`:base64:`).
    ByteSequence(Vec<u8>),
    /// A boolean (`?1`, `?0`).
    Boolean(bool),
}

/// Parameters attached to an item or inner list, in order.
pub type Parameters = Vec<(String, BareItem)>;

/// An item with its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The value.
    pub bare: BareItem,
    /// Its parameters.
    pub params: Parameters,
}

/// A dictionary member's value: an item or an inner list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member {
    /// A single item.
    Item(Item),
    /// A parenthesised list of items, with parameters on the list.
    InnerList {
        /// The items.
        items: Vec<Item>,
        /// The list's parameters.
        params: Parameters,
    },
}

/// A parsed dictionary: members in order, later duplicates overwriting earlier values.
pub type Dictionary = Vec<(String, Member)>;

/// Why a header is not a valid structured field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid structured field at byte {at}: {reason}")]
pub struct SfvError {
    /// Byte offset of the problem.
    pub at: usize,
    /// What was expected.
    pub reason: &'static str,
}

/// Parses a dictionary header value such as `sig1=("@authority");keyid="k"`.
pub fn parse_dictionary(input: &str) -> Result<Dictionary, SfvError> {
    let mut p = Parser {
        s: input.as_bytes(),
        i: 0,
    };
    p.skip_sp();
    let mut dict: Dictionary = Vec::new();
    if p.at_end() {
        return Ok(dict);
    }
    loop {
        let key = p.key()?;
        let member = if p.eat(b'=') {
            p.member_value()?
        } else {
            Member::Item(Item {
                bare: BareItem::Boolean(true),
                params: p.parameters()?,
            })
        };
        match dict.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = member,
            None => dict.push((key, member)),
        }
        p.skip_ows();
        if p.at_end() {
            return Ok(dict);
        }
        if !p.eat(b',') {
            return p.fail("expected ',' between members");
        }
        p.skip_ows();
        if p.at_end() {
            return p.fail("trailing ','");
        }
    }
}

/// Serializes an inner list with parameters, e.g. `("a" "b");k="v";n=1`.
pub fn serialize_inner_list(items: &[Item], params: &Parameters) -> String {
    let mut out = String::from("(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_bare(&mut out, &item.bare);
        write_params(&mut out, &item.params);
    }
    out.push(')');
    write_params(&mut out, params);
    out
}

fn write_params(out: &mut String, params: &Parameters) {
    for (key, value) in params {
        out.push(';');
        out.push_str(key);
        if *value != BareItem::Boolean(true) {
            out.push('=');
            write_bare(out, value);
        }
    }
}

fn write_bare(out: &mut String, bare: &BareItem) {
    match bare {
        BareItem::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        BareItem::Decimal(thousandths) => {
            let sign = if *thousandths < 0 { "-" } else { "" };
            let abs = thousandths.unsigned_abs();
            let frac = format!("{:03}", abs % 1000);
            let frac = frac.trim_end_matches('0');
            let _ = write!(
                out,
                "{sign}{}.{}",
                abs / 1000,
                if frac.is_empty() { "0" } else { frac }
            );
        }
        BareItem::String(s) => {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        BareItem::Token(t) => out.push_str(t),
        BareItem::ByteSequence(bytes) => {
            out.push(':');
            out.push_str(&STANDARD.encode(bytes));
            out.push(':');
        }
        BareItem::Boolean(b) => out.push_str(if *b { "?1" } else { "?0" }),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn fail<T>(&self, reason: &'static str) -> Result<T, SfvError> {
        Err(SfvError { at: self.i, reason })
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn key(&mut self) -> Result<String, SfvError> {
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => {}
            _ => return self.fail("expected a key"),
        }
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.*".contains(&c))
        {
            self.i += 1;
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn member_value(&mut self) -> Result<Member, SfvError> {
        if self.peek() == Some(b'(') {
            self.inner_list()
        } else {
            Ok(Member::Item(self.item()?))
        }
    }

    fn inner_list(&mut self) -> Result<Member, SfvError> {
        self.i += 1; // '('
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            if self.eat(b')') {
                let params = self.parameters()?;
                return Ok(Member::InnerList { items, params });
            }
            items.push(self.item()?);
            match self.peek() {
                Some(b' ' | b')') => {}
                _ => return self.fail("expected ' ' or ')' in inner list"),
            }
        }
    }

    fn item(&mut self) -> Result<Item, SfvError> {
        let bare = self.bare_item()?;
        let params = self.parameters()?;
        Ok(Item { bare, params })
    }

    fn parameters(&mut self) -> Result<Parameters, SfvError> {
        let mut params: Parameters = Vec::new();
        while self.eat(b';') {
            self.skip_sp();
            let key = self.key()?;
            let value = if self.eat(b'=') {
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            match params.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => params.push((key, value)),
            }
        }
        Ok(params)
    }

    fn bare_item(&mut self) -> Result<BareItem, SfvError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b':') => self.byte_sequence(),
            Some(b'?') => self.boolean(),
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => Ok(self.token()),
            _ => self.fail("expected an item"),
        }
    }

    fn number(&mut self) -> Result<BareItem, SfvError> {
        let negative = self.eat(b'-');
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let whole = &self.s[start..self.i];
        if whole.is_empty() {
            return self.fail("expected a digit");
        }
        let sign = if negative { -1 } else { 1 };
        if !self.eat(b'.') {
            if whole.len() > 15 {
                return self.fail("integer longer than 15 digits");
            }
            return Ok(BareItem::Integer(sign * digits(whole)));
        }
        let frac_start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let frac = &self.s[frac_start..self.i];
        if whole.len() > 12 || frac.is_empty() || frac.len() > 3 {
            return self.fail("decimal out of range");
        }
        let thousandths = digits(whole) * 1000 + digits(frac) * 10i64.pow(3 - frac.len() as u32);
        Ok(BareItem::Decimal(sign * thousandths))
    }

    fn string(&mut self) -> Result<BareItem, SfvError> {
        self.i += 1; // '"'
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(BareItem::String(out));
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c as char);
                            self.i += 1;
                        }
                        _ => return self.fail("invalid escape in string"),
                    }
                }
                Some(c @ 0x20..=0x7E) => {
                    out.push(c as char);
                    self.i += 1;
                }
                Some(_) => return self.fail("invalid character in string"),
            }
        }
    }

    fn token(&mut self) -> BareItem {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c))
        {
            self.i += 1;
        }
        BareItem::Token(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn byte_sequence(&mut self) -> Result<BareItem, SfvError> {
        self.i += 1; // ':'
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || b"+/=".contains(&c)) {
            self.i += 1;
        }
        let encoded = &self.s[start..self.i];
        if !self.eat(b':') {
            return self.fail("unterminated byte sequence");
        }
        STANDARD
            .decode(encoded)
            .map(BareItem::ByteSequence)
            .or_else(|_| self.fail("invalid base64 in byte sequence"))
    }

    fn boolean(&mut self) -> Result<BareItem, SfvError> {
        self.i += 1; // '?'
        match self.peek() {
            Some(b'1') => {
                self.i += 1;
                Ok(BareItem::Boolean(true))
            }
            Some(b'0') => {
                self.i += 1;
                Ok(BareItem::Boolean(false))
            }
            _ => self.fail("expected ?0 or ?1"),
        }
    }
}

fn digits(bytes: &[u8]) -> i64 {
    bytes.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: &str = r#"sig1=("@request-target" "@authority" "x-api-key");keyid="SGVsbG8=";nonce="abc";alg="hmac-sha256";created=1641013200;expires=3282026430"#;

    #[test]
    fn parses_a_signature_input_and_serializes_it_back() {
        let dict = parse_dictionary(INPUT).unwrap();
        assert_eq!(dict.len(), 1);
        let (label, Member::InnerList { items, params }) = &dict[0] else {
            panic!("not an inner list")
        };
        assert_eq!(label, "sig1");
        assert_eq!(items.len(), 3);
        assert_eq!(items[1].bare, BareItem::String("@authority".into()));
        assert_eq!(
            params[3],
            ("created".into(), BareItem::Integer(1_641_013_200))
        );
        assert_eq!(
            serialize_inner_list(items, params),
            INPUT.trim_start_matches("sig1=")
        );
    }

    #[test]
    fn parses_byte_sequences_and_other_items() {
        let dict = parse_dictionary(
            "sig1=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:, b=?0, c, d=1.5;x, e=tok/en",
        )
        .unwrap();
        let Member::Item(sig) = &dict[0].1 else {
            panic!()
        };
        let BareItem::ByteSequence(bytes) = &sig.bare else {
            panic!()
        };
        assert_eq!(bytes.len(), 32);
        assert_eq!(
            dict[1].1,
            Member::Item(Item {
                bare: BareItem::Boolean(false),
                params: vec![]
            })
        );
        assert_eq!(
            dict[2].1,
            Member::Item(Item {
                bare: BareItem::Boolean(true),
                params: vec![]
            })
        );
        let Member::Item(d) = &dict[3].1 else {
            panic!()
        };
        assert_eq!(d.bare, BareItem::Decimal(1500));
        assert_eq!(d.params, vec![("x".into(), BareItem::Boolean(true))]);
        let Member::Item(e) = &dict[4].1 else {
            panic!()
        };
        assert_eq!(e.bare, BareItem::Token("tok/en".into()));
    }

    #[test]
    fn later_duplicates_overwrite() {
        let dict = parse_dictionary("a=1, b=2, a=3").unwrap();
        assert_eq!(dict.len(), 2);
        assert_eq!(
            dict[0],
            (
                "a".into(),
                Member::Item(Item {
                    bare: BareItem::Integer(3),
                    params: vec![]
                })
            )
        );
    }

    #[test]
    fn refuses_malformed_input() {
        for bad in [
            "sig1=",
            "Sig1=1",
            "sig1=(\"a\"",
            "sig1=(\"a\"\"b\")",
            "sig1=\"unterminated",
            "sig1=:not base64!:",
            "sig1=:abc",
            "a=1,",
            "a=1 b=2",
            "a=?2",
            "a=1234567890123456",
            "a=1.2345",
            "a=\"\\x\"",
            "a=\"é\"",
            "a=-",
        ] {
            assert!(parse_dictionary(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_dictionary("").unwrap(), vec![]);
    }

    #[test]
    fn strings_escape_on_output() {
        let items = vec![Item {
            bare: BareItem::String("a\"b\\c".into()),
            params: vec![],
        }];
        assert_eq!(serialize_inner_list(&items, &vec![]), r#"("a\"b\\c")"#);
    }
}
