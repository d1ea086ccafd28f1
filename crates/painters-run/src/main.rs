//! The `painters` command line: each subcommand parses its arguments, calls
//! one library function and prints. Errors are one line on stderr and a
//! non-zero exit.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

// Parsing and emitting ONNX graphs is dominated by small allocations (names,
// attributes); mimalloc makes them and their frees markedly cheaper than glibc.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "painters", version, about = "Rewrite the layer stack of transformer models exported to ONNX")]
struct Cli {
    /// The ONNX Runtime shared library (default: ORT_DYLIB_PATH, .ort/lib, the onnxruntime Python package)
    #[arg(long, global = true, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate a model on a task (perplexity, choice, generate, probe, fidelity, similarity)
    Eval(cli::eval::Args),
    /// Detect the block structure of a model and report it
    Inspect(cli::inspect::Args),
    /// Print the explicit plan of a preset, or the canonical form of a plan
    Plan(cli::plan::Args),
    /// Choose K blocks to remove (bi, angular, greedy, paper) and write the pruned model
    Prune(cli::prune::Args),
    /// Rewrite a model's block sequence by a plan and write the new model
    Rewrite(cli::rewrite::Args),
    /// Rewrite a model by every preset and start layer, evaluate a suite, write plots and a report
    Sweep(cli::sweep::Args),
    /// Run a model on the inputs of a reference file and compare (fixtures, debugging)
    Run(cli::run::Args),
}

/// A command-line mistake as painters' one line (clap's help and version print as usual).
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ErrorKind};
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    let text = e.to_string();
    // The first paragraph (clap lists missing arguments on the lines after a colon).
    let first: Vec<&str> = text.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
    let mut msg = first.join(" ").trim_start_matches("error: ").to_string();
    if let Some(clap::error::ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) {
        if arg.starts_with('-') && arg[1..].starts_with(|c: char| c.is_ascii_digit()) {
            msg.push_str(&format!(" (a value starting with '-' goes after '=', e.g. --plan={arg})"));
        }
    }
    if let Some(tip) = text.lines().find_map(|l| l.trim().strip_prefix("tip: ")) {
        msg.push_str(&format!("; {tip}"));
    }
    eprintln!("painters: error: {msg}; see painters --help");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    // Output piped into a reader that stops early (`painters ... | head -n 1`) ends the
    // process quietly, as it does other Unix tools, instead of a panic on the next print:
    // Rust ignores SIGPIPE by default, turning a closed pipe into a failed `println!`.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: called first in main, before any thread starts; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let result = match cli.command {
        Command::Eval(args) => cli::eval::main(args, cli.ort_lib.as_deref()),
        Command::Inspect(args) => cli::inspect::main(args),
        Command::Plan(args) => cli::plan::main(args),
        Command::Prune(args) => cli::prune::main(args, cli.ort_lib.as_deref()),
        Command::Rewrite(args) => cli::rewrite::main(args),
        Command::Sweep(args) => cli::sweep::main(args, cli.ort_lib.as_deref()),
        Command::Run(args) => cli::run::main(args, cli.ort_lib.as_deref()),
    };
    if std::env::var_os("PAINTERS_REPORT_IO").is_some() {
        // For benchmarks: the bytes this process read and wrote (Linux /proc/self/io).
        if let Ok(io) = std::fs::read_to_string("/proc/self/io") {
            eprintln!("painters-io: {}", io.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Each link of the chain prints its own context once (the
            // libraries' convention), so the links join as they are.
            let msg = e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ");
            eprintln!("painters: error: {}", msg.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
