//! Parse tests for every construct of the rule language (grammar/skill.pest),
//! through `syntax::parse_expr_text` and the AST's fully parenthesised
//! printed form. docs/language.md describes the same constructs in the
//! same order.

use proptest::prelude::*;
use skillc::diagnostic::Code;
use skillc::source::{FileId, Span};
use skillc::syntax::ast::{BinOp, Binder, CmpOp, Comparison, Expr, ExprKind, InTarget, Name};
use skillc::syntax::parse_expr_text;

/// The printed tree of a rule body.
fn p(text: &str) -> String {
    match parse_expr_text(text) {
        Ok(body) => body.to_string(),
        Err(d) => panic!("`{text}` does not parse: [{}] {}", d.code.as_str(), d.message),
    }
}

/// Asserts each input prints as expected, and that the printed form parses
/// back to itself.
fn check(cases: &[(&str, &str)]) {
    for (input, expected) in cases {
        let printed = p(input);
        assert_eq!(&printed, expected, "input: {input}");
        assert_eq!(p(&printed), printed, "printed form of `{input}` does not re-parse to itself");
    }
}

/// Asserts the input does not parse; returns the error's code, message and
/// the text the error points at.
fn fail(text: &str) -> (Code, String, String) {
    match parse_expr_text(text) {
        Ok(body) => panic!("`{text}` parsed as {body}"),
        Err(d) => {
            let at = text.get(d.primary.span.range()).unwrap_or("").to_string();
            (d.code, d.message, at)
        }
    }
}

// ---------------------------------------------------------------------------
// The notations of product.md, exactly as written there.

#[test]
fn product_notations_parse() {
    check(&[
        ("employee_count ∈ [1, 10_000_000]", "(employee_count in [1.0, 10000000.0])"),
        ("if industry == \"SaaS\" then gross_margin > 0.6", "(if (industry == \"SaaS\") then (gross_margin > 0.6))"),
        ("sum(segments.revenue) == consolidated_revenue ± 1%", "(sum(segments.revenue) == consolidated_revenue ± 1%)"),
        (
            "industry == \"SaaS\" and arr > 100M implies employee_count > 50",
            "(((industry == \"SaaS\") and (arr > 100000000.0)) implies (employee_count > 50.0))",
        ),
    ]);
}

#[test]
fn ascii_spellings_match_the_unicode_ones() {
    let pairs = [
        ("employee_count in [1, 10_000_000]", "employee_count ∈ [1, 10_000_000]"),
        ("sum(segments.revenue) == consolidated_revenue +- 1%", "sum(segments.revenue) == consolidated_revenue ± 1%"),
        ("1 <= employee_count", "1 ≤ employee_count"),
        ("employee_count >= 1", "employee_count ≥ 1"),
        ("x != 1", "x ≠ 1"),
        ("x not in {1, 2}", "x ∉ {1, 2}"),
        ("a and b", "a ∧ b"),
        ("a && b", "a ∧ b"),
        ("a or b", "a ∨ b"),
        ("a || b", "a ∨ b"),
        ("not a", "¬a"),
        ("!a", "¬a"),
        ("a implies b", "a ⇒ b"),
        ("a => b", "a → b"),
        ("a * b / c", "a × b ÷ c"),
        ("-a", "−a"),
        ("x matches /a/", "x ~ /a/"),
        ("sum(s in segments: s.revenue)", "sum(s ∈ segments: s.revenue)"),
        ("[c in xs where c > 1]", "[c ∈ xs where c > 1]"),
    ];
    for (ascii, unicode) in pairs {
        assert_eq!(p(ascii), p(unicode), "`{ascii}` and `{unicode}`");
    }
    // The ASCII forms of product.md, in full.
    check(&[
        ("employee_count in [1, 10_000_000]", "(employee_count in [1.0, 10000000.0])"),
        ("sum(segments.revenue) == consolidated_revenue +- 1%", "(sum(segments.revenue) == consolidated_revenue ± 1%)"),
        ("founded_year >= 1600 and founded_year <= 2025", "((founded_year >= 1600.0) and (founded_year <= 2025.0))"),
    ]);
}

// ---------------------------------------------------------------------------
// Literals

#[test]
fn numbers() {
    check(&[
        ("x == 0", "(x == 0.0)"),
        ("x == 42", "(x == 42.0)"),
        ("x == 2.5", "(x == 2.5)"),
        ("x == 10_000_000", "(x == 10000000.0)"),
        ("x == 1_0", "(x == 10.0)"),
        ("x == 1e-9", "(x == 1e-9)"),
        ("x == 1E3", "(x == 1000.0)"),
        ("x == 2.5e+2", "(x == 250.0)"),
        ("x == 5k", "(x == 5000.0)"),
        ("x == 100M", "(x == 100000000.0)"),
        ("x == 3B", "(x == 3000000000.0)"),
        ("x == 2T", "(x == 2000000000000.0)"),
        ("x == 1.5M", "(x == 1500000.0)"),
        ("x == 1e3k", "(x == 1000000.0)"),
        // A percentage is the fraction, and remembers it was written as one.
        ("x == 20%", "(x == 20%)"),
        ("x == 7%", "(x == 7%)"),
        ("x == 29%", "(x == 29%)"),
        ("x == 0.5%", "(x == 0.5%)"),
        ("x == 1_000%", "(x == 1000%)"),
    ]);
    match parse_expr_text("20%").unwrap().expr.kind {
        ExprKind::Number { value, percent } => {
            assert_eq!(value, 0.2);
            assert!(percent);
        }
        other => panic!("{other:?}"),
    }
    match parse_expr_text("1.5M").unwrap().expr.kind {
        ExprKind::Number { value, percent } => {
            assert_eq!(value, 1_500_000.0);
            assert!(!percent);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_numbers() {
    // Scale letters are case-sensitive, `_` only between digits, no letters
    // glued to a number, digits on both sides of the point.
    for bad in ["5K", "5m", "1__000", "1_", "100Mx", "1.", "1.5.5", "20%%"] {
        let (code, message, _) = fail(bad);
        assert_eq!(code, Code::SyntaxError, "{bad}: {message}");
    }
    let (code, message, at) = fail("x < 1e999");
    assert_eq!(code, Code::InvalidNumber);
    assert_eq!(message, "`1e999` is too large for a number");
    assert_eq!(at, "1e999");
}

#[test]
fn strings() {
    check(&[
        (r#"x == "SaaS""#, r#"(x == "SaaS")"#),
        (r#"x == """#, r#"(x == "")"#),
        (r#"x == "a \"quoted\" word""#, r#"(x == "a \"quoted\" word")"#),
        (r#"x == "back\\slash""#, r#"(x == "back\\slash")"#),
        (r#"x == "caf\u00e9""#, r#"(x == "café")"#),
        (r#"x == "line\nbreak""#, r#"(x == "line\nbreak")"#),
        (r#"x == "∈ is text here""#, r#"(x == "∈ is text here")"#),
        (r##"x == "# not a comment""##, r##"(x == "# not a comment")"##),
    ]);
    match parse_expr_text(r#""a\tb""#).unwrap().expr.kind {
        ExprKind::Str(s) => assert_eq!(s, "a\tb"),
        other => panic!("{other:?}"),
    }
    let (code, message, _) = fail(r#"x == "\q""#);
    assert_eq!(code, Code::SyntaxError);
    assert_eq!(message, "invalid escape in string");
    // A string ends on its line.
    assert_eq!(fail("x == \"abc\ndef\"").0, Code::SyntaxError);
}

#[test]
fn regular_expressions() {
    check(&[
        ("x matches /[A-Z]{2}/", "(x matches /[A-Z]{2}/)"),
        ("x ~ /[0-9]{4,5}/", "(x matches /[0-9]{4,5}/)"),
        // `\/` is a `/` inside the pattern; other escapes are the regex's own.
        (r"x matches /a\/b/", r"(x matches /a\/b/)"),
        (r"x matches /\d+\.\d+/", r"(x matches /\d+\.\d+/)"),
        (r"x matches /a\\/", r"(x matches /a\\/)"),
        // A string after `matches` is a pattern too.
        (r#"x matches "[A-Z]+""#, r#"(x matches "[A-Z]+")"#),
        // A table of patterns, looked up by key.
        ("ticker matches ticker_pattern[exchange]", "(ticker matches ticker_pattern[exchange])"),
    ]);
    match parse_expr_text(r"x matches /a\/b/").unwrap().expr.kind {
        ExprKind::Matches(_, pattern) => match pattern.kind {
            ExprKind::Regex(r) => assert_eq!(r, "a/b"),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    // An empty pattern and a pattern across lines do not parse.
    assert_eq!(fail("x matches //").0, Code::SyntaxError);
    assert_eq!(fail("x matches /a\nb/").0, Code::SyntaxError);
}

#[test]
fn booleans_and_null() {
    check(&[
        ("true", "true"),
        ("false or true", "(false or true)"),
        ("public == true", "(public == true)"),
        ("x == null", "(x == null)"),
        ("null", "null"),
    ]);
    // Keywords are whole words: `nullable` and `trueish` are names.
    check(&[("nullable and trueish", "(nullable and trueish)"), ("notes", "notes"), ("index", "index")]);
}

#[test]
fn comments_and_layout() {
    check(&[
        ("x > 1 # a comment\n  and y < 2 # another", "((x > 1.0) and (y < 2.0))"),
        ("\n\n  x\n  >\n  1\n", "(x > 1.0)"),
        ("# only a comment line first\nx > 1", "(x > 1.0)"),
    ]);
}

// ---------------------------------------------------------------------------
// Names, fields, lookups

#[test]
fn names_fields_and_projections() {
    check(&[
        ("gross_margin", "gross_margin"),
        ("_private", "_private"),
        ("x1", "x1"),
        ("segments.revenue", "segments.revenue"),
        ("c.parents.fiscal_year_end", "c.parents.fiscal_year_end"),
        ("sum(segments.revenue)", "sum(segments.revenue)"),
        ("ticker_pattern[exchange]", "ticker_pattern[exchange]"),
        (r#"t["NYSE"]"#, r#"t["NYSE"]"#),
        ("a.b[c].d", "a.b[c].d"),
        ("(a).b", "a.b"),
    ]);
}

// ---------------------------------------------------------------------------
// Operators and precedence

#[test]
fn arithmetic() {
    check(&[
        ("a + b * c - d / e", "((a + (b * c)) - (d / e))"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b / c", "((a / b) / c)"),
        ("(a + b) * c", "((a + b) * c)"),
        ("-a", "(-a)"),
        ("-a * b", "((-a) * b)"),
        ("- -a", "(-(-a))"),
        ("a - -b", "(a - (-b))"),
        ("1.01 * (standalone_revenue + 5)", "(1.01 * (standalone_revenue + 5.0))"),
        ("consolidated_revenue / employee_count", "(consolidated_revenue / employee_count)"),
    ]);
}

#[test]
fn coalesce() {
    check(&[
        ("intercompany_eliminations ?? 0", "(intercompany_eliminations ?? 0.0)"),
        ("a ?? b ?? c", "((a ?? b) ?? c)"),
        // `??` binds tighter than arithmetic and than unary minus.
        ("a + b ?? 0", "(a + (b ?? 0.0))"),
        ("-a ?? 0", "(-(a ?? 0.0))"),
        ("a ?? (-1)", "(a ?? (-1.0))"),
        ("s.revenue ?? 0", "(s.revenue ?? 0.0)"),
    ]);
    // The right operand of `??` is a single value: `-1` needs parentheses.
    assert_eq!(fail("a ?? -1").0, Code::SyntaxError);
}

#[test]
fn comparisons_and_chains() {
    check(&[
        ("x == 1", "(x == 1.0)"),
        ("x = 1", "(x == 1.0)"),
        ("x != 1", "(x != 1.0)"),
        ("x < 1", "(x < 1.0)"),
        ("x <= 1", "(x <= 1.0)"),
        ("x > 1", "(x > 1.0)"),
        ("x >= 1", "(x >= 1.0)"),
        ("x ≤ 1", "(x <= 1.0)"),
        ("x ≥ 1", "(x >= 1.0)"),
        ("x ≠ 1", "(x != 1.0)"),
        ("a + 1 < b * 2", "((a + 1.0) < (b * 2.0))"),
        // Chains: every link must hold.
        ("0 < o.stake <= 1", "(0.0 < o.stake <= 1.0)"),
        ("1 <= x <= 10", "(1.0 <= x <= 10.0)"),
        ("0.2 <= c.stake <= 0.5", "(0.2 <= c.stake <= 0.5)"),
        ("1 < 2 < 3 < 4", "(1.0 < 2.0 < 3.0 < 4.0)"),
    ]);
    let body = parse_expr_text("1 <= x < 10").unwrap();
    match &body.expr.kind {
        ExprKind::Compare { rest, .. } => {
            let ops: Vec<CmpOp> = rest.iter().map(|c| c.op).collect();
            assert_eq!(ops, [CmpOp::Le, CmpOp::Lt]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tolerances() {
    check(&[
        ("a == b ± 1%", "(a == b ± 1%)"),
        ("a == b +- 1%", "(a == b ± 1%)"),
        ("a == b ± 0.5", "(a == b ± 0.5)"),
        ("a != b ± 2", "(a != b ± 2.0)"),
        ("a == b ± (c * 2)", "(a == b ± (c * 2.0))"),
        ("a == b ± c * 2", "(a == b ± (c * 2.0))"),
        ("a == b ± 1e-9 <= c", "(a == b ± 1e-9 <= c)"),
        ("x == a + b ± 1%", "(x == (a + b) ± 1%)"),
    ]);
    // The tolerance is remembered as relative when written as a percentage.
    let body = parse_expr_text("a == b ± 1%").unwrap();
    match &body.expr.kind {
        ExprKind::Compare { rest, .. } => match &rest[0].tolerance.as_ref().unwrap().kind {
            ExprKind::Number { value, percent } => {
                assert_eq!(*value, 0.01);
                assert!(*percent);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    // `+/-` is a third spelling; one tolerance per link.
    check(&[("a == b +/- 1", "(a == b ± 1.0)")]);
    assert_eq!(fail("a == b ± 1% ± 2").0, Code::SyntaxError);
}

#[test]
fn membership() {
    check(&[
        ("x in [1, 10]", "(x in [1.0, 10.0])"),
        ("x in (1, 10]", "(x in (1.0, 10.0])"),
        ("x in [1, 10)", "(x in [1.0, 10.0))"),
        ("x in (1, 10)", "(x in (1.0, 10.0))"),
        ("x ∈ [5k, 5M]", "(x in [5000.0, 5000000.0])"),
        ("x in [lo + 1, hi * 2]", "(x in [(lo + 1.0), (hi * 2.0)])"),
        ("founded_year ∈ [1600, current_year()]", "(founded_year in [1600.0, current_year()])"),
        ("share ∈ [5%, 25%]", "(share in [5%, 25%])"),
        ("x not in [1, 2]", "(x not in [1.0, 2.0])"),
        ("x ∉ (1, 2)", "(x not in (1.0, 2.0))"),
        // Sets, lists, tables, keys.
        (r#"x in {"a", "b"}"#, r#"(x in {"a", "b"})"#),
        (r#"x in {"a", "b", "c",}"#, r#"(x in {"a", "b", "c"})"#),
        ("x in [1, 2, 3]", "(x in [1.0, 2.0, 3.0])"),
        ("x in [1]", "(x in [1.0])"),
        ("x in ticker_pattern", "(x in ticker_pattern)"),
        ("o.id in keys(companies)", "(o.id in keys(companies))"),
        (r#""holdco" not in plausibility_flags"#, r#"("holdco" not in plausibility_flags)"#),
        ("x in (xs)", "(x in xs)"),
    ]);
    // Two values in brackets after `in` are always a range.
    match parse_expr_text(r#"x in ["a", "b"]"#).unwrap().expr.kind {
        ExprKind::In { target: InTarget::Range { lo_closed: true, hi_closed: true, .. }, negated: false, .. } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(fail("x in (1, 2, 3)").0, Code::SyntaxError);
    assert_eq!(fail("x in [1, 2").0, Code::SyntaxError);
}

#[test]
fn matches_and_null_tests() {
    check(&[
        ("x matches /a/", "(x matches /a/)"),
        ("x is null", "(x is null)"),
        ("x is not null", "(x is not null)"),
        ("x == null", "(x == null)"),
        ("x != null", "(x != null)"),
        ("c.arr is null", "(c.arr is null)"),
        ("a + b is null", "((a + b) is null)"),
        ("not x is null", "(not (x is null))"),
    ]);
}

#[test]
fn logic_and_precedence() {
    check(&[
        ("a and b and c", "((a and b) and c)"),
        ("a or b or c", "((a or b) or c)"),
        ("a or b and c", "(a or (b and c))"),
        ("not a and b", "((not a) and b)"),
        ("not not a", "(not (not a))"),
        ("not x > 1", "(not (x > 1.0))"),
        ("a implies b implies c", "(a implies (b implies c))"),
        ("a and b implies c or d", "((a and b) implies (c or d))"),
        ("not a and b or c implies d => e", "((((not a) and b) or c) implies (d implies e))"),
        ("!a && b || c", "(((not a) and b) or c)"),
        ("¬a ∧ b ∨ c ⇒ d → e", "((((not a) and b) or c) implies (d implies e))"),
        ("x != 1 and !y", "((x != 1.0) and (not y))"),
        // Comparisons bind tighter than `and`.
        ("x > 1 and y < 2 or z == 3", "(((x > 1.0) and (y < 2.0)) or (z == 3.0))"),
        ("x in [1, 2] and y", "((x in [1.0, 2.0]) and y)"),
    ]);
}

#[test]
fn conditionals() {
    check(&[
        ("if a then b", "(if a then b)"),
        ("if a then b else c", "(if a then b else c)"),
        ("if a and b then c or d", "(if (a and b) then (c or d))"),
        ("if a then if b then c else d", "(if a then (if b then c else d))"),
        ("if a then b else if c then d else e", "(if a then b else (if c then d else e))"),
        ("x > 1 implies if a then b", "((x > 1.0) implies (if a then b))"),
        ("if public then x else 0 > 1", "(if public then x else (0.0 > 1.0))"),
        ("(if a then 1 else 2) > 0", "((if a then 1.0 else 2.0) > 0.0)"),
        ("if not public then exchange is null and ticker is null", "(if (not public) then ((exchange is null) and (ticker is null)))"),
    ]);
    // `if` is a whole expression: it does not sit inside `and` unparenthesised.
    assert_eq!(fail("a and if b then c").0, Code::SyntaxError);
    assert_eq!(fail("if a b").0, Code::SyntaxError);
}

// ---------------------------------------------------------------------------
// Collections

#[test]
fn sets_and_lists() {
    check(&[
        ("{1, 2, 3}", "{1.0, 2.0, 3.0}"),
        ("{1, 2, 3,}", "{1.0, 2.0, 3.0}"),
        ("{}", "{}"),
        ("[1, 2, 3]", "[1.0, 2.0, 3.0]"),
        ("[1, 2, 3,]", "[1.0, 2.0, 3.0]"),
        ("[]", "[]"),
        ("[a]", "[a]"),
        (r#"{"SaaS", "Bank"}"#, r#"{"SaaS", "Bank"}"#),
    ]);
}

#[test]
fn aggregates_and_filters() {
    check(&[
        // List form.
        ("sum(segments.revenue)", "sum(segments.revenue)"),
        ("count(segments) > 0", "(count(segments) > 0.0)"),
        ("max(owners.stake)", "max(owners.stake)"),
        // Binder form: `x in xs`, optional `where`, optional `: body`.
        ("sum(s in segments: s.revenue)", "sum(s in segments: s.revenue)"),
        ("count(c in subsidiaries where c.stake > 50%)", "count(c in subsidiaries where (c.stake > 50%))"),
        ("count(c in companies)", "count(c in companies)"),
        ("any(x in xs where x > 1)", "any(x in xs where (x > 1.0))"),
        ("all(o in owners: 0 < o.stake <= 1)", "all(o in owners: (0.0 < o.stake <= 1.0))"),
        (
            "sum(c in subsidiaries where c.stake > 0.5: c.standalone_revenue)",
            "sum(c in subsidiaries where (c.stake > 0.5): c.standalone_revenue)",
        ),
        ("share(c in big: c.employee_count > 50) >= 95%", "(share(c in big: (c.employee_count > 50.0)) >= 95%)"),
        ("mean(x ∈ xs: x * 2)", "mean(x in xs: (x * 2.0))"),
        ("min(x in a.b where x.c: x.d)", "min(x in a.b where x.c: x.d)"),
        // Filters.
        ("[c in companies where c.industry == \"SaaS\"]", "[c in companies where (c.industry == \"SaaS\")]"),
        ("count([g in groups(ownership) where count(g) >= 2])", "count([g in groups(ownership) where (count(g) >= 2.0)])"),
        // Nested binders.
        (
            "any(c in g: any(p in c.parents where p.stake > 0.5: p.fiscal_year_end != c.fiscal_year_end))",
            "any(c in g: any(p in c.parents where (p.stake > 0.5): (p.fiscal_year_end != c.fiscal_year_end)))",
        ),
    ]);
    // `[x in xs]` without `where` is a list holding one membership test.
    check(&[("[x in xs]", "[(x in xs)]")]);
    match parse_expr_text("count(c in subsidiaries where c.stake > 0.5)").unwrap().expr.kind {
        ExprKind::Call { name, args, binder: Some(b) } => {
            assert_eq!(name.text, "count");
            assert!(args.is_empty());
            assert_eq!(b.var.text, "c");
            assert!(b.filter.is_some());
            assert!(b.body.is_none());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fail("sum(x in : y)").0, Code::SyntaxError);
    assert_eq!(fail("f(x in xs where)").0, Code::SyntaxError);
}

#[test]
fn function_calls() {
    check(&[
        ("abs(x - y) < 1", "(abs((x - y)) < 1.0)"),
        ("len(name) > 0", "(len(name) > 0.0)"),
        ("current_year()", "current_year()"),
        ("unique(id)", "unique(id)"),
        ("not in_cycle(ownership)", "(not in_cycle(ownership))"),
        ("f(1, 2, 3)", "f(1.0, 2.0, 3.0)"),
        ("f(x in xs)", "f(x in xs)"),
        ("f((x in xs))", "f((x in xs))"),
    ]);
}

#[test]
fn let_bindings() {
    check(&[
        ("let x = 1\nx > 0", "let x = (1.0)\n(x > 0.0)"),
        (
            "let big = [c in companies where c.arr > 100M]\nlet n = count(big)\nn >= 20",
            "let big = ([c in companies where (c.arr > 100000000.0)])\nlet n = (count(big))\n(n >= 20.0)",
        ),
        ("let total = (revenue)\n(total > 0)", "let total = (revenue)\n(total > 0.0)"),
    ]);
    // Layout is not significant: a `let` value that ends in a name, followed
    // by a condition in parentheses, reads as a call of that name.
    assert_eq!(fail("let total = revenue\n(total > 0)").0, Code::SyntaxError);
    let body = parse_expr_text("let a = 1 let b = a + 1 b > a").unwrap();
    assert_eq!(body.lets.len(), 2);
    assert_eq!(body.lets[1].name.text, "b");
    // A rule needs its condition after the bindings.
    assert_eq!(fail("let x = 1").0, Code::SyntaxError);
    assert_eq!(fail("let = 1\nx").0, Code::SyntaxError);
}

#[test]
fn keywords_are_not_names() {
    for word in ["and", "or", "not", "in", "if", "then", "else", "implies", "let", "where", "matches", "is"] {
        let text = format!("{word} > 1");
        assert!(parse_expr_text(&text).is_err(), "`{text}` parsed");
    }
}

// ---------------------------------------------------------------------------
// Spans

#[test]
fn spans_point_into_the_text() {
    let text = "sum(segments.revenue) == consolidated_revenue ± 1%";
    let body = parse_expr_text(text).unwrap();
    assert_eq!(&text[body.expr.span.range()], text);
    let ExprKind::Compare { first, rest } = &body.expr.kind else { panic!() };
    assert_eq!(&text[first.span.range()], "sum(segments.revenue)");
    assert_eq!(&text[rest[0].rhs.span.range()], "consolidated_revenue");
    assert_eq!(&text[rest[0].tolerance.as_ref().unwrap().span.range()], "1%");
    let text = "x ∈ [1, 10_000_000]";
    let body = parse_expr_text(text).unwrap();
    let ExprKind::In { target: InTarget::Range { hi, .. }, .. } = &body.expr.kind else { panic!() };
    assert_eq!(&text[hi.span.range()], "10_000_000");
}

// ---------------------------------------------------------------------------
// Syntax errors speak words, never grammar rule names

/// The grammar's rule names with an underscore (`comparison_chain`,
/// `kw_then`, …), read from the grammar itself.
fn grammar_rule_names() -> Vec<String> {
    let grammar = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/grammar/skill.pest")).unwrap();
    let names: Vec<String> = grammar
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once('=')?;
            let name = name.trim();
            let is_rule = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            (is_rule && rest.trim_start().trim_start_matches(['_', '@', '$', '!']).starts_with('{')).then(|| name.to_string())
        })
        .collect();
    assert!(names.len() > 40, "read {} rule names from the grammar", names.len());
    names
}

#[test]
fn syntax_errors_use_words() {
    let rule_names: Vec<String> = grammar_rule_names().into_iter().filter(|n| n.contains('_')).collect();
    assert!(rule_names.iter().any(|n| n == "comparison_chain"));
    let bad = [
        "if a then",
        "if a b",
        "if then",
        "x in [1, 2",
        "x in [1 2]",
        "x in {1, 2",
        "f(1, 2",
        "sum(x in : y)",
        "a and",
        "a or or b",
        "a ==",
        "a == == b",
        "x === y",
        "x matches",
        "x is",
        "x is not",
        "x not",
        "x ±",
        "let x = 1",
        "let = 1\nx",
        "1 +",
        "1 * * 2",
        "\"a\" \"b\"",
        "x.",
        "x.1",
        "x[1",
        ")",
        "(a",
        "]",
        "@",
        "x ?? ?? y",
        "a implies",
        "a => => b",
        "1 < 2 >",
        "not",
        "5K",
        "/abc",
        "x in (1, 2, 3)",
        "x,y",
        "x;y",
        "",
        "   # only a comment",
    ];
    for text in bad {
        let (code, message, _) = fail(text);
        assert_eq!(code, Code::SyntaxError, "`{text}`: {message}");
        assert!(message.contains("expected") || message.starts_with("unexpected"), "`{text}`: {message}");
        for name in &rule_names {
            assert!(!message.contains(name.as_str()), "`{text}`: message `{message}` names the grammar rule `{name}`");
        }
        for internal in ["Rule::", "EOI", "SOI", "WHITESPACE", "COMMENT"] {
            assert!(!message.contains(internal), "`{text}`: {message}");
        }
    }
}

#[test]
fn syntax_errors_say_what_was_expected_and_where() {
    let cases = [
        ("if a then", "expected an expression, found the end of the block", ""),
        ("if a b", "expected an operator or `then`, found `b`", "b"),
        ("if then", "expected an expression, found `then`", "t"),
        ("x in [1, 2", "expected an operator or `]` or `)`, found the end of the block", ""),
        ("x is", "expected `null`, found the end of the block", ""),
        ("x not", "expected `in`, found the end of the block", ""),
        ("x.1", "expected a name, found `1`", "1"),
        ("a b", "expected an operator or the end of the rule, found `b`", "b"),
        ("x ± 1", "expected an operator or the end of the rule, found `±`", "±"),
        ("@", "expected an expression, found `@`", "@"),
        (")", "expected an expression, found `)`", ")"),
        ("", "expected an expression, found the end of the block", ""),
        ("  # only a comment\n", "expected an expression, found the end of the block", ""),
    ];
    for (text, message, at) in cases {
        let (code, got, got_at) = fail(text);
        assert_eq!(code, Code::SyntaxError);
        assert_eq!(got, message, "`{text}`");
        assert_eq!(got_at, at, "`{text}`");
    }
    // An unclosed parenthesis says so, and the error points just after the
    // last token, not at the end of the block's trailing lines.
    let text = "f(1, 2\n\n";
    let d = parse_expr_text(text).unwrap_err();
    assert_eq!(d.message, "expected an operator, found the end of the block");
    assert_eq!(d.help, ["a `(` is not closed"]);
    assert_eq!(d.primary.span.range(), 6..6);
}

// ---------------------------------------------------------------------------
// Limits

#[test]
fn nesting_limits() {
    // 64 levels of brackets are fine, 65 are not.
    let ok = format!("{}x{} > 1", "(".repeat(64), ")".repeat(64));
    assert_eq!(p(&ok), "(x > 1.0)");
    let deep = format!("{}x{} > 1", "(".repeat(65), ")".repeat(65));
    let (code, message, at) = fail(&deep);
    assert_eq!(code, Code::TooDeep);
    assert_eq!(message, "brackets nest deeper than 64 levels");
    assert_eq!(at, "(");
    // Brackets inside strings do not count.
    let quoted = format!("x == \"{}\"", "(".repeat(100));
    assert!(parse_expr_text(&quoted).is_ok());
    // Long chains of prefix operators are refused before parsing.
    let nots = format!("{}a", "not ".repeat(300));
    assert_eq!(fail(&nots).0, Code::TooDeep);
    // A long flat sum is fine up to 256 operators.
    let sum = vec!["a"; 200].join(" + ");
    assert!(parse_expr_text(&format!("{sum} > 0")).is_ok());
    let sum = vec!["a"; 300].join(" + ");
    let (code, message, _) = fail(&format!("{sum} > 0"));
    assert_eq!(code, Code::TooDeep);
    assert_eq!(message, "more than 256 operators in a row");
    // Every operator of a chain is a level of the tree: `??` and field
    // chains are bounded like the rest.
    assert!(parse_expr_text(&format!("a{} > 0", " ?? a".repeat(200))).is_ok());
    assert_eq!(fail(&format!("a{} > 0", " ?? a".repeat(300))).0, Code::TooDeep);
    assert!(parse_expr_text(&format!("x{} > 0", ".f".repeat(200))).is_ok());
    assert_eq!(fail(&format!("x{} > 0", ".f".repeat(300))).0, Code::TooDeep);
    assert_eq!(fail(&format!("{}a", "- ".repeat(300))).0, Code::TooDeep);
    // Chains inside brackets inside chains: the tree stays within the limit.
    let mut nested = "a".to_string();
    for _ in 0..10 {
        nested = format!("({nested}{})", " + a".repeat(100));
    }
    let (code, message, _) = fail(&format!("{nested} > 0"));
    assert_eq!(code, Code::TooDeep);
    assert_eq!(message, "the expression nests deeper than 256 levels");
    for ok in ["a + a", &vec!["a"; 250].join(" and "), &format!("{}a", "if b then ".repeat(200))] {
        let body = parse_expr_text(ok).unwrap();
        assert!(height(&body.expr) <= 256, "{ok}");
    }
}

/// The height of a tree, without recursion.
fn height<'a>(root: &'a Expr) -> usize {
    let mut max = 0;
    let mut stack: Vec<(&'a Expr, usize)> = vec![(root, 1)];
    while let Some((e, depth)) = stack.pop() {
        max = max.max(depth);
        let mut push = |c: &'a Expr| stack.push((c, depth + 1));
        match &e.kind {
            ExprKind::Field(a, _) | ExprKind::Neg(a) | ExprKind::Not(a) | ExprKind::IsNull { value: a, .. } => push(a),
            ExprKind::Index(a, b) | ExprKind::Coalesce(a, b) | ExprKind::Binary(_, a, b) | ExprKind::Matches(a, b) => {
                push(a);
                push(b);
            }
            ExprKind::If { cond, then, otherwise } => {
                push(cond);
                push(then);
                if let Some(o) = otherwise {
                    push(o);
                }
            }
            ExprKind::Compare { first, rest } => {
                push(first);
                for c in rest {
                    push(&c.rhs);
                }
            }
            ExprKind::Call { args, .. } | ExprKind::Set(args) | ExprKind::List(args) => args.iter().for_each(&mut push),
            _ => {}
        }
    }
    max
}

// ---------------------------------------------------------------------------
// Printing then re-parsing gives the same printed form

/// Every input of this file that parses, and a few more.
#[test]
fn printed_forms_reparse() {
    let inputs = [
        "employee_count ∈ [1, 10_000_000]",
        "if industry == \"SaaS\" then gross_margin > 0.6",
        "sum(segments.revenue) == consolidated_revenue ± 1%",
        "count(segments) > 0 implies consolidated_revenue > 0 and sum(segments.revenue) == consolidated_revenue ± 1%",
        "industry ∈ {\"SaaS\", \"Manufacturing\", \"Retail\"}",
        "fiscal_year_end matches /(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|02-(0[1-9]|1[0-9]|2[0-9])/",
        "all(o in owners: o.id in keys(companies))",
        "consolidated_revenue >= sum(c in subsidiaries where c.stake > 0.5: c.standalone_revenue) - (intercompany_eliminations ?? 0)",
        "let groups = [g in groups(ownership) where count(g) >= 2]\ncount(groups) >= 20 implies share(g in groups: any(c in g: any(p in c.parents where p.stake > 0.5: p.fiscal_year_end != c.fiscal_year_end))) ∈ [5%, 25%]",
        "all(k in {\"happy-path\", \"minority-stake\"}: count(c in companies where c.behaviour_class == k) >= 3)",
        "if public then exchange is not null and exchange in ticker_pattern and ticker is not null and ticker matches ticker_pattern[exchange]",
        "x == 1.1k ± 33.3%",
        "x ~ /a\\/b\\\\\\/c/",
        "-(-(a)) ?? b",
        "x.y[z].w[\"k\"] in (0, 1]",
    ];
    for input in inputs {
        let once = p(input);
        assert_eq!(p(&once), once, "input: {input}");
    }
}

// A generator of expression trees, printed and re-parsed.

fn span() -> Span {
    Span::new(FileId(0), 0, 0)
}
fn e(kind: ExprKind) -> Expr {
    Expr { kind, span: span() }
}
fn name(text: &str) -> Name {
    Name { text: text.to_string(), span: span() }
}
fn b(x: Expr) -> Box<Expr> {
    Box::new(x)
}

const NAMES: &[&str] = &["x", "gross_margin", "segments", "c", "_y2", "companies", "nullable", "iffy", "k"];

fn arb_name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES).prop_map(str::to_string)
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        // What the parser makes of the numbers one writes.
        (0u64..10_000_000, 0u32..4, prop::sample::select(&["", "k", "M", "B", "T", "%", "e-9", "e3"][..])).prop_map(
            |(n, decimals, suffix)| {
                let text = format!("{}{}", n as f64 / 10f64.powi(decimals as i32), suffix);
                parse_expr_text(&text).unwrap().expr
            }
        ),
        any::<f64>()
            .prop_filter("finite, non-negative", |v| v.is_finite() && v.is_sign_positive())
            .prop_map(|value| e(ExprKind::Number { value, percent: false })),
        "[a-zA-Z0-9 \"\\\\/\n\té∈-]{0,6}".prop_map(|s| e(ExprKind::Str(s))),
        prop::sample::select(&["[A-Z]{2}", "a/b", r"\d+", r"a\\", r"x\\/y", "(a|b)*", "é"][..])
            .prop_map(|r| e(ExprKind::Regex(r.to_string()))),
        any::<bool>().prop_map(|v| e(ExprKind::Bool(v))),
        Just(e(ExprKind::Null)),
        arb_name().prop_map(|n| e(ExprKind::Name(n))),
    ]
}

fn arb_binder(inner: impl Strategy<Value = Expr> + Clone + 'static, need_filter: bool) -> impl Strategy<Value = Binder> {
    let filter = if need_filter { inner.clone().prop_map(Some).boxed() } else { prop::option::of(inner.clone()).boxed() };
    let body = if need_filter { Just(None).boxed() } else { prop::option::of(inner.clone()).boxed() };
    (arb_name(), inner, filter, body).prop_map(|(var, source, filter, body)| Binder { var: name(&var), source, filter, body })
}

/// Whether the printed form starts with a two-element list: `[a, b]`,
/// `[a, b].f`, `[a, b][i]`.
fn starts_with_pair(x: &Expr) -> bool {
    match &x.kind {
        ExprKind::List(items) => items.len() == 2,
        ExprKind::Field(base, _) | ExprKind::Index(base, _) => starts_with_pair(base),
        _ => false,
    }
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        let cmp = prop::sample::select(&[CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge][..]);
        let bin = prop::sample::select(&[BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::And, BinOp::Or, BinOp::Implies][..]);
        // `x in [a, b]` always reads as a range, so a two-element list never
        // starts the target of `in`.
        let in_target = prop_oneof![
            (inner.clone(), inner.clone(), any::<bool>(), any::<bool>()).prop_map(|(lo, hi, lo_closed, hi_closed)| InTarget::Range {
                lo: b(lo),
                hi: b(hi),
                lo_closed,
                hi_closed
            }),
            inner.clone().prop_filter("not a two-element list", |t| !starts_with_pair(t)).prop_map(|t| InTarget::Expr(b(t))),
        ];
        prop_oneof![
            (inner.clone(), arb_name()).prop_map(|(x, f)| e(ExprKind::Field(b(x), name(&f)))),
            (inner.clone(), inner.clone()).prop_map(|(x, i)| e(ExprKind::Index(b(x), b(i)))),
            (arb_name(), prop::collection::vec(inner.clone(), 0..3)).prop_map(|(f, args)| e(ExprKind::Call {
                name: name(&f),
                args,
                binder: None
            })),
            (arb_name(), arb_binder(inner.clone(), false)).prop_map(|(f, bd)| e(ExprKind::Call {
                name: name(&f),
                args: vec![],
                binder: Some(Box::new(bd))
            })),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| e(ExprKind::Set(items))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| e(ExprKind::List(items))),
            arb_binder(inner.clone(), true).prop_map(|bd| e(ExprKind::Filter(Box::new(bd)))),
            inner.clone().prop_map(|x| e(ExprKind::Neg(b(x)))),
            inner.clone().prop_map(|x| e(ExprKind::Not(b(x)))),
            (inner.clone(), inner.clone()).prop_map(|(x, y)| e(ExprKind::Coalesce(b(x), b(y)))),
            (bin, inner.clone(), inner.clone()).prop_map(|(op, x, y)| e(ExprKind::Binary(op, b(x), b(y)))),
            (inner.clone(), inner.clone(), prop::option::of(inner.clone())).prop_map(|(c, t, o)| e(ExprKind::If {
                cond: b(c),
                then: b(t),
                otherwise: o.map(b)
            })),
            (inner.clone(), prop::collection::vec((cmp, inner.clone(), prop::option::of(inner.clone())), 1..3)).prop_map(
                |(first, links)| {
                    let rest = links.into_iter().map(|(op, rhs, tolerance)| Comparison { op, rhs, tolerance }).collect();
                    e(ExprKind::Compare { first: b(first), rest })
                }
            ),
            (inner.clone(), any::<bool>(), in_target).prop_map(|(v, negated, target)| e(ExprKind::In { value: b(v), negated, target })),
            (inner.clone(), inner.clone()).prop_map(|(v, pat)| e(ExprKind::Matches(b(v), b(pat)))),
            (inner.clone(), any::<bool>()).prop_map(|(v, negated)| e(ExprKind::IsNull { value: b(v), negated })),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any tree prints to text that parses back to a tree printing the same.
    #[test]
    fn generated_trees_round_trip(tree in arb_expr()) {
        let printed = tree.to_string();
        let reparsed = parse_expr_text(&printed);
        prop_assert!(reparsed.is_ok(), "`{}` does not parse: {:?}", printed, reparsed.err().map(|d| d.message));
        prop_assert_eq!(reparsed.unwrap().to_string(), printed);
    }

    /// The same with `let` bindings in front.
    #[test]
    fn generated_rule_bodies_round_trip(lets in prop::collection::vec((arb_name(), arb_expr()), 0..3), tree in arb_expr()) {
        // A condition that starts with `[` (or a `/regex/`) right after a
        // `let` would read as an index of (or a division of) the let's value.
        prop_assume!(lets.is_empty() || !tree.to_string().starts_with(['[', '/']));
        let mut text = String::new();
        for (n, value) in &lets {
            text.push_str(&format!("let {n} = ({value})\n"));
        }
        text.push_str(&tree.to_string());
        let once = parse_expr_text(&text);
        prop_assert!(once.is_ok(), "`{}` does not parse: {:?}", text, once.err().map(|d| d.message));
        let printed = once.unwrap().to_string();
        let twice = parse_expr_text(&printed);
        prop_assert!(twice.is_ok(), "`{}` does not parse: {:?}", printed, twice.err().map(|d| d.message));
        prop_assert_eq!(twice.unwrap().to_string(), printed);
    }

    /// Parsing arbitrary text never panics.
    #[test]
    fn arbitrary_text_never_panics(text in "[a-z0-9 ()\\[\\]{}.,:<>=!?+*/%±∈∉¬≤≥≠\"#_-]{0,40}") {
        let _ = parse_expr_text(&text);
    }
}
