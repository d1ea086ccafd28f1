//! `painters inspect MODEL [--json]`.
use std::path::PathBuf;

use anyhow::Context;
use painters_graph::summary::ModelSummary;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An .onnx file or a model folder
    model: PathBuf,
    /// Print the report as JSON (schema in the README)
    #[arg(long)]
    json: bool,
}

pub fn main(args: Args) -> anyhow::Result<()> {
    let path = super::resolve_model(&args.model)?;
    let (model, layout) = painters_rewrite::open(&path, false).with_context(|| format!("{}", path.display()))?;
    let summary = ModelSummary::new(&model, &layout);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", render(&summary));
    }
    Ok(())
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

fn render(s: &ModelSummary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let naming = serde_json::to_value(s.exporter.naming).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let detection = serde_json::to_value(s.detection).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let family = serde_json::to_value(s.family).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let _ = writeln!(o, "model      {}", s.model);
    let _ = writeln!(
        o,
        "exporter   {} {} (IR {}, opset {}), names: {naming}",
        s.exporter.producer, s.exporter.producer_version, s.exporter.ir_version, s.exporter.opset
    );
    let _ = writeln!(o, "family     {family}, {} block{} (found by {detection})", s.num_blocks, if s.num_blocks == 1 { "" } else { "s" });
    let _ = writeln!(
        o,
        "nodes      {} total: prologue {}, blocks {}, epilogue {}",
        s.total_nodes,
        s.prologue_nodes,
        s.blocks.iter().map(|b| b.nodes).sum::<usize>(),
        s.epilogue_nodes
    );
    let _ = writeln!(o, "parameters {}", human_bytes(s.parameter_bytes));
    if !s.external_data.is_empty() {
        let _ = writeln!(o, "external   {}", s.external_data.join(", "));
    }
    let _ = writeln!(o, "\n{:>5} {:>6} {:>10}  residual input -> output", "block", "nodes", "params");
    for b in &s.blocks {
        let _ = writeln!(o, "{:>5} {:>6} {:>10}  {} -> {}", b.index, b.nodes, human_bytes(b.parameter_bytes), b.input, b.output);
        if !b.kv_inputs.is_empty() || !b.kv_outputs.is_empty() {
            let _ = writeln!(o, "{:>24}kv: {} -> {}", "", b.kv_inputs.join(", "), b.kv_outputs.join(", "));
        }
    }
    let _ = writeln!(o, "\ncontext ({}): {}", s.context.len(), s.context.join(", "));
    let io = |v: &[painters_graph::summary::TensorInfo]| {
        v.iter()
            .map(|t| {
                let dims: Vec<String> = t.shape.iter().map(|d| d.as_str().map(String::from).unwrap_or_else(|| d.to_string())).collect();
                format!("{} {}[{}]", t.name, t.dtype, dims.join(","))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(o, "inputs:  {}", io(&s.inputs));
    let _ = writeln!(o, "outputs: {}", io(&s.outputs));
    let painters_meta: Vec<String> =
        s.metadata.iter().filter(|(k, _)| k.starts_with(painters_graph::conventions::meta::PREFIX)).map(|(k, v)| format!("{k} = {v}")).collect();
    if !painters_meta.is_empty() {
        let _ = writeln!(o, "provenance:\n  {}", painters_meta.join("\n  "));
    }
    o
}
