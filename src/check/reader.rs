//! JSON Lines → columns, guided by the schema: each declared field is
//! type-checked as it is parsed, fields no rule reads are checked but not
//! stored, unknown fields are skipped without building values. A line is
//! parsed into a reusable scratch buffer and committed to the columns only
//! once it parsed completely, so a malformed line leaves nothing behind.

use super::columns::{Column, Table};
use crate::ir::schema::{Entity, FieldId, FieldType};
use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A required field that was missing or null, or any field of the wrong
/// JSON type: one `schema` reason.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaFailure {
    pub field: FieldId,
    /// What the line held instead: "missing", "null", "a string", …
    pub found: &'static str,
}

/// What the reader needs to know about the entity's fields.
pub struct Plan {
    names: hashbrown::HashMap<String, FieldId>,
    fields: Vec<(FieldType, bool /* optional */, bool /* keep */)>,
    pub key: Option<FieldId>,
}

impl Plan {
    pub fn new(entity: &Entity, kept: &[FieldId]) -> Plan {
        Plan {
            names: entity.fields.iter().enumerate().map(|(i, f)| (f.name.clone(), FieldId(i as u32))).collect(),
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

    /// Empty columns for every field (Skip for those not kept).
    pub fn table(&self) -> Table {
        Table { columns: self.fields.iter().map(|(ty, _, keep)| Column::new(ty, *keep)).collect(), rows: 0 }
    }
}

/// A parsed value waiting in the scratch buffer.
#[derive(Clone, Copy, Debug)]
enum V {
    Missing,
    Null,
    Wrong(&'static str),
    /// Present and of the right type, not stored.
    Checked,
    Number(f64),
    Bool(bool),
    /// A range of `Scratch::text`.
    Str(u32, u32),
    /// A range of `Scratch::nodes`: the items of a list, or the fields of
    /// an object in declaration order.
    List(u32, u32),
    Object(u32, u32),
}

/// Reused across lines: after the first few lines, parsing allocates
/// nothing.
#[derive(Default)]
pub struct Scratch {
    top: Vec<V>,
    nodes: Vec<V>,
    stack: Vec<V>,
    text: String,
}

/// Parses one line (without its line ending) and, when it is a JSON
/// object, appends it as a row of `table`. Returns the schema failures, or
/// the parser's message.
pub fn read_line(plan: &Plan, scratch: &mut Scratch, table: &mut Table, bytes: &[u8]) -> Result<Vec<SchemaFailure>, String> {
    scratch.top.clear();
    scratch.top.resize(plan.fields.len(), V::Missing);
    scratch.nodes.clear();
    scratch.stack.clear();
    scratch.text.clear();
    // sonic-rs parses (SIMD); when it refuses a line, serde_json gives the
    // message, which is the one users know.
    let mut de = sonic_rs::Deserializer::from_slice(bytes);
    let parsed = RecordSeed { plan, scratch: &mut *scratch }.deserialize(&mut de).and_then(|()| de.end());
    if let Err(fast) = parsed {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let mut spare = Scratch::default();
        spare.top.resize(plan.fields.len(), V::Missing);
        let slow = RecordSeed { plan, scratch: &mut spare }.deserialize(&mut de).and_then(|()| de.end());
        return Err(match slow {
            Err(e) => describe_json_error(&e, bytes),
            Ok(()) => fast.to_string(),
        });
    }
    let mut failures = Vec::new();
    for (i, (ty, optional, _)) in plan.fields.iter().enumerate() {
        let column = &mut table.columns[i];
        let field = FieldId(i as u32);
        match scratch.top[i] {
            V::Missing | V::Null if *optional => column.push_absent(),
            V::Missing => {
                failures.push(SchemaFailure { field, found: "missing" });
                column.push_absent();
            }
            V::Null => {
                failures.push(SchemaFailure { field, found: "null" });
                column.push_absent();
            }
            V::Wrong(found) => {
                failures.push(SchemaFailure { field, found });
                column.push_absent();
            }
            v => commit(column, ty, v, scratch),
        }
    }
    table.rows += 1;
    Ok(failures)
}

fn commit(column: &mut Column, ty: &FieldType, v: V, s: &Scratch) {
    match v {
        V::Checked => {}
        V::Missing | V::Null | V::Wrong(_) => column.push_absent(),
        V::Number(n) => column.push_number(n),
        V::Bool(b) => column.push_bool(b),
        V::Str(a, b) => column.push_str(&s.text[a as usize..b as usize]),
        V::List(start, end) => {
            let (Column::List(list), FieldType::List(item_ty)) = (&mut *column, ty) else { return };
            for &item in &s.nodes[start as usize..end as usize] {
                commit(&mut list.items, item_ty, item, s);
            }
            column.close_list();
        }
        V::Object(start, end) => {
            let (Column::Object(obj), FieldType::Object(fields)) = (&mut *column, ty) else { return };
            for ((col, field), &value) in obj.fields.iter_mut().zip(fields).zip(&s.nodes[start as usize..end as usize]) {
                commit(col, &field.ty, value, s);
            }
            column.close_object();
        }
    }
}

fn describe_json_error(e: &serde_json::Error, bytes: &[u8]) -> String {
    if let Err(u) = std::str::from_utf8(bytes) {
        if e.classify() == serde_json::error::Category::Syntax {
            return format!("invalid UTF-8 at column {}", u.valid_up_to() + 1);
        }
    }
    e.to_string()
}

struct RecordSeed<'p, 's> {
    plan: &'p Plan,
    scratch: &'s mut Scratch,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

fn not_an_object<E: serde::de::Error>(found: &str) -> E {
    E::custom(format!("expected a JSON object, found {found}"))
}

impl<'de> Visitor<'de> for RecordSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let names = &self.plan.names;
        while let Some(found) = map.next_key_seed(KeySeed(|key: &str| names.get(key).copied()))? {
            match found {
                Some(field) => {
                    let (ty, _, keep) = &self.plan.fields[field.0 as usize];
                    // Duplicate keys: the last one wins.
                    let v = map.next_value_seed(TypedSeed { ty, keep: *keep, scratch: &mut *self.scratch })?;
                    self.scratch.top[field.0 as usize] = v;
                }
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(not_an_object("an array"))
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        Err(not_an_object("a string"))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        Err(not_an_object("a number"))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        Err(not_an_object("a number"))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        Err(not_an_object("a number"))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        Err(not_an_object("a boolean"))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Err(not_an_object("null"))
    }
}

/// Parses one value against its declared type.
struct TypedSeed<'p, 's> {
    ty: &'p FieldType,
    keep: bool,
    scratch: &'s mut Scratch,
}

impl<'de> DeserializeSeed<'de> for TypedSeed<'_, '_> {
    type Value = V;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V, D::Error> {
        d.deserialize_any(self)
    }
}

impl TypedSeed<'_, '_> {
    /// Moves the values pushed since `mark` to the node buffer as one list
    /// or object (or drops them when the field is not kept).
    fn close(self, mark: usize, make: fn(u32, u32) -> V) -> V {
        let Scratch { nodes, stack, .. } = &mut *self.scratch;
        if !self.keep {
            stack.truncate(mark);
            return V::Checked;
        }
        let start = nodes.len() as u32;
        nodes.extend(stack.drain(mark..));
        make(start, nodes.len() as u32)
    }

    fn number(&self, n: f64) -> V {
        match self.ty {
            FieldType::Integer if n.fract() != 0.0 => V::Wrong("a number that is not whole"),
            FieldType::Number | FieldType::Integer if self.keep => V::Number(n),
            FieldType::Number | FieldType::Integer => V::Checked,
            _ => V::Wrong("a number"),
        }
    }
}

impl<'de> Visitor<'de> for TypedSeed<'_, '_> {
    type Value = V;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<V, E> {
        Ok(match self.ty {
            FieldType::Boolean if self.keep => V::Bool(b),
            FieldType::Boolean => V::Checked,
            _ => V::Wrong("a boolean"),
        })
    }
    fn visit_i64<E>(self, n: i64) -> Result<V, E> {
        Ok(self.number(n as f64))
    }
    fn visit_u64<E>(self, n: u64) -> Result<V, E> {
        Ok(self.number(n as f64))
    }
    fn visit_f64<E>(self, n: f64) -> Result<V, E> {
        Ok(self.number(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<V, E> {
        Ok(match self.ty {
            FieldType::String if self.keep => {
                let start = self.scratch.text.len() as u32;
                self.scratch.text.push_str(s);
                V::Str(start, self.scratch.text.len() as u32)
            }
            FieldType::String => V::Checked,
            _ => V::Wrong("a string"),
        })
    }
    fn visit_unit<E>(self) -> Result<V, E> {
        Ok(V::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V, A::Error> {
        let FieldType::List(elem) = self.ty else {
            while seq.next_element::<Skip>()?.is_some() {}
            return Ok(V::Wrong("a list"));
        };
        let mark = self.scratch.stack.len();
        let mut wrong = None;
        loop {
            if wrong.is_some() {
                if seq.next_element::<Skip>()?.is_none() {
                    break;
                }
                continue;
            }
            match seq.next_element_seed(TypedSeed { ty: elem, keep: self.keep, scratch: &mut *self.scratch })? {
                None => break,
                Some(V::Null | V::Missing) => wrong = Some("a list with a null element"),
                Some(V::Wrong(_)) => wrong = Some(element_problem(elem)),
                Some(v) => self.scratch.stack.push(v),
            }
        }
        if let Some(w) = wrong {
            self.scratch.stack.truncate(mark);
            return Ok(V::Wrong(w));
        }
        Ok(self.close(mark, V::List))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V, A::Error> {
        let FieldType::Object(fields) = self.ty else {
            while map.next_entry::<Skip, Skip>()?.is_some() {}
            return Ok(V::Wrong("an object"));
        };
        let mark = self.scratch.stack.len();
        self.scratch.stack.resize(mark + fields.len(), V::Missing);
        while let Some(found) = map.next_key_seed(KeySeed(|key: &str| fields.iter().position(|f| f.name == key)))? {
            match found {
                Some(i) => {
                    let v = map.next_value_seed(TypedSeed { ty: &fields[i].ty, keep: self.keep, scratch: &mut *self.scratch })?;
                    self.scratch.stack[mark + i] = v;
                }
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        let mut ok = true;
        for (i, field) in fields.iter().enumerate() {
            match self.scratch.stack[mark + i] {
                V::Missing | V::Null if field.optional => self.scratch.stack[mark + i] = V::Null,
                V::Missing | V::Null | V::Wrong(_) => ok = false,
                _ => {}
            }
        }
        if !ok {
            self.scratch.stack.truncate(mark);
            return Ok(V::Wrong("an object with a missing or mistyped field"));
        }
        Ok(self.close(mark, V::Object))
    }
}

/// Reads an object's key and resolves it at once: serde's `Cow<str>`
/// always allocates an owned copy, one allocation per key per line.
struct KeySeed<F>(F);

impl<'de, T, F: FnOnce(&str) -> Option<T>> DeserializeSeed<'de> for KeySeed<F> {
    type Value = Option<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, T, F: FnOnce(&str) -> Option<T>> Visitor<'de> for KeySeed<F> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, key: &str) -> Result<Option<T>, E> {
        Ok((self.0)(key))
    }
}

/// Skips a value no field reads, like `serde::de::IgnoredAny`, but through
/// `deserialize_any`: `IgnoredAny` only checks a number's syntax, so
/// `{"extra": 1e400}` was accepted, while reference-rules.md rejects under
/// `json` a line that holds a number beyond the range of a double anywhere
/// (it also let invalid UTF-8 and lone surrogates through in such fields).
/// Tested by corpora/rules/json.jsonl and tests/check_cli.rs.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
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
/// dropped. Yields (start, end without the ending, start of the next line).
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
