//! Source files, byte spans and the one line index.
//!
//! Every stage speaks in byte offsets ([`Span`]); only [`LineIndex`] turns
//! them into lines and columns — 1-based character columns for people,
//! UTF-16 code units for the language server.

use std::path::{Path, PathBuf};

/// Which file of a [`SourceDb`] a span points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one file. Spans are positions, not content: AST
/// equality never looks at them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: start as u32, end: end.max(start) as u32 }
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    /// The smallest span covering both (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// A 0-based line and a 0-based column in the unit the caller asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCol {
    pub line: u32,
    pub col: u32,
}

/// Line starts of one text; converts byte offsets to line/column.
#[derive(Clone, Debug)]
pub struct LineIndex {
    line_starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i as u32 + 1));
        LineIndex { line_starts }
    }

    fn line_of(&self, offset: u32) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    fn clamp(text: &str, offset: usize) -> usize {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// 0-based line, 0-based column in Unicode scalar values.
    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = Self::clamp(text, offset);
        let line = self.line_of(offset as u32);
        let start = self.line_starts[line] as usize;
        LineCol { line: line as u32, col: text[start..offset].chars().count() as u32 }
    }

    /// 0-based line, 0-based column in UTF-16 code units (what LSP wants).
    pub fn line_col_utf16(&self, text: &str, offset: usize) -> LineCol {
        let offset = Self::clamp(text, offset);
        let line = self.line_of(offset as u32);
        let start = self.line_starts[line] as usize;
        let col = text[start..offset].chars().map(char::len_utf16).sum::<usize>();
        LineCol { line: line as u32, col: col as u32 }
    }

    /// The byte offset of a 0-based line and UTF-16 column (LSP → bytes).
    pub fn offset_utf16(&self, text: &str, pos: LineCol) -> usize {
        let Some(&start) = self.line_starts.get(pos.line as usize) else {
            return text.len();
        };
        let mut units = 0u32;
        for (i, ch) in text[start as usize..].char_indices() {
            if units >= pos.col || ch == '\n' {
                return start as usize + i;
            }
            units += ch.len_utf16() as u32;
        }
        text.len()
    }

    /// The byte range of a 0-based line, without its line ending.
    pub fn line_range(&self, text: &str, line: usize) -> std::ops::Range<usize> {
        let start = self.line_starts.get(line).map_or(text.len(), |&s| s as usize);
        let mut end = self.line_starts.get(line + 1).map_or(text.len(), |&s| s as usize - 1);
        if end > start && text.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
        start..end.max(start)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

/// One loaded file: its path as the user named it, its text and line index.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as shown in diagnostics (relative when the user gave it so).
    pub name: String,
    pub path: PathBuf,
    pub text: String,
    pub lines: LineIndex,
}

/// All files of one compilation, addressed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct SourceDb {
    files: Vec<SourceFile>,
}

impl SourceDb {
    pub fn add(&mut self, path: &Path, name: String, text: String) -> FileId {
        let lines = LineIndex::new(&text);
        self.files.push(SourceFile { name, path: path.to_path_buf(), text, lines });
        FileId(self.files.len() as u32 - 1)
    }
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }
    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }
    /// 1-based line and 1-based character column of a span's start.
    pub fn position(&self, span: Span) -> (usize, usize) {
        let file = self.get(span.file);
        let lc = file.lines.line_col(&file.text, span.start as usize);
        (lc.line as usize + 1, lc.col as usize + 1)
    }
    pub fn snippet(&self, span: Span) -> &str {
        let file = self.get(span.file);
        file.text.get(span.range()).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_and_utf16_units() {
        let text = "a ∈ [1, 2]\n𝔵 ± 1%\n";
        let index = LineIndex::new(text);
        let after_in = text.find('[').unwrap();
        assert_eq!(index.line_col(text, after_in), LineCol { line: 0, col: 4 });
        assert_eq!(index.line_col_utf16(text, after_in), LineCol { line: 0, col: 4 });
        let pm = text.find('±').unwrap();
        assert_eq!(index.line_col(text, pm), LineCol { line: 1, col: 2 });
        // 𝔵 is two UTF-16 units
        assert_eq!(index.line_col_utf16(text, pm), LineCol { line: 1, col: 3 });
        assert_eq!(index.offset_utf16(text, LineCol { line: 1, col: 3 }), pm);
    }

    #[test]
    fn offsets_inside_a_character_snap_back() {
        let text = "±x";
        let index = LineIndex::new(text);
        assert_eq!(index.line_col(text, 1), LineCol { line: 0, col: 0 });
    }

    #[test]
    fn line_range_drops_crlf() {
        let text = "ab\r\ncd";
        let index = LineIndex::new(text);
        assert_eq!(&text[index.line_range(text, 0)], "ab");
        assert_eq!(&text[index.line_range(text, 1)], "cd");
    }
}
