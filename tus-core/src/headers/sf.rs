//! A small, strict parser for the parts of Structured Field Values
//! ([RFC 9651](https://www.rfc-editor.org/rfc/rfc9651)) the IETF resumable
//! upload draft uses: an Item whose bare item is an Integer or a Boolean,
//! and a Dictionary whose members the caller reads as Integers.
//!
//! Every other bare-item type (Decimal, String, Token, Byte Sequence, Date,
//! Display String) and inner lists are *validated* by the RFC's grammar and
//! reported as [`Bare::Other`], so a value like `Upload-Limit: max-size=5,
//! note="x"` parses (unknown keys are ignored by the caller) while
//! `max-size=5, note="x` does not. Parameters are validated and dropped:
//! none of the draft's fields defines one.
//!
//! Written here rather than taken from the `sfv` crate: the draft needs
//! integers and booleans only, and this keeps `tus-core` free of the
//! decimal and ordered-map dependencies a complete implementation carries.

/// A parsed bare item, as far as the draft cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    /// An Integer (at most 15 digits, RFC 9651 §3.3.1).
    Integer(i64),
    /// A Boolean (`?0`, `?1`).
    Boolean(bool),
    /// A valid item of another type, or an inner list.
    Other,
}

/// Why a structured field value does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid structured field value: {0}")]
pub struct SfError(&'static str);

/// The largest absolute value of an Integer.
const MAX_INTEGER: i64 = 999_999_999_999_999;

/// Parses a whole field value as an Item (RFC 9651 §4.2.3).
pub fn item(input: &[u8]) -> Result<Bare, SfError> {
    let mut parser = Parser::new(input);
    parser.skip_sp();
    let bare = parser.bare_item()?;
    parser.parameters()?;
    parser.skip_sp();
    parser.end()?;
    Ok(bare)
}

/// Parses a whole field value as a Dictionary (RFC 9651 §4.2.2): the
/// members in order, each key once (a later duplicate replaces the earlier
/// value, as the RFC says).
pub fn dictionary(input: &[u8]) -> Result<Vec<(String, Bare)>, SfError> {
    let mut parser = Parser::new(input);
    parser.skip_sp();
    let mut members: Vec<(String, Bare)> = Vec::new();
    while !parser.at_end() {
        let key = parser.key()?;
        let value = if parser.eat(b'=') {
            let value = if parser.peek() == Some(b'(') {
                parser.inner_list()?;
                Bare::Other
            } else {
                parser.bare_item()?
            };
            parser.parameters()?;
            value
        } else {
            parser.parameters()?;
            Bare::Boolean(true)
        };
        match members.iter_mut().find(|(name, _)| *name == key) {
            Some(member) => member.1 = value,
            None => members.push((key, value)),
        }
        parser.skip_ows();
        if parser.at_end() {
            break;
        }
        if !parser.eat(b',') {
            return Err(SfError("expected a comma between dictionary members"));
        }
        parser.skip_ows();
        if parser.at_end() {
            return Err(SfError("trailing comma"));
        }
    }
    Ok(members)
}

/// Renders a non-negative integer as an sf-integer (callers keep it within
/// 999,999,999,999,999; larger values are clamped so the output always parses).
pub fn integer(value: u64) -> String {
    value.min(MAX_INTEGER as u64).to_string()
}

/// Renders a Boolean.
pub fn boolean(value: bool) -> &'static str {
    if value { "?1" } else { "?0" }
}

struct Parser<'a> {
    input: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self { input, at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn at_end(&self) -> bool {
        self.at >= self.input.len()
    }

    fn end(&self) -> Result<(), SfError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(SfError("unexpected characters after the value"))
        }
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn bare_item(&mut self) -> Result<Bare, SfError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string().map(|()| Bare::Other),
            Some(b'*' | b'a'..=b'z' | b'A'..=b'Z') => {
                self.token();
                Ok(Bare::Other)
            }
            Some(b':') => self.byte_sequence().map(|()| Bare::Other),
            Some(b'?') => self.boolean(),
            Some(b'@') => {
                self.at += 1;
                match self.number()? {
                    Bare::Integer(_) => Ok(Bare::Other),
                    _ => Err(SfError("a date is an integer")),
                }
            }
            Some(b'%') => self.display_string().map(|()| Bare::Other),
            _ => Err(SfError("not the start of an item")),
        }
    }

    /// An Integer or a Decimal (RFC 9651 §4.2.4).
    fn number(&mut self) -> Result<Bare, SfError> {
        let negative = self.eat(b'-');
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        let integer_digits = self.at - start;
        if integer_digits == 0 {
            return Err(SfError("a number needs a digit"));
        }
        if self.peek() == Some(b'.') {
            if integer_digits > 12 {
                return Err(SfError("decimal integer part too long"));
            }
            self.at += 1;
            let fraction = self.at;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.at += 1;
            }
            if !(1..=3).contains(&(self.at - fraction)) {
                return Err(SfError("a decimal has one to three fraction digits"));
            }
            return Ok(Bare::Other);
        }
        if integer_digits > 15 {
            return Err(SfError("integer too long"));
        }
        let mut value: i64 = 0;
        for &digit in &self.input[start..self.at] {
            value = value * 10 + i64::from(digit - b'0');
        }
        Ok(Bare::Integer(if negative { -value } else { value }))
    }

    fn string(&mut self) -> Result<(), SfError> {
        self.at += 1; // the opening quote
        loop {
            match self.bump() {
                None => return Err(SfError("unterminated string")),
                Some(b'"') => return Ok(()),
                Some(b'\\') => match self.bump() {
                    Some(b'"' | b'\\') => {}
                    _ => return Err(SfError("invalid escape in a string")),
                },
                Some(0x20..=0x7e) => {}
                Some(_) => return Err(SfError("invalid character in a string")),
            }
        }
    }

    fn token(&mut self) {
        self.at += 1; // ALPHA or '*', checked by the caller
        while self
            .peek()
            .is_some_and(|byte| is_tchar(byte) || byte == b':' || byte == b'/')
        {
            self.at += 1;
        }
    }

    fn byte_sequence(&mut self) -> Result<(), SfError> {
        self.at += 1; // the opening colon
        loop {
            match self.bump() {
                None => return Err(SfError("unterminated byte sequence")),
                Some(b':') => return Ok(()),
                Some(byte) if byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=') => {}
                Some(_) => return Err(SfError("invalid character in a byte sequence")),
            }
        }
    }

    fn boolean(&mut self) -> Result<Bare, SfError> {
        self.at += 1; // '?'
        match self.bump() {
            Some(b'0') => Ok(Bare::Boolean(false)),
            Some(b'1') => Ok(Bare::Boolean(true)),
            _ => Err(SfError("a boolean is ?0 or ?1")),
        }
    }

    fn display_string(&mut self) -> Result<(), SfError> {
        self.at += 1; // '%'
        if !self.eat(b'"') {
            return Err(SfError("a display string starts with %\""));
        }
        let mut bytes = Vec::new();
        loop {
            match self.bump() {
                None => return Err(SfError("unterminated display string")),
                Some(b'"') => break,
                Some(b'%') => {
                    let (Some(high), Some(low)) = (self.bump().and_then(hex), self.bump().and_then(hex)) else {
                        return Err(SfError("invalid percent-encoding in a display string"));
                    };
                    bytes.push(high << 4 | low);
                }
                Some(byte @ 0x20..=0x7e) => bytes.push(byte),
                Some(_) => return Err(SfError("invalid character in a display string")),
            }
        }
        std::str::from_utf8(&bytes)
            .map(|_| ())
            .map_err(|_| SfError("a display string is UTF-8"))
    }

    fn key(&mut self) -> Result<String, SfError> {
        let start = self.at;
        match self.peek() {
            Some(b'a'..=b'z' | b'*') => self.at += 1,
            _ => return Err(SfError("a key starts with a lowercase letter or *")),
        }
        while matches!(self.peek(), Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')) {
            self.at += 1;
        }
        // Only ASCII was consumed.
        Ok(String::from_utf8_lossy(&self.input[start..self.at]).into_owned())
    }

    fn parameters(&mut self) -> Result<(), SfError> {
        while self.eat(b';') {
            self.skip_sp();
            self.key()?;
            if self.eat(b'=') {
                self.bare_item()?;
            }
        }
        Ok(())
    }

    fn inner_list(&mut self) -> Result<(), SfError> {
        self.at += 1; // '('
        loop {
            self.skip_sp();
            if self.eat(b')') {
                return self.parameters();
            }
            self.bare_item()?;
            self.parameters()?;
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return Err(SfError("inner list items are separated by spaces"));
            }
        }
    }
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_table() {
        let cases: &[(&str, Option<Bare>)] = &[
            ("?1", Some(Bare::Boolean(true))),
            ("?0", Some(Bare::Boolean(false))),
            (" ?1 ", Some(Bare::Boolean(true))),
            ("?1;a=2", Some(Bare::Boolean(true))),
            ("?1;a", Some(Bare::Boolean(true))),
            ("?2", None),
            ("?", None),
            ("true", Some(Bare::Other)),
            ("1", Some(Bare::Integer(1))),
            ("-1", Some(Bare::Integer(-1))),
            ("0", Some(Bare::Integer(0))),
            ("007", Some(Bare::Integer(7))),
            ("999999999999999", Some(Bare::Integer(MAX_INTEGER))),
            ("1000000000000000", None),
            ("1.5", Some(Bare::Other)),
            ("1.", None),
            ("1.2345", None),
            ("1234567890123.4", None),
            ("-", None),
            ("+1", None),
            ("1e3", None),
            ("1 2", None),
            ("1,2", None),
            ("\"a\\\"b\"", Some(Bare::Other)),
            ("\"a\\n\"", None),
            ("\"open", None),
            (":aGVsbG8=:", Some(Bare::Other)),
            (":a b:", None),
            ("@1659578233", Some(Bare::Other)),
            ("@1.5", None),
            ("%\"caf%c3%a9\"", Some(Bare::Other)),
            ("%\"%ff\"", None),
            ("%\"%C3%A9\"", None),
            ("", None),
            ("\t?1", None),
            ("5;A=1", None),
        ];
        for (input, expected) in cases {
            assert_eq!(item(input.as_bytes()).ok(), *expected, "input {input:?}");
        }
    }

    #[test]
    fn dictionaries_table() {
        let ok = |input: &str| dictionary(input.as_bytes()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(
            ok("max-size=10, min-size=0"),
            [
                ("max-size".to_owned(), Bare::Integer(10)),
                ("min-size".to_owned(), Bare::Integer(0))
            ]
        );
        assert_eq!(ok("a=1,a=2"), [("a".to_owned(), Bare::Integer(2))]);
        assert_eq!(
            ok("flag;x=1, b=(1 2);y"),
            [("flag".to_owned(), Bare::Boolean(true)), ("b".to_owned(), Bare::Other)]
        );
        assert_eq!(ok(""), []);
        assert_eq!(
            ok("a=1 ,\tb=2"),
            [("a".to_owned(), Bare::Integer(1)), ("b".to_owned(), Bare::Integer(2))]
        );
        for bad in [
            "a=1,", "a=1 b=2", "A=1", "1a=1", "a=", "a=(1 2", "a=(1,2)", ",a=1", "a=\"x",
        ] {
            assert!(dictionary(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rendering_round_trips() {
        for value in [0, 1, 42, MAX_INTEGER as u64] {
            assert_eq!(item(integer(value).as_bytes()), Ok(Bare::Integer(value as i64)));
        }
        assert_eq!(item(integer(u64::MAX).as_bytes()), Ok(Bare::Integer(MAX_INTEGER)));
        assert_eq!(item(boolean(true).as_bytes()), Ok(Bare::Boolean(true)));
        assert_eq!(item(boolean(false).as_bytes()), Ok(Bare::Boolean(false)));
    }
}
