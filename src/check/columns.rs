//! Columnar storage for records: one column per kept field, lists as
//! offsets into a child column. No allocation per record; strings live in
//! one buffer per column.

use crate::ir::schema::FieldType;
use rayon::prelude::*;
use std::sync::Arc;

/// A column of values of one declared type. JSON has no NaN, so a NaN in a
/// number column means absent.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Column {
    Number(Vec<f64>),
    /// A number column most of whose rows are absent.
    Sparse(SparseNumbers),
    /// A number column of whole numbers that fit in 32 bits (counts,
    /// years), once loaded: 4 bytes a row. `INT_ABSENT` for absent.
    Int(Vec<i32>),
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
/// plain text once most rows bring a new value (keys) or it holds too many
/// distinct values to be worth it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum StrColumn {
    Dict {
        /// Index into `values` (at most `DICT_LIMIT`, so two bytes);
        /// `ABSENT_CODE` for an absent row.
        codes: Vec<u16>,
        values: Texts,
        /// Codes, hashed by their value; rebuilt on demand after `shrink`
        /// drops it (and so not written to a base index).
        #[serde(skip)]
        index: hashbrown::HashTable<u32>,
    },
    Plain(Texts),
    /// Plain text that other columns refer to (`Refs`): the key column
    /// once the store has resolved references to it.
    Shared(Arc<Texts>),
    /// Values that name rows of a key column, each kept as the row it
    /// names: 4 bytes instead of a second copy of the key's text.
    Refs(Refs),
}

/// A column of references to keys (see `StrColumn::Refs`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Refs {
    /// Per row: the row of `keys` holding its value; `OTHER | i` for the
    /// i-th text of `other` (a value no key has); `NO_REF` when absent.
    rows: Vec<u32>,
    keys: Arc<Texts>,
    other: Texts,
}

const OTHER: u32 = 1 << 31;
const NO_REF: u32 = u32::MAX;

impl Default for StrColumn {
    fn default() -> Self {
        StrColumn::Dict { codes: Vec::new(), values: Texts::default(), index: hashbrown::HashTable::new() }
    }
}

const ABSENT_CODE: u16 = u16::MAX;
/// Past this many distinct values a dictionary column becomes plain text.
const DICT_LIMIT: usize = 4096;
const _: () = assert!(DICT_LIMIT < ABSENT_CODE as usize, "codes fit in two bytes");
/// A dictionary this large that holds more values than half its rows is
/// a column of mostly unique values: plain text from then on.
const DICT_PROBE: usize = 256;

/// The hash of a string value: dictionaries and the key index use it.
pub(crate) fn hash_str(s: &str) -> u64 {
    use std::hash::BuildHasher;
    // A fixed seed: `hashbrown::DefaultHashBuilder::default()` draws a new
    // random one each time, and a dictionary is rehashed across calls.
    foldhash::fast::FixedState::default().hash_one(s)
}

/// Row ends into a child buffer (text bytes, list items): 4 bytes a row.
/// Bit 31 marks an absent row; the low 31 bits hold the running end modulo
/// 2^31, and `wraps` lists the rows at whose end the running end passed
/// another multiple of 2^31, so a column may hold more than 2 GiB of text
/// while a row costs 4 bytes. A row's start is the previous row's end.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Offsets {
    ends: Vec<u32>,
    wraps: Vec<u32>,
    /// The running end after the last row.
    total: u64,
}

const ABSENT_BIT: u32 = 1 << 31;
const LOW: u64 = (1 << 31) - 1;

impl Offsets {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Closes a row ending at `end` (at least the previous end).
    fn push(&mut self, end: u64, present: bool) {
        let row = self.ends.len() as u32;
        for _ in (self.total >> 31)..(end >> 31) {
            self.wraps.push(row);
        }
        self.total = end;
        self.ends.push((end & LOW) as u32 | if present { 0 } else { ABSENT_BIT });
    }

    fn end_of(&self, row: usize) -> u64 {
        let low = u64::from(self.ends[row] & !ABSENT_BIT);
        if self.wraps.is_empty() {
            return low;
        }
        let high = self.wraps.partition_point(|&w| w as usize <= row) as u64;
        (high << 31) | low
    }

    /// The child range of a row, or None when the row is absent.
    pub fn range(&self, row: usize) -> Option<std::ops::Range<usize>> {
        if self.ends[row] & ABSENT_BIT != 0 {
            return None;
        }
        let start = if row == 0 { 0 } else { self.end_of(row - 1) };
        Some(start as usize..self.end_of(row) as usize)
    }

    /// Appends `other`'s rows, whose child buffer was appended after ours.
    fn append(&mut self, other: &Offsets) {
        let base = self.total;
        if other.wraps.is_empty() && (base + other.total) >> 31 == base >> 31 {
            // One window of 2^31: add the low part of the base, no carry.
            let low = (base & LOW) as u32;
            room(&mut self.ends, other.ends.len());
            self.ends.extend(other.ends.iter().map(|&e| (e & ABSENT_BIT) | ((e & !ABSENT_BIT) + low)));
            self.total = base + other.total;
            return;
        }
        for row in 0..other.len() {
            self.push(base + other.end_of(row), other.ends[row] & ABSENT_BIT == 0);
        }
    }

    fn truncate(&mut self, rows: usize) {
        self.ends.truncate(rows);
        self.wraps.retain(|&w| (w as usize) < rows);
        self.total = if rows == 0 { 0 } else { self.end_of(rows - 1) };
    }

    fn reserve_exact(&mut self, more: usize) {
        self.ends.reserve_exact(more);
    }

    fn shrink(&mut self) {
        self.ends.shrink_to_fit();
        self.wraps.shrink_to_fit();
    }

    fn heap_bytes(&self) -> usize {
        self.ends.capacity() * 4 + self.wraps.capacity() * 4
    }
}

/// Strings in one buffer, 4 bytes of offset a row.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Texts {
    text: String,
    offsets: Offsets,
}

impl Texts {
    pub fn get(&self, row: usize) -> Option<&str> {
        let r = self.offsets.range(row)?;
        // Rows end on character boundaries: they were pushed as `&str`.
        Some(&self.text[r])
    }

    fn push(&mut self, value: Option<&str>) {
        if let Some(s) = value {
            self.text.push_str(s);
        }
        self.offsets.push(self.text.len() as u64, value.is_some());
    }

    fn len(&self) -> usize {
        self.offsets.len()
    }

    fn append(&mut self, other: &Texts) {
        self.room(other.text.len(), other.len());
        self.text.push_str(&other.text);
        self.offsets.append(&other.offsets);
    }

    fn truncate(&mut self, rows: usize) {
        self.offsets.truncate(rows);
        self.text.truncate(self.offsets.total as usize);
    }

    /// Room for `bytes` more text in `rows` more rows (see `room`).
    fn room(&mut self, bytes: usize, rows: usize) {
        if self.text.capacity() - self.text.len() < bytes {
            self.text.reserve_exact(bytes.max(self.text.len() / 8));
        }
        room(&mut self.offsets.ends, rows);
    }

    fn reserve_scaled(&mut self, more: impl Fn(usize) -> usize) {
        self.text.reserve_exact(more(self.text.len()));
        self.offsets.reserve_exact(more(self.offsets.len()));
    }

    fn shrink(&mut self) {
        self.text.shrink_to_fit();
        self.offsets.shrink();
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.offsets.heap_bytes()
    }
}

/// Numbers of a column that is mostly absent: a presence bitmap with a
/// running count per 64 rows, and the present values only. A row costs
/// 1.5 bits plus 8 bytes when present, instead of 8 bytes.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SparseNumbers {
    present: Vec<u64>,
    /// Present rows before each word of `present`.
    rank: Vec<u32>,
    values: Vec<f64>,
    rows: usize,
}

pub const INT_ABSENT: i32 = i32::MIN;

/// The number as an `Int` cell, when it is one exactly (not -0.0).
fn as_int(n: f64) -> Option<i32> {
    let i = n as i32;
    (i != INT_ABSENT && (i as f64).to_bits() == n.to_bits()).then_some(i)
}

/// A number column is stored sparse below this share of present rows.
const SPARSE_BELOW: f64 = 0.6;

/// The number of present rows of a dense number column, when so few are
/// present that it is better kept sparse.
fn sparse_present(v: &[f64]) -> Option<usize> {
    let present = v.iter().filter(|n| !n.is_nan()).count();
    ((present as f64) < v.len() as f64 * SPARSE_BELOW).then_some(present)
}

impl SparseNumbers {
    fn from_dense(dense: &[f64]) -> SparseNumbers {
        let mut sparse = SparseNumbers::default();
        sparse.present.reserve_exact(dense.len().div_ceil(64));
        sparse.rank.reserve_exact(dense.len().div_ceil(64));
        sparse.values.reserve_exact(dense.iter().filter(|n| !n.is_nan()).count());
        sparse.extend(dense);
        sparse
    }

    /// Appends rows (NaN: absent).
    fn extend(&mut self, dense: &[f64]) {
        for &n in dense {
            let row = self.rows;
            if row.is_multiple_of(64) {
                self.rank.push(self.values.len() as u32);
                self.present.push(0);
            }
            if !n.is_nan() {
                self.present[row / 64] |= 1 << (row % 64);
                self.values.push(n);
            }
            self.rows += 1;
        }
    }

    fn shrink(&mut self) {
        self.present.shrink_to_fit();
        self.rank.shrink_to_fit();
        self.values.shrink_to_fit();
    }

    /// Room for `rows` more rows, `present` of them present (see `room`).
    fn room(&mut self, rows: usize, present: usize) {
        let words = (self.rows + rows).div_ceil(64) - self.present.len();
        room(&mut self.present, words);
        room(&mut self.rank, words);
        room(&mut self.values, present);
    }

    pub fn get(&self, row: usize) -> Option<f64> {
        let word = *self.present.get(row / 64)?;
        let bit = 1u64 << (row % 64);
        if word & bit == 0 {
            return None;
        }
        Some(self.values[self.rank[row / 64] as usize + (word & (bit - 1)).count_ones() as usize])
    }

    fn to_dense(&self) -> Vec<f64> {
        (0..self.rows).map(|r| self.get(r).unwrap_or(f64::NAN)).collect()
    }

    fn heap_bytes(&self) -> usize {
        self.present.capacity() * 8 + self.rank.capacity() * 4 + self.values.capacity() * 8
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ListColumn {
    /// Row i's items in `items`; absent lists marked.
    ends: Offsets,
    pub items: Box<Column>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ObjectColumn {
    pub fields: Vec<Column>,
    /// Whether row i holds an object (false: absent).
    present: Vec<bool>,
}

impl StrColumn {
    pub fn get(&self, row: usize) -> Option<&str> {
        match self {
            StrColumn::Dict { codes, values, .. } => match codes[row] {
                ABSENT_CODE => None,
                code => values.get(code as usize),
            },
            StrColumn::Plain(texts) => texts.get(row),
            StrColumn::Shared(texts) => texts.get(row),
            StrColumn::Refs(refs) => match refs.rows[row] {
                NO_REF => None,
                r if r & OTHER != 0 => refs.other.get((r & !OTHER) as usize),
                r => refs.keys.get(r as usize),
            },
        }
    }

    /// The key row a value was resolved to (`refer_to`), if it was.
    pub fn resolved(&self, row: usize) -> Option<u32> {
        match self {
            StrColumn::Refs(refs) => Some(refs.rows[row]).filter(|&r| r & OTHER == 0),
            _ => None,
        }
    }

    /// The text of this column shared, to be referred to: it becomes
    /// `Shared` (its rows unchanged; shared once, however often asked).
    pub fn share(&mut self) -> Arc<Texts> {
        if let StrColumn::Shared(texts) = self {
            return Arc::clone(texts);
        }
        self.make_plain();
        let StrColumn::Plain(texts) = std::mem::replace(self, StrColumn::Shared(Arc::default())) else { unreachable!("made plain above") };
        let texts = Arc::new(texts);
        *self = StrColumn::Shared(Arc::clone(&texts));
        texts
    }

    /// Keeps each value that `find` locates among `keys` (the row of
    /// `keys` holding it) as that row; the other values as text. Lookups
    /// run in parallel. Left as it is past 2^31 rows (not reachable: rows
    /// are numbered in u32 throughout).
    pub fn refer_to(&mut self, keys: &Arc<Texts>, find: impl Fn(&str) -> Option<u32> + Sync) {
        let n = self.len();
        if n as u64 >= u64::from(OTHER) || keys.len() as u64 >= u64::from(OTHER) {
            return;
        }
        let this = &*self;
        let mut rows: Vec<u32> = (0..n).into_par_iter().map(|i| this.get(i).map_or(NO_REF, |s| find(s).unwrap_or(OTHER))).collect();
        let mut other = Texts::default();
        for (i, r) in rows.iter_mut().enumerate() {
            if *r == OTHER {
                *r = OTHER | other.len() as u32;
                other.push(this.get(i));
            }
        }
        other.shrink();
        *self = StrColumn::Refs(Refs { rows, keys: Arc::clone(keys), other });
    }

    pub fn push(&mut self, value: Option<&str>) {
        match self {
            StrColumn::Dict { codes, values, index } => {
                let Some(s) = value else {
                    codes.push(ABSENT_CODE);
                    return;
                };
                let rehash = |values: &Texts, code: u32| hash_str(values.get(code as usize).unwrap_or_default());
                if index.len() < values.len() {
                    index.clear();
                    for code in 0..values.len() as u32 {
                        index.insert_unique(rehash(values, code), code, |&c| rehash(values, c));
                    }
                }
                let h = hash_str(s);
                if let Some(&code) = index.find(h, |&c| values.get(c as usize) == Some(s)) {
                    codes.push(code as u16);
                    return;
                }
                let n = values.len();
                if n >= DICT_LIMIT || (n >= DICT_PROBE && n * 2 > codes.len()) {
                    self.make_plain();
                    self.push(value);
                    return;
                }
                index.insert_unique(h, n as u32, |&c| rehash(values, c));
                codes.push(n as u16);
                values.push(Some(s));
            }
            StrColumn::Plain(texts) => texts.push(value),
            StrColumn::Shared(_) | StrColumn::Refs(_) => {
                self.make_plain();
                self.push(value);
            }
        }
    }

    /// The same rows as one plain text.
    fn make_plain(&mut self) {
        match self {
            StrColumn::Plain(_) => {}
            StrColumn::Shared(texts) => {
                let texts = std::mem::take(texts);
                *self = StrColumn::Plain(Arc::try_unwrap(texts).unwrap_or_else(|shared| (*shared).clone()));
            }
            StrColumn::Dict { .. } | StrColumn::Refs(_) => {
                let mut plain = Texts::default();
                plain.offsets.reserve_exact(self.len());
                for row in 0..self.len() {
                    plain.push(self.get(row));
                }
                *self = StrColumn::Plain(plain);
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            StrColumn::Dict { codes, .. } => codes.len(),
            StrColumn::Plain(texts) => texts.len(),
            StrColumn::Shared(texts) => texts.len(),
            StrColumn::Refs(refs) => refs.rows.len(),
        }
    }

    fn append(&mut self, other: &StrColumn) {
        match (&mut *self, other) {
            (StrColumn::Plain(mine), StrColumn::Plain(theirs)) => mine.append(theirs),
            (StrColumn::Dict { .. }, StrColumn::Dict { codes, values, .. }) => {
                // Remap the other dictionary's codes into this one.
                let mut remap = Vec::with_capacity(values.len());
                for code in 0..values.len() {
                    let before = self.len();
                    self.push(values.get(code));
                    match self {
                        StrColumn::Dict { codes: mine, .. } => remap.push(mine.pop().expect("just pushed")),
                        _ => {
                            // Became plain: fall back to row-by-row.
                            self.truncate(before);
                            self.push_rows(other);
                            return;
                        }
                    }
                }
                if let StrColumn::Dict { codes: mine, .. } = self {
                    room(mine, codes.len());
                    mine.extend(codes.iter().map(|&c| if c == ABSENT_CODE { c } else { remap[c as usize] }));
                }
            }
            (_, other) => {
                self.make_plain();
                self.push_rows(other);
            }
        }
    }

    /// Pushes every row of `other` onto this plain column, its room made
    /// first (see `room`).
    fn push_rows(&mut self, other: &StrColumn) {
        if let StrColumn::Plain(texts) = self {
            let bytes: usize = (0..other.len()).map(|i| other.get(i).map_or(0, str::len)).sum();
            texts.room(bytes, other.len());
        }
        for i in 0..other.len() {
            self.push(other.get(i));
        }
    }

    fn truncate(&mut self, rows: usize) {
        match self {
            StrColumn::Dict { codes, .. } => codes.truncate(rows),
            StrColumn::Plain(texts) => texts.truncate(rows),
            StrColumn::Shared(_) | StrColumn::Refs(_) => {
                self.make_plain();
                self.truncate(rows);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            StrColumn::Dict { codes, values, index } => codes.capacity() * 2 + values.heap_bytes() + index.capacity() * 5,
            StrColumn::Plain(texts) => texts.heap_bytes(),
            // Shared text is counted once, with its own column.
            StrColumn::Shared(texts) => texts.heap_bytes(),
            StrColumn::Refs(refs) => refs.rows.capacity() * 4 + refs.other.heap_bytes(),
        }
    }

    fn shrink(&mut self) {
        match self {
            StrColumn::Dict { codes, index, .. } => {
                codes.shrink_to_fit();
                *index = hashbrown::HashTable::new();
            }
            StrColumn::Plain(texts) => texts.shrink(),
            StrColumn::Shared(_) | StrColumn::Refs(_) => {}
        }
    }
}

impl ListColumn {
    /// The item range of a row, or None when the list is absent.
    pub fn range(&self, row: usize) -> Option<std::ops::Range<usize>> {
        self.ends.range(row)
    }

    /// Field `i` of the items, when they are objects and it is text.
    pub fn item_text(&self, i: usize) -> Option<&StrColumn> {
        match self.items.as_ref() {
            Column::Object(o) => match &o.fields[i] {
                Column::Str(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn item_text_mut(&mut self, i: usize) -> Option<&mut StrColumn> {
        match self.items.as_mut() {
            Column::Object(o) => match &mut o.fields[i] {
                Column::Str(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
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
            FieldType::List(item) => Column::List(ListColumn { ends: Offsets::default(), items: Box::new(Column::new(item, true)) }),
            FieldType::Object(fields) => {
                Column::Object(ObjectColumn { fields: fields.iter().map(|f| Column::new(&f.ty, true)).collect(), present: Vec::new() })
            }
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Column::Number(v) => v.len(),
            Column::Sparse(v) => v.rows,
            Column::Int(v) => v.len(),
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
            Column::Sparse(_) | Column::Int(_) => {
                self.densify();
                self.push_absent();
            }
            Column::Bool(v) => v.push(2),
            Column::Str(s) => s.push(None),
            Column::List(l) => l.ends.push(l.items.len() as u64, false),
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
        self.densify();
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
            l.ends.push(l.items.len() as u64, true);
        }
    }
    pub fn close_object(&mut self) {
        if let Column::Object(o) = self {
            o.present.push(true);
        }
    }

    /// A sparse or whole-number column back to one f64 per row.
    fn densify(&mut self) {
        // Called on every number pushed: the common case tests one tag.
        if matches!(self, Column::Sparse(_) | Column::Int(_)) {
            let dense = self.numbers().expect("a number column").into_owned();
            *self = Column::Number(dense);
        }
    }

    /// One f64 per row (NaN: absent), of a number column.
    fn numbers(&self) -> Option<std::borrow::Cow<'_, [f64]>> {
        match self {
            Column::Number(v) => Some(v.as_slice().into()),
            Column::Sparse(s) => Some(s.to_dense().into()),
            Column::Int(v) => Some(v.iter().map(|&i| if i == INT_ABSENT { f64::NAN } else { f64::from(i) }).collect::<Vec<_>>().into()),
            _ => None,
        }
    }

    /// Appends every row of `other` (a column of the same shape).
    pub fn append(&mut self, other: &Column) {
        if let (Column::Sparse(a), Some(b)) = (&mut *self, other.numbers()) {
            a.room(b.len(), b.iter().filter(|n| !n.is_nan()).count());
            return a.extend(&b);
        }
        self.densify();
        if let (Column::Number(a), Some(b)) = (&mut *self, other.numbers()) {
            room(a, b.len());
            return a.extend_from_slice(&b);
        }
        match (self, other) {
            (Column::Bool(a), Column::Bool(b)) => {
                room(a, b.len());
                a.extend_from_slice(b)
            }
            (Column::Str(a), Column::Str(b)) => a.append(b),
            (Column::List(a), Column::List(b)) => {
                a.ends.append(&b.ends);
                a.items.append(&b.items);
            }
            (Column::Object(a), Column::Object(b)) => {
                for (x, y) in a.fields.iter_mut().zip(&b.fields) {
                    x.append(y);
                }
                room(&mut a.present, b.present.len());
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
            Column::Number(v) => {
                // A mostly absent column is kept sparse while it loads, not
                // only once loaded: sized densely for the whole input, it
                // held the peak up by 8 bytes a row.
                if let Some(present) = sparse_present(v) {
                    let mut sparse = SparseNumbers::from_dense(v);
                    sparse.room(more(v.len()), more(present));
                    *self = Column::Sparse(sparse);
                } else {
                    v.reserve_exact(more(v.len()));
                }
            }
            Column::Sparse(s) => s.room(more(s.rows), more(s.values.len())),
            Column::Int(_) => {}
            Column::Bool(v) => v.reserve_exact(more(v.len())),
            Column::Str(StrColumn::Dict { codes, .. }) => codes.reserve_exact(more(codes.len())),
            Column::Str(StrColumn::Plain(texts)) => texts.reserve_scaled(more),
            // Only made after loading.
            Column::Str(StrColumn::Shared(_) | StrColumn::Refs(_)) => {}
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
            Column::Sparse(v) => v.heap_bytes(),
            Column::Int(v) => v.capacity() * 4,
            Column::Bool(v) => v.capacity(),
            Column::Str(s) => s.heap_bytes(),
            Column::List(l) => l.ends.heap_bytes() + l.items.heap_bytes(),
            Column::Object(o) => o.fields.iter().map(Column::heap_bytes).sum::<usize>() + o.present.capacity(),
            Column::Skip => 0,
        }
    }

    pub fn shrink(&mut self) {
        match self {
            Column::Number(v) => {
                if sparse_present(v).is_some() {
                    *self = Column::Sparse(SparseNumbers::from_dense(v));
                } else if v.iter().all(|&n| n.is_nan() || as_int(n).is_some()) {
                    *self = Column::Int(v.iter().map(|&n| as_int(n).unwrap_or(INT_ABSENT)).collect());
                } else {
                    v.shrink_to_fit();
                }
            }
            Column::Int(v) => v.shrink_to_fit(),
            Column::Sparse(s) => s.shrink(),
            Column::Bool(v) => v.shrink_to_fit(),
            Column::Str(s) => s.shrink(),
            Column::List(l) => {
                l.ends.shrink();
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
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
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

    /// Appends each of `others` in turn; the columns are independent, so
    /// each is appended on its own task.
    pub fn append_all(&mut self, others: &[&Table]) {
        let Some(first) = others.first() else { return };
        if self.columns.is_empty() {
            self.columns = first.columns.iter().map(|c| c.clone_empty()).collect();
        }
        self.columns.par_iter_mut().enumerate().for_each(|(i, column)| {
            for other in others {
                column.append(&other.columns[i]);
            }
        });
        self.rows += others.iter().map(|t| t.rows).sum::<usize>();
    }

    pub fn append(&mut self, other: &Table) {
        self.append_all(&[other]);
    }
}

impl Column {
    /// A column of the same shape with no rows.
    pub fn clone_empty(&self) -> Column {
        match self {
            Column::Number(_) | Column::Sparse(_) | Column::Int(_) => Column::Number(Vec::new()),
            Column::Bool(_) => Column::Bool(Vec::new()),
            Column::Str(_) => Column::Str(StrColumn::default()),
            Column::List(l) => Column::List(ListColumn { ends: Offsets::default(), items: Box::new(l.items.clone_empty()) }),
            Column::Object(o) => {
                Column::Object(ObjectColumn { fields: o.fields.iter().map(Column::clone_empty).collect(), present: Vec::new() })
            }
            Column::Skip => Column::Skip,
        }
    }
}

/// Makes room for `additional` more elements, growing by an eighth rather
/// than doubling: the loaded columns are reserved from an estimate of the
/// whole input, and when the estimate falls a little short, doubling a
/// large column would double its memory to add a few percent.
pub(crate) fn room<T>(v: &mut Vec<T>, additional: usize) {
    if v.capacity() - v.len() < additional {
        v.reserve_exact(additional.max(v.len() / 8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious model: absolute u64 ends and a presence flag per row.
    fn model_range(model: &[(u64, bool)], row: usize) -> Option<std::ops::Range<usize>> {
        let start = if row == 0 { 0 } else { model[row - 1].0 };
        model[row].1.then(|| start as usize..model[row].0 as usize)
    }

    proptest! {
        /// Offsets agree with the model across 2^31 boundaries (several per
        /// row, too), through `append` and `truncate`. No text is needed:
        /// the ends alone are under test.
        #[test]
        fn offsets_past_two_gib_agree_with_absolute_ends(
            steps in prop::collection::vec((0u64..(3u64 << 31), any::<bool>()), 1..40),
            split in 0usize..40,
            cut in 0usize..80,
        ) {
            let split = split.min(steps.len());
            let (mut a, mut b) = (Offsets::default(), Offsets::default());
            let mut model = Vec::new();
            let mut end = 0u64;
            for (i, &(len, present)) in steps.iter().enumerate() {
                let len = if present { len } else { 0 };
                end += len;
                model.push((end, present));
                if i < split {
                    a.push(end, present);
                } else {
                    b.push(end - model.get(split.wrapping_sub(1)).map_or(0, |m| m.0), present);
                }
            }
            a.append(&b);
            prop_assert_eq!(a.len(), model.len());
            for row in 0..model.len() {
                prop_assert_eq!(a.range(row), model_range(&model, row), "row {}", row);
            }
            let cut = cut.min(model.len());
            a.truncate(cut);
            model.truncate(cut);
            prop_assert_eq!(a.total, model.last().map_or(0, |m| m.0));
            for row in 0..cut {
                prop_assert_eq!(a.range(row), model_range(&model, row));
            }
        }
    }

    #[test]
    fn a_dictionary_column_stays_one_across_pieces_and_shrinking() {
        let mut piece = StrColumn::default();
        for i in 0..3000 {
            piece.push(if i % 7 == 0 { None } else { Some(["DE", "FR", "US"][i % 3]) });
        }
        let mut all = StrColumn::default();
        all.append(&piece);
        all.shrink(); // drops the hash index: the next push rebuilds it
        all.append(&piece);
        let StrColumn::Dict { values, .. } = &all else { panic!("became plain: {all:?}") };
        assert_eq!(values.len(), 3);
        for row in 0..6000 {
            assert_eq!(all.get(row), piece.get(row % 3000));
        }
    }

    #[test]
    fn a_column_of_unique_values_turns_plain_early_and_keeps_every_row() {
        let mut keys = StrColumn::default();
        for i in 0..1000 {
            let key = format!("company-{i}");
            keys.push(if i == 5 { None } else { Some(&key) });
        }
        assert!(matches!(keys, StrColumn::Plain(_)));
        assert_eq!(keys.get(5), None);
        assert_eq!(keys.get(999), Some("company-999"));
        assert_eq!(keys.get(0), Some("company-0"));
    }

    /// Every row of a number column, as f64 bits (NaN: absent).
    fn bits(column: &Column) -> Vec<Option<u64>> {
        column.numbers().expect("a number column").iter().map(|n| (!n.is_nan()).then(|| n.to_bits())).collect()
    }

    #[test]
    fn whole_numbers_are_kept_in_four_bytes_and_nothing_else_is() {
        let values = [Some(3.0), None, Some(-7.0), Some(2_000_000_000.0), Some(0.0)];
        let mut ints = Column::Number(Vec::new());
        for v in values {
            ints.append(&Column::Number(vec![v.unwrap_or(f64::NAN)]));
        }
        let before = bits(&ints);
        ints.shrink();
        assert!(matches!(ints, Column::Int(_)));
        assert_eq!(bits(&ints), before);
        // -0.0 (its sign shows in a division), halves, i32::MIN and
        // numbers past 32 bits keep the column in f64.
        for odd in [-0.0, 0.5, -2_147_483_648.0, 4_377_490_000.0] {
            let mut column = Column::Number(vec![1.0, odd, 2.0]);
            let before = bits(&column);
            column.shrink();
            assert!(matches!(column, Column::Number(_)), "{odd}: {column:?}");
            assert_eq!(bits(&column), before);
        }
        // Appending to a whole-number column (a base, then candidates).
        ints.append(&Column::Number(vec![0.25, f64::NAN]));
        assert_eq!(bits(&ints)[..5], before[..]);
        assert_eq!(bits(&ints)[5..], [Some(0.25f64.to_bits()), None]);
    }

    #[test]
    fn a_mostly_absent_column_loads_sparse_and_keeps_every_row() {
        let piece =
            |k: usize| Column::Number((0..100).map(|i| if (i + k).is_multiple_of(5) { (i * k) as f64 } else { f64::NAN }).collect());
        let mut all = Column::Number(Vec::new());
        all.append(&piece(1));
        all.reserve_scaled(3.0);
        assert!(matches!(all, Column::Sparse(_)), "sparse from the first piece on");
        all.append(&piece(2));
        all.append(&piece(3));
        all.shrink();
        let expected: Vec<Option<u64>> = (1..=3).flat_map(|k| bits(&piece(k))).collect();
        assert_eq!(bits(&all), expected);
    }

    #[test]
    fn references_read_as_the_text_they_name() {
        let mut keys = StrColumn::default();
        for k in ["a", "b", "c"] {
            keys.push(Some(k));
        }
        let shared = keys.share();
        // Shared once: asking again neither copies the text nor re-shares it.
        assert!(Arc::ptr_eq(&shared, &keys.share()));
        let mut refs = StrColumn::default();
        for r in [Some("c"), None, Some("zz"), Some("a"), Some("zz")] {
            refs.push(r);
        }
        let before: Vec<Option<String>> = (0..5).map(|i| refs.get(i).map(String::from)).collect();
        refs.refer_to(&shared, |s| ["a", "b", "c"].iter().position(|k| *k == s).map(|p| p as u32));
        assert!(matches!(refs, StrColumn::Refs(_)));
        assert_eq!((0..5).map(|i| refs.get(i).map(String::from)).collect::<Vec<_>>(), before);
        assert_eq!((0..5).map(|i| refs.resolved(i)).collect::<Vec<_>>(), [Some(2), None, None, Some(0), None]);
        assert_eq!(keys.get(1), Some("b"));
        // Appending (a later load) turns it back into text.
        let mut more = StrColumn::default();
        more.push(Some("b"));
        refs.append(&more);
        assert_eq!(refs.get(5), Some("b"));
        assert_eq!(refs.get(0), Some("c"));
    }
}
