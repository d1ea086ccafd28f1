//! The plan parser (grammar in DESIGN.md §4). Errors carry the column:
//! `plan:1:7: expected a block index`.
//!
//! ```text
//! plan  := stage ("," stage)*
//! stage := atom ("*" INT)?
//! atom  := INT | INT "-" INT | "[" plan "]" | "(" plan ")"
//! ```
//! In a sequence a range expands to its blocks; inside `[...]` a range
//! expands to single-block branches. `(…)` is always a `Seq`, the top level
//! too; `a-b*K` repeats the range as one `Seq`.
use crate::plan::{Plan, MAX_DEPTH, MAX_INSTANCES};

/// A syntax error at a 1-based column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plan:1:{column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

/// Parses a plan string; the result is always a top-level `Seq`.
pub fn parse(text: &str) -> Result<Plan, ParseError> {
    let mut p = Parser { chars: text.char_indices().collect(), pos: 0, depth: 0 };
    let items = p.items()?;
    p.skip_ws();
    if let Some(c) = p.peek() {
        let msg = match c {
            ']' | ')' => format!("unmatched '{c}'"),
            _ => format!("unexpected '{c}'; expected ',' or the end of the plan"),
        };
        return Err(p.error(msg));
    }
    Ok(Plan::Seq(items))
}

struct Parser {
    chars: Vec<(usize, char)>,
    pos: usize,
    /// Nesting of `[` and `(` at the current position.
    depth: usize,
}

/// What one stage contributes to its enclosing list.
enum Parsed {
    /// A range or single block: expands in place.
    Blocks(Vec<usize>),
    One(Plan),
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError { column: self.pos + 1, message: message.into() }
    }

    /// `stage ("," stage)*`, with ranges expanded into their blocks.
    fn items(&mut self) -> Result<Vec<Plan>, ParseError> {
        let mut out = Vec::new();
        let mut instances = 0usize;
        loop {
            let at = self.pos;
            match self.stage()? {
                Parsed::Blocks(b) => {
                    instances = instances.saturating_add(b.len());
                    out.extend(b.into_iter().map(Plan::Block));
                }
                Parsed::One(p) => {
                    instances = instances.saturating_add(p.instances());
                    out.push(p);
                }
            }
            if instances > MAX_INSTANCES {
                return Err(ParseError { column: at + 1, message: too_many(instances) });
            }
            self.skip_ws();
            if self.peek() == Some(',') {
                self.pos += 1;
            } else {
                return Ok(out);
            }
        }
    }

    fn stage(&mut self) -> Result<Parsed, ParseError> {
        let atom = self.atom()?;
        self.skip_ws();
        if self.peek() != Some('*') {
            return Ok(atom);
        }
        self.pos += 1;
        self.skip_ws();
        let at = self.pos;
        let times = self.int("a repeat count")?;
        if times == 0 {
            return Err(ParseError { column: at + 1, message: "repeat count must be at least 1".into() });
        }
        let body = match atom {
            Parsed::Blocks(b) if b.len() == 1 => Plan::Block(b[0]),
            Parsed::Blocks(b) => Plan::Seq(b.into_iter().map(Plan::Block).collect()),
            Parsed::One(p) => p,
        };
        let plan = Plan::Repeat { body: Box::new(body), times };
        if plan.instances() > MAX_INSTANCES {
            return Err(ParseError { column: at + 1, message: too_many(plan.instances()) });
        }
        Ok(Parsed::One(plan))
    }

    fn atom(&mut self) -> Result<Parsed, ParseError> {
        self.skip_ws();
        if matches!(self.peek(), Some('[' | '(')) && self.depth >= MAX_DEPTH {
            return Err(self.error(format!("groups nested more than {MAX_DEPTH} deep")));
        }
        match self.peek() {
            Some('[') => {
                self.pos += 1;
                self.depth += 1;
                self.skip_ws();
                if self.peek() == Some(']') {
                    return Err(self.error("empty parallel group"));
                }
                let branches = self.items()?;
                self.close(']')?;
                self.depth -= 1;
                Ok(Parsed::One(Plan::Parallel(branches)))
            }
            Some('(') => {
                self.pos += 1;
                self.depth += 1;
                self.skip_ws();
                if self.peek() == Some(')') {
                    return Err(self.error("empty group"));
                }
                let items = self.items()?;
                self.close(')')?;
                self.depth -= 1;
                Ok(Parsed::One(Plan::Seq(items)))
            }
            _ => {
                let a = self.int("a block index")?;
                self.skip_ws();
                if self.peek() != Some('-') {
                    return Ok(Parsed::Blocks(vec![a]));
                }
                self.pos += 1;
                self.skip_ws();
                let at = self.pos;
                let b = self.int("a block index after '-'")?;
                let len = a.abs_diff(b).saturating_add(1);
                if len > MAX_INSTANCES {
                    return Err(ParseError { column: at + 1, message: too_many(len) });
                }
                let blocks = if a <= b { (a..=b).collect() } else { (b..=a).rev().collect() };
                Ok(Parsed::Blocks(blocks))
            }
        }
    }

    fn close(&mut self, c: char) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(match self.peek() {
                Some(x) => format!("expected '{c}', found '{x}'"),
                None => format!("expected '{c}' before the end of the plan"),
            }))
        }
    }

    fn int(&mut self, what: &str) -> Result<usize, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            self.pos = start;
            return Err(self.error(format!("expected {what}")));
        }
        let s: String = self.chars[start..self.pos].iter().map(|&(_, c)| c).collect();
        s.parse().map_err(|_| ParseError { column: start + 1, message: format!("number '{s}' is too large") })
    }
}

fn too_many(n: usize) -> String {
    format!("the plan runs {n} block instances or more; the limit is {MAX_INSTANCES} (each instance becomes graph nodes)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Plan {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn design_examples_round_trip() {
        for s in [
            "0-31",
            "0-11,21-31",
            "0-11,16*9,21-31",
            "0-11,20-12,21-31",
            "0-11,17,12,20,14,19,13,16,18,15,21-31",
            "0-11,[12-20],21-31",
            "0-11,[12-20]*3,21-31",
            "0-9,11,10,12-31",
            "0-23,8-31",
            "[(0-1),(1,0)],1-3",
            "[(0-2),(2-0)],1-3",
            "(0,[0-1]*2)*2,3",
        ] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn order_is_the_block_sequence_of_a_plan_that_averages_nothing() {
        for s in ["0-3", "0-1,2*1,3", "0-1,[2],3", "(0,[1]),[(2,3)]*1"] {
            assert_eq!(p(s).order(), Some(vec![0, 1, 2, 3]), "{s}");
        }
        assert_eq!(p("0,[1]*3,2").order(), Some(vec![0, 1, 1, 1, 2]));
        assert_eq!(p("3-0").order(), Some(vec![3, 2, 1, 0]));
        for s in ["0,[1-2],3", "0,[1,2]*1,3", "([(0),(1)])"] {
            assert_eq!(p(s).order(), None, "{s} averages");
        }
    }

    #[test]
    fn ranges_expand() {
        assert_eq!(p("2-4"), Plan::sequence([2, 3, 4]));
        assert_eq!(p("4-2"), Plan::sequence([4, 3, 2]));
        assert_eq!(p("[1-3]"), Plan::Seq(vec![Plan::Parallel(vec![Plan::Block(1), Plan::Block(2), Plan::Block(3)])]));
        assert_eq!(
            p("2-3*2"),
            Plan::Seq(vec![Plan::Repeat { body: Box::new(Plan::sequence([2, 3])), times: 2 }])
        );
        assert_eq!(p(" 0 , 1 - 2 "), Plan::sequence([0, 1, 2]));
    }

    #[test]
    fn canonical_form_compresses_and_normalises() {
        assert_eq!(p("0,1,2,3").to_string(), "0-3");
        assert_eq!(p("[12,13,14]*2").to_string(), "[12-14]*2");
        assert_eq!(p("5,4").to_string(), "5,4");
        assert_eq!(p("5-4").to_string(), "5,4");
        assert_eq!(p("6,5,4").to_string(), "6-4");
        assert_eq!(p("3,3").to_string(), "3,3");
        assert_eq!(p("((0-1)*2)*3").to_string(), "((0-1)*2)*3");
    }

    #[test]
    fn huge_plans_are_refused_before_they_are_expanded() {
        for (text, column) in [("[0-5]*99999999999", 7), ("6-47113691856", 3), ("0-99999,0-9", 9), ("(0*1000)*1000", 10)] {
            let e = parse(text).unwrap_err();
            assert!(e.message.contains("limit is 100000"), "{text}: {e}");
            assert_eq!(e.column, column, "{text}: {e}");
        }
        let deep = format!("{}0{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert!(parse(&deep).unwrap_err().message.contains("nested more than"));
        assert!(parse(&format!("{}0{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH))).is_ok());
        assert!(parse("0-99998").is_ok());
    }

    #[test]
    fn indices_near_usize_max_print_without_wrapping() {
        // Found by the fuzzer: `MAX,0` printed as the range `MAX-0`.
        for s in ["18446744073709551615,0", "9223372036854775807,9223372036854775808,0", "1,9223372036854775808", "0,18446744073709551615"] {
            let plan = p(s);
            assert_eq!(parse(&plan.to_string()).unwrap(), plan, "{s}");
        }
        assert_eq!(p("18446744073709551614,18446744073709551615").to_string(), "18446744073709551614-18446744073709551615");
        assert_eq!(p("18446744073709551615,18446744073709551614,18446744073709551613").to_string(), "18446744073709551615-18446744073709551613");
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = |s: &str| parse(s).unwrap_err().to_string();
        assert_eq!(e("0-11,*3"), "plan:1:6: expected a block index");
        assert_eq!(e("0-11,x"), "plan:1:6: expected a block index");
        assert_eq!(e("0-"), "plan:1:3: expected a block index after '-'");
        assert_eq!(e("[]"), "plan:1:2: empty parallel group");
        assert_eq!(e("()"), "plan:1:2: empty group");
        assert_eq!(e("3*0"), "plan:1:3: repeat count must be at least 1");
        assert_eq!(e("[1,2"), "plan:1:5: expected ']' before the end of the plan");
        assert_eq!(e("1,2]"), "plan:1:4: unmatched ']'");
        assert_eq!(e("1 2"), "plan:1:3: unexpected '2'; expected ',' or the end of the plan");
        assert_eq!(e(""), "plan:1:1: expected a block index");
        assert_eq!(e("99999999999999999999999"), "plan:1:1: number '99999999999999999999999' is too large");
    }

    fn arb_plan() -> impl proptest::strategy::Strategy<Value = Plan> {
        use proptest::prelude::*;
        let leaf = (0usize..40).prop_map(Plan::Block);
        let inner = leaf.prop_recursive(4, 48, 5, |inner| {
            let body = prop_oneof![
                (0usize..40).prop_map(Plan::Block),
                proptest::collection::vec(inner.clone(), 1..5).prop_map(Plan::Seq),
                proptest::collection::vec(inner.clone(), 1..5).prop_map(Plan::Parallel),
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 1..5).prop_map(Plan::Seq),
                proptest::collection::vec(inner.clone(), 1..5).prop_map(Plan::Parallel),
                (body, 1usize..5).prop_map(|(b, t)| Plan::Repeat { body: Box::new(b), times: t }),
            ]
        });
        proptest::collection::vec(inner, 1..6).prop_map(Plan::Seq)
    }

    proptest::proptest! {
        #[test]
        fn display_then_parse_is_identity(plan in arb_plan()) {
            let text = plan.to_string();
            let back = parse(&text).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{text}: {e}")))?;
            proptest::prop_assert_eq!(back, plan, "{}", text);
        }
    }
}
