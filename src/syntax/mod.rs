//! Text of a fenced block → AST, with spans in the file.
//!
//! The grammar is `grammar/skill.pest`. pest stops at the first error of a
//! block, so each block yields at most one syntax error; the other blocks
//! of the file still compile.

pub mod ast;

use crate::diagnostic::{Code, Diagnostic};
use crate::skill::Block;
use ast::*;
use pest::iterators::Pair;
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/skill.pest"]
struct Grammar;

/// How deep brackets and `if`s may nest, and how tall an expression tree may
/// grow: deeper input is reported, never allowed to exhaust the stack.
pub const MAX_DEPTH: usize = 64;
pub const MAX_TREE_DEPTH: usize = 256;

/// The parser's step budget for one block: [`PARSE_STEPS_BASE`] plus
/// [`PARSE_STEPS_PER_BYTE`] per byte of the block. pest backtracks without
/// memoising, and some nestings make it re-parse the same text once per
/// alternative at every level: `[a in [a in [… 1 …]]]` (a list filter
/// tried, then the list) and `x in (x in (… 1 …))` (a range tried, then
/// the parenthesised expression) doubled their parse time per level, so
/// 20 levels, well inside [`MAX_DEPTH`], hung the compiler; so did nested
/// `x ∈ [y ∈ [… ∈ [` (a range tried, then a list). Found by probing the
/// grammar and by the `expr` fuzz target (tests/hostile_skills.rs
/// `backtracking_nested_list_filters_hit_the_step_budget`,
/// `expr_fuzz_timeout_nested_in_ranges_hit_the_step_budget`). Ordinary rules
/// take 20 to 150 steps a byte, tables about 4; a block past its budget is
/// `too-deep`.
pub const PARSE_STEPS_BASE: usize = 1_000_000;
pub const PARSE_STEPS_PER_BYTE: usize = 64;

/// The largest ```rule or ```entity block, and the largest ```table block.
/// pest parses a rule at about a megabyte a second (a release build; a
/// flat set of a million strings, 10 MB, took 20 s and 3 GB), so a bigger
/// block is refused as `too-deep` before it is parsed. Tables parse about
/// ten times faster.
pub const MAX_BLOCK_BYTES: usize = 256 << 10;
pub const MAX_TABLE_BYTES: usize = 4 << 20;

fn check_size(ctx: &Ctx<'_>, limit: usize) -> Result<()> {
    let text = &ctx.block.content;
    if text.len() <= limit {
        return Ok(());
    }
    Err(Box::new(
        Diagnostic::error(
            Code::TooDeep,
            ctx.block.span_of(0..0),
            format!("this block is {} KiB; a block of this kind may be at most {} KiB", text.len() >> 10, limit >> 10),
        )
        .with_help("split it into several blocks"),
    ))
}

/// Parses `text` as `rule` within the step budget. pest's limit is
/// process-wide and read when a parse starts: it is set before each parse
/// (a concurrent parse of another block gets that block's budget, which is
/// still a bound).
fn parse_bounded(rule: Rule, text: &str) -> std::result::Result<pest::iterators::Pairs<'_, Rule>, pest::error::Error<Rule>> {
    let budget = PARSE_STEPS_BASE.saturating_add(PARSE_STEPS_PER_BYTE.saturating_mul(text.len()));
    pest::set_call_limit(std::num::NonZeroUsize::new(budget));
    Grammar::parse(rule, text)
}

type Result<T> = std::result::Result<T, Box<Diagnostic>>;

struct Ctx<'a> {
    block: &'a Block,
}

impl Ctx<'_> {
    fn span(&self, pair: &Pair<'_, Rule>) -> crate::source::Span {
        let s = pair.as_span();
        self.block.span_of(s.start()..s.end())
    }
    fn name(&self, pair: Pair<'_, Rule>) -> Name {
        Name { text: pair.as_str().to_string(), span: self.span(&pair) }
    }
    fn error(&self, range: std::ops::Range<usize>, code: Code, message: String) -> Box<Diagnostic> {
        Box::new(Diagnostic::error(code, self.block.span_of(range), message))
    }
}

/// Rejects input nested too deep for the recursive-descent parser before
/// pest sees it.
fn check_depth(ctx: &Ctx<'_>) -> Result<()> {
    check_size(ctx, MAX_BLOCK_BYTES)?;
    let text = &ctx.block.content;
    let (mut depth, mut in_string) = (0usize, false);
    let mut prev = ' ';
    let mut nesting_words = 0usize;
    for (i, ch) in text.char_indices() {
        if in_string {
            if ch == '"' && prev != '\\' {
                in_string = false;
            }
        } else {
            match ch {
                '"' => in_string = true,
                '(' | '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(ctx.error(i..i + 1, Code::TooDeep, format!("brackets nest deeper than {MAX_DEPTH} levels")));
                    }
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = ch;
    }
    for word in ["if ", "=>", "implies", "⇒", "→", "not ", "!", "¬", "-"] {
        nesting_words += text.matches(word).count();
    }
    if nesting_words > 4 * MAX_DEPTH {
        return Err(ctx.error(0..text.len(), Code::TooDeep, "the expression nests too deep to check".into()));
    }
    Ok(())
}

fn syntax_error(ctx: &Ctx<'_>, e: pest::error::Error<Rule>) -> Box<Diagnostic> {
    // pest's own limits: the step budget (`parse_bounded`) and its guard
    // against running out of native stack.
    if let pest::error::ErrorVariant::CustomError { message } = &e.variant {
        let text = &ctx.block.content;
        let why = if message.contains("call limit") {
            format!(
                "this block is too complex to parse: the parser gave up after {} steps (nested `[x in …]` lists and `in (…)` ranges make it backtrack)",
                PARSE_STEPS_BASE.saturating_add(PARSE_STEPS_PER_BYTE.saturating_mul(text.len()))
            )
        } else {
            format!("this block nests too deep for the parser ({message})")
        };
        return Box::new(
            Diagnostic::error(Code::TooDeep, ctx.block.span_of(0..text.trim_end().len()), why)
                .with_help("split the rule, or give a nested part a name with `let`"),
        );
    }
    let (start, end) = match e.location {
        pest::error::InputLocation::Pos(p) => (p, p),
        pest::error::InputLocation::Span((s, e)) => (s, e),
    };
    let text = &ctx.block.content;
    // At the end of the block, point just after its last token (not at the
    // closing fence, lines below).
    let last = text.trim_end().len();
    let (start, end, at_end) = if start >= last { (last, last, true) } else { (start, end, false) };
    // Point at the offending character (or the end of the block).
    let end = if end > start || at_end { end } else { text[start..].chars().next().map_or(start, |c| start + c.len_utf8()) };
    let found = match text[start..].chars().next() {
        _ if at_end => "the end of the block".to_string(),
        None => "the end of the block".to_string(),
        Some(c) if c.is_whitespace() => "the end of the line".to_string(),
        Some(_) => {
            let token: String = text[start..].chars().take_while(|c| !c.is_whitespace()).take(12).collect();
            format!("`{token}`")
        }
    };
    let message = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let words = expected_words(positives);
            if words.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("expected {}, found {found}", join_or(&words))
            }
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    let mut d = ctx.error(start..end, Code::SyntaxError, message);
    if text[..start].matches('(').count() > text[..start].matches(')').count() && found == "the end of the block" {
        d.help.push("a `(` is not closed".into());
    }
    d
}

/// The grammar rules that are one precedence level of an expression: each
/// wraps a single child unless its operator is present.
fn precedence_level(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::expr
            | Rule::implication
            | Rule::disjunction
            | Rule::conjunction
            | Rule::negation
            | Rule::predicate
            | Rule::sum
            | Rule::product
            | Rule::unary
            | Rule::coalesce
            | Rule::postfix
    )
}

/// Grammar rule names, in words a user knows.
pub fn expected_words(rules: &[Rule]) -> Vec<&'static str> {
    let mut words: Vec<&'static str> = Vec::new();
    let mut operator = false;
    for rule in rules {
        let word = match rule {
            // Nothing parsed at all: the whole body was expected.
            Rule::rule_body => "an expression",
            Rule::entity_body => "a declaration (`key`, `collection`, `relation`, `graph` or a field)",
            Rule::table_body => "an entry like `\"NYSE\": /[A-Z]{1,4}/`",
            Rule::conditional => "an expression",
            r if precedence_level(*r) => "an expression",
            Rule::number => "a number",
            Rule::string => "a string",
            Rule::regex => "a regular expression",
            Rule::ident | Rule::call => "a name",
            Rule::kw_then => "`then`",
            Rule::kw_else => "`else`",
            Rule::kw_where => "`where`",
            Rule::kw_in => "`in`",
            Rule::kw_null => "`null`",
            Rule::range => "a range like `[1, 10]`",
            Rule::range_close => "`]` or `)`",
            Rule::EOI => "the end of the rule",
            Rule::let_binding => "`let`",
            Rule::cmp_op
            | Rule::comparison_chain
            | Rule::add_op
            | Rule::mul_op
            | Rule::and_op
            | Rule::or_op
            | Rule::implies_op
            | Rule::in_op
            | Rule::membership
            | Rule::match_op
            | Rule::match_test
            | Rule::null_test
            | Rule::tolerance
            | Rule::pm_op
            | Rule::field_access
            | Rule::index => {
                operator = true;
                continue;
            }
            Rule::type_expr | Rule::scalar_type | Rule::list_type | Rule::object_type => "a type like `number` or `[string]`",
            Rule::field_decl => "a field like `name: string`",
            Rule::key_decl
            | Rule::collection_decl
            | Rule::summary_decl
            | Rule::fingerprint_decl
            | Rule::relation_decl
            | Rule::graph_decl => "a declaration (`key`, `collection`, `summary`, `fingerprint`, `relation`, `graph` or a field)",
            Rule::kw_but => "`but`",
            Rule::relation_path => "a path like `list.field`",
            Rule::inverse_of => "`inverse`",
            Rule::table_entry => "an entry like `\"NYSE\": /[A-Z]{1,4}/`",
            Rule::boolean => "`true` or `false`",
            Rule::optional => "`?`",
            _ => continue,
        };
        if !words.contains(&word) {
            words.push(word);
        }
    }
    if operator {
        words.insert(0, "an operator");
    }
    words
}

fn join_or(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Parses the body of a ```rule block.
pub fn parse_rule(block: &Block) -> Result<RuleBody> {
    let ctx = Ctx { block };
    check_depth(&ctx)?;
    let mut pairs = parse_bounded(Rule::rule_body, &block.content).map_err(|e| syntax_error(&ctx, e))?;
    let body = pairs.next().expect("rule_body");
    let mut lets = Vec::new();
    let mut expr = None;
    for pair in body.into_inner() {
        match pair.as_rule() {
            Rule::let_binding => {
                let mut inner = pair.into_inner().filter(|p| p.as_rule() != Rule::kw_let);
                let name = ctx.name(inner.next().expect("let name"));
                let value = build(&ctx, inner.next().expect("let value"))?;
                lets.push(Let { name, value });
            }
            Rule::expr => expr = Some(build(&ctx, pair)?),
            _ => {}
        }
    }
    Ok(RuleBody { lets, expr: expr.expect("rule_body has an expression") })
}

/// Parses one expression (used by tests and the fuzz targets).
pub fn parse_expr_text(text: &str) -> std::result::Result<RuleBody, Box<Diagnostic>> {
    let block = crate::skill::Block {
        kind: crate::skill::BlockKind::Rule { id: None },
        span: crate::source::Span::new(crate::source::FileId(0), 0, text.len()),
        content: text.to_string(),
        map: crate::skill::markdown::OffsetMap::identity(),
        file: crate::source::FileId(0),
        message: String::new(),
        plausibility: false,
    };
    parse_rule(&block)
}

fn depth(e: &Expr) -> usize {
    // Shallow estimate: children were checked when built.
    let _ = e;
    0
}

/// Steps, without recursing, through the grammar levels that hold one
/// operand and no operator (`x` is an `expr`, an `implication`, a
/// `disjunction`, … down to a `postfix`): they add nothing to the tree, and
/// recursing through each would cost a dozen stack frames per bracket.
fn skip_single(mut pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
    loop {
        match pair.as_rule() {
            r if precedence_level(r) => {
                let mut inner = pair.clone().into_inner();
                match (inner.next(), inner.next()) {
                    // A parenthesised expression keeps its `postfix`, which
                    // widens its span over the parentheses.
                    (Some(only), None) if !(pair.as_rule() == Rule::postfix && only.as_rule() == Rule::expr) => pair = only,
                    _ => return pair,
                }
            }
            _ => return pair,
        }
    }
}

struct Builder<'a, 'b> {
    ctx: &'a Ctx<'b>,
    depth: usize,
}

fn build(ctx: &Ctx<'_>, pair: Pair<'_, Rule>) -> Result<Expr> {
    let mut b = Builder { ctx, depth: 0 };
    b.expr(pair)
}

impl Builder<'_, '_> {
    fn enter(&mut self, pair: &Pair<'_, Rule>) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_TREE_DEPTH {
            let s = pair.as_span();
            return Err(self.ctx.error(
                s.start()..s.end(),
                Code::TooDeep,
                format!("the expression nests deeper than {MAX_TREE_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn mk(&self, kind: ExprKind, pair: &Pair<'_, Rule>) -> Expr {
        Expr { kind, span: self.ctx.span(pair) }
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let pair = skip_single(pair);
        self.enter(&pair)?;
        let result = self.expr_inner(pair);
        self.depth -= 1;
        result
    }

    /// Builds `pair` `extra` levels further down the tree: in a chain
    /// (`a + b + c`, `a ?? b ?? c`, `x.f.g`, `not not a`) the first operand
    /// sits below one node per operator. Counting them keeps the depth limit
    /// true of the tree that later stages walk recursively.
    fn expr_below(&mut self, pair: Pair<'_, Rule>, extra: usize) -> Result<Expr> {
        self.depth += extra;
        let result = self.expr(pair);
        self.depth -= extra;
        result
    }

    /// Folds `a op b op c` left to right.
    fn fold(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let span = self.ctx.span(&pair);
        let children: Vec<_> = pair.into_inner().collect();
        let n = children.len() / 2;
        if n > MAX_TREE_DEPTH {
            return Err(Box::new(Diagnostic::error(Code::TooDeep, span, format!("more than {MAX_TREE_DEPTH} operators in a row"))));
        }
        let mut inner = children.into_iter();
        let mut acc = self.expr_below(inner.next().expect("operand"), n.saturating_sub(1))?;
        let mut k = 0;
        while let Some(op) = inner.next() {
            k += 1;
            let rhs = self.expr_below(inner.next().expect("operand"), n - k)?;
            let op = match op.as_rule() {
                Rule::add_op if op.as_str() == "+" => BinOp::Add,
                Rule::add_op => BinOp::Sub,
                Rule::mul_op if matches!(op.as_str(), "*" | "×") => BinOp::Mul,
                Rule::mul_op => BinOp::Div,
                Rule::and_op => BinOp::And,
                Rule::or_op => BinOp::Or,
                other => unreachable!("fold over {other:?}"),
            };
            let span = acc.span.to(rhs.span);
            acc = Expr { kind: ExprKind::Binary(op, Box::new(acc), Box::new(rhs)), span };
        }
        Ok(acc)
    }

    /// A thin dispatcher, one small method per construct: the recursion
    /// passes through here, so its stack frame must stay small (a debug
    /// build gives the locals of every arm of a big `match` their own slot).
    fn expr_inner(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        match pair.as_rule() {
            Rule::expr => {
                let inner = pair.into_inner().next().expect("expr child");
                self.expr(inner)
            }
            Rule::conditional => self.conditional(pair),
            Rule::implication => self.implication(pair),
            Rule::disjunction | Rule::conjunction | Rule::sum | Rule::product => self.fold(pair),
            Rule::negation => self.negation(pair),
            Rule::unary => self.unary(pair),
            Rule::predicate => self.predicate(pair),
            Rule::coalesce => self.coalesce(pair),
            Rule::postfix => self.postfix(pair),
            Rule::number => self.number(pair),
            Rule::call => self.call(pair),
            Rule::set | Rule::list => self.collection(pair),
            _ => self.literal(pair),
        }
    }

    fn conditional(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let p = pair.clone();
        let mut parts = pair.into_inner().filter(|p| !matches!(p.as_rule(), Rule::kw_if | Rule::kw_then | Rule::kw_else));
        let cond = self.expr(parts.next().expect("cond"))?;
        let then = self.expr(parts.next().expect("then"))?;
        let otherwise = parts.next().map(|e| self.expr(e)).transpose()?;
        Ok(self.mk(ExprKind::If { cond: Box::new(cond), then: Box::new(then), otherwise: otherwise.map(Box::new) }, &p))
    }

    fn implication(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let p = pair.clone();
        let mut inner = pair.into_inner();
        let lhs = self.expr(inner.next().expect("lhs"))?;
        match (inner.next(), inner.next()) {
            (Some(_op), Some(rhs)) => {
                let rhs = self.expr(rhs)?;
                Ok(self.mk(ExprKind::Binary(BinOp::Implies, Box::new(lhs), Box::new(rhs)), &p))
            }
            _ => Ok(lhs),
        }
    }

    fn negation(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let p = pair.clone();
        let mut inner: Vec<_> = pair.into_inner().collect();
        let operand = inner.pop().expect("predicate");
        let mut e = self.expr_below(operand, inner.len().saturating_sub(1))?;
        for _ in inner.iter().filter(|p| p.as_rule() == Rule::not_op) {
            e = self.mk(ExprKind::Not(Box::new(e)), &p);
        }
        Ok(e)
    }

    fn unary(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let p = pair.clone();
        let mut inner: Vec<_> = pair.into_inner().collect();
        let operand = inner.pop().expect("postfix");
        let mut e = self.expr_below(operand, inner.len().saturating_sub(1))?;
        for _ in &inner {
            e = self.mk(ExprKind::Neg(Box::new(e)), &p);
        }
        Ok(e)
    }

    fn coalesce(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let children: Vec<_> = pair.into_inner().collect();
        let n = children.len() - 1;
        let mut inner = children.into_iter();
        let mut acc = self.expr_below(inner.next().expect("operand"), n.saturating_sub(1))?;
        for (k, rhs) in inner.enumerate() {
            let rhs = self.expr_below(rhs, n - (k + 1))?;
            let span = acc.span.to(rhs.span);
            acc = Expr { kind: ExprKind::Coalesce(Box::new(acc), Box::new(rhs)), span };
        }
        Ok(acc)
    }

    fn postfix(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let whole = self.ctx.span(&pair);
        let m = pair.clone().into_inner().count() - 1;
        let mut inner = pair.into_inner().peekable();
        let mut e = self.expr_below(inner.next().expect("primary"), m.saturating_sub(1))?;
        // A parenthesised expression spans its parentheses.
        e.span = e.span.to(whole);
        if inner.peek().is_some() {
            e.span = whole;
        }
        for (k, op) in inner.enumerate() {
            let span = e.span.to(self.ctx.span(&op));
            e = match op.as_rule() {
                Rule::field_access => {
                    let name = self.ctx.name(op.into_inner().next().expect("field name"));
                    Expr { kind: ExprKind::Field(Box::new(e), name), span }
                }
                Rule::index => {
                    let key = self.expr_below(op.into_inner().next().expect("index"), m - (k + 1))?;
                    Expr { kind: ExprKind::Index(Box::new(e), Box::new(key)), span }
                }
                other => unreachable!("postfix {other:?}"),
            };
        }
        Ok(e)
    }

    fn literal(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        match pair.as_rule() {
            Rule::string => {
                let raw = pair.clone().into_inner().next().map_or("", |p| p.as_str());
                let value: String = serde_json::from_str(&format!("\"{raw}\"")).map_err(|_| {
                    let s = pair.as_span();
                    self.ctx.error(s.start()..s.end(), Code::SyntaxError, "invalid escape in string".into())
                })?;
                Ok(self.mk(ExprKind::Str(value), &pair))
            }
            Rule::regex => {
                let raw = pair.clone().into_inner().next().map_or("", |p| p.as_str()).replace("\\/", "/");
                Ok(self.mk(ExprKind::Regex(raw), &pair))
            }
            Rule::boolean => {
                let value = pair.as_str().trim() == "true";
                Ok(self.mk(ExprKind::Bool(value), &pair))
            }
            Rule::null => Ok(self.mk(ExprKind::Null, &pair)),
            Rule::ident => Ok(self.mk(ExprKind::Name(pair.as_str().to_string()), &pair)),
            other => unreachable!("unexpected rule {other:?}"),
        }
    }

    fn call(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let p = pair.clone();
        let mut inner = pair.into_inner();
        let name = self.ctx.name(inner.next().expect("call name"));
        let mut args = Vec::new();
        let mut binder = None;
        if let Some(rest) = inner.next() {
            match rest.as_rule() {
                Rule::args => {
                    for a in rest.into_inner() {
                        args.push(self.expr(a)?);
                    }
                }
                Rule::binder => binder = Some(Box::new(self.binder(rest)?)),
                other => unreachable!("call {other:?}"),
            }
        }
        Ok(self.mk(ExprKind::Call { name, args, binder }, &p))
    }

    /// `{…}` and `[…]`, including the filter `[x in xs where c]`.
    fn collection(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let p = pair.clone();
        let rule = pair.as_rule();
        let mut items = Vec::new();
        for item in pair.into_inner() {
            if item.as_rule() == Rule::list_filter {
                let b = self.binder(item)?;
                return Ok(self.mk(ExprKind::Filter(Box::new(b)), &p));
            }
            items.push(self.expr(item)?);
        }
        let kind = if rule == Rule::set { ExprKind::Set(items) } else { ExprKind::List(items) };
        Ok(self.mk(kind, &p))
    }

    fn binder(&mut self, pair: Pair<'_, Rule>) -> Result<Binder> {
        let filtered = pair.as_rule() == Rule::list_filter;
        let mut var = None;
        let mut source = None;
        let mut filter = None;
        let mut body = None;
        let mut after_where = false;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident if var.is_none() => var = Some(self.ctx.name(part)),
                Rule::kw_in => {}
                Rule::kw_where => after_where = true,
                _ if source.is_none() => source = Some(self.expr(part)?),
                _ if after_where && filter.is_none() => filter = Some(self.expr(part)?),
                _ => body = Some(self.expr(part)?),
            }
        }
        let _ = filtered;
        Ok(Binder { var: var.expect("binder var"), source: source.expect("binder source"), filter, body })
    }

    fn number(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let text = pair.as_str();
        // A suffix scales by a power of ten: the value is parsed once with
        // the decimal exponent shifted, so it is the double nearest the
        // decimal written. (Multiplying, `95%` was 95 × 0.01 =
        // 0.9500000000000001, which made `share >= 95%` fail at exactly 95%,
        // and `1.1M` was 1100000.0000000002.)
        let mut digits = text.replace('_', "");
        let shift: i64 = match digits.chars().last() {
            Some('k') => 3,
            Some('M') => 6,
            Some('B') => 9,
            Some('T') => 12,
            Some('%') => -2,
            _ => 0,
        };
        let percent = digits.ends_with('%');
        if shift != 0 {
            digits.pop();
        }
        let (mantissa, exponent) = match digits.find(['e', 'E']) {
            Some(i) => {
                let e = &digits[i + 1..];
                let overflow = if e.starts_with('-') { i64::MIN / 2 } else { i64::MAX / 2 };
                (&digits[..i], e.parse::<i64>().unwrap_or(overflow))
            }
            None => (digits.as_str(), 0),
        };
        let value = format!("{mantissa}e{}", exponent.saturating_add(shift)).parse::<f64>().unwrap_or(f64::INFINITY);
        if !value.is_finite() {
            let s = pair.as_span();
            return Err(self.ctx.error(s.start()..s.end(), Code::InvalidNumber, format!("`{text}` is too large for a number")));
        }
        Ok(self.mk(ExprKind::Number { value, percent }, &pair))
    }

    fn predicate(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let p = pair.clone();
        let mut inner = pair.into_inner();
        let lhs = self.expr(inner.next().expect("lhs"))?;
        let Some(tail) = inner.next() else { return Ok(lhs) };
        let kind = match tail.as_rule() {
            Rule::null_test => {
                let negated = tail.into_inner().any(|p| p.as_rule() == Rule::is_not);
                ExprKind::IsNull { value: Box::new(lhs), negated }
            }
            Rule::match_test => {
                let pattern = tail.into_inner().find(|p| p.as_rule() == Rule::sum).expect("pattern");
                ExprKind::Matches(Box::new(lhs), Box::new(self.expr(pattern)?))
            }
            Rule::membership => {
                let mut parts = tail.into_inner();
                let op = parts.next().expect("in_op");
                let negated = op.as_str().starts_with("not") || op.as_str() == "∉";
                let target = parts.next().expect("in target");
                let target = if target.as_rule() == Rule::range {
                    let mut r = target.into_inner();
                    let lo_closed = r.next().expect("open").as_str() == "[";
                    let lo = self.expr(r.next().expect("lo"))?;
                    let hi = self.expr(r.next().expect("hi"))?;
                    let hi_closed = r.next().expect("close").as_str() == "]";
                    InTarget::Range { lo: Box::new(lo), hi: Box::new(hi), lo_closed, hi_closed }
                } else {
                    InTarget::Expr(Box::new(self.expr(target)?))
                };
                ExprKind::In { value: Box::new(lhs), negated, target }
            }
            Rule::comparison_chain => {
                let mut rest: Vec<Comparison> = Vec::new();
                for part in tail.into_inner() {
                    match part.as_rule() {
                        Rule::cmp_op => {
                            let op = match part.as_str() {
                                "==" | "=" => CmpOp::Eq,
                                "!=" | "≠" => CmpOp::Ne,
                                "<" => CmpOp::Lt,
                                "<=" | "≤" => CmpOp::Le,
                                ">" => CmpOp::Gt,
                                ">=" | "≥" => CmpOp::Ge,
                                other => unreachable!("cmp_op {other:?}"),
                            };
                            let placeholder = Expr { kind: ExprKind::Null, span: lhs.span };
                            rest.push(Comparison { op, rhs: placeholder, tolerance: None });
                        }
                        Rule::sum => {
                            let e = self.expr(part)?;
                            rest.last_mut().expect("operator before operand").rhs = e;
                        }
                        Rule::tolerance => {
                            let t = part.into_inner().find(|p| p.as_rule() == Rule::product).expect("tolerance");
                            let t = self.expr(t)?;
                            rest.last_mut().expect("operand before tolerance").tolerance = Some(t);
                        }
                        _ => {}
                    }
                }
                ExprKind::Compare { first: Box::new(lhs), rest }
            }
            other => unreachable!("predicate tail {other:?}"),
        };
        let _ = depth;
        Ok(self.mk(kind, &p))
    }
}

// ---------------------------------------------------------------------------
// Entity and table blocks

pub fn parse_entity(block: &Block) -> Result<Vec<EntityItem>> {
    let ctx = Ctx { block };
    check_depth(&ctx)?;
    let mut pairs = parse_bounded(Rule::entity_body, &block.content).map_err(|e| syntax_error(&ctx, e))?;
    let mut items = Vec::new();
    for pair in pairs.next().expect("entity_body").into_inner() {
        let span = ctx.span(&pair);
        match pair.as_rule() {
            Rule::key_decl => items.push(EntityItem::Key(ctx.name(last_ident(pair)))),
            Rule::collection_decl => items.push(EntityItem::Collection(ctx.name(last_ident(pair)))),
            Rule::summary_decl => items.push(EntityItem::Summary(ctx.name(last_ident(pair)))),
            Rule::fingerprint_decl => {
                let but = pair.into_inner().filter(|p| p.as_rule() == Rule::ident).map(|p| ctx.name(p)).collect();
                items.push(EntityItem::Fingerprint { but, span });
            }
            Rule::graph_decl => {
                let mut ids = pair.into_inner().filter(|p| p.as_rule() == Rule::ident);
                let name = ctx.name(ids.next().expect("graph name"));
                let relation = ctx.name(ids.next().expect("graph relation"));
                items.push(EntityItem::Graph { name, relation, span });
            }
            Rule::relation_decl => {
                let mut inner = pair.into_inner().filter(|p| !matches!(p.as_rule(), Rule::kw_relation));
                let name = ctx.name(inner.next().expect("relation name"));
                let def = inner.next().expect("relation def");
                let def = match def.as_rule() {
                    Rule::inverse_of => RelationDef::Inverse(ctx.name(last_ident(def))),
                    _ => {
                        let mut ids = def.into_inner().filter(|p| p.as_rule() == Rule::ident);
                        let list = ctx.name(ids.next().expect("list"));
                        let field = ctx.name(ids.next().expect("field"));
                        let target = ids.next().map(|p| ctx.name(p));
                        RelationDef::Path { list, field, target }
                    }
                };
                items.push(EntityItem::Relation { name, def, span });
            }
            Rule::field_decl => items.push(EntityItem::Field(field_decl(&ctx, pair))),
            _ => {}
        }
    }
    Ok(items)
}

fn last_ident(pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
    pair.into_inner().filter(|p| p.as_rule() == Rule::ident).last().expect("ident")
}

fn field_decl(ctx: &Ctx<'_>, pair: Pair<'_, Rule>) -> FieldDecl {
    let span = ctx.span(&pair);
    let mut inner = pair.into_inner();
    let name = ctx.name(inner.next().expect("field name"));
    let (ty, optional) = type_expr(ctx, inner.next().expect("field type"));
    FieldDecl { name, ty, optional, span }
}

fn type_expr(ctx: &Ctx<'_>, pair: Pair<'_, Rule>) -> (TypeExpr, bool) {
    let mut inner = pair.into_inner();
    let base = inner.next().expect("type");
    let optional = inner.next().is_some();
    let ty = match base.as_rule() {
        Rule::scalar_type => TypeExpr::Scalar(ctx.name(base.into_inner().next().expect("type name"))),
        Rule::list_type => {
            let (elem, elem_optional) = type_expr(ctx, base.into_inner().next().expect("element type"));
            let _ = elem_optional;
            TypeExpr::List(Box::new(elem))
        }
        Rule::object_type => TypeExpr::Object(base.into_inner().map(|f| field_decl(ctx, f)).collect()),
        other => unreachable!("type {other:?}"),
    };
    (ty, optional)
}

pub fn parse_table(block: &Block) -> Result<Vec<TableEntry>> {
    let ctx = Ctx { block };
    check_size(&ctx, MAX_TABLE_BYTES)?;
    let mut pairs = parse_bounded(Rule::table_body, &block.content).map_err(|e| syntax_error(&ctx, e))?;
    let mut entries = Vec::new();
    for entry in pairs.next().expect("table_body").into_inner() {
        if entry.as_rule() != Rule::table_entry {
            continue;
        }
        let mut inner = entry.into_inner();
        let key_pair = inner.next().expect("key");
        let key = if key_pair.as_rule() == Rule::string {
            let raw = key_pair.clone().into_inner().next().map_or("", |p| p.as_str());
            Name { text: serde_json::from_str(&format!("\"{raw}\"")).unwrap_or_else(|_| raw.to_string()), span: ctx.span(&key_pair) }
        } else {
            ctx.name(key_pair)
        };
        let value = build(&ctx, inner.next().expect("value"))?;
        entries.push(TableEntry { key, value });
    }
    Ok(entries)
}
