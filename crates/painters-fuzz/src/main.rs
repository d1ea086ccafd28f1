//! The seeded, structure-aware fuzz harness (stable Rust; docs/FUZZ.md):
//!
//! ```text
//! painters-fuzz TARGET|all [--execs N] [--seed S] [--from I] [--out DIR]
//! painters-fuzz TARGET --replay FILE|DIR...
//! ```
//! Input `i` is `Target::generate(Rng::for_exec(seed, i))`. The work runs in
//! a child process so that what cannot be caught in-process (a stack
//! overflow, an allocation refused past the cap, a hang the watchdog
//! aborts) is still recorded: the supervisor reruns the last stretch with
//! every input written to disk first, and keeps the one that killed it.
//! Every violation's input is saved under `--out` (default `fuzz-crashes/`).
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use painters_fuzz::{run_one, Rng, Target};

#[global_allocator]
static ALLOC: painters_fuzz::alloc::Bounded = painters_fuzz::alloc::Bounded;

/// Checkpoint interval of the worker.
const CHECKPOINT: u64 = 1024;

#[derive(Debug)]
struct Opts {
    targets: Vec<Target>,
    execs: u64,
    seed: u64,
    from: u64,
    out: PathBuf,
    replay: Vec<PathBuf>,
    worker: bool,
    trace: Option<PathBuf>,
    dump: Option<PathBuf>,
}

fn parse_args() -> Result<Opts, String> {
    let mut args = std::env::args().skip(1);
    let mut o = Opts { targets: vec![], execs: 1_000_000, seed: 1, from: 0, out: "fuzz-crashes".into(), replay: vec![], worker: false, trace: None, dump: None };
    let num = |v: Option<String>, what: &str| -> Result<u64, String> {
        v.ok_or(format!("{what} needs a value"))?.replace('_', "").parse().map_err(|_| format!("{what}: not a number"))
    };
    let mut replaying = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--execs" => o.execs = num(args.next(), "--execs")?,
            "--seed" => o.seed = num(args.next(), "--seed")?,
            "--from" => o.from = num(args.next(), "--from")?,
            "--out" => o.out = args.next().ok_or("--out needs a value")?.into(),
            "--trace" => o.trace = Some(args.next().ok_or("--trace needs a value")?.into()),
            "--worker" => o.worker = true,
            "--dump" => o.dump = Some(args.next().ok_or("--dump needs a value")?.into()),
            "--replay" => replaying = true,
            "-h" | "--help" => return Err(String::new()),
            "all" => o.targets = Target::ALL.to_vec(),
            other if replaying => o.replay.push(other.into()),
            other => o.targets.push(Target::from_name(other).ok_or(format!("unknown target '{other}'"))?),
        }
    }
    if o.targets.is_empty() {
        return Err("give a target".into());
    }
    Ok(o)
}

fn usage() -> String {
    let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
    format!(
        "usage: painters-fuzz TARGET|all [--execs N] [--seed S] [--from I] [--out DIR]\n       painters-fuzz TARGET --replay FILE|DIR...\n       painters-fuzz TARGET --seed S --from I --execs N --dump DIR   (write inputs, run nothing)\ntargets: {}",
        names.join(", ")
    )
}

fn main() -> ExitCode {
    painters_fuzz::alloc::configure();
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("painters-fuzz: error: {e}");
            }
            eprintln!("{}", usage());
            return ExitCode::from(2);
        }
    };
    if o.targets == [Target::ModelMutate] && o.replay.len() == 2 && o.dump.is_some() {
        // `model_mutate --replay SCRIPT OUT.onnx --dump -`: writes the mutated
        // model, to run `painters inspect` on it.
        return materialize(&o.replay[0], &o.replay[1]);
    }
    if !o.replay.is_empty() {
        return replay(&o);
    }
    if o.worker {
        return worker(&o);
    }
    if let Some(dir) = &o.dump {
        // Writes inputs from..from+execs without running them (to extract one).
        for &t in &o.targets {
            for i in o.from..o.from.saturating_add(o.execs) {
                let data = t.generate(&mut Rng::for_exec(o.seed, i));
                let _ = std::fs::create_dir_all(dir.join(t.name()));
                let _ = std::fs::write(dir.join(t.name()).join(format!("s{}-i{i}", o.seed)), data);
            }
        }
        return ExitCode::SUCCESS;
    }
    let mut failed = false;
    for &t in &o.targets {
        failed |= supervise(&o, t) > 0;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn materialize(script: &Path, out: &Path) -> ExitCode {
    let Ok(data) = std::fs::read(script) else { return ExitCode::FAILURE };
    match painters_fuzz::mutate_model::apply(&data) {
        Some((bytes, dir)) if std::fs::write(out, &bytes).is_ok() => {
            println!("{} (external data, if any, resolves in {})", out.display(), dir.display());
            ExitCode::SUCCESS
        }
        _ => ExitCode::FAILURE,
    }
}

fn inputs(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
            v.sort();
            out.extend(v.into_iter().filter(|p| p.is_file()));
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn replay(o: &Opts) -> ExitCode {
    let mut bad = 0;
    let files = inputs(&o.replay);
    for &t in &o.targets {
        for f in &files {
            let data = match std::fs::read(f) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("painters-fuzz: error: cannot read {}: {e}", f.display());
                    return ExitCode::FAILURE;
                }
            };
            match run_one(t, &data) {
                Ok(()) => println!("{} {}: ok", t.name(), f.display()),
                Err(v) => {
                    bad += 1;
                    println!("{} {}: VIOLATION {v}", t.name(), f.display());
                }
            }
        }
    }
    if bad > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn save(out: &Path, t: Target, seed: u64, index: u64, data: &[u8]) -> PathBuf {
    let dir = out.join(t.name());
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("crash-s{seed}-i{index}"));
    let _ = std::fs::write(&path, data);
    path
}

/// Runs execs `from..from+execs` of one target, reporting on stdout.
fn worker(o: &Opts) -> ExitCode {
    let t = o.targets[0];
    // Silence the default panic message: `run_one` reports the panic.
    std::panic::set_hook(Box::new(|_| {}));
    static STARTED: AtomicU64 = AtomicU64::new(u64::MAX);
    static CURRENT: AtomicU64 = AtomicU64::new(0);
    let clock = Instant::now();
    {
        // 3x the bound of a 64 MiB input: the watchdog is for real hangs.
        let limit = t.time_bound(64 << 20).as_millis() as u64 * 3;
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            let s = STARTED.load(Ordering::Relaxed);
            if s != u64::MAX && (clock.elapsed().as_millis() as u64).saturating_sub(s) > limit {
                eprintln!("painters-fuzz: exec {} ran past {} ms: a hang", CURRENT.load(Ordering::Relaxed), limit);
                std::process::abort();
            }
        });
        let mut out = std::io::stdout().lock();
        let t0 = Instant::now();
        for i in o.from..o.from.saturating_add(o.execs) {
            if (i - o.from).is_multiple_of(CHECKPOINT) {
                let _ = writeln!(out, "ok {i}");
                let _ = out.flush();
            }
            let data = t.generate(&mut Rng::for_exec(o.seed, i));
            if let Some(trace) = &o.trace {
                let _ = std::fs::write(trace, &data);
                let _ = writeln!(out, "at {i}");
                let _ = out.flush();
            }
            CURRENT.store(i, Ordering::Relaxed);
            STARTED.store(clock.elapsed().as_millis() as u64, Ordering::Relaxed);
            let r = run_one(t, &data);
            STARTED.store(u64::MAX, Ordering::Relaxed);
            if let Err(v) = r {
                let path = save(&o.out, t, o.seed, i, &data);
                let _ = writeln!(out, "crash {i} {} | {}", path.display(), v.to_string().replace('\n', "\\n"));
                let _ = out.flush();
            }
        }
        let _ = writeln!(out, "done {} {:.3}", o.execs, t0.elapsed().as_secs_f64());
    }
    ExitCode::SUCCESS
}

/// Runs `o.execs` execs of `t` in child processes; prints the summary line;
/// returns the number of crashes.
fn supervise(o: &Opts, t: Target) -> usize {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("painters-fuzz: error: {e}");
            return 1;
        }
    };
    let end = o.from.saturating_add(o.execs);
    let mut next = o.from;
    let mut crashes = 0usize;
    let t0 = Instant::now();
    let trace = std::env::temp_dir().join(format!("painters-fuzz-{}-{}.input", t.name(), std::process::id()));
    let mut tracing_until: Option<u64> = None;
    let mut reported = std::collections::HashSet::new();
    while next < end {
        let count = match tracing_until {
            Some(u) => u.min(end) - next,
            None => end - next,
        };
        let mut cmd = Command::new(&exe);
        cmd.args(["--worker", t.name(), "--seed", &o.seed.to_string(), "--from", &next.to_string(), "--execs", &count.to_string()]);
        cmd.arg("--out").arg(&o.out);
        if tracing_until.is_some() {
            cmd.arg("--trace").arg(&trace);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("painters-fuzz: error: cannot start the worker: {e}");
                return crashes + 1;
            }
        };
        let stdout = child.stdout.take();
        let mut last_ok = next;
        let mut last_at = None;
        let mut done = false;
        if let Some(s) = stdout {
            for line in BufReader::new(s).lines().map_while(Result::ok) {
                let mut parts = line.splitn(2, ' ');
                let (kind, rest) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                match kind {
                    "ok" => last_ok = rest.parse().unwrap_or(last_ok),
                    "at" => last_at = rest.parse().ok(),
                    "crash" => {
                        // A traced rerun repeats the stretch: count each exec once.
                        let i: u64 = rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX);
                        if reported.insert(i) {
                            crashes += 1;
                            println!("{}: crash at exec {rest}", t.name());
                        }
                    }
                    "done" => done = true,
                    _ => {}
                }
            }
        }
        let stderr = child.wait_with_output().map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_default();
        if done {
            next += count;
            tracing_until = None;
            continue;
        }
        match (tracing_until, last_at) {
            (Some(_), Some(i)) => {
                // The traced input killed the worker: keep it, go on after it.
                crashes += 1;
                let data = std::fs::read(&trace).unwrap_or_default();
                let path = save(&o.out, t, o.seed, i, &data);
                let why: String = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("the worker died").to_string();
                println!("{}: crash at exec {i} {} | the process died: {why}", t.name(), path.display());
                next = i + 1;
                tracing_until = None;
            }
            (Some(_), None) => {
                eprintln!("painters-fuzz: error: the worker died before its first input: {stderr}");
                return crashes + 1;
            }
            (None, _) => {
                // Rerun the last stretch, writing each input first.
                next = last_ok;
                tracing_until = Some(last_ok + CHECKPOINT);
            }
        }
    }
    let _ = std::fs::remove_file(&trace);
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{}: {} execs in {:.1} s ({:.0}/s), seed {}, {} crash{}",
        t.name(),
        o.execs,
        secs,
        o.execs as f64 / secs.max(1e-9),
        o.seed,
        crashes,
        if crashes == 1 { "" } else { "es" }
    );
    crashes
}
