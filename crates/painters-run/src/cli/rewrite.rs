//! `painters rewrite MODEL (--plan P | --plan-file F | --preset NAME …) -o OUT`.
use std::path::PathBuf;

use painters_rewrite::{rewrite_model, Progress, WriteOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An .onnx file or a model folder
    model: PathBuf,
    #[command(flatten)]
    plan: super::plansrc::PlanArgs,
    /// The output .onnx file (its folder also receives tokenizer and config files)
    #[arg(short, long)]
    output: PathBuf,
    /// Print the schedule and write nothing
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
        dry_run: args.dry_run,
        sync: args.sync,
        progress: Some(progress),
    };
    let report = rewrite_model(&model, &layout, &plan, &out, &opts);
    bar.finish_and_clear();
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("plan      {}", report.plan);
    println!("blocks    {} in the source, {} instances", report.source_blocks, report.instances);
    if args.dry_run {
        println!("schedule  (k: block, copy)");
        for i in &report.schedule {
            println!("  {:>3}: block {:>3}{}", i.k, i.block, if i.copy > 0 { format!(" (copy {})", i.copy) } else { String::new() });
        }
        println!("dry run: nothing written");
        return Ok(());
    }
    let weights = serde_json::to_value(report.weights)?;
    println!("wrote     {}", report.output.display());
    println!(
        "weights   {} ({} bytes copied){}",
        weights.as_str().unwrap_or_default(),
        report.weight_bytes_copied,
        if report.data_files.is_empty() {
            String::new()
        } else {
            format!(": {}", report.data_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
        }
    );
    if !report.copied_files.is_empty() {
        println!("copied    {}", report.copied_files.join(", "));
    }
    Ok(())
}
