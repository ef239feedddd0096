//! Reading a JSON object's fields one by one, each removed as it is read (what is left is the
//! object's unknown fields): shared by events and dimension rows so both name the same field,
//! value and rule on a problem, and both refuse a key named twice.

use crate::id::Id;
use crate::reject::{Reason, Reject};
use crate::time::{parse_ts, unix_number_to_ms};
use serde_json::{Map, Value};

/// Reads JSON text as an object's fields, refusing a key named twice; `Ok(None)` for valid JSON
/// that is not an object (each caller words that itself).
pub(crate) fn read_object(bytes: &[u8]) -> Result<Option<SmallFields>, Reject> {
    use serde::de::Deserializer as _;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let fields = de.deserialize_any(SmallFieldsVisitor).and_then(|f| {
        de.end()?;
        Ok(f)
    });
    match fields {
        Ok(Some(f)) => match &f.dup {
            Some(k) => Err(Reject::duplicate_field(k)),
            None => Ok(Some(f)),
        },
        Ok(None) => Ok(None),
        Err(e) => Err(Reject::row(
            Reason::Malformed,
            format!("invalid JSON at column {}: {e}", e.column()),
        )),
    }
}

/// The fields of a JSON object, each taken out as it is read; what is left goes to `props`.
pub(crate) trait FieldSource {
    fn remove_field(&mut self, k: &str) -> Option<Value>;
    fn into_rest(self) -> Map<String, Value>;
}

impl FieldSource for Map<String, Value> {
    fn remove_field(&mut self, k: &str) -> Option<Value> {
        self.remove(k)
    }
    fn into_rest(self) -> Map<String, Value> {
        self
    }
}

/// An event's handful of fields in a small vector: cheaper than a map to build and search.
/// `dup` is the first key named twice (the rest of the object is then read but not kept).
pub(crate) struct SmallFields {
    fields: Vec<(String, Value)>,
    dup: Option<String>,
}

impl FieldSource for SmallFields {
    fn remove_field(&mut self, k: &str) -> Option<Value> {
        let i = self.fields.iter().position(|(key, _)| key == k)?;
        Some(self.fields.swap_remove(i).1)
    }
    fn into_rest(self) -> Map<String, Value> {
        self.fields.into_iter().collect()
    }
}

/// Reads a JSON object into [`SmallFields`]; anything else is `None`. Duplicate keys are found
/// while reading (the field list is searched anyway), so no line is parsed twice.
struct SmallFieldsVisitor;

impl<'de> serde::de::Visitor<'de> for SmallFieldsVisitor {
    type Value = Option<SmallFields>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let mut fields: Vec<(String, Value)> = Vec::with_capacity(a.size_hint().unwrap_or(10));
        let mut dup = None;
        while let Some(k) = a.next_key::<String>()? {
            if dup.is_some() {
                // Read as a value (not skipped) so that bad JSON is worded as everywhere else.
                a.next_value::<Value>()?;
            } else if fields.iter().any(|(key, _)| *key == k) {
                a.next_value::<Value>()?;
                dup = Some(k);
            } else if k == "props" {
                let v = a.next_value_seed(PropsSeed(&mut dup))?;
                fields.push((k, v));
            } else {
                let v: Value = a.next_value()?;
                fields.push((k, v));
            }
        }
        Ok(Some(SmallFields { fields, dup }))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        // Read as values so that a malformed array is worded as the `Value` path words it.
        while a.next_element::<Value>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Reads `props` as a `Value`, noting a key its object names twice as `props.<key>`.
struct PropsSeed<'a>(&'a mut Option<String>);

impl<'de> serde::de::DeserializeSeed<'de> for PropsSeed<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PropsSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(k) = a.next_key::<String>()? {
            let v: Value = a.next_value()?;
            if m.contains_key(&k) {
                self.0.get_or_insert_with(|| format!("props.{k}"));
            } else {
                m.insert(k, v);
            }
        }
        Ok(Value::Object(m))
    }

    // Anything but an object is kept as the `Value` it is, for `from_fields` to refuse.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = a.next_element::<Value>()? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// Typed access to a JSON object's fields, each removed as it is read.
pub(crate) struct Fields<'a, S>(pub(crate) &'a mut S);

impl<S: FieldSource> Fields<'_, S> {
    pub(crate) fn take(&mut self, k: &str) -> Option<Value> {
        match self.0.remove_field(k) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }
    pub(crate) fn opt_str(&mut self, k: &str) -> Result<Option<String>, Reject> {
        match self.take(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(v) => Err(Reject::field(
                Reason::BadValue,
                k,
                &v.to_string(),
                "must be a string",
            )),
        }
    }
    pub(crate) fn req_str(&mut self, k: &str) -> Result<String, Reject> {
        match self.opt_str(k)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(Reject::missing(k)),
        }
    }
    pub(crate) fn opt_id(&mut self, k: &str) -> Result<Option<Id>, Reject> {
        match self.take(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Id::parse(&s)),
            Some(Value::Number(n)) => match n.as_i64() {
                // Canonical decimals below 2^62 are their own id (what `Id::parse` of the
                // number's text gives), without formatting it first.
                Some(i) if (0..1 << 62).contains(&i) => Ok(Some(Id::Num(i))),
                Some(i) if i >= 0 => Ok(Id::parse(&i.to_string())),
                _ => Err(Reject::field(
                    Reason::BadNumber,
                    k,
                    &n.to_string(),
                    "a numeric id must be a non-negative integer",
                )),
            },
            Some(v) => Err(Reject::field(
                Reason::BadValue,
                k,
                &v.to_string(),
                "must be a string or an integer",
            )),
        }
    }
    pub(crate) fn req_id(&mut self, k: &str) -> Result<Id, Reject> {
        self.opt_id(k)?.ok_or_else(|| Reject::missing(k))
    }
    pub(crate) fn opt_f64(&mut self, k: &str) -> Result<Option<f64>, Reject> {
        match self.take(k) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| Reject::field(Reason::BadNumber, k, &s, "must be a finite number")),
            Some(v) => Err(Reject::field(
                Reason::BadValue,
                k,
                &v.to_string(),
                "must be a number",
            )),
        }
    }
    pub(crate) fn opt_i64(&mut self, k: &str) -> Result<Option<i64>, Reject> {
        match self.take(k) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                Reject::field(Reason::BadNumber, k, &n.to_string(), "must be an integer")
            }),
            Some(Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| Reject::field(Reason::BadNumber, k, &s, "must be an integer")),
            Some(v) => Err(Reject::field(
                Reason::BadValue,
                k,
                &v.to_string(),
                "must be an integer",
            )),
        }
    }
    pub(crate) fn ts(&mut self, k: &str) -> Result<Option<i64>, Reject> {
        match self.take(k) {
            None => Ok(None),
            Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Ok(Some(unix_number_to_ms(i))),
                (None, Some(f)) => parse_ts(&f.to_string())
                    .map(Some)
                    .map_err(|e| Reject::field(Reason::BadTimestamp, k, &n.to_string(), e.0)),
                _ => Err(Reject::field(
                    Reason::BadTimestamp,
                    k,
                    &n.to_string(),
                    "out of range",
                )),
            },
            Some(Value::String(s)) => parse_ts(&s)
                .map(Some)
                .map_err(|e| Reject::field(Reason::BadTimestamp, k, &s, e.0)),
            Some(v) => Err(Reject::field(
                Reason::BadTimestamp,
                k,
                &v.to_string(),
                "must be a number or an RFC 3339 string",
            )),
        }
    }
}
