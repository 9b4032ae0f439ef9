//! Columnar storage for records: one column per kept field, lists as
//! offsets into a child column. No allocation per record; strings live in
//! one buffer per column.

use crate::ir::schema::FieldType;

/// A column of values of one declared type. JSON has no NaN, so a NaN in a
/// number column means absent.
#[derive(Debug, Clone)]
pub enum Column {
    Number(Vec<f64>),
    /// 0 false, 1 true, 2 absent.
    Bool(Vec<u8>),
    Str(StrColumn),
    List(ListColumn),
    Object(ObjectColumn),
    /// A field no rule reads: type-checked while parsing, not stored.
    Skip,
}

/// Strings of one column. Starts dictionary-encoded (one code per row: a
/// country, an industry, a fiscal year end repeat endlessly) and turns into
/// plain text once it holds too many distinct values to be worth it (keys).
#[derive(Debug, Clone)]
pub enum StrColumn {
    Dict {
        /// Index into `values`; `ABSENT_CODE` for an absent row.
        codes: Vec<u32>,
        values: Vec<Box<str>>,
        /// value → code; rebuilt on demand after `shrink` drops it.
        index: hashbrown::HashMap<Box<str>, u32>,
    },
    Plain {
        text: String,
        /// End of row i's text in `text` (start = end of row i-1).
        ends: Vec<u64>,
    },
}

impl Default for StrColumn {
    fn default() -> Self {
        StrColumn::Dict { codes: Vec::new(), values: Vec::new(), index: hashbrown::HashMap::new() }
    }
}

const ABSENT_CODE: u32 = u32::MAX;
/// Past this many distinct values a dictionary column becomes plain text.
const DICT_LIMIT: usize = 4096;

#[derive(Debug, Clone)]
pub struct ListColumn {
    /// End of row i's items in `items`; u64::MAX marks an absent list.
    ends: Vec<u64>,
    pub items: Box<Column>,
}

#[derive(Debug, Clone)]
pub struct ObjectColumn {
    pub fields: Vec<Column>,
    /// Whether row i holds an object (false: absent).
    present: Vec<bool>,
}

/// The high bit of an end offset marks an absent row; the rest still holds
/// the running end, so every row's start is the previous row's end: O(1).
const ABSENT: u64 = 1 << 63;
const OFFSET: u64 = ABSENT - 1;

fn row_range(ends: &[u64], row: usize) -> Option<std::ops::Range<usize>> {
    let end = ends[row];
    if end & ABSENT != 0 {
        return None;
    }
    let start = if row == 0 { 0 } else { (ends[row - 1] & OFFSET) as usize };
    Some(start..end as usize)
}

fn append_ends(a: &mut Vec<u64>, b: &[u64], base: u64) {
    a.extend(b.iter().map(|&e| (e & ABSENT) | ((e & OFFSET) + base)));
}

impl StrColumn {
    pub fn get(&self, row: usize) -> Option<&str> {
        match self {
            StrColumn::Dict { codes, values, .. } => match codes[row] {
                ABSENT_CODE => None,
                code => Some(&values[code as usize]),
            },
            StrColumn::Plain { text, ends } => row_range(ends, row).map(|r| &text[r]),
        }
    }

    pub fn push(&mut self, value: Option<&str>) {
        match self {
            StrColumn::Dict { codes, values, index } => {
                let Some(s) = value else {
                    codes.push(ABSENT_CODE);
                    return;
                };
                if index.len() < values.len() {
                    *index = values.iter().enumerate().map(|(i, v)| (v.clone(), i as u32)).collect();
                }
                if let Some(&code) = index.get(s) {
                    codes.push(code);
                    return;
                }
                if values.len() >= DICT_LIMIT {
                    self.make_plain();
                    self.push(value);
                    return;
                }
                index.insert(s.into(), values.len() as u32);
                codes.push(values.len() as u32);
                values.push(s.into());
            }
            StrColumn::Plain { text, ends } => match value {
                Some(s) => {
                    text.push_str(s);
                    ends.push(text.len() as u64);
                }
                None => ends.push(text.len() as u64 | ABSENT),
            },
        }
    }

    fn make_plain(&mut self) {
        if let StrColumn::Dict { codes, values, .. } = self {
            let mut plain = StrColumn::Plain { text: String::new(), ends: Vec::with_capacity(codes.len()) };
            for &code in codes.iter() {
                plain.push((code != ABSENT_CODE).then(|| &*values[code as usize]));
            }
            *self = plain;
        }
    }

    fn len(&self) -> usize {
        match self {
            StrColumn::Dict { codes, .. } => codes.len(),
            StrColumn::Plain { ends, .. } => ends.len(),
        }
    }

    fn append(&mut self, other: &StrColumn) {
        match (&mut *self, other) {
            (StrColumn::Plain { text, ends }, StrColumn::Plain { text: t, ends: e }) => {
                let base = text.len() as u64;
                text.push_str(t);
                append_ends(ends, e, base);
            }
            (StrColumn::Dict { .. }, StrColumn::Dict { codes, values, .. }) => {
                // Remap the other dictionary's codes into this one.
                let mut remap = Vec::with_capacity(values.len());
                for v in values {
                    let before = self.len();
                    self.push(Some(v));
                    match self {
                        StrColumn::Dict { codes: mine, .. } => remap.push(mine.pop().expect("just pushed")),
                        StrColumn::Plain { .. } => {
                            // Became plain: fall back to row-by-row.
                            self.truncate(before);
                            for i in 0..codes.len() {
                                self.push(other.get(i));
                            }
                            return;
                        }
                    }
                }
                if let StrColumn::Dict { codes: mine, .. } = self {
                    mine.extend(codes.iter().map(|&c| if c == ABSENT_CODE { c } else { remap[c as usize] }));
                }
            }
            (_, other) => {
                self.make_plain();
                for i in 0..other.len() {
                    self.push(other.get(i));
                }
            }
        }
    }

    fn truncate(&mut self, rows: usize) {
        match self {
            StrColumn::Dict { codes, .. } => codes.truncate(rows),
            StrColumn::Plain { text, ends } => {
                ends.truncate(rows);
                text.truncate(ends.last().map_or(0, |e| (e & OFFSET) as usize));
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            StrColumn::Dict { codes, values, index } => {
                codes.capacity() * 4 + values.iter().map(|v| v.len() + 16).sum::<usize>() + index.capacity() * 40
            }
            StrColumn::Plain { text, ends } => text.capacity() + ends.capacity() * 8,
        }
    }

    fn shrink(&mut self) {
        match self {
            StrColumn::Dict { codes, index, .. } => {
                codes.shrink_to_fit();
                *index = hashbrown::HashMap::new();
            }
            StrColumn::Plain { text, ends } => {
                text.shrink_to_fit();
                ends.shrink_to_fit();
            }
        }
    }
}

impl ListColumn {
    /// The item range of a row, or None when the list is absent.
    pub fn range(&self, row: usize) -> Option<std::ops::Range<usize>> {
        row_range(&self.ends, row)
    }
}

impl ObjectColumn {
    pub fn present(&self, row: usize) -> bool {
        self.present[row]
    }
}

impl Column {
    /// An empty column for a field of this type; `keep` false gives Skip.
    pub fn new(ty: &FieldType, keep: bool) -> Column {
        if !keep {
            return Column::Skip;
        }
        match ty {
            FieldType::Number | FieldType::Integer => Column::Number(Vec::new()),
            FieldType::Boolean => Column::Bool(Vec::new()),
            FieldType::String => Column::Str(StrColumn::default()),
            FieldType::List(item) => Column::List(ListColumn { ends: Vec::new(), items: Box::new(Column::new(item, true)) }),
            FieldType::Object(fields) => {
                Column::Object(ObjectColumn { fields: fields.iter().map(|f| Column::new(&f.ty, true)).collect(), present: Vec::new() })
            }
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Column::Number(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Str(s) => s.len(),
            Column::List(l) => l.ends.len(),
            Column::Object(o) => o.present.len(),
            Column::Skip => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push_absent(&mut self) {
        match self {
            Column::Number(v) => v.push(f64::NAN),
            Column::Bool(v) => v.push(2),
            Column::Str(s) => s.push(None),
            Column::List(l) => l.ends.push(l.items.len() as u64 | ABSENT),
            Column::Object(o) => {
                for f in &mut o.fields {
                    f.push_absent();
                }
                o.present.push(false);
            }
            Column::Skip => {}
        }
    }

    pub fn push_number(&mut self, n: f64) {
        if let Column::Number(v) = self {
            v.push(n);
        }
    }
    pub fn push_bool(&mut self, b: bool) {
        if let Column::Bool(v) = self {
            v.push(u8::from(b));
        }
    }
    pub fn push_str(&mut self, s: &str) {
        if let Column::Str(c) = self {
            c.push(Some(s));
        }
    }
    /// Closes a list row whose items were pushed to `items`.
    pub fn close_list(&mut self) {
        if let Column::List(l) = self {
            l.ends.push(l.items.len() as u64);
        }
    }
    pub fn close_object(&mut self) {
        if let Column::Object(o) = self {
            o.present.push(true);
        }
    }

    /// Appends every row of `other` (a column of the same shape).
    pub fn append(&mut self, other: &Column) {
        match (self, other) {
            (Column::Number(a), Column::Number(b)) => a.extend_from_slice(b),
            (Column::Bool(a), Column::Bool(b)) => a.extend_from_slice(b),
            (Column::Str(a), Column::Str(b)) => a.append(b),
            (Column::List(a), Column::List(b)) => {
                let base = a.items.len() as u64;
                append_ends(&mut a.ends, &b.ends, base);
                a.items.append(&b.items);
            }
            (Column::Object(a), Column::Object(b)) => {
                for (x, y) in a.fields.iter_mut().zip(&b.fields) {
                    x.append(y);
                }
                a.present.extend_from_slice(&b.present);
            }
            _ => {}
        }
    }

    /// Reserves room for `ratio` times the rows (and items, and text) held
    /// now: sized once from an estimate instead of doubling past it.
    pub fn reserve_scaled(&mut self, ratio: f64) {
        let more = |len: usize| ((len as f64) * (ratio - 1.0)).max(0.0) as usize;
        match self {
            Column::Number(v) => v.reserve_exact(more(v.len())),
            Column::Bool(v) => v.reserve_exact(more(v.len())),
            Column::Str(StrColumn::Dict { codes, .. }) => codes.reserve_exact(more(codes.len())),
            Column::Str(StrColumn::Plain { text, ends }) => {
                text.reserve_exact(more(text.len()));
                ends.reserve_exact(more(ends.len()));
            }
            Column::List(l) => {
                l.ends.reserve_exact(more(l.ends.len()));
                l.items.reserve_scaled(ratio);
            }
            Column::Object(o) => {
                o.fields.iter_mut().for_each(|f| f.reserve_scaled(ratio));
                o.present.reserve_exact(more(o.present.len()));
            }
            Column::Skip => {}
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Column::Number(v) => v.capacity() * 8,
            Column::Bool(v) => v.capacity(),
            Column::Str(s) => s.heap_bytes(),
            Column::List(l) => l.ends.capacity() * 8 + l.items.heap_bytes(),
            Column::Object(o) => o.fields.iter().map(Column::heap_bytes).sum::<usize>() + o.present.capacity(),
            Column::Skip => 0,
        }
    }

    pub fn shrink(&mut self) {
        match self {
            Column::Number(v) => v.shrink_to_fit(),
            Column::Bool(v) => v.shrink_to_fit(),
            Column::Str(s) => s.shrink(),
            Column::List(l) => {
                l.ends.shrink_to_fit();
                l.items.shrink();
            }
            Column::Object(o) => {
                o.fields.iter_mut().for_each(Column::shrink);
                o.present.shrink_to_fit();
            }
            Column::Skip => {}
        }
    }
}

/// The columns of one entity type: one per declared field.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: usize,
}

impl Table {
    /// The same table keeping only the given fields' columns.
    pub fn retain(mut self, fields: &[crate::ir::schema::FieldId]) -> Table {
        for (i, c) in self.columns.iter_mut().enumerate() {
            if !fields.iter().any(|f| f.0 as usize == i) {
                *c = Column::Skip;
            }
        }
        self
    }

    pub fn shrink(&mut self) {
        self.columns.iter_mut().for_each(Column::shrink);
    }

    pub fn reserve_scaled(&mut self, ratio: f64) {
        self.columns.iter_mut().for_each(|c| c.reserve_scaled(ratio));
    }

    pub fn heap_bytes(&self) -> usize {
        self.columns.iter().map(Column::heap_bytes).sum()
    }

    pub fn append(&mut self, other: &Table) {
        if self.columns.is_empty() {
            self.columns = other.columns.iter().map(|c| c.clone_empty()).collect();
        }
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            a.append(b);
        }
        self.rows += other.rows;
    }
}

impl Column {
    /// A column of the same shape with no rows.
    pub fn clone_empty(&self) -> Column {
        match self {
            Column::Number(_) => Column::Number(Vec::new()),
            Column::Bool(_) => Column::Bool(Vec::new()),
            Column::Str(_) => Column::Str(StrColumn::default()),
            Column::List(l) => Column::List(ListColumn { ends: Vec::new(), items: Box::new(l.items.clone_empty()) }),
            Column::Object(o) => {
                Column::Object(ObjectColumn { fields: o.fields.iter().map(Column::clone_empty).collect(), present: Vec::new() })
            }
            Column::Skip => Column::Skip,
        }
    }
}
