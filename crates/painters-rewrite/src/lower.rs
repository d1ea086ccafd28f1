//! Lowering a `Plan` to the `Schedule` the emitter executes: sequences
//! flatten, repeats unroll, parallel groups become one stage each.
use crate::plan::Plan;
use crate::schedule::{Schedule, Stage};

/// Lowers a validated plan.
pub fn lower(plan: &Plan) -> Schedule {
    let mut stages = Vec::new();
    push(plan, &mut stages);
    Schedule { stages }
}

fn push(plan: &Plan, out: &mut Vec<Stage>) {
    match plan {
        Plan::Block(i) => out.push(Stage::Block(*i)),
        Plan::Seq(items) => items.iter().for_each(|p| push(p, out)),
        Plan::Repeat { body, times } => (0..*times).for_each(|_| push(body, out)),
        Plan::Parallel(branches) => out.push(Stage::Parallel(
            branches
                .iter()
                .map(|b| {
                    let mut v = Vec::new();
                    push(b, &mut v);
                    v
                })
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    #[test]
    fn unrolls_and_groups() {
        let s = lower(&parse("0,[1,(2-3)]*2,4").unwrap_or_else(|e| panic!("{e}")));
        let par = Stage::Parallel(vec![vec![Stage::Block(1)], vec![Stage::Block(2), Stage::Block(3)]]);
        assert_eq!(s.stages, vec![Stage::Block(0), par.clone(), par, Stage::Block(4)]);
        assert_eq!(s.instances(), vec![0, 1, 2, 3, 1, 2, 3, 4]);
    }
}
