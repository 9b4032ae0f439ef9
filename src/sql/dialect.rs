//! The SQL dialects: one table of spellings each. Everything the lowering
//! writes that differs between engines goes through here, so a third
//! dialect is one more value of [`Dialect`] (docs/sql.md, "A new dialect").

/// Which engine a plan is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DialectName {
    Duckdb,
    Spark,
}

impl DialectName {
    pub fn as_str(self) -> &'static str {
        match self {
            DialectName::Duckdb => "duckdb",
            DialectName::Spark => "spark",
        }
    }

    pub fn dialect(self) -> &'static Dialect {
        match self {
            DialectName::Duckdb => &DUCKDB,
            DialectName::Spark => &SPARK,
        }
    }
}

/// The spellings of one dialect. Functions are given as templates whose
/// `{0}`, `{1}`, … are replaced by their arguments (already SQL).
pub struct Dialect {
    pub name: DialectName,
    /// Quotes an identifier.
    pub quote: fn(&str) -> String,
    /// A string literal.
    pub string: fn(&str) -> String,
    pub string_type: &'static str,
    pub double_type: &'static str,
    pub bigint_type: &'static str,
    pub boolean_type: &'static str,
    /// A list type of the element type `{0}`.
    pub list_type: &'static str,
    /// A struct type from `name type` pairs joined by `, ` (`{0}`); the
    /// pair's separator.
    pub struct_type: &'static str,
    pub struct_field_sep: &'static str,
    /// A struct value from `(name, value)` pairs.
    pub struct_value: fn(&[(String, String)]) -> String,
    /// A list value from its items joined by `, `.
    pub list_value: &'static str,
    /// `{0}`: list, `{1}`: lambda parameter, `{2}`: body.
    pub list_filter: &'static str,
    pub list_transform: &'static str,
    /// The number of items of a non-null list.
    pub list_len: &'static str,
    /// Sum of the non-null numbers of a list; NULL for an empty one.
    pub list_sum: &'static str,
    pub list_min: &'static str,
    pub list_max: &'static str,
    pub list_contains: &'static str,
    /// The `{1}`-th item (1-based) of list `{0}`.
    pub list_item: &'static str,
    /// A list of the items `{1}` with index parameter (1-based) `{2}`:
    /// `{0}`: list, `{1}` item parameter, `{2}` index parameter, `{3}` body.
    pub list_transform_indexed: &'static str,
    /// What the index parameter of `list_transform_indexed` counts from.
    pub index_from: u8,
    /// Whole-string match of `{0}` against the regular expression `{1}` (a
    /// string literal of the pattern, anchored by the caller when needed).
    pub regex_full_match: &'static str,
    /// What goes before and after the pattern when the engine has no
    /// whole-string match: the anchors, and flags that make the engine's
    /// regex read like skillc's (Rust's `regex`).
    pub regex_anchors: Option<(&'static str, &'static str)>,
    /// Unicode characters of a string.
    pub string_len: &'static str,
    /// An aggregate list of `{0}` ordered by `{1}` (a GROUP BY aggregate).
    pub agg_list_ordered: fn(&str, &str) -> String,
    /// The select items that explode list `{0}` into rows `{1}` (item) and
    /// `{2}` (0-based position).
    pub explode_with_position: fn(&str, &str, &str) -> String,
    /// Correlated scalar subqueries of any shape (an aggregate over every
    /// record that reads the record checked).
    pub correlated_subqueries: bool,
    /// `x IN (SELECT …)` inside a projection.
    pub in_subquery_in_projection: bool,
    /// Bitwise and of two BIGINTs.
    pub bit_and: &'static str,
}

/// Fills `{0}`, `{1}`, … of a template.
pub fn fill(template: &str, args: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + args.iter().map(|a| a.len()).sum::<usize>());
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.find('}').and_then(|end| after[..end].parse::<usize>().ok().map(|i| (i, end))) {
            Some((i, end)) if i < args.len() => {
                out.push_str(args[i]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn double_quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn backtick(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Standard SQL: only the quote is doubled (DuckDB reads backslashes as
/// they are).
fn standard_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Spark reads backslash escapes in string literals.
fn escaped_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn duckdb_struct(fields: &[(String, String)]) -> String {
    let parts: Vec<String> = fields.iter().map(|(n, v)| format!("{} := {v}", double_quote(n))).collect();
    format!("struct_pack({})", parts.join(", "))
}

fn spark_struct(fields: &[(String, String)]) -> String {
    let parts: Vec<String> = fields.iter().map(|(n, v)| format!("{}, {v}", escaped_string(n))).collect();
    format!("named_struct({})", parts.join(", "))
}

/// Not `list(v ORDER BY o)`: DuckDB's ordered aggregate sorts per group,
/// six times slower at 100k groups than sorting each gathered list.
fn duckdb_agg_list(value: &str, order: &str) -> String {
    format!("list_transform(list_sort(list(struct_pack(o := {order}, v := {value}))), s -> s.v)")
}

/// Spark's `collect_list` has no order: the pairs are sorted by their first
/// field, then the values taken.
fn spark_agg_list(value: &str, order: &str) -> String {
    format!("transform(array_sort(collect_list(named_struct('o', {order}, 'v', {value}))), s -> s.v)")
}

fn duckdb_explode(list: &str, item: &str, pos: &str) -> String {
    format!("unnest({list}) AS {item}, generate_subscripts({list}, 1) - 1 AS {pos}")
}

fn spark_explode(list: &str, item: &str, pos: &str) -> String {
    format!("posexplode({list}) AS ({pos}, {item})")
}

pub static DUCKDB: Dialect = Dialect {
    name: DialectName::Duckdb,
    quote: double_quote,
    string: standard_string,
    string_type: "VARCHAR",
    double_type: "DOUBLE",
    bigint_type: "BIGINT",
    boolean_type: "BOOLEAN",
    list_type: "{0}[]",
    struct_type: "STRUCT({0})",
    struct_field_sep: " ",
    struct_value: duckdb_struct,
    list_value: "list_value({0})",
    list_filter: "list_filter({0}, {1} -> {2})",
    list_transform: "list_transform({0}, {1} -> {2})",
    list_len: "len({0})",
    list_sum: "list_sum({0})",
    list_min: "list_min({0})",
    list_max: "list_max({0})",
    list_contains: "list_contains({0}, {1})",
    list_item: "{0}[{1}]",
    list_transform_indexed: "list_transform({0}, ({1}, {2}) -> {3})",
    index_from: 1,
    regex_full_match: "regexp_full_match({0}, {1})",
    regex_anchors: None,
    string_len: "length({0})",
    agg_list_ordered: duckdb_agg_list,
    explode_with_position: duckdb_explode,
    correlated_subqueries: true,
    in_subquery_in_projection: true,
    bit_and: "({0} & {1})",
};

pub static SPARK: Dialect = Dialect {
    name: DialectName::Spark,
    quote: backtick,
    string: escaped_string,
    string_type: "STRING",
    double_type: "DOUBLE",
    bigint_type: "BIGINT",
    boolean_type: "BOOLEAN",
    list_type: "ARRAY<{0}>",
    struct_type: "STRUCT<{0}>",
    struct_field_sep: ": ",
    struct_value: spark_struct,
    list_value: "array({0})",
    list_filter: "filter({0}, {1} -> {2})",
    list_transform: "transform({0}, {1} -> {2})",
    // `size(NULL)` is -1 unless spark.sql.legacy.sizeOfNull is off.
    list_len: "CASE WHEN {0} IS NULL THEN NULL ELSE size({0}) END",
    list_sum: "aggregate({0}, CAST(NULL AS DOUBLE), (acc, v) -> CASE WHEN v IS NULL THEN acc ELSE coalesce(acc, 0D) + v END)",
    list_min: "array_min({0})",
    list_max: "array_max({0})",
    list_contains: "array_contains({0}, {1})",
    list_item: "element_at({0}, {1})",
    list_transform_indexed: "transform({0}, ({1}, {2}) -> {3})",
    index_from: 0,
    regex_full_match: "({0} RLIKE {1})",
    // Java's `$` also matches before a final line terminator ("IBM\n"
    // matched a ticker pattern) and its `.` stops at `\r`, U+0085, U+2028
    // and U+2029: `\z` is the end of the text, and `(?d)` (UNIX_LINES)
    // leaves `\n` the only line terminator, as in Rust.
    regex_anchors: Some(("(?d)^(?:", ")\\z")),
    string_len: "char_length({0})",
    agg_list_ordered: spark_agg_list,
    explode_with_position: spark_explode,
    correlated_subqueries: false,
    in_subquery_in_projection: false,
    bit_and: "({0} & {1})",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_their_arguments_and_keep_other_braces() {
        assert_eq!(fill("list_filter({0}, {1} -> {2})", &["l", "x", "x > 1"]), "list_filter(l, x -> x > 1)");
        assert_eq!(fill("{a} {0} {9}", &["z"]), "{a} z {9}");
        assert_eq!((SPARK.string)("a'b\\d"), "'a\\'b\\\\d'");
        assert_eq!((DUCKDB.string)("a'b\\d"), "'a''b\\d'");
    }
}
