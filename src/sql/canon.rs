//! The canonical records: every input line goes through the native reader
//! (src/check/reader.rs) first, so the engines never see a line the
//! contract does not accept as it is. A line that is not a JSON object (or
//! holds invalid UTF-8, a number beyond a double, …) stays here as a `json`
//! finding; a well-formed record is written as one JSON line of exactly the
//! declared fields, typed (last duplicate key already won, unknown fields
//! dropped, a field that failed the schema written as null), with its
//! record number, line number and schema-failure bits. The engines' JSON
//! readers, laxer than the contract, only ever read these lines.

use super::lower::names;
use crate::check::columns::{Column, Table};
use crate::check::eval::{cell, Val};
use crate::check::reader::{self, Plan, SchemaFailure};
use crate::check::Compiled;
use crate::ir::schema::{Entity, FieldId, FieldType};
use serde_json::{Map, Value};
use std::io::{BufRead, Write};

/// What the native reader found in the input.
#[derive(Default)]
pub struct Canonical {
    /// Non-blank lines, in order: (line number, record number or None for
    /// a line that is not a JSON object).
    pub lines: Vec<(u32, Option<u32>)>,
    /// The lines that are not JSON objects, and the parser's message.
    pub json_errors: Vec<(u32, String)>,
    /// (record, failure) for every field that failed the schema.
    pub schema: Vec<(u32, SchemaFailure)>,
    pub records: u32,
}

/// Records written per batch of the native reader's columns.
const BATCH: usize = 4096;

/// Reads `input` line by line as `check` cuts it (a `\r` before `\n`
/// dropped, a byte-order mark at the start skipped, blank lines counted
/// but not reported) and writes the canonical records to `out`.
pub fn canonicalise(c: &Compiled, input: impl std::io::Read, out: &mut impl Write) -> std::io::Result<Canonical> {
    let entity = c.program.schema.entity(c.entity);
    let every: Vec<FieldId> = (0..entity.fields.len() as u32).map(FieldId).collect();
    let plan = Plan::new(entity, &every);
    let mut scratch = reader::Scratch::default();
    let mut table = plan.table();
    let mut pending: Vec<(u32, u64)> = Vec::new();
    let mut found = Canonical::default();
    let mut input = std::io::BufReader::with_capacity(1 << 20, input);
    let mut buf = Vec::new();
    let mut line_no = 0u32;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let mut line = &buf[..];
        if line.ends_with(b"\n") {
            line = &line[..line.len() - 1];
        }
        if line.ends_with(b"\r") {
            line = &line[..line.len() - 1];
        }
        if line_no == 1 && line.starts_with(b"\xEF\xBB\xBF") {
            line = &line[3..];
        }
        if reader::is_blank(line) {
            continue;
        }
        match reader::read_line(&plan, &mut scratch, &mut table, line) {
            Ok(failures) => {
                let record = found.records;
                found.records += 1;
                let mask = failures.iter().fold(0u64, |m, f| m | crate::check::store::field_bit(f.field));
                found.schema.extend(failures.into_iter().map(|f| (record, f)));
                found.lines.push((line_no, Some(record)));
                pending.push((line_no, mask));
                if pending.len() == BATCH {
                    flush(entity, &mut table, &plan, &mut pending, found.records, out)?;
                }
            }
            Err(message) => {
                found.lines.push((line_no, None));
                found.json_errors.push((line_no, message));
            }
        }
    }
    flush(entity, &mut table, &plan, &mut pending, found.records, out)?;
    Ok(found)
}

/// Writes the batch's records (the last `pending.len()` of `records`).
fn flush(
    entity: &Entity,
    table: &mut Table,
    plan: &Plan,
    pending: &mut Vec<(u32, u64)>,
    records: u32,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let first = records - pending.len() as u32;
    for (row, (line, mask)) in pending.iter().enumerate() {
        let mut record = Map::new();
        record.insert(names::ROW.into(), Value::from(first + row as u32));
        record.insert(names::LINE.into(), Value::from(*line));
        // Bit 63 is the sign bit of the engines' BIGINT.
        record.insert(names::MASK.into(), Value::from(*mask as i64));
        for (f, field) in entity.fields.iter().enumerate() {
            record.insert(field.name.clone(), json_of(&cell(&table.columns[f], row), &field.ty));
        }
        serde_json::to_writer(&mut *out, &Value::Object(record))?;
        out.write_all(b"\n")?;
    }
    pending.clear();
    *table = plan.table();
    Ok(())
}

/// A cell as canonical JSON of its declared type.
fn json_of(v: &Val<'_>, ty: &FieldType) -> Value {
    match (v, ty) {
        (Val::Number(n), _) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        (Val::Bool(b), _) => Value::Bool(*b),
        (Val::Str(s), _) => Value::String(s.to_string()),
        (Val::List(items, start, end), FieldType::List(item_ty)) => {
            Value::Array((*start..*end).map(|i| json_of(&cell(items, i as usize), item_ty)).collect())
        }
        (Val::Item(obj, row), FieldType::Object(fields)) => {
            let mut m = Map::new();
            for (i, f) in fields.iter().enumerate() {
                let column: &Column = &obj.fields[i];
                m.insert(f.name.clone(), json_of(&cell(column, *row as usize), &f.ty));
            }
            Value::Object(m)
        }
        _ => Value::Null,
    }
}
