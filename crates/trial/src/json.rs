//! A check JSON parsers do not make: no object has the same key twice.
//!
//! `{"arm":"standard_care","arm":"hemoperfusion"}` is well-formed JSON, and parsers
//! disagree about it: serde's derived structs refuse it, `serde_json::Value` keeps
//! the last, a browser's `JSON.parse` keeps the last too, and other readers keep
//! the first. A record that means one thing to the server and another to a tablet
//! or a statistician's tool has no place in an audit trail, so both a request body
//! and an event's payload are refused when any object in them repeats a key.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// Occurs when JSON text has an object with a repeated key, or is not JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Occurs when one object holds the same key twice.
    DuplicateKey {
        /// Where the object is, as a path from the root (`events[2].payload`), empty
        /// for the root itself.
        path: String,
        /// The repeated key.
        key: String,
    },
    /// Occurs when the text is not JSON at all; the parser's words.
    Syntax(String),
}

/// Checks that no object anywhere in `text` repeats a key.
pub fn check_unique_keys(text: &str) -> Result<(), JsonError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, UniqueKeys>(&mut deserializer) {
        Ok(UniqueKeys) => deserializer
            .end()
            .map_err(|error| JsonError::Syntax(error.to_string())),
        Err(error) => {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            match message.strip_prefix(DUPLICATE_KEY) {
                Some(rest) => Err(JsonError::DuplicateKey {
                    // serde_path_to_error names the object the error arose in,
                    // and writes `.` for the root.
                    path: if path == "." { String::new() } else { path },
                    key: rest.split(" at line").next().unwrap_or(rest).to_owned(),
                }),
                None => Err(JsonError::Syntax(message)),
            }
        }
    }
}

/// The prefix of the parser error that marks a repeated key.
const DUPLICATE_KEY: &str = "duplicate key: ";

/// Any JSON value, read only to look for repeated keys.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!("{DUPLICATE_KEY}{key}")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateKey { path, key } if path.is_empty() => {
                write!(f, "the key `{key}` occurs twice")
            }
            Self::DuplicateKey { path, key } => {
                write!(f, "the key `{key}` occurs twice in `{path}`")
            }
            Self::Syntax(message) => write!(f, "not JSON: {message}"),
        }
    }
}

impl std::error::Error for JsonError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(), (&str, &str)>) {
        let expected = expected.map_err(|(path, key)| JsonError::DuplicateKey {
            path: path.to_owned(),
            key: key.to_owned(),
        });
        assert_eq!(check_unique_keys(text), expected, "{text}");
    }

    #[test]
    fn repeated_keys_are_found_at_any_depth() {
        check(r#"{"a":1,"b":[1,{"a":2}],"c":{"a":null}}"#, Ok(()));
        check(r#"[1,"x",true,null,1.5,-3]"#, Ok(()));
        check(r#"{"arm":"a","arm":"b"}"#, Err(("", "arm")));
        check(
            r#"{"events":[{"x":1},{"y":2,"y":3}]}"#,
            Err(("events[1]", "y")),
        );
        check(r#"{"a":{"b":{"c":1,"c":1}}}"#, Err(("a.b", "c")));
        // Keys equal after unescaping are the same key.
        check(r#"{"a":1,"\u0061":2}"#, Err(("", "a")));
    }

    #[test]
    fn text_that_is_not_json_is_a_syntax_error() {
        assert!(matches!(
            check_unique_keys(r#"{"a":"#),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(
            check_unique_keys("{} {}"),
            Err(JsonError::Syntax(_))
        ));
    }
}
