//! `painters plan`: print the explicit plan of a preset (or the canonical
//! form of a plan) and its schedule.
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    plan: super::plansrc::PlanArgs,
    /// Number of blocks T of the model
    #[arg(long, required_unless_present = "model", conflicts_with = "model")]
    layers: Option<usize>,
    /// Read T from a model instead of --layers
    #[arg(long)]
    model: Option<PathBuf>,
    /// Print {"plan", "layers", "instances", "schedule"} as JSON
    #[arg(long)]
    json: bool,
}

pub fn main(args: Args) -> anyhow::Result<()> {
    let layers = match (&args.model, args.layers) {
        (Some(m), _) => {
            let path = super::resolve_model(m)?;
            painters_rewrite::open(&path, false)?.1.num_blocks()
        }
        (None, Some(t)) => t,
        (None, None) => anyhow::bail!("give --layers T or --model MODEL"),
    };
    let plan = args.plan.resolve(layers)?;
    if args.json {
        let schedule: Vec<usize> = plan.blocks();
        let v = serde_json::json!({
            "plan": plan.to_string(),
            "layers": layers,
            "instances": plan.instances(),
            "schedule": schedule,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{plan}");
    }
    Ok(())
}
