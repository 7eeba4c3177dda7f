//! JSON the way the Python hooks saw it: objects keep their keys in document order (a `dict`),
//! and [`dumps`] writes text byte for byte as Python's `json.dumps` does (`", "` and `": "`
//! separators, or compact; `ensure_ascii` on or off). The workspace's `serde_json::Value` sorts
//! keys, which would change which string a summary picks and how a request is worded.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt::{self, Write as _};

/// A JSON value with ordered objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Map),
}

/// An object: keys in first-seen order; a repeated key replaces the value in place (as a Python
/// `dict` built by `json.loads`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map(Vec<(String, Json)>);

impl Map {
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn insert(&mut self, key: &str, value: Json) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &Json> {
        self.0.iter().map(|(_, v)| v)
    }

    /// Builds an object from `(key, value)` pairs, in that order.
    pub fn from_pairs<const N: usize>(pairs: [(&str, Json); N]) -> Map {
        let mut map = Map::default();
        for (k, v) in pairs {
            map.insert(k, v);
        }
        map
    }
}

impl Json {
    pub fn str(text: impl Into<String>) -> Json {
        Json::String(text.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// Python's truth value: `None`, `False`, `0`, `""`, `[]` and `{}` are false.
    pub fn truthy(&self) -> bool {
        match self {
            Json::Null => false,
            Json::Bool(b) => *b,
            Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Json::String(s) => !s.is_empty(),
            Json::Array(a) => !a.is_empty(),
            Json::Object(m) => !m.0.is_empty(),
        }
    }

    /// Python's `str()` of the value (containers as JSON, close enough for messages).
    pub fn py_str(&self) -> String {
        match self {
            Json::Null => "None".to_owned(),
            Json::Bool(true) => "True".to_owned(),
            Json::Bool(false) => "False".to_owned(),
            Json::Number(n) => n.to_string(),
            Json::String(s) => s.clone(),
            other => dumps(other, false),
        }
    }
}

/// Parses JSON text.
pub fn parse(text: &[u8]) -> serde_json::Result<Json> {
    serde_json::from_slice(text)
}

/// Parses a hook's input: the top-level object, or `None` when the input is another JSON value.
/// `tool_response` (what a tool returned: a whole file for `Read`) is skipped unread: no hook
/// looks at it, and it is by far the largest part of a `PostToolUse` input.
pub fn parse_event(text: &[u8]) -> serde_json::Result<Option<Map>> {
    let event: Event = serde_json::from_slice(text)?;
    Ok(event.0)
}

struct Event(Option<Map>);

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Event;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Event, A::Error> {
                let mut map = Map::default();
                while let Some(key) = access.next_key::<String>()? {
                    if key == "tool_response" {
                        access.next_value::<IgnoredAny>()?;
                    } else {
                        let value = access.next_value::<Json>()?;
                        map.insert(&key, value);
                    }
                }
                Ok(Event(Some(map)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Event, A::Error> {
                while access.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Event(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Event, E> {
                Ok(Event(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Event, E> {
                Ok(Event(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Event, E> {
                Ok(Event(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Event, E> {
                Ok(Event(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Event, E> {
                Ok(Event(None))
            }
            fn visit_unit<E>(self) -> Result<Event, E> {
                Ok(Event(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(n)
                    .map(Json::Number)
                    .ok_or_else(|| E::custom("not a finite number"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::String(s))
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = access.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Json, A::Error> {
                let mut map = Map::default();
                while let Some((key, value)) = access.next_entry::<String, Json>()? {
                    map.insert(&key, value);
                }
                Ok(Json::Object(map))
            }
        }
        d.deserialize_any(V)
    }
}

/// `json.dumps(value, ensure_ascii=ascii)`: separators `", "` and `": "`.
pub fn dumps(value: &Json, ascii: bool) -> String {
    let mut out = String::new();
    write(&mut out, value, ascii, (", ", ": "));
    out
}

/// `json.dumps(value, ensure_ascii=False, separators=(",", ":"))`.
pub fn dumps_compact(value: &Json) -> String {
    let mut out = String::new();
    write(&mut out, value, false, (",", ":"));
    out
}

fn write(out: &mut String, value: &Json, ascii: bool, seps: (&str, &str)) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Json::String(s) => write_str(out, s, ascii),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(seps.0);
                }
                write(out, item, ascii, seps);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.0.iter().enumerate() {
                if i > 0 {
                    out.push_str(seps.0);
                }
                write_str(out, k, ascii);
                out.push_str(seps.1);
                write(out, v, ascii, seps);
            }
            out.push('}');
        }
    }
}

/// A JSON string as Python writes it: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other C0
/// controls as `\u00XX`; with `ascii`, also DEL and everything past ASCII as `\uXXXX` (UTF-16).
fn write_str(out: &mut String, s: &str, ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' || (ascii && c > '~') => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_writes_like_python() {
        let v =
            parse(br#"{"z": 1, "a": [true, null, 1.5], "m": "\u00e9\u001b\n\"", "z": 2}"#).unwrap();
        // Python: json.dumps(json.loads(...), ensure_ascii=False)
        assert_eq!(
            dumps(&v, false),
            "{\"z\": 2, \"a\": [true, null, 1.5], \"m\": \"é\\u001b\\n\\\"\"}"
        );
        assert_eq!(
            dumps(&Json::str("é😀\u{7f}"), true),
            "\"\\u00e9\\ud83d\\ude00\\u007f\""
        );
        assert_eq!(
            dumps_compact(&Json::Object(Map::from_pairs([
                ("type", Json::str("activity")),
                ("text", Json::str("Bash: ls")),
            ]))),
            r#"{"type":"activity","text":"Bash: ls"}"#
        );
    }

    #[test]
    fn an_event_skips_the_tool_response_and_only_objects_are_events() {
        let e = parse_event(br#"{"tool_response": {"x": [1, 2]}, "tool_name": "Bash"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(e.get("tool_response"), None);
        assert_eq!(e.get("tool_name").and_then(Json::as_str), Some("Bash"));
        assert_eq!(parse_event(b"[1, {}]").unwrap(), None);
        assert_eq!(parse_event(b"\"x\"").unwrap(), None);
        assert!(parse_event(b"{").is_err());
    }

    #[test]
    fn truth_and_str_follow_python() {
        assert!(!Json::str("").truthy());
        assert!(!Json::Number(0.into()).truthy());
        assert!(Json::Bool(true).truthy());
        assert_eq!(Json::Null.py_str(), "None");
        assert_eq!(Json::Number(7.into()).py_str(), "7");
    }
}
