//! `painters run MODEL --inputs FILE [--json]`: run a model once on the
//! inputs of a reference file and report each output (and, when the file
//! has expected outputs, the largest absolute difference).
use std::path::{Path, PathBuf};

use painters_run::reference::{max_abs_diff, Reference};
use painters_run::{ModelSession, Runtime, SessionOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An .onnx file or a model folder
    model: PathBuf,
    /// A reference file: {"inputs": {...}, "outputs": {...}}
    #[arg(long, value_name = "FILE")]
    inputs: PathBuf,
    /// Intra-op threads (0: ONNX Runtime's default)
    #[arg(long, default_value_t = 0, value_parser = super::threads)]
    threads: usize,
    /// Graph optimization level: 0 (none) to 3 (all)
    #[arg(long, default_value_t = 3)]
    opt_level: u8,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn main(args: Args, ort_lib: Option<&Path>) -> anyhow::Result<()> {
    let path = super::resolve_model(&args.model)?;
    let model = painters_graph::OnnxModel::load(&path)?;
    model.clone().canonicalize()?; // valid input, as in every command; the session runs the file as it is
    let reference = Reference::load(&args.inputs)?;
    let runtime = Runtime::global(ort_lib)?;
    let opts = SessionOptions { threads: args.threads, optimization: args.opt_level, ..Default::default() };
    let mut session = ModelSession::open_model(runtime, &model, &opts)?;
    drop(model);
    let outputs = session.run(&reference.inputs)?;
    let mut report = Vec::new();
    for (name, t) in &outputs {
        let expected = reference.outputs.iter().find(|(n, _)| n == name).map(|(_, e)| e);
        let diff = expected.and_then(|e| max_abs_diff(t, e));
        report.push(serde_json::json!({"name": name, "shape": t.shape, "max_abs_diff": diff}));
        if !args.json {
            match diff {
                Some(d) => println!("{name} {:?} max |diff| = {d:.3e}", t.shape),
                None => println!("{name} {:?}", t.shape),
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"outputs": report}))?);
    }
    Ok(())
}
