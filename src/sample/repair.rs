//! Repairs a rejected record with the checker's own ways out: each
//! reason's ranked alternatives (the JSON the report writes, see
//! docs/output-schema.md) read back into `hints::Edit`s and applied. Early
//! rounds realise an edit with a spread (a value drawn inside the bound, a
//! member of a set at random, a string written from the pattern); later
//! rounds take the checker's own nearest value (`hints::apply`), which is
//! what converges when rules pull a field both ways.

use super::domain::Slot;
use super::draw::Drawer;
use crate::check::hints::{self, Edit, EditOp, Step};
use crate::check::Reason;
use crate::ir::schema::FieldType;
use crate::syntax::ast::CmpOp;
use rand::RngExt;
use serde_json::{Map, Value};

/// One way out of a failure, as the report gives it.
#[derive(Clone, Debug)]
pub struct Way {
    pub edits: Vec<Edit>,
    /// The reject rules it would break (empty: none; None: not re-checked).
    pub conflicts: Option<Vec<String>>,
}

/// The ways out of a reason, best first; those with no field edit left out.
pub fn ways(reason: &Reason) -> Vec<Way> {
    let Some(packed) = &reason.packed else { return Vec::new() };
    let Ok(Value::Array(alternatives)) = serde_json::from_str::<Value>(packed.json.get()) else { return Vec::new() };
    alternatives
        .iter()
        .filter_map(|a| {
            let edits: Option<Vec<Edit>> = a.get("edits")?.as_array()?.iter().map(edit_of_json).collect();
            let edits = edits?;
            let conflicts =
                a.get("conflicts").and_then(Value::as_array).map(|c| c.iter().filter_map(|id| id.as_str().map(str::to_string)).collect());
            (!edits.is_empty()).then_some(Way { edits, conflicts })
        })
        .collect()
}

/// `list[1].field` → [Key("list"), Index(1), Key("field")].
fn path_of_text(text: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    for part in text.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if name.is_empty() {
            return None;
        }
        steps.push(Step::Key(name.into()));
        while !rest.is_empty() {
            let (index, after) = rest.split_once(']')?;
            steps.push(Step::Index(index.parse().ok()?));
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    Some(steps)
}

/// An edit of the report's JSON (`hints::edit_json`) read back.
fn edit_of_json(v: &Value) -> Option<Edit> {
    let path = path_of_text(v.get("field")?.as_str()?)?;
    let op_text = v.get("op")?.as_str()?;
    let (inside, op_word) = match op_text.strip_prefix("not ") {
        Some(rest) => (false, rest),
        None => (true, op_text),
    };
    let flag = |name: &str| v.get(name).and_then(Value::as_bool).unwrap_or(true);
    let op = match op_word {
        "==" | "!=" | "<" | "<=" | ">" | ">=" => {
            let op = [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge].into_iter().find(|o| o.as_str() == op_word)?;
            EditOp::Compare(op, v.get("value")?.clone())
        }
        "between" => EditOp::Between {
            min: v.get("min")?.as_f64()?,
            max: v.get("max")?.as_f64()?,
            min_inclusive: flag("min_inclusive"),
            max_inclusive: flag("max_inclusive"),
            inside,
        },
        "in" => EditOp::Set { values: v.get("values")?.as_array()?.clone(), inside },
        "contains" => EditOp::Contains { value: v.get("value")?.clone(), inside },
        "matches" => EditOp::Matches { pattern: v.get("pattern")?.as_str()?.to_string(), inside, example: v.get("example").cloned() },
        "key of" => EditOp::KeyOf { entity: v.get("entity")?.as_str()?.to_string(), inside, found: Value::Null },
        "absent" => EditOp::Absent,
        "present" => EditOp::Present { example: v.get("example").cloned() },
        _ => return None,
    };
    Some(Edit { path, op })
}

/// Picks a way out of `ways`: the best one most of the time, another one
/// that breaks no rule otherwise (so repairs do not all end in the same
/// corner).
pub fn choose<'w>(drawer: &mut Drawer, ways: &'w [Way]) -> Option<&'w Way> {
    let clean: Vec<&Way> = ways.iter().filter(|w| w.conflicts.as_ref().is_none_or(Vec::is_empty)).collect();
    if clean.len() > 1 && drawer.rng.random_bool(0.4) {
        return Some(clean[drawer.rng.random_range(0..clean.len())]);
    }
    ways.first()
}

/// What an edit may draw from: the keys it may name (`key of`).
pub struct Context<'k> {
    pub keys: &'k [String],
}

/// Applies `way` to the record; false when an edit has no value to give.
/// `spread`: draw inside the bound rather than take it.
pub fn apply(drawer: &mut Drawer, way: &Way, record: &mut Map<String, Value>, spread: bool, ctx: &Context) -> bool {
    let mut value = Value::Object(std::mem::take(record));
    let mut ok = true;
    for edit in &way.edits {
        let drawn = if spread || needs_drawing(&edit.op) { realise(drawer, edit, &value, ctx) } else { None };
        ok &= match drawn {
            Some(v) => set(&mut value, &edit.path, v),
            None => hints::apply(std::slice::from_ref(edit), &mut value),
        };
    }
    if let Value::Object(m) = value {
        *record = m;
    }
    ok
}

/// The edits the checker has no single value for: drawn even in the
/// exact rounds.
fn needs_drawing(op: &EditOp) -> bool {
    matches!(
        op,
        EditOp::Matches { .. }
            | EditOp::KeyOf { .. }
            | EditOp::Present { .. }
            | EditOp::Set { inside: false, .. }
            | EditOp::Compare(CmpOp::Ne, Value::String(_))
    )
}

/// The slot and declared type of the field at `path`.
fn slot_of(drawer: &Drawer, path: &[Step]) -> Option<(Slot, FieldType)> {
    let schema = &drawer.c.program.schema;
    let Some(Step::Key(top)) = path.first() else { return None };
    let id = schema.field_by_name(drawer.c.entity, top)?;
    let ty = schema.field(drawer.c.entity, id).ty.clone();
    match (&path[1..], ty) {
        ([], ty) => Some((Slot::Field(id), ty)),
        ([Step::Index(_)], FieldType::List(item)) => Some((Slot::Element(id, None), *item)),
        ([Step::Index(_), Step::Key(name)], FieldType::List(item)) => match *item {
            FieldType::Object(fields) => {
                let k = fields.iter().position(|f| *f.name == **name)?;
                Some((Slot::Element(id, Some(k)), fields[k].ty.clone()))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Sets the value at `path` (its parent must exist).
fn set(value: &mut Value, path: &[Step], new: Value) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut at = value;
    for step in parents {
        at = match (step, at) {
            (Step::Key(k), Value::Object(m)) => match m.get_mut(&**k) {
                Some(v) => v,
                None => return false,
            },
            (Step::Index(i), Value::Array(a)) => match a.get_mut(*i as usize) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, at) {
        (Step::Key(k), Value::Object(m)) => {
            m.insert(k.to_string(), new);
            true
        }
        (Step::Index(i), Value::Array(a)) if (*i as usize) < a.len() => {
            a[*i as usize] = new;
            true
        }
        _ => false,
    }
}

/// A value meeting the edit, drawn from the field's domain where the edit
/// leaves room; None to leave it to the checker's nearest value.
fn realise(drawer: &mut Drawer, edit: &Edit, record: &Value, ctx: &Context) -> Option<Value> {
    let (slot, ty) = slot_of(drawer, &edit.path)?;
    let integer = ty == FieldType::Integer;
    let empty = Map::new();
    let fields = record.as_object().unwrap_or(&empty);
    match &edit.op {
        EditOp::Compare(op @ (CmpOp::Ge | CmpOp::Gt | CmpOp::Le | CmpOp::Lt), Value::Number(n)) => {
            // Just past the bound: a nudge of up to 1% of it, so the
            // repaired value is not the bound itself.
            let x = n.as_f64()?;
            let up = matches!(op, CmpOp::Ge | CmpOp::Gt);
            let nudge = x.abs().max(1.0) * 0.01 * drawer.rng.random::<f64>();
            let y = if up { x + nudge } else { x - nudge };
            let y = if integer {
                if up {
                    y.ceil()
                } else {
                    y.floor()
                }
            } else {
                y
            };
            let meets = |v: f64| match op {
                CmpOp::Gt => v > x,
                CmpOp::Ge => v >= x,
                CmpOp::Lt => v < x,
                _ => v <= x,
            };
            // As few significant digits as still meet the bound.
            let y = (3..=9).map(|digits| super::draw::round_to(y, digits, integer)).find(|v| meets(*v)).unwrap_or(y);
            meets(y).then(|| crate::check::explain::number_json(y))
        }
        EditOp::Between { min, max, min_inclusive, max_inclusive, inside: true } if min.is_finite() && max.is_finite() => {
            let lo = Some((*min, *min_inclusive));
            let hi = Some((*max, *max_inclusive));
            let v = drawer.number(slot, integer, lo, hi);
            let x = v.as_f64()?;
            let ok = (x > *min || (*min_inclusive && x == *min)) && (x < *max || (*max_inclusive && x == *max));
            if ok {
                return Some(v);
            }
            let y = min + (max - min) * drawer.rng.random::<f64>();
            let y = if integer { y.round() } else { y };
            let ok = (y > *min || (*min_inclusive && y == *min)) && (y < *max || (*max_inclusive && y == *max));
            ok.then(|| crate::check::explain::number_json(y))
        }
        EditOp::Set { values, inside: true } if !values.is_empty() => Some(values[drawer.rng.random_range(0..values.len())].clone()),
        EditOp::Set { values, inside: false } => (0..16).map(|_| drawer.value(slot, &ty, fields)).find(|v| !values.contains(v)),
        EditOp::Compare(CmpOp::Ne, old @ Value::String(_)) => (0..16).map(|_| drawer.value(slot, &ty, fields)).find(|v| v != old),
        EditOp::Matches { pattern, inside: true, example } => {
            let whole = regex::Regex::new(&format!("^(?:{pattern})$")).ok()?;
            (0..16).filter_map(|_| drawer.matching(pattern)).find(|s| whole.is_match(s)).map(Value::String).or_else(|| example.clone())
        }
        EditOp::Matches { pattern, inside: false, .. } => {
            let whole = regex::Regex::new(&format!("^(?:{pattern})$")).ok()?;
            (0..16).map(|_| drawer.value(slot, &ty, fields)).find(|v| v.as_str().is_some_and(|s| !whole.is_match(s)))
        }
        EditOp::KeyOf { inside: true, .. } if !ctx.keys.is_empty() => {
            Some(Value::String(ctx.keys[drawer.rng.random_range(0..ctx.keys.len())].clone()))
        }
        EditOp::Present { example } => {
            let v = match (&slot, &ty) {
                (Slot::Element(list, _), FieldType::Object(_)) => drawer.element(*list, &ty),
                _ => drawer.value(slot, &ty, fields),
            };
            Some(if v.is_null() { example.clone()? } else { v })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> Step {
        Step::Key(k.into())
    }

    /// Every edit the checker writes reads back as the edit it wrote.
    #[test]
    fn edits_read_back_from_the_report_json() {
        let path = vec![key("owners"), Step::Index(1), key("stake")];
        let ops = vec![
            EditOp::Compare(CmpOp::Le, json!(1)),
            EditOp::Compare(CmpOp::Ne, json!("x")),
            EditOp::Between { min: 5000.0, max: 5e6, min_inclusive: true, max_inclusive: false, inside: true },
            EditOp::Between { min: -1.0, max: 1.0, min_inclusive: false, max_inclusive: true, inside: false },
            EditOp::Set { values: vec![json!("a"), json!("b")], inside: true },
            EditOp::Set { values: vec![json!(3)], inside: false },
            EditOp::Contains { value: json!("flag"), inside: true },
            EditOp::Matches { pattern: "[A-Z]{2}".into(), inside: true, example: Some(json!("GB")) },
            EditOp::Matches { pattern: "x+".into(), inside: false, example: None },
            EditOp::Absent,
            EditOp::Present { example: Some(json!(0.4)) },
            EditOp::Present { example: None },
        ];
        for op in ops {
            let edit = Edit { path: path.clone(), op };
            let back = edit_of_json(&hints::edit_json(&edit)).unwrap_or_else(|| panic!("{edit:?} does not read back"));
            assert_eq!(back, edit);
        }
        // `key of` writes no value found; the rest reads back.
        let key_of = Edit {
            path: vec![key("owners"), Step::Index(0), key("id")],
            op: EditOp::KeyOf { entity: "company".into(), inside: true, found: Value::Null },
        };
        assert_eq!(edit_of_json(&hints::edit_json(&key_of)), Some(key_of));
    }

    #[test]
    fn paths_read_back() {
        assert_eq!(path_of_text("a"), Some(vec![key("a")]));
        assert_eq!(path_of_text("a[3].b"), Some(vec![key("a"), Step::Index(3), key("b")]));
        assert_eq!(path_of_text("a[1][2]"), Some(vec![key("a"), Step::Index(1), Step::Index(2)]));
        assert_eq!(path_of_text("a[x]"), None);
        assert_eq!(path_of_text(".a"), None);
    }
}
