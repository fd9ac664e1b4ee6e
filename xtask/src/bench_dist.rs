//! `cargo xtask bench dist`: f32 all-reduce at world sizes 2 and 4 on this machine, from 1 KiB to
//! 256 MiB, for tessera's threads, TCP and MPI backends against PyTorch's gloo and Open MPI (shared
//! memory and TCP), all in one run, interleaved (every contender once per round, three rounds, best of
//! each): this machine's speed drifts by tens of percent over minutes. Contenders whose tools are
//! missing (python3 with torch, mpicc/mpirun) are skipped and said so. Rewrites the `dist` section of
//! `docs/benchmarks.md`.

use serde_json::Value;
use std::collections::BTreeMap;

use crate::bench::{machine, replace_section, today};
use crate::util::{cargo_bin, output, root, succeeds, target_dir};

const SIZES: &str = "1024,65536,1048576,16777216,67108864,268435456";
const WORLDS: [usize; 2] = [2, 4];
const ROUNDS: usize = 3;

/// Best (time_us, busbw) per message size, per (world size, contender index).
type Best = BTreeMap<(usize, usize), BTreeMap<u64, (f64, f64)>>;

/// One contender: a name and the command that prints `{"results": [...]}` for `world` ranks.
struct Contender {
    name: &'static str,
    command: Box<dyn Fn(usize) -> (String, Vec<String>)>,
}

fn results(text: &str) -> Result<Vec<(u64, f64, f64)>, String> {
    let line = text.lines().rev().find(|l| l.trim_start().starts_with('{')).ok_or("no JSON line")?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))?;
    let rows = v["results"].as_array().ok_or("no results")?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r["bytes"].as_u64().unwrap_or(0),
                r["time_us"].as_f64().unwrap_or(0.0),
                r["busbw_gbps"].as_f64().unwrap_or(0.0),
            )
        })
        .collect())
}

/// Runs the dist benchmark and rewrites its section of `docs/benchmarks.md`.
pub fn run() -> Result<(), String> {
    let root = root();
    let mpi = crate::util::mpi_available();
    let mut build = vec!["build", "-q", "--release", "-p", "tessera-cli"];
    if mpi {
        build.extend(["--features", "mpi"]);
    }
    output(&root, &cargo_bin(), &build, &[])?;
    let tessera = target_dir().join("release/tessera").to_string_lossy().into_owned();
    let bench_mpi = target_dir().join("release/bench_mpi").to_string_lossy().into_owned();
    let mut contenders: Vec<Contender> = Vec::new();
    for backend in ["threads", "tcp", "mpi"] {
        if backend == "mpi" && !mpi {
            continue;
        }
        let t = tessera.clone();
        contenders.push(Contender {
            name: match backend {
                "threads" => "tessera threads",
                "tcp" => "tessera tcp",
                _ => "tessera mpi",
            },
            command: Box::new(move |n| {
                let args = [
                    "dist",
                    "bench",
                    "--backend",
                    backend,
                    "--nproc",
                    &n.to_string(),
                    "--sizes",
                    SIZES,
                    "--json",
                ];
                (t.clone(), args.iter().map(|s| s.to_string()).collect())
            }),
        });
    }
    if succeeds("python3", &["-c", "import torch.distributed"]) {
        contenders.push(Contender {
            name: "torch gloo",
            command: Box::new(|n| {
                ("python3".into(), vec!["scripts/bench_gloo.py".into(), n.to_string(), SIZES.into()])
            }),
        });
    } else {
        eprintln!("bench dist: python3 with torch not found; gloo skipped");
    }
    if mpi {
        output(&root, "mpicc", &["-O2", "-o", &bench_mpi, "scripts/bench_mpi.c"], &[])?;
        for (name, tcp) in [("Open MPI shm", false), ("Open MPI tcp", true)] {
            let b = bench_mpi.clone();
            contenders.push(Contender {
                name,
                command: Box::new(move |n| {
                    let mut args = vec!["--allow-run-as-root".to_string(), "--oversubscribe".into()];
                    if tcp {
                        args.extend(["--mca".into(), "btl".into(), "tcp,self".into()]);
                    }
                    args.extend(["-np".into(), n.to_string(), b.clone(), SIZES.into()]);
                    ("mpirun".into(), args)
                }),
            });
        }
    } else {
        eprintln!("bench dist: mpicc/mpirun not found; MPI contenders skipped");
    }
    // best[(world, contender)][bytes] = (time_us, busbw)
    let mut best: Best = BTreeMap::new();
    let mut commands = Vec::new();
    for round in 0..ROUNDS {
        for &world in &WORLDS {
            for (ci, c) in contenders.iter().enumerate() {
                let (program, args) = (c.command)(world);
                let shown = format!("{program} {}", args.join(" "));
                if round == 0 {
                    commands.push(
                        shown
                            .replace(&tessera, "target/release/tessera")
                            .replace(&bench_mpi, "target/release/bench_mpi"),
                    );
                }
                eprintln!("bench dist: round {}/{ROUNDS}, {} ranks: {}", round + 1, world, c.name);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let text = output(&root, &program, &args, &[])?;
                let entry = best.entry((world, ci)).or_default();
                for (bytes, t, bw) in results(&text).map_err(|e| format!("{}: {e}", c.name))? {
                    let slot = entry.entry(bytes).or_insert((f64::INFINITY, 0.0));
                    if t < slot.0 {
                        *slot = (t, bw);
                    }
                }
            }
        }
    }
    let section = render(&contenders, &best, &commands);
    let path = root.join("docs/benchmarks.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    std::fs::write(&path, replace_section(&doc, "dist", &section))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    print!("{section}");
    Ok(())
}

fn size_name(b: u64) -> String {
    match b {
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b => format!("{} KiB", b >> 10),
    }
}

fn render(contenders: &[Contender], best: &Best, commands: &[String]) -> String {
    let mut s = format!(
        "Measured {} on {}: f32 all-reduce (sum), every result checked against the exact sum; {ROUNDS} \
         interleaved rounds, best of each. Bus bandwidth = algorithm bandwidth x 2(N-1)/N (GB/s = 10^9 B/s), \
         time = the slowest rank's mean per call. All ranks on this one machine (loopback, shared cores).\n\n",
        today(),
        machine()
    );
    let gloo = contenders.iter().position(|c| c.name == "torch gloo");
    let tcp = contenders.iter().position(|c| c.name == "tessera tcp");
    for &world in &WORLDS {
        s.push_str(&format!("**{world} ranks** — bus bandwidth GB/s (time per call)\n\n| size |"));
        for c in contenders {
            s.push_str(&format!(" {} |", c.name));
        }
        if gloo.is_some() {
            s.push_str(" gloo time / tcp time |");
        }
        s.push_str("\n|---|");
        for _ in contenders {
            s.push_str("---:|");
        }
        if gloo.is_some() {
            s.push_str("---:|");
        }
        s.push('\n');
        let sizes: Vec<u64> = best.get(&(world, 0)).map(|m| m.keys().copied().collect()).unwrap_or_default();
        for b in sizes {
            s.push_str(&format!("| {} |", size_name(b)));
            for ci in 0..contenders.len() {
                match best.get(&(world, ci)).and_then(|m| m.get(&b)) {
                    Some((t, bw)) if *t >= 1000.0 => {
                        s.push_str(&format!(" {bw:.2} ({:.1} ms) |", t / 1000.0))
                    }
                    Some((t, bw)) => s.push_str(&format!(" {bw:.3} ({t:.0} us) |",)),
                    None => s.push_str(" - |"),
                }
            }
            if let (Some(g), Some(t)) = (gloo, tcp) {
                let time = |ci: usize| best.get(&(world, ci)).and_then(|m| m.get(&b)).map(|x| x.0);
                match (time(t), time(g)) {
                    (Some(ours), Some(theirs)) => s.push_str(&format!(" {:.2}x |", theirs / ours)),
                    _ => s.push_str(" - |"),
                }
            }
            s.push('\n');
        }
        s.push('\n');
    }
    s.push_str("Commands (each round runs them in this order; `cargo xtask bench dist` builds and runs them all):\n\n```sh\n");
    for c in commands {
        s.push_str(c);
        s.push('\n');
    }
    s.push_str("```\n");
    s
}
