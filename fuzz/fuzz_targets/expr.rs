//! The expression parser on arbitrary text: never panics, never hangs
//! (the grammar backtracks, so the parser's step budget is what bounds it),
//! and whatever parses prints to a fully parenthesised form that parses
//! back to the same printed form.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(body) = skillc::syntax::parse_expr_text(text) else { return };
    let printed = body.to_string();
    match skillc::syntax::parse_expr_text(&printed) {
        Ok(again) => assert_eq!(again.to_string(), printed, "the printed form of {text:?} does not print back to itself"),
        // The printed form adds parentheses: it may nest deeper than the
        // limits the input stayed within, and nothing else may fail.
        Err(d) => {
            assert_eq!(d.code, skillc::diagnostic::Code::TooDeep, "the printed form {printed:?} of {text:?} does not parse: {}", d.message)
        }
    }
});
