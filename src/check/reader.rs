//! JSON Lines → records, guided by the schema: each declared field is
//! type-checked as it is parsed; fields no rule reads are checked but not
//! kept; unknown fields are skipped without building values.

use super::store::{Record, SchemaFailure, Slot};
use crate::ir::schema::{Entity, FieldId, FieldType};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::HashMap;
use std::fmt;

/// What the reader needs to know about the entity's fields.
pub struct Plan {
    by_name: HashMap<String, FieldId>,
    fields: Vec<(FieldType, bool /* optional */, bool /* keep */)>,
    key: Option<FieldId>,
}

impl Plan {
    pub fn new(entity: &Entity, kept: &[FieldId]) -> Plan {
        Plan {
            by_name: entity.fields.iter().enumerate().map(|(i, f)| (f.name.clone(), FieldId(i as u32))).collect(),
            fields: entity
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let id = FieldId(i as u32);
                    (f.ty.clone(), f.optional, kept.contains(&id) || entity.key == Some(id))
                })
                .collect(),
            key: entity.key,
        }
    }
}

/// The outcome of one non-blank line.
pub enum Line {
    Record(Record),
    /// Not a JSON object: the parser's message.
    Invalid(String),
}

/// Parses one line (without its line ending).
pub fn read_line(plan: &Plan, line_no: u32, bytes: &[u8]) -> Line {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = RecordSeed { plan }.deserialize(&mut de).and_then(|r| de.end().map(|()| r));
    match parsed {
        Ok(values) => Line::Record(finish(plan, line_no, values)),
        Err(e) => Line::Invalid(describe_json_error(&e, bytes)),
    }
}

fn describe_json_error(e: &serde_json::Error, bytes: &[u8]) -> String {
    if std::str::from_utf8(bytes).is_err() && e.classify() == serde_json::error::Category::Syntax {
        if let Err(u) = std::str::from_utf8(bytes) {
            return format!("invalid UTF-8 at column {}", u.valid_up_to() + 1);
        }
    }
    e.to_string()
}

/// Per-field outcome while parsing.
enum Parsed {
    Missing,
    Null,
    Value(Slot),
    Wrong(&'static str),
}

fn finish(plan: &Plan, line: u32, values: Vec<Parsed>) -> Record {
    let mut failures = Vec::new();
    let mut slots = Vec::with_capacity(values.len());
    let mut key = None;
    for (i, parsed) in values.into_iter().enumerate() {
        let (_, optional, _) = &plan.fields[i];
        let field = FieldId(i as u32);
        let slot = match parsed {
            Parsed::Value(slot) => slot,
            Parsed::Missing | Parsed::Null if *optional => Slot::Absent,
            Parsed::Missing => {
                failures.push(SchemaFailure { field, found: "missing" });
                Slot::Absent
            }
            Parsed::Null => {
                failures.push(SchemaFailure { field, found: "null" });
                Slot::Absent
            }
            Parsed::Wrong(found) => {
                failures.push(SchemaFailure { field, found });
                Slot::Absent
            }
        };
        if plan.key == Some(field) {
            if let Slot::String(s) = &slot {
                key = Some(s.clone());
            }
        }
        slots.push(slot);
    }
    Record { line, key, slots: slots.into_boxed_slice(), failures }
}

struct RecordSeed<'p> {
    plan: &'p Plan,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Vec<Parsed>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

fn json_kind_error<E: serde::de::Error>(found: &str) -> E {
    E::custom(format!("expected a JSON object, found {found}"))
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Vec<Parsed>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: Vec<Parsed> = (0..self.plan.fields.len()).map(|_| Parsed::Missing).collect();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match self.plan.by_name.get(key.as_ref()) {
                Some(&field) => {
                    let (ty, _, keep) = &self.plan.fields[field.0 as usize];
                    // Duplicate keys: the last one wins.
                    values[field.0 as usize] = map.next_value_seed(TypedSeed { ty, keep: *keep })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(values)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(json_kind_error("an array"))
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(json_kind_error("a string"))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(json_kind_error("a number"))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(json_kind_error("a number"))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(json_kind_error("a number"))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(json_kind_error("a boolean"))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Err(json_kind_error("null"))
    }
}

/// Parses one value against its declared type.
struct TypedSeed<'p> {
    ty: &'p FieldType,
    keep: bool,
}

impl<'de> DeserializeSeed<'de> for TypedSeed<'_> {
    type Value = Parsed;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        d.deserialize_any(self)
    }
}

impl TypedSeed<'_> {
    fn number(&self, n: f64) -> Parsed {
        match self.ty {
            FieldType::Number => Parsed::Value(if self.keep { Slot::Number(n) } else { Slot::Absent }),
            FieldType::Integer if n.fract() == 0.0 => Parsed::Value(if self.keep { Slot::Number(n) } else { Slot::Absent }),
            FieldType::Integer => Parsed::Wrong("a number that is not whole"),
            _ => Parsed::Wrong("a number"),
        }
    }
}

impl<'de> Visitor<'de> for TypedSeed<'_> {
    type Value = Parsed;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Parsed, E> {
        Ok(match self.ty {
            FieldType::Boolean => Parsed::Value(if self.keep { Slot::Bool(b) } else { Slot::Absent }),
            _ => Parsed::Wrong("a boolean"),
        })
    }
    fn visit_i64<E>(self, n: i64) -> Result<Parsed, E> {
        Ok(self.number(n as f64))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Parsed, E> {
        Ok(self.number(n as f64))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Parsed, E> {
        Ok(self.number(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<Parsed, E> {
        Ok(match self.ty {
            FieldType::String => Parsed::Value(if self.keep { Slot::String(s.into()) } else { Slot::Absent }),
            _ => Parsed::Wrong("a string"),
        })
    }
    fn visit_unit<E>(self) -> Result<Parsed, E> {
        Ok(Parsed::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        let FieldType::List(elem) = self.ty else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Parsed::Wrong("a list"));
        };
        let mut items = Vec::new();
        let mut wrong = None;
        loop {
            if wrong.is_some() {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                continue;
            }
            match seq.next_element_seed(TypedSeed { ty: elem, keep: self.keep })? {
                None => break,
                Some(Parsed::Value(slot)) => items.push(slot),
                Some(Parsed::Null | Parsed::Missing) => wrong = Some("a list with a null element"),
                Some(Parsed::Wrong(_)) => wrong = Some(element_problem(elem)),
            }
        }
        Ok(match wrong {
            Some(w) => Parsed::Wrong(w),
            None if self.keep => Parsed::Value(Slot::List(items.into_boxed_slice())),
            None => Parsed::Value(Slot::Absent),
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let FieldType::Object(fields) = self.ty else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Parsed::Wrong("an object"));
        };
        let mut values: Vec<Parsed> = (0..fields.len()).map(|_| Parsed::Missing).collect();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match fields.iter().position(|f| f.name == key.as_ref()) {
                Some(i) => values[i] = map.next_value_seed(TypedSeed { ty: &fields[i].ty, keep: true })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let mut slots = Vec::with_capacity(fields.len());
        for (value, field) in values.into_iter().zip(fields.iter()) {
            match value {
                Parsed::Value(slot) => slots.push(slot),
                Parsed::Missing | Parsed::Null if field.optional => slots.push(Slot::Absent),
                _ => return Ok(Parsed::Wrong("an object with a missing or mistyped field")),
            }
        }
        Ok(Parsed::Value(Slot::Object(slots.into_boxed_slice())))
    }
}

fn element_problem(elem: &FieldType) -> &'static str {
    match elem {
        FieldType::Object(_) => "a list with an element that is not a well-formed object",
        FieldType::String => "a list with an element that is not a string",
        FieldType::Number | FieldType::Integer => "a list with an element that is not a number",
        _ => "a list with an element of the wrong type",
    }
}

/// Splits a buffer into lines: `\n` ends a line, a `\r` before it is
/// dropped. Returns (start, end-without-ending, end-with-ending).
pub fn lines(buf: &[u8]) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= buf.len() {
            return None;
        }
        let (end, next) = match memchr::memchr(b'\n', &buf[start..]) {
            Some(i) => (start + i, start + i + 1),
            None => (buf.len(), buf.len()),
        };
        let content_end = if end > start && buf[end - 1] == b'\r' { end - 1 } else { end };
        let item = (start, content_end, next);
        start = next;
        Some(item)
    })
}

/// Blank: empty or only spaces, tabs and `\r`.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}
