//! `painters rewrite MODEL (--plan P | --plan-file F | --preset NAME …) -o OUT`.
use std::path::PathBuf;

use painters_rewrite::{plan_write, Progress, WriteOptions, WriteReport};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An .onnx file or a model folder
    model: PathBuf,
    #[command(flatten)]
    plan: super::plansrc::PlanArgs,
    /// The output .onnx file (its folder also receives tokenizer and config files)
    #[arg(short, long)]
    output: PathBuf,
    /// Print what would be written (the schedule of instances, where the weights go, the folder files) and write nothing
    #[arg(long)]
    dry_run: bool,
    /// Store weights in OUT.data even when they would fit inline
    #[arg(long)]
    external_data: bool,
    /// Into another folder: hard-link the source's weight files instead of copying the used tensors
    #[arg(long)]
    link: bool,
    /// Add every block instance's output as a graph output painters.hidden.{k} (and painters.hidden.input)
    #[arg(long)]
    tap: bool,
    /// fsync every written file before renaming it into place (durability across a power loss;
    /// writes are atomic either way)
    #[arg(long)]
    sync: bool,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn main(args: Args) -> anyhow::Result<()> {
    let src = super::resolve_model(&args.model)?;
    // An inline-weights model is read whole (copied and hashed): stream it in ahead of the parser.
    let inline_weights = std::fs::metadata(&src).map(|m| m.len() > 64 << 20).unwrap_or(false);
    let (model, layout) = painters_rewrite::open(&src, inline_weights && !args.dry_run)?;
    let plan = args.plan.resolve(layout.num_blocks())?;
    let as_dir = args.output.is_dir() || args.output.as_os_str().to_string_lossy().ends_with('/');
    let out = if as_dir { args.output.join("model.onnx") } else { args.output.clone() };
    // A progress bar (stderr, when it is a terminal) while weights are copied into a new data file.
    let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:>12} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("weights");
    let progress = {
        let bar = bar.clone();
        Progress(std::sync::Arc::new(move |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        }))
    };
    let opts = WriteOptions {
        external_data: args.external_data,
        link: args.link,
        tap: args.tap,
        sync: args.sync,
        progress: Some(progress),
    };
    let write = plan_write(&model, &layout, &plan, &out, &opts)?;
    let report = if args.dry_run {
        write.report().clone()
    } else {
        let done = write.execute(&opts);
        bar.finish_and_clear();
        done?
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report)?;
    }
    Ok(())
}

fn print_report(report: &WriteReport) -> anyhow::Result<()> {
    println!("plan      {}", report.plan);
    println!("blocks    {} in the source, {} instances", report.source_blocks, report.instances);
    if report.dry_run {
        println!("schedule  (k: block, copy, KV slot, output stream)");
        for i in &report.schedule {
            let copy = if i.copy > 0 { format!(", copy {} (suffix {})", i.copy, i.suffix) } else { String::new() };
            let kv = match (i.kv_slot, i.kv_slots) {
                (Some(s), 1) => format!(", KV slot {s}"),
                (Some(s), n) => format!(", KV slots {s}-{}", s + n - 1),
                (None, _) => String::new(),
            };
            println!("  {:>3}: block {:>3}{copy}{kv} → {}", i.k, i.block, i.output);
        }
    }
    let weights = serde_json::to_value(report.weights)?;
    let verb = if report.dry_run { "would write" } else { "wrote" };
    println!("{verb:<9} {}", report.output.display());
    println!(
        "weights   {} ({} bytes {}){}",
        weights.as_str().unwrap_or_default(),
        report.weight_bytes_copied,
        if report.dry_run { "to copy" } else { "copied" },
        if report.data_files.is_empty() {
            String::new()
        } else {
            format!(": {}", report.data_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
        }
    );
    if !report.copied_files.is_empty() {
        println!("{:<9} {}", if report.dry_run { "would copy" } else { "copied" }, report.copied_files.join(", "));
    }
    if report.dry_run {
        println!("dry run: nothing written");
    }
    Ok(())
}
