//! Drawing values from domains with realistic spreads: numbers around the
//! examples' scale (log-normal when they span orders of magnitude), or
//! spread over the allowed range; strings from a required set, a pattern
//! (written from the regular expression's HIR), the cases the rules name
//! or the examples; fresh keys. Every draw comes from one seeded ChaCha8
//! stream, so a seed gives the same records on every platform.

use super::domain::{table_regex, Domain, Domains, Slot};
use crate::check::Compiled;
use crate::ir::expr::Const;
use crate::ir::schema::{FieldId, FieldType};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use regex_syntax::hir::{Class, Hir, HirKind};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Words for keys and free text: neutral, so no record reads as a copy of
/// an example.
const WORDS: &[&str] = &[
    "alder", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris", "juniper", "kestrel", "larch", "maple", "north",
    "oak", "pine", "quartz", "river", "summit", "tide", "umber", "vale", "willow", "yarrow", "zephyr", "ash", "brook", "cliff", "dune",
    "elm", "fern", "glen", "heath", "isle", "lake", "moss", "nova", "orchard", "peak", "reed", "stone", "thorn", "bay", "crest",
];

/// Repetitions past the minimum a pattern's `*`, `+` or `{n,}` writes at most.
const EXTRA_REPEATS: u32 = 4;

pub struct Drawer<'c> {
    pub c: &'c Compiled,
    pub domains: Domains,
    pub rng: ChaCha8Rng,
}

impl<'c> Drawer<'c> {
    pub fn new(c: &'c Compiled, domains: Domains, seed: u64) -> Drawer<'c> {
        Drawer { c, domains, rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    fn domain(&self, slot: Slot) -> Domain {
        self.domains.get(slot).cloned().unwrap_or_default()
    }

    /// A record of the entity: every field but `skip` (the relation lists
    /// a group fills), a fresh key not in `keys`.
    pub fn record(&mut self, keys: &mut BTreeSet<String>, skip: &[FieldId]) -> Map<String, Value> {
        let entity = self.c.program.schema.entity(self.c.entity);
        let mut record = Map::new();
        // Fields whose pattern depends on another field come last.
        let mut order: Vec<usize> = (0..entity.fields.len()).collect();
        order.sort_by_key(|&i| self.domains.get(Slot::Field(FieldId(i as u32))).is_some_and(|d| d.table_pattern.is_some()));
        for i in order {
            let id = FieldId(i as u32);
            let field = &entity.fields[i];
            if skip.contains(&id) {
                continue;
            }
            if entity.key == Some(id) {
                let key = self.fresh_key(keys);
                record.insert(field.name.clone(), Value::String(key));
                continue;
            }
            if field.optional {
                let roll: f64 = self.rng.random();
                if roll < 0.2 {
                    continue; // absent
                }
                if roll < 0.35 {
                    record.insert(field.name.clone(), Value::Null);
                    continue;
                }
            }
            let value = self.value(Slot::Field(id), &field.ty, &record);
            record.insert(field.name.clone(), value);
        }
        record
    }

    /// A value of type `ty` for `slot`; `record` holds the fields drawn so
    /// far (a pattern looked up by another field reads it).
    pub fn value(&mut self, slot: Slot, ty: &FieldType, record: &Map<String, Value>) -> Value {
        match ty {
            FieldType::Boolean => self.boolean(slot),
            FieldType::Integer => self.number(slot, true, None, None),
            FieldType::Number => self.number(slot, false, None, None),
            FieldType::String => Value::String(self.string(slot, record)),
            FieldType::List(item) => {
                let Slot::Field(list) = slot else { return Value::Array(Vec::new()) };
                let len = self.rng.random_range(0..=3usize);
                let mut items: Vec<Value> = Vec::with_capacity(len);
                for _ in 0..len {
                    let v = self.element(list, item);
                    // A list of scalars names each value once.
                    if matches!(v, Value::Object(_)) || !items.contains(&v) {
                        items.push(v);
                    }
                }
                Value::Array(items)
            }
            // A bare object field has no slot of its own in the rule
            // language: its fields are drawn without a domain.
            FieldType::Object(fields) => {
                let mut obj = Map::new();
                for f in fields {
                    let v = self.value(Slot::Element(FieldId(u32::MAX), None), &f.ty, &Map::new());
                    obj.insert(f.name.clone(), v);
                }
                Value::Object(obj)
            }
        }
    }

    /// One element of list field `list`.
    pub fn element(&mut self, list: FieldId, item: &FieldType) -> Value {
        match item {
            FieldType::Object(fields) => {
                let mut obj = Map::new();
                for (k, f) in fields.iter().enumerate() {
                    let v = self.value(Slot::Element(list, Some(k)), &f.ty, &obj);
                    obj.insert(f.name.clone(), v);
                }
                Value::Object(obj)
            }
            FieldType::List(_) => Value::Array(Vec::new()),
            scalar => self.value(Slot::Element(list, None), scalar, &Map::new()),
        }
    }

    fn boolean(&mut self, slot: Slot) -> Value {
        let d = self.domain(slot);
        let allowed: Vec<bool> =
            [false, true].into_iter().filter(|b| d.set.as_ref().is_none_or(|s| s.contains(&Const::Bool(*b)))).collect();
        match allowed.as_slice() {
            [] => Value::Bool(self.rng.random()),
            [one] => Value::Bool(*one),
            _ => Value::Bool(self.rng.random()),
        }
    }

    /// A number of the slot's domain, further bounded by `lo`/`hi` (an
    /// edit's bound).
    pub fn number(&mut self, slot: Slot, integer: bool, lo: Option<(f64, bool)>, hi: Option<(f64, bool)>) -> Value {
        let d = self.domain(slot);
        if let Some(set) = &d.set {
            let numbers: Vec<f64> = set.iter().filter_map(|v| if let Const::Number(n) = v { Some(*n) } else { None }).collect();
            if !numbers.is_empty() {
                return crate::check::explain::number_json(numbers[self.rng.random_range(0..numbers.len())]);
            }
        }
        let lo = tighter(d.lo, lo, true);
        let hi = tighter(d.hi, hi, false);
        let examples: Vec<f64> = d.examples.iter().filter_map(Value::as_f64).collect();
        let inside = |x: f64| {
            lo.is_none_or(|(l, inc)| x > l || (inc && x == l)) && hi.is_none_or(|(h, inc)| x < h || (inc && x == h)) && !x.is_nan()
        };
        for _ in 0..32 {
            let x = nice(self.raw_number(lo, hi, &examples), integer);
            if inside(x) && !d.excluded.contains(&Const::Number(x)) {
                return crate::check::explain::number_json(x);
            }
        }
        // The bounds leave little room: their middle, or the bound.
        let x = match (lo, hi) {
            (Some((l, _)), Some((h, _))) => (l + h) / 2.0,
            (Some((l, _)), None) => l + 1.0,
            (None, Some((h, _))) => h - 1.0,
            (None, None) => 0.0,
        };
        let x = if integer { x.round() } else { x };
        crate::check::explain::number_json(x)
    }

    fn raw_number(&mut self, lo: Option<(f64, bool)>, hi: Option<(f64, bool)>, examples: &[f64]) -> f64 {
        let (l, h) = (lo.map(|b| b.0), hi.map(|b| b.0));
        let positive: Vec<f64> = examples.iter().copied().filter(|x| *x > 0.0).collect();
        let spans_magnitudes = positive.len() >= 2 && {
            let (min, max) = positive.iter().fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
            max / min >= 10.0
        };
        if spans_magnitudes && l.is_none_or(|l| l >= 0.0) {
            // Amounts: log-normal around the examples' scale.
            let logs: Vec<f64> = positive.iter().map(|x| x.ln()).collect();
            let (mu, sigma) = mean_sd(&logs);
            return (mu + sigma.max(1.0) * self.gaussian()).exp();
        }
        if !examples.is_empty() {
            // A spread around the examples, wide enough to cover the range.
            let (mu, sd) = mean_sd(examples);
            let width = match (l, h) {
                (Some(l), Some(h)) => (h - l) / 6.0,
                _ => mu.abs() / 2.0,
            };
            return mu + sd.max(width).max(1e-3) * self.gaussian();
        }
        match (l, h) {
            (Some(l), Some(h)) if l > 0.0 && h / l >= 1000.0 => (l.ln() + (h.ln() - l.ln()) * self.rng.random::<f64>()).exp(),
            (Some(l), Some(h)) => l + (h - l) * self.rng.random::<f64>(),
            (Some(l), None) => l + (7.0 + 2.0 * self.gaussian()).exp(),
            // Below an upper bound alone: over four orders of magnitude under it.
            (None, Some(h)) if h > 0.0 => (h.ln() - 4.0 * std::f64::consts::LN_10 * self.rng.random::<f64>()).exp(),
            (None, Some(h)) => h - (7.0 + 2.0 * self.gaussian()).exp(),
            (None, None) => 1000.0 * self.gaussian(),
        }
    }

    /// A standard normal variate (Box-Muller).
    fn gaussian(&mut self) -> f64 {
        let u: f64 = 1.0 - self.rng.random::<f64>();
        let v: f64 = self.rng.random();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A string of the slot's domain.
    pub fn string(&mut self, slot: Slot, record: &Map<String, Value>) -> String {
        let d = self.domain(slot);
        let strings = |values: &[Const]| -> Vec<String> {
            values.iter().filter_map(|v| if let Const::String(s) = v { Some(s.to_string()) } else { None }).collect()
        };
        let allowed = |s: &str| !d.excluded.contains(&Const::String(s.into()));
        if let Some(set) = &d.set {
            let set: Vec<String> = strings(set).into_iter().filter(|s| allowed(s)).collect();
            if !set.is_empty() {
                return set[self.rng.random_range(0..set.len())].clone();
            }
        }
        let mut patterns = d.patterns.clone();
        if let Some((table, key_slot)) = d.table_pattern {
            if let Some(key) = slot_value(self.c, key_slot, record).and_then(Value::as_str) {
                if let Some(r) = table_regex(self.c, table, key) {
                    patterns.push(r);
                }
            }
        }
        let matches_all = |c: &Compiled, s: &str| patterns.iter().all(|r| c.regexes[r.0 as usize].is_match(s));
        // The examples and the named cases that fit the patterns, most of
        // the time: real values are not uniform over a pattern.
        let mut known: Vec<String> = d.examples.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
        let mentioned = strings(&d.mentioned);
        if !mentioned.is_empty() && patterns.is_empty() {
            known = mentioned;
        }
        known.retain(|s| allowed(s) && matches_all(self.c, s));
        if !known.is_empty() && (patterns.is_empty() || self.rng.random_bool(0.7)) {
            return known[self.rng.random_range(0..known.len())].clone();
        }
        let generators: Vec<_> = if patterns.is_empty() { d.case_patterns.clone() } else { patterns.clone() };
        if let Some(r) = generators.first() {
            let source = self.c.program.regexes[r.0 as usize].0.clone();
            for _ in 0..16 {
                if let Some(s) = self.matching(&source) {
                    if matches_all(self.c, &s) && allowed(&s) {
                        return s;
                    }
                }
            }
        }
        self.words(2, ' ')
    }

    /// `n` random words joined by `sep`, capitalised when joined by spaces.
    fn words(&mut self, n: usize, sep: char) -> String {
        let mut out = String::new();
        for i in 0..n {
            if i > 0 {
                out.push(sep);
            }
            let w = WORDS[self.rng.random_range(0..WORDS.len())];
            if sep == ' ' {
                let mut chars = w.chars();
                out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                out.push_str(chars.as_str());
            } else {
                out.push_str(w);
            }
        }
        out
    }

    /// A key no record has: from the key's pattern when the rules give
    /// one, else a slug of words; numbered when the words are taken.
    pub fn fresh_key(&mut self, keys: &mut BTreeSet<String>) -> String {
        let entity = self.c.program.schema.entity(self.c.entity);
        let slot = entity.key.map(Slot::Field);
        let constrained = slot.and_then(|s| self.domains.get(s)).is_some_and(|d| d.set.is_some() || !d.patterns.is_empty());
        if let (true, Some(slot)) = (constrained, slot) {
            for _ in 0..64 {
                let k = self.string(slot, &Map::new());
                if keys.insert(k.clone()) {
                    return k;
                }
            }
        }
        let base = self.words(2, '-');
        let mut key = base.clone();
        let mut n = 2;
        while keys.contains(&key) {
            key = format!("{base}-{n}");
            n += 1;
        }
        keys.insert(key.clone());
        key
    }

    /// A string matching `pattern` (whole), written from its HIR.
    pub fn matching(&mut self, pattern: &str) -> Option<String> {
        let hir = regex_syntax::ParserBuilder::new().build().parse(pattern).ok()?;
        let mut out = String::new();
        self.write_hir(&hir, &mut out)?;
        Some(out)
    }

    fn write_hir(&mut self, hir: &Hir, out: &mut String) -> Option<()> {
        // Recursion is bounded by the pattern, which the rule's author wrote.
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(lit) => out.push_str(std::str::from_utf8(&lit.0).ok()?),
            HirKind::Class(Class::Unicode(class)) => {
                let printable = regex_syntax::hir::ClassUnicode::new([regex_syntax::hir::ClassUnicodeRange::new(' ', '~')]);
                let mut ascii = class.clone();
                ascii.intersect(&printable);
                let ranges = if ascii.ranges().is_empty() { class.ranges() } else { ascii.ranges() };
                let total: u64 = ranges.iter().map(|r| u64::from(r.end() as u32 - r.start() as u32) + 1).sum();
                if total == 0 {
                    return None;
                }
                let mut pick = self.rng.random_range(0..total);
                for r in ranges {
                    let size = u64::from(r.end() as u32 - r.start() as u32) + 1;
                    if pick < size {
                        out.push(char::from_u32(r.start() as u32 + pick as u32).unwrap_or(r.start()));
                        break;
                    }
                    pick -= size;
                }
            }
            HirKind::Class(Class::Bytes(class)) => {
                let ranges: Vec<_> = class.ranges().iter().filter(|r| r.start() < 0x80).collect();
                let r = ranges.get(self.rng.random_range(0..ranges.len().max(1)))?;
                let b = self.rng.random_range(r.start()..=r.end().min(0x7f));
                out.push(char::from(b));
            }
            HirKind::Repetition(rep) => {
                let max = rep.max.unwrap_or(rep.min + EXTRA_REPEATS).min(rep.min + EXTRA_REPEATS);
                let n = self.rng.random_range(rep.min..=max);
                for _ in 0..n {
                    self.write_hir(&rep.sub, out)?;
                }
            }
            HirKind::Capture(cap) => self.write_hir(&cap.sub, out)?,
            HirKind::Concat(parts) => {
                for p in parts {
                    self.write_hir(p, out)?;
                }
            }
            HirKind::Alternation(options) => {
                let k = self.rng.random_range(0..options.len());
                self.write_hir(&options[k], out)?;
            }
        }
        Some(())
    }
}

/// The value of a slot of the record (a top-level field only).
pub fn slot_value<'r>(c: &Compiled, slot: Slot, record: &'r Map<String, Value>) -> Option<&'r Value> {
    let Slot::Field(f) = slot else { return None };
    record.get(&c.program.schema.field(c.entity, f).name)
}

fn tighter(a: Option<(f64, bool)>, b: Option<(f64, bool)>, lower: bool) -> Option<(f64, bool)> {
    match (a, b) {
        (Some(x), Some(y)) => {
            let x_tighter = if lower { x.0 > y.0 || (x.0 == y.0 && !x.1) } else { x.0 < y.0 || (x.0 == y.0 && !x.1) };
            Some(if x_tighter { x } else { y })
        }
        (x, None) => x,
        (None, y) => y,
    }
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// A number as a person would write it: whole for an integer field, and
/// three significant digits (four for a whole number under 10,000).
pub fn nice(x: f64, integer: bool) -> f64 {
    round_to(x, if integer && x.abs() < 10_000.0 { 4 } else { 3 }, integer)
}

/// `x` rounded to `digits` significant digits (and whole, for an integer).
pub fn round_to(x: f64, digits: i32, integer: bool) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let magnitude = x.abs().log10().floor() as i32;
    let e = magnitude - (digits - 1);
    // Divide by an exact power of ten: 0.418, not 0.41800000000000004.
    let rounded = if e >= 0 {
        let p = 10f64.powi(e);
        (x / p).round() * p
    } else {
        let p = 10f64.powi(-e);
        (x * p).round() / p
    };
    if integer {
        rounded.round()
    } else {
        rounded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled() -> Compiled {
        let skill = "---\nname: t\ndescription: t\napplies_to: thing\n---\n\n```entity thing\nkey id\nid: string\nx: number\n```\n\n- x is positive.\n  ```rule x-positive\n  x > 0\n  ```\n";
        let (program, diags) = crate::compile_sources(&[("t/SKILL.md".into(), skill.into())]);
        assert!(!diags.iter().any(crate::diagnostic::Diagnostic::is_error), "{diags:?}");
        Compiled::new(program).unwrap()
    }

    /// A string written from a pattern matches the whole pattern.
    #[test]
    fn strings_written_from_a_pattern_match_it() {
        let c = compiled();
        let mut d = Drawer::new(&c, Domains::default(), 1);
        for pattern in [
            "[A-Z]{2}",
            "(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-9])",
            r"[A-Z]{1,4}(\.[A-Z])?",
            r"\d{3}-\w+",
            "a*b+c?",
            "x.y",
            "[^a-z]{3}",
        ] {
            let whole = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
            for _ in 0..50 {
                let s = d.matching(pattern).unwrap();
                assert!(whole.is_match(&s), "{s:?} does not match /{pattern}/");
            }
        }
    }

    #[test]
    fn numbers_are_rounded_as_people_write_them() {
        assert_eq!(nice(182_345_678.9, false), 182_000_000.0);
        assert_eq!(nice(0.41849, false), 0.418);
        assert_eq!(nice(3137.4, true), 3137.0);
        assert_eq!(nice(123_456.0, true), 123_000.0);
        assert_eq!(nice(-0.0123456, false), -0.0123);
        assert_eq!(round_to(1.0049, 3, false), 1.0);
    }

    #[test]
    fn keys_are_fresh() {
        let c = compiled();
        let mut d = Drawer::new(&c, Domains::default(), 1);
        let mut keys = BTreeSet::new();
        for _ in 0..5000 {
            let before = keys.len();
            d.fresh_key(&mut keys);
            assert_eq!(keys.len(), before + 1);
        }
    }
}
