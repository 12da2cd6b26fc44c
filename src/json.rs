//! A small JSON reader and writer for the API's messages. Reading is a checked
//! walk over the bytes that never panics and bounds nesting; writing goes
//! through [`Object`] and [`array`], so every message kv sends is built one
//! way, with its strings escaped.

use std::fmt::Write;

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// Nesting deeper than this is refused (input messages are one level deep).
const MAX_DEPTH: usize = 16;

impl Value {
    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("unexpected data after JSON value at byte {}", p.i));
        }
        Ok(v)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number if it is an integer within `i64` (JSON has only floats).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Some(*n as i64),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, lit: &str) -> Result<(), String> {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(format!("invalid JSON at byte {}", self.i))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("JSON nested too deeply".into());
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.expect("true").map(|_| Value::Bool(true)),
            Some(b'f') => self.expect("false").map(|_| Value::Bool(false)),
            Some(b'n') => self.expect("null").map(|_| Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(format!("invalid JSON at byte {}", self.i)),
            None => Err("unexpected end of JSON".into()),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.i += 1;
        let mut fields = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(fields));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(format!("expected a string key at byte {}", self.i));
            }
            let key = self.string()?;
            self.ws();
            self.expect(":")?;
            let v = self.value(depth + 1)?;
            fields.push((key, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(fields));
                }
                _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(format!("expected ',' or ']' at byte {}", self.i)),
            }
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|n| n.is_finite())
            .map(Value::Number)
            .ok_or_else(|| format!("invalid number at byte {start}"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .ok_or("truncated \\u escape")?;
        let text = std::str::from_utf8(digits).map_err(|_| "invalid \\u escape")?;
        let n = u32::from_str_radix(text, 16).map_err(|_| "invalid \\u escape")?;
        self.i += 4;
        Ok(n)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let b = self.peek().ok_or("unterminated string")?;
            self.i += 1;
            match b {
                b'"' => return String::from_utf8(out).map_err(|_| "string is not UTF-8".into()),
                b'\\' => {
                    let e = self.peek().ok_or("unterminated string")?;
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.expect("\\u")?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err("invalid surrogate pair".into());
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or("invalid \\u escape")?
                        }
                        _ => return Err(format!("invalid escape at byte {}", self.i - 1)),
                    };
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                0..=0x1f => return Err("control character in string".into()),
                _ => out.push(b),
            }
        }
    }
}

/// `s` as a quoted JSON string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON object written field by field, in the order the fields are added.
///
/// ```
/// let o = kv::json::Object::new().str("name", "a\"b").num("size", 5).bool("ok", true);
/// assert_eq!(o.finish(), r#"{"name":"a\"b","size":5,"ok":true}"#);
/// ```
#[must_use]
pub struct Object {
    out: String,
}

impl Default for Object {
    fn default() -> Object {
        Object::new()
    }
}

impl Object {
    pub fn new() -> Object {
        Object {
            out: String::from("{"),
        }
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        self.out.push_str(&quote(key));
        self.out.push(':');
    }

    /// `value`, already JSON (a nested object or array, or a literal).
    pub fn raw(mut self, key: &str, value: &str) -> Object {
        self.key(key);
        self.out.push_str(value);
        self
    }

    pub fn str(self, key: &str, value: &str) -> Object {
        self.raw(key, &quote(value))
    }

    /// The string, or `null` when there is none.
    pub fn opt_str(self, key: &str, value: Option<&str>) -> Object {
        match value {
            Some(v) => self.str(key, v),
            None => self.raw(key, "null"),
        }
    }

    /// An integer (or anything whose `Display` is a JSON number).
    pub fn num(mut self, key: &str, value: impl std::fmt::Display) -> Object {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    /// A measured value, with one decimal.
    pub fn decimal(mut self, key: &str, value: f64) -> Object {
        self.key(key);
        // JSON has no NaN or infinity: a meter that divides by zero reads 0.
        let value = if value.is_finite() { value } else { 0.0 };
        let _ = write!(self.out, "{value:.1}");
        self
    }

    pub fn bool(self, key: &str, value: bool) -> Object {
        self.raw(key, if value { "true" } else { "false" })
    }

    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// A JSON array of values that are already JSON.
pub fn array<I>(items: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_input_message() {
        let v = Value::parse(r#" {"type":"key","code":"KeyA","down":true,"x":-12} "#).unwrap();
        assert_eq!(v.get("type").and_then(Value::as_str), Some("key"));
        assert_eq!(v.get("down").and_then(Value::as_bool), Some(true));
        assert_eq!(v.get("x").and_then(Value::as_i64), Some(-12));
        assert_eq!(v.get("missing"), None);
    }

    #[test]
    fn test_parse_escapes() {
        let v = Value::parse(r#""a\"b\\c\n\u00e9\ud83d\ude00""#).unwrap();
        assert_eq!(v.as_str(), Some("a\"b\\c\né😀"));
    }

    #[test]
    fn test_parse_rejects_malformed() {
        for bad in [
            "",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "[1,]",
            "\"abc",
            "tru",
            "1e999",
            "{} x",
            "\"\\x\"",
            "\"\\ud800\"",
            "{1:2}",
            "\"\u{1}\"",
        ] {
            assert!(Value::parse(bad).is_err(), "{bad:?} should fail");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(Value::parse(&deep).is_err());
    }

    #[test]
    fn test_quote_round_trip() {
        let s = "he said \"hi\"\n\t\\ \u{1} é";
        assert_eq!(Value::parse(&quote(s)).unwrap().as_str(), Some(s));
    }

    #[test]
    fn test_integers_only_for_as_i64() {
        assert_eq!(Value::parse("1.5").unwrap().as_i64(), None);
        assert_eq!(Value::parse("32767").unwrap().as_i64(), Some(32767));
    }

    #[test]
    fn test_object_writer_parses_back() {
        let inner = Object::new().num("w", 1280).finish();
        let text = Object::new()
            .str("name", "x\"y\n")
            .opt_str("none", None)
            .decimal("fps", 29.96)
            .decimal("nan", f64::NAN)
            .raw("mode", &inner)
            .raw("list", &array(["1", "\"a\""]))
            .bool("ok", false)
            .finish();
        assert_eq!(
            text,
            r#"{"name":"x\"y\n","none":null,"fps":30.0,"nan":0.0,"mode":{"w":1280},"list":[1,"a"],"ok":false}"#
        );
        let v = Value::parse(&text).unwrap();
        assert_eq!(v.get("name").and_then(Value::as_str), Some("x\"y\n"));
        assert_eq!(Object::new().finish(), "{}");
        assert_eq!(array(Vec::<String>::new()), "[]");
    }
}
