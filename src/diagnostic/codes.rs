//! Stable kebab-case diagnostic codes, each with a one-line summary here
//! (SARIF's `shortDescription`, `skillc explain` without a code) and a
//! section of docs/diagnostics.md, embedded below: the single source of what
//! `skillc explain CODE` prints (the meaning, an example and the fix).

macro_rules! codes {
    ($($variant:ident = $code:literal : $summary:literal;)*) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant),* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }
            /// One sentence: what the code means and what to do.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary),* }
            }
            /// The code spelled `code` (as `as_str` writes it).
            pub fn named(code: &str) -> Option<Code> {
                match code { $($code => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    Io = "io-error": "a skill file could not be read (missing, a directory, or unreadable)";
    InvalidUtf8 = "invalid-utf8": "a skill file is not valid UTF-8; save it as UTF-8";
    FrontmatterMissing = "frontmatter-missing": "a skill file must start with YAML frontmatter between `---` lines";
    FrontmatterUnterminated = "frontmatter-unterminated": "the frontmatter has no closing `---` line";
    FrontmatterYaml = "frontmatter-yaml": "the frontmatter is not valid YAML";
    FrontmatterNotMapping = "frontmatter-not-mapping": "the frontmatter must be a YAML mapping of keys to values";
    FrontmatterUnknownField = "frontmatter-unknown-field": "a frontmatter key that the Agent Skills specification does not define (kept, but clients may ignore it)";
    NameMissing = "name-missing": "the frontmatter needs a `name`";
    NameInvalid = "name-invalid": "`name` must be 1-64 lower-case letters, digits and single hyphens, not starting or ending with a hyphen";
    NameMismatch = "name-mismatch": "`name` must equal the name of the folder that holds SKILL.md";
    DescriptionMissing = "description-missing": "the frontmatter needs a non-empty `description` string";
    DescriptionTooLong = "description-too-long": "`description` may be at most 1024 characters";
    CompatibilityInvalid = "compatibility-invalid": "`compatibility` must be a string of 1-500 characters";
    LicenseInvalid = "license-invalid": "`license` must be a string";
    MetadataInvalid = "metadata-invalid": "`metadata` must be a mapping";
    MetadataValueNotString = "metadata-value-not-string": "the specification asks for string values in `metadata`; quote the value";
    AllowedToolsInvalid = "allowed-tools-invalid": "`allowed-tools` must be a string or a list of strings";
    AppliesToMissing = "applies-to-missing": "a skill with rules must say in `applies_to` which entity its rules are about";
    AppliesToInvalid = "applies-to-invalid": "`applies_to` must name an entity declared in an ```entity block";
    NoRules = "no-rules": "the skill declares `applies_to` but holds no rule blocks";
    RuleMissingId = "rule-missing-id": "a ```rule block needs an id after `rule`, like ```rule gross-margin-range";
    RuleIdInvalid = "rule-id-invalid": "a rule id is lower-case letters, digits and hyphens, starting with a letter";
    RuleIdReserved = "rule-id-reserved": "`json` and `schema` are the ids of skillc's built-in input checks";
    DuplicateRuleId = "duplicate-rule-id": "two rules share an id; ids must be unique across all skills";
    MissingMessage = "missing-message": "a rule has no prose around it; the prose is what a rejection quotes back to the proposer";
    SyntaxError = "syntax-error": "the block does not parse; the message says what was expected";
    UnknownField = "unknown-field": "the name is not a field of the entity (or of the element) it is read from";
    UnknownName = "unknown-name": "the name is not a field, a `let` binding, a bound variable, a table or a collection";
    UnknownFunction = "unknown-function": "no function has that name; see docs/language.md for the list";
    WrongArity = "wrong-arity": "the function takes a different number of arguments";
    TypeMismatch = "type-mismatch": "an operand has a type the operator or function does not accept";
    InvalidRegex = "invalid-regex": "the regular expression does not compile (skillc uses linear-time regular expressions: no look-around, no back-references)";
    InvalidNumber = "invalid-number": "the number is out of range";
    ScopeMix = "scope-mix": "a rule reads both one entity's own fields and a whole collection; split it into an entity rule and a dataset rule";
    EdgeAttributeOutsideFilter = "edge-attribute-outside-filter": "an edge field (like a stake) can only be read in the `where` filter of a relation";
    NeverHolds = "never-holds": "the condition can never hold (an empty range, a contradiction), so the rule rejects everything it applies to";
    NeverApplies = "never-applies": "the condition of an `if` or `implies` can never hold, so the rule never applies";
    TooDeep = "too-deep": "the expression nests deeper than skillc accepts";
    EntityDuplicate = "entity-duplicate": "two ```entity blocks declare the same entity";
    EntityMissingKey = "entity-missing-key": "an entity needs a `key` line naming a required string field";
    EntityInvalid = "entity-invalid": "an entity declaration is inconsistent (a duplicate field, an unknown type, a bad relation)";
    TableDuplicate = "table-duplicate": "two ```table blocks share a name, or a table repeats a key";
    TableInvalid = "table-invalid": "a table mixes value types or is empty";
    NameConflict = "name-conflict": "a table, collection or binding shadows another name";
    ExampleInvalid = "example-invalid": "an example block is malformed: its info string (```jsonl example pass, fail or flag, then rule ids), a rule id it names, or a line that is not one JSON object";
    UnknownValue = "unknown-value": "a string compared with a field is not among the values a rule allows for that field (a typo?)";
    RuleWithoutExamples = "rule-without-examples": "no ```jsonl example block names the rule, so nothing shows that it accepts and rejects what it should";
    ExampleFailed = "example-failed": "an example company's outcome differs from what its block expects: the rule or the example is wrong";
    RuleUnsatisfiable = "rule-unsatisfiable": "no record that passes the schema passes this rule: it rejects everything";
    RulesContradict = "rules-contradict": "these rules, together, reject every record of a case the schema allows (or every record)";
    RuleVacuous = "rule-vacuous": "no record that passes the schema can fail this rule: it checks nothing";
    FlagImplied = "flag-implied": "this flag rule only fires on records that reject rules already reject, so it never flags an accepted record";
    SqlUnsupported = "sql-unsupported": "a rule construct the chosen SQL dialect cannot express (`skillc sql`, `check --engine`); the native engine checks it";
}

impl Code {
    /// The codes only ever reported as warnings: those `skillc-allow`
    /// (docs/diagnostics.md) can turn off. Errors cannot be turned off.
    pub fn can_be_allowed(self) -> bool {
        matches!(
            self,
            Code::FrontmatterUnknownField
                | Code::MetadataValueNotString
                | Code::NoRules
                | Code::MissingMessage
                | Code::NeverHolds
                | Code::NeverApplies
                | Code::NameConflict
                | Code::UnknownValue
                | Code::RuleWithoutExamples
                | Code::RuleUnsatisfiable
                | Code::RulesContradict
                | Code::RuleVacuous
                | Code::FlagImplied
        )
    }
}

/// A code fence line: three or more backticks and at most an info word
/// (prose that starts with inline code has more after it).
fn is_fence(line: &str) -> bool {
    let line = line.trim_end();
    let rest = line.trim_start_matches('`');
    line.len() - rest.len() >= 3 && !rest.contains([' ', '`'])
}

/// docs/diagnostics.md: one section per code, the single source of what
/// `skillc explain CODE` prints (and of the language server's hover).
const DOCS: &str = include_str!("../../docs/diagnostics.md");

impl Code {
    /// The code's section of docs/diagnostics.md, from its `## ` heading to
    /// the next one.
    pub fn docs_section(self) -> Option<&'static str> {
        let heading = format!("## `{}`", self.as_str());
        let at = DOCS.match_indices(&heading).map(|(i, _)| i).find(|&i| DOCS[i + heading.len()..].starts_with('\n'))?;
        let rest = &DOCS[at + heading.len()..];
        let end = rest.find("\n## ").map_or(rest.len(), |i| i + 1);
        Some(&rest[..end])
    }

    /// What `skillc explain CODE` prints: the summary, then the code's
    /// section of docs/diagnostics.md (when it is reported, an example, how
    /// to fix it) with the code fences taken out and code indented.
    pub fn explanation(self) -> String {
        let mut out = format!("{}: {}\n", self.as_str(), self.summary());
        let Some(section) = self.docs_section() else { return out };
        let mut lines: Vec<String> = Vec::new();
        // The lines of the code block being read, when in one.
        let mut block: Option<Vec<String>> = None;
        for line in section.lines() {
            match (&mut block, is_fence(line)) {
                (None, true) => block = Some(Vec::new()),
                (None, false) => lines.push(line.to_string()),
                (Some(code), false) => code.push(if line.is_empty() { String::new() } else { format!("    {line}") }),
                (Some(code), true) => {
                    // The section's own `$ skillc explain` block is the summary above.
                    if !code.first().is_some_and(|l| l.trim_start().starts_with("$ skillc explain")) {
                        lines.append(code);
                    }
                    block = None;
                }
            }
        }
        // Blank lines are collapsed (one follows the summary), none trail.
        let mut previous_blank = false;
        for line in lines {
            let blank = line.trim().is_empty();
            if !(blank && previous_blank) {
                out.push_str(if blank { "" } else { &line });
                out.push('\n');
            }
            previous_blank = blank;
        }
        while out.ends_with("\n\n") {
            out.pop();
        }
        out
    }
}
