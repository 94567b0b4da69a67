//! spyload: SIP/RTP load for spygroup (or any SIP PBX with digest auth), and the
//! benchmark suite that `bench/run.sh` runs. See bench/README.md.
mod calls;
mod paired;
mod proc;
mod rtp;
mod sip;
mod suite;

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "spyload",
    about = "spygroup benchmark suite (SIP + G.711 RTP load on 127.0.0.1)"
)]
pub struct Args {
    /// Short run (< 2 minutes): coarser steps, shorter windows.
    #[arg(long)]
    pub quick: bool,
    /// The PBX binary.
    #[arg(long, default_value = "target/release/spygroup")]
    pub spygroup: PathBuf,
    /// The minimal relay binary.
    #[arg(long, default_value = "target/release/minirelay")]
    pub minirelay: PathBuf,
    /// The benchmark dialplan.
    #[arg(long, default_value = "bench/dialplan.conf")]
    pub dialplan: PathBuf,
    /// Where results go (<timestamp>.json/.md and latest.json).
    #[arg(long, default_value = "bench/results")]
    pub out: PathBuf,
    /// RTP worker threads in the tool (0: two, or one with `--pin`, where the
    /// tool has one core and a second thread would only take turns with the first).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Run only these parts (comma-separated: relay, setup, monitor, mini, queue;
    /// listen, 25% of calls listened to, runs only when named).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Upper bound on concurrent calls in the PBX scenarios.
    #[arg(long)]
    pub max_calls: Option<usize>,
    /// The concurrent-call steps of the capacity scenarios, PBX and minimal relay
    /// alike (comma-separated), instead of the quick or full run's own.
    #[arg(long, value_delimiter = ',')]
    pub steps: Vec<usize>,
    /// Override the measurement window in seconds.
    #[arg(long)]
    pub window: Option<f64>,
    /// Stop after this many seconds of total run time (remaining parts are skipped).
    #[arg(long, default_value_t = 570.0)]
    pub budget: f64,
    /// Do not write result files (validation runs).
    #[arg(long)]
    pub dry: bool,
    /// Pin the PBX (and the minimal relay) to CPU 0 and this load tool to CPU 1, so
    /// capacities are per core and the two do not take each other's time.
    #[arg(long)]
    pub pin: bool,
    /// The per-core run: `--pin`, then spygroup and the minimal relay measured in
    /// turn, `--rounds` times, on a grid fine around each one's limit (a coarse probe
    /// finds it), plus 25% of calls listened to and the set-up rate; the median and
    /// spread of each figure, a picture (bench/results/<stamp>-pinned.png).
    #[arg(long)]
    pub pinned: bool,
    /// Rounds of the per-core run (each: spygroup, then the minimal relay).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// An empty PostgreSQL database: the set-up rate is measured on it too, in the
    /// same run as on SQLite (`bench/run.sh` starts a throwaway server for this).
    #[arg(long, env = "SPYGROUP_BENCH_POSTGRES_URL", value_name = "URL")]
    pub postgres: Option<String>,
    /// Run only the soak: this many short calls (every fourth listened to) through
    /// one PBX, its RSS, open files and sockets sampled; `bench/soak.sh`.
    #[arg(long, value_name = "CALLS")]
    pub soak: Option<usize>,
    /// Calls a second in the soak.
    #[arg(long, default_value_t = 50.0)]
    pub soak_cps: f64,
    /// Run only the overload scenario: the PBX with `--max-calls CALLS`, that many
    /// calls up and as many more trying; `bench/overload.sh`.
    #[arg(long, value_name = "CALLS")]
    pub overload: Option<usize>,
    /// In the soak, one call in this many gets a listening supervisor (0: none).
    #[arg(long, default_value_t = 4)]
    pub soak_spy_every: usize,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    args.pin |= args.pinned;
    if args.workers == 0 {
        args.workers = if args.pin { 1 } else { 2 };
    }
    rtp::now_ns();
    suite::run(&args)
}
