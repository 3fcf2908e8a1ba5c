//! [`Strict`]: request bodies read as strictly as the OpenAPI document describes them.
//!
//! serde's derived `Deserialize` for a struct also accepts a JSON array, read as the
//! struct's fields in declaration order, and `serde_json` accepts an enum's unit variant
//! written as `{"variant": null}`. Neither is JSON the document allows (`type: object`,
//! `enum` of strings), so a body is first parsed into a [`Value`] and then deserialized
//! through [`Strict`], which offers exactly JSON's shapes: a struct must be an object, a
//! sequence an array, an enum a string naming a unit variant (request types have no
//! data-carrying variants). Everything else behaves as `serde_json`'s own `Value`
//! deserializer, numbers included (their exact text is kept with `arbitrary_precision`).

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, Error as _, IntoDeserializer, Unexpected};
use serde_json::{Deserializer as Json, Error, Value};

/// A deserializer over a parsed JSON value that rejects shapes JSON does not have.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Strict<'de>(pub(crate) &'de Value);

/// The JSON type of a value, for "invalid type" messages in JSON's own terms.
fn json_type(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Other("null"),
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Other("number"),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Other("array"),
        Value::Object(_) => Unexpected::Other("object"),
    }
}

macro_rules! forward_scalars {
    ($($method:ident)*) => {
        $(
            fn $method<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.0.$method(visitor)
            }
        )*
    };
}

/// Typed numbers. `serde_json`'s own `Number` deserializer, with `arbitrary_precision`,
/// reports a number out of the target's range as a syntax error; here the visitor gets
/// the number as `u64`, `i64` or `f64` and rejects it as a value of the wrong range or
/// type, like any other data error.
macro_rules! numbers {
    ($read:ident: $($method:ident)*) => {
        $(
            fn $method<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.$read(visitor)
            }
        )*
    };
}

/// Where an integral `f64` converts to `i64` (below 0) or `u64` exactly.
const INTEGRAL_RANGE: std::ops::Range<f64> = (i64::MIN as f64)..18_446_744_073_709_551_616.0;

impl<'de> Strict<'de> {
    /// An integer as JSON Schema defines it: a number with a zero fractional part, so
    /// `60`, `60.0` and `6e1` are all the integer 60 (the document says `integer`).
    fn integer<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Value::Number(n) = self.0 {
            if !n.is_u64() && !n.is_i64() {
                if let Some(f) = n
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && INTEGRAL_RANGE.contains(f))
                {
                    // Exact: an integral f64 in range converts without rounding.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    return if f >= 0.0 {
                        visitor.visit_u64(f as u64)
                    } else {
                        visitor.visit_i64(f as i64)
                    };
                }
            }
        }
        self.number(visitor)
    }

    fn number<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let Value::Number(n) = self.0 else {
            return self.deserialize_any(visitor);
        };
        if let Some(u) = n.as_u64() {
            visitor.visit_u64(u)
        } else if let Some(i) = n.as_i64() {
            visitor.visit_i64(i)
        } else if let Some(f) = n.as_f64() {
            visitor.visit_f64(f)
        } else {
            Err(Error::invalid_value(Unexpected::Other("number"), &visitor))
        }
    }
}

impl<'de> Deserializer<'de> for Strict<'de> {
    type Error = Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Seq(items.iter())),
            Value::Object(map) => visitor.visit_map(Map {
                entries: map.iter(),
                value: None,
            }),
            // Through the text parser, which hands on the exact text of any number that
            // does not fit `u64`/`i64` (`Value` keeps it, `-0` included).
            Value::Number(n) => Json::from_str(n.as_str()).deserialize_any(visitor),
            scalar => scalar.deserialize_any(visitor),
        }
    }

    forward_scalars! {
        deserialize_bool deserialize_char deserialize_str deserialize_string
        deserialize_identifier deserialize_unit
    }

    numbers! {
        integer: deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128
    }

    numbers! {
        number: deserialize_f32 deserialize_f64
    }

    fn deserialize_bytes<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Seq(items.iter())),
            other => Err(Error::invalid_type(json_type(other), &"an array")),
        }
    }

    fn deserialize_tuple<V: de::Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Map {
                entries: map.iter(),
                value: None,
            }),
            other => Err(Error::invalid_type(json_type(other), &"a JSON object")),
        }
    }

    /// The point of this type: a struct is a JSON object, never an array.
    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    /// An enum is a string naming a unit variant.
    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => {
                visitor.visit_enum(IntoDeserializer::<Error>::into_deserializer(s.as_str()))
            }
            other => Err(Error::invalid_type(json_type(other), &"a string")),
        }
    }

    fn deserialize_ignored_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// The elements of an array.
struct Seq<'de>(std::slice::Iter<'de, Value>);

impl<'de> de::SeqAccess<'de> for Seq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|value| seed.deserialize(Strict(value)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The members of an object.
struct Map<'de> {
    entries: serde_json::map::Iter<'de>,
    /// The value of the member whose key was just read.
    value: Option<&'de Value>,
}

impl<'de> de::MapAccess<'de> for Map<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| Error::custom("a member's value was read before its key"))?;
        seed.deserialize(Strict(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
        kind: Option<Kind>,
        list: Option<Vec<Inner>>,
        data: Option<serde_json::Map<String, Value>>,
        n: Option<u64>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        a: u8,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        One,
        Two,
    }

    fn read(value: &Value) -> Result<Outer, String> {
        Outer::deserialize(Strict(value)).map_err(|e| e.to_string())
    }

    #[test]
    fn objects_of_the_right_shape_deserialize() {
        let value = json!({
            "name": "x",
            "inner": {"a": 1},
            "kind": "two",
            "list": [{"a": 2}],
            "data": {"deep": [1, {"b": null}], "big": 1},
            "n": 7,
        });
        let outer = read(&value).expect("valid");
        assert_eq!(outer.inner, Some(Inner { a: 1 }));
        assert_eq!(outer.kind, Some(Kind::Two));
        assert_eq!(outer.list, Some(vec![Inner { a: 2 }]));
        assert_eq!(outer.n, Some(7));
        assert_eq!(
            Value::Object(outer.data.expect("data")),
            json!({"deep": [1, {"b": null}], "big": 1})
        );
        let nulls = read(&json!({"name": "x", "inner": null, "n": null})).expect("valid");
        assert_eq!((nulls.inner, nulls.n), (None, None));
    }

    #[test]
    fn arrays_are_not_structs_anywhere() {
        let cases = [
            json!(["x", null]),
            json!({"name": "x", "inner": [1]}),
            json!({"name": "x", "list": [[3]]}),
        ];
        for value in cases {
            let error = read(&value).expect_err("array as struct");
            assert!(
                error.contains("invalid type: array, expected a JSON object"),
                "{error}"
            );
        }
    }

    #[test]
    fn enums_are_strings_naming_a_variant() {
        for value in [
            json!({"name": "x", "kind": {"one": null}}),
            json!({"name": "x", "kind": ["one"]}),
            json!({"name": "x", "kind": 1}),
        ] {
            let error = read(&value).expect_err("not a string");
            assert!(error.contains("expected a string"), "{error}");
        }
        let error = read(&json!({"name": "x", "kind": "three"})).expect_err("unknown");
        assert!(error.contains("unknown variant `three`"), "{error}");
    }

    #[test]
    fn numbers_keep_their_text() {
        let value: Value =
            serde_json::from_str(r#"{"name": "x", "data": {"f": 123456789.12345679, "i": 123456789012345678901234567890}}"#)
                .expect("json");
        let outer = read(&value).expect("valid");
        assert_eq!(
            serde_json::to_string(&outer.data).expect("serializes"),
            r#"{"f":123456789.12345679,"i":123456789012345678901234567890}"#
        );
        let value: Value =
            serde_json::from_str(r#"{"name": "x", "data": {"z": -0, "f": -0.0}}"#).expect("json");
        let outer = read(&value).expect("valid");
        assert_eq!(
            serde_json::to_string(&outer.data).expect("serializes"),
            r#"{"f":-0.0,"z":-0}"#
        );
        let error = read(&json!({"name": "x", "n": -1})).expect_err("negative");
        assert!(error.contains("invalid value"), "{error}");
    }
}
