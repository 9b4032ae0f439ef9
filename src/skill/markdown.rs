//! The Markdown body: fenced blocks that skillc compiles, with the prose a
//! person (or the proposer) reads around them.

use crate::source::{FileId, Span};
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// What a fenced block declares, from its info string.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockKind {
    /// `` ```rule <id> ``
    Rule { id: Option<(String, Span)> },
    /// `` ```entity <name> ``, or `` ```entity <name> extend `` (adds fields to an
    /// entity declared elsewhere): `modifier` is the word after the name.
    Entity { name: Option<(String, Span)>, modifier: Option<(String, Span)> },
    /// `` ```table <name> ``
    Table { name: Option<(String, Span)> },
    /// `` ```jsonl example pass|fail|flag [rule ids] ``: example companies, one
    /// JSON object per line; the expectation, or why the info string is
    /// malformed (reported by [`crate::skill::read`]).
    Example { expectation: Result<Expectation, ExampleError> },
}

/// What an example block expects of its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExampleVerdict {
    /// Every line is accepted with no finding.
    Pass,
    /// Lines are rejected by the named rules.
    Fail,
    /// Lines are kept but flagged by the named (plausibility) rules.
    Flag,
}

impl ExampleVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ExampleVerdict::Pass => "pass",
            ExampleVerdict::Fail => "fail",
            ExampleVerdict::Flag => "flag",
        }
    }
}

/// The info string of an example block, read: ```jsonl example fail a b.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub verdict: ExampleVerdict,
    /// The `pass`, `fail` or `flag` word.
    pub verdict_span: Span,
    /// The rule ids named after the verdict, with their spans.
    pub rules: Vec<(String, Span)>,
}

/// A malformed example info string: where, what, and what to write.
#[derive(Clone, Debug, PartialEq)]
pub struct ExampleError {
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

/// Maps offsets in a block's content back to offsets in the file: the
/// content of a fenced block inside a list item loses its indentation.
#[derive(Clone, Debug, Default)]
pub struct OffsetMap {
    /// (content offset, file offset) at the start of each piece.
    pieces: Vec<(usize, usize)>,
}

impl OffsetMap {
    /// Content offsets are file offsets (a block that is the whole text).
    pub fn identity() -> OffsetMap {
        OffsetMap { pieces: vec![(0, 0)] }
    }
    pub fn to_file(&self, offset: usize) -> usize {
        let i = self.pieces.partition_point(|&(c, _)| c <= offset);
        match i.checked_sub(1).map(|i| self.pieces[i]) {
            Some((c, f)) => f + (offset - c),
            None => self.pieces.first().map_or(0, |&(_, f)| f),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Block {
    pub kind: BlockKind,
    /// The whole block, fences included.
    pub span: Span,
    /// The text between the fences.
    pub content: String,
    pub map: OffsetMap,
    pub file: FileId,
    /// The prose of the list item that holds the block, or of the paragraph
    /// directly before it.
    pub message: String,
    /// Under a heading that starts with "Plausibility".
    pub plausibility: bool,
}

impl Block {
    /// A span in the file for a byte range of the content.
    pub fn span_of(&self, range: std::ops::Range<usize>) -> Span {
        let start = self.map.to_file(range.start);
        let end = if range.end > range.start { self.map.to_file(range.end - 1) + 1 } else { start };
        Span::new(self.file, start, end.max(start))
    }

    /// The non-blank lines of the content, each with its span in the file
    /// (line ending and surrounding whitespace excluded).
    pub fn lines(&self) -> Vec<(Span, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        for line in self.content.split_inclusive('\n') {
            let trimmed = line.trim();
            if !trimmed.is_empty() {
                let lead = line.len() - line.trim_start().len();
                out.push((self.span_of(start + lead..start + lead + trimmed.len()), trimmed));
            }
            start += line.len();
        }
        out
    }
}

struct Item {
    prose: String,
}

fn push_prose(buf: &mut String, text: &str) {
    if !buf.is_empty() && !buf.ends_with(' ') && !text.starts_with(' ') {
        buf.push(' ');
    }
    buf.push_str(text);
}

fn tidy(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Extracts the compiled blocks of a Markdown body that starts at byte
/// `base` of `text` (the whole file).
pub fn extract(file: FileId, text: &str, base: usize) -> Vec<Block> {
    let body = &text[base..];
    let mut blocks = Vec::new();
    let mut headings: Vec<(u32, String)> = Vec::new();
    let mut heading: Option<(u32, String)> = None;
    let mut items: Vec<Item> = Vec::new();
    let mut paragraph: Option<String> = None;
    // The paragraph that ended just before the current position, if nothing
    // else came between it and here.
    let mut previous_paragraph: Option<String> = None;
    let mut code: Option<(String, std::ops::Range<usize>, String, OffsetMap)> = None;

    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        let range = range.start + base..range.end + base;
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                heading = Some((level as u32, String::new()));
                previous_paragraph = None;
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, text)) = heading.take() {
                    headings.retain(|(l, _)| *l < level);
                    headings.push((level, tidy(&text)));
                }
            }
            Event::Start(Tag::Item) => {
                items.push(Item { prose: String::new() });
                previous_paragraph = None;
            }
            Event::End(TagEnd::Item) => {
                items.pop();
                previous_paragraph = None;
            }
            Event::Start(Tag::Paragraph) => paragraph = Some(String::new()),
            Event::End(TagEnd::Paragraph) => {
                let text = paragraph.take().unwrap_or_default();
                if let Some(item) = items.last_mut() {
                    push_prose(&mut item.prose, &text);
                }
                previous_paragraph = Some(tidy(&text));
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((info, range, String::new(), OffsetMap::default()));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((info, range, content, mut map)) = code.take() {
                    if map.pieces.is_empty() {
                        // An empty block: its content starts after the fence line.
                        let start = text[range.clone()].find('\n').map_or(range.end, |i| range.start + i + 1);
                        map.pieces.push((0, start));
                    }
                    let kind = classify(file, text, &info, range.clone());
                    if let Some(kind) = kind {
                        let item_prose = items.last().map(|i| tidy(&i.prose)).filter(|p| !p.is_empty());
                        let message = item_prose.or_else(|| previous_paragraph.clone()).unwrap_or_default();
                        let plausibility = headings.iter().any(|(_, h)| h.to_ascii_lowercase().starts_with("plausibility"));
                        blocks.push(Block {
                            kind,
                            span: Span::new(file, range.start, range.end),
                            content,
                            map,
                            file,
                            message,
                            plausibility,
                        });
                    }
                }
                previous_paragraph = None;
            }
            Event::Text(t) => {
                if let Some((_, _, content, map)) = code.as_mut() {
                    // Text of a code block is the file's bytes minus indentation.
                    map.pieces.push((content.len(), range.start));
                    content.push_str(&t);
                } else if let Some((_, h)) = heading.as_mut() {
                    h.push_str(&t);
                } else if let Some(p) = paragraph.as_mut() {
                    p.push_str(&t);
                } else if let Some(item) = items.last_mut() {
                    // tight list items have text without a paragraph
                    push_prose(&mut item.prose, &t);
                }
            }
            Event::Code(t) => {
                let quoted = format!("`{t}`");
                if let Some((_, h)) = heading.as_mut() {
                    h.push_str(&quoted);
                } else if let Some(p) = paragraph.as_mut() {
                    p.push_str(&quoted);
                } else if let Some(item) = items.last_mut() {
                    push_prose(&mut item.prose, &quoted);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(p) = paragraph.as_mut() {
                    p.push(' ');
                } else if let Some(item) = items.last_mut() {
                    item.prose.push(' ');
                }
            }
            Event::Start(Tag::BlockQuote(_) | Tag::Table(_) | Tag::HtmlBlock | Tag::List(_)) | Event::Rule => {
                previous_paragraph = None;
            }
            _ => {}
        }
    }
    blocks
}

/// The words of a fence's info string, with their byte offsets in `text`.
fn info_words(text: &str, range: std::ops::Range<usize>) -> Vec<(&str, usize)> {
    let line_end = text[range.clone()].find('\n').map_or(range.end, |i| range.start + i);
    let line = &text[range.start..line_end];
    // Skip what comes before the fence (indentation, `>` of a quote) and
    // the fence itself (``` or ~~~, any length).
    let fence_at = line.find(['`', '~']).unwrap_or(line.len());
    let fence_char = line[fence_at..].chars().next().unwrap_or('`');
    let info_start = line.len() - line[fence_at..].trim_start_matches(fence_char).len();
    let mut words = Vec::new();
    let mut word_start = None;
    for (i, c) in line[info_start..].char_indices().chain(std::iter::once((line.len() - info_start, ' '))) {
        match (c.is_whitespace(), word_start) {
            (false, None) => word_start = Some(i),
            (true, Some(s)) => {
                words.push((&line[info_start + s..info_start + i], range.start + info_start + s));
                word_start = None;
            }
            _ => {}
        }
    }
    words
}

/// Reads a fence's info string: `rule <id>`, `entity <name>`,
/// `entity <name> extend`, `table <name>`, `jsonl example <verdict> <ids>`.
fn classify(file: FileId, text: &str, info: &str, range: std::ops::Range<usize>) -> Option<BlockKind> {
    let mut info_words_read = info.split_whitespace();
    let first = info_words_read.next()?;
    let second = info_words_read.next();
    let words = info_words(text, range.clone());
    let span = |(word, at): (&str, usize)| Span::new(file, at, at + word.len());
    let fence = Span::new(file, range.start, text[range.clone()].find('\n').map_or(range.end, |i| range.start + i));
    // The name as pulldown-cmark read it (escapes resolved), located on the
    // fence line.
    let named = || second.map(|w| (w.to_string(), words.get(1).map_or(fence, |&word| span(word))));
    match first {
        "rule" => Some(BlockKind::Rule { id: named() }),
        "entity" => {
            let modifier = info_words_read.next().map(|w| (w.to_string(), words.get(2).map_or(fence, |&word| span(word))));
            Some(BlockKind::Entity { name: named(), modifier })
        }
        "table" => Some(BlockKind::Table { name: named() }),
        "jsonl" if second == Some("example") => {
            let example_span = words.get(1).map_or(fence, |&w| span(w));
            Some(BlockKind::Example { expectation: expectation(&words[words.len().min(2)..], example_span, &span) })
        }
        _ => None,
    }
}

/// Reads `pass|fail|flag <rule ids>` (the words after `jsonl example`).
fn expectation(words: &[(&str, usize)], example_span: Span, span: &dyn Fn((&str, usize)) -> Span) -> Result<Expectation, ExampleError> {
    let usage = "write ```jsonl example pass, or ```jsonl example fail <rule ids>, or ```jsonl example flag <rule ids>";
    let Some(&verdict_word) = words.first() else {
        return Err(ExampleError {
            span: example_span,
            message: "an example block needs `pass`, `fail` or `flag` after `example`".into(),
            help: Some(usage.into()),
        });
    };
    let verdict = match verdict_word.0 {
        "pass" => ExampleVerdict::Pass,
        "fail" => ExampleVerdict::Fail,
        "flag" => ExampleVerdict::Flag,
        other => {
            let help = crate::diagnostic::did_you_mean(other, ["pass", "fail", "flag"]).unwrap_or_else(|| usage.into());
            return Err(ExampleError {
                span: span(verdict_word),
                message: format!("`{other}` is not an example verdict: expected `pass`, `fail` or `flag`"),
                help: Some(help),
            });
        }
    };
    let mut rules: Vec<(String, Span)> = Vec::new();
    for &word in &words[1..] {
        if word.0 == "json" {
            return Err(ExampleError {
                span: span(word),
                message: "an example cannot expect `json`: every example line must be a JSON object".into(),
                help: None,
            });
        }
        if rules.iter().any(|(r, _)| r == word.0) {
            return Err(ExampleError { span: span(word), message: format!("rule `{}` is named twice", word.0), help: None });
        }
        rules.push((word.0.to_string(), span(word)));
    }
    if verdict != ExampleVerdict::Pass && rules.is_empty() {
        return Err(ExampleError {
            span: span(verdict_word),
            message: format!("`{}` needs the ids of the rules the example breaks", verdict.as_str()),
            help: Some(format!("like ```jsonl example {} saas-gross-margin", verdict.as_str())),
        });
    }
    Ok(Expectation { verdict, verdict_span: span(verdict_word), rules })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(md: &str) -> Vec<Block> {
        extract(FileId(0), md, 0)
    }

    #[test]
    fn list_item_prose_is_the_message_and_spans_map_back() {
        let md = "## Hard constraints\n\n- SaaS runs at software margins.\n  ```rule saas\n  gross_margin > 0.6\n  ```\n";
        let b = blocks(md);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].message, "SaaS runs at software margins.");
        assert!(!b[0].plausibility);
        assert_eq!(b[0].content, "gross_margin > 0.6\n");
        let span = b[0].span_of(0..12);
        assert_eq!(&md[span.range()], "gross_margin");
        assert!(matches!(&b[0].kind, BlockKind::Rule { id: Some((id, s)) } if id == "saas" && &md[s.range()] == "saas"));
    }

    #[test]
    fn preceding_paragraph_and_plausibility_heading() {
        let md = "# X\n## Plausibility (flag)\n### Staff\nBig SaaS has `staff`.\n\n```rule big\na > 1\n```\n";
        let b = blocks(md);
        assert_eq!(b[0].message, "Big SaaS has `staff`.");
        assert!(b[0].plausibility);
    }

    #[test]
    fn example_info_strings() {
        let md = "- Rule.\n  ```jsonl example fail a b\n  {\"id\":\"x\"}\n\n  {\"id\":\"y\"}\n  ```\n\n```jsonl\n{}\n```\n\n~~~jsonl example flag\n{}\n~~~\n";
        let b = blocks(md);
        assert_eq!(b.len(), 2, "a plain ```jsonl block is prose");
        let BlockKind::Example { expectation: Ok(e) } = &b[0].kind else { panic!("{:?}", b[0].kind) };
        assert_eq!(e.verdict, ExampleVerdict::Fail);
        assert_eq!(&md[e.verdict_span.range()], "fail");
        let ids: Vec<&str> = e
            .rules
            .iter()
            .map(|(id, s)| {
                assert_eq!(&md[s.range()], id);
                id.as_str()
            })
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let lines: Vec<&str> = b[0]
            .lines()
            .into_iter()
            .map(|(s, l)| {
                assert_eq!(&md[s.range()], l);
                l
            })
            .collect();
        assert_eq!(lines, ["{\"id\":\"x\"}", "{\"id\":\"y\"}"]);
        let BlockKind::Example { expectation: Err(e) } = &b[1].kind else { panic!("{:?}", b[1].kind) };
        assert_eq!(&md[e.span.range()], "flag");
    }

    #[test]
    fn other_code_is_prose_and_a_missing_id_is_kept() {
        let md = "Use `rule x` inline.\n\n```python\nrule = 1\n```\n\n```rule\nx\n```\n";
        let b = blocks(md);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].kind, BlockKind::Rule { id: None });
    }
}
