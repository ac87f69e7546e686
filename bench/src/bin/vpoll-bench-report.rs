// SPDX-License-Identifier: MIT OR Apache-2.0

//! Collects the result lines from guest consoles and host logs and writes the
//! table and the plot:
//!
//! ```text
//! vpoll-bench-report OUT_DIR HEADER LOG...
//! ```
//!
//! Writes OUT_DIR/benchmarks.md (HEADER, then the table) and
//! OUT_DIR/ratios.svg, prints the table, and exits 1 if a log holds no result
//! (a benchmark that did not run is a failure, not a blank row).

use std::path::PathBuf;
use vpoll_bench::record::Ratio;
use vpoll_bench::report;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: vpoll-bench-report OUT_DIR HEADER LOG...");
        std::process::exit(2);
    }
    let out = PathBuf::from(&args[0]);
    let header = &args[1];
    let mut ratios = Vec::new();
    for log in &args[2..] {
        let text = std::fs::read_to_string(log).unwrap_or_else(|e| {
            eprintln!("vpoll-bench-report: {log}: {e}");
            std::process::exit(1);
        });
        let found: Vec<Ratio> = text.lines().filter_map(Ratio::parse).collect();
        if found.is_empty() {
            eprintln!("vpoll-bench-report: {log} holds no benchmark result; read it for the cause");
            std::process::exit(1);
        }
        ratios.extend(found);
    }
    let table = report::markdown(&ratios);
    std::fs::create_dir_all(&out).expect("creating the output directory");
    std::fs::write(out.join("benchmarks.md"), format!("{header}\n\n{table}"))
        .expect("writing benchmarks.md");
    std::fs::write(
        out.join("ratios.svg"),
        report::svg(
            &ratios,
            "vpoll: ratios against peers measured in the same run",
        ),
    )
    .expect("writing ratios.svg");
    print!("{table}");
    let missed: Vec<_> = ratios
        .iter()
        .filter(|r| r.met() == Some(false))
        .map(|r| r.id.as_str())
        .collect();
    println!(
        "\n{} ratios, {} with targets, missed: {}",
        ratios.len(),
        ratios.iter().filter(|r| r.target.is_some()).count(),
        if missed.is_empty() {
            "none".to_string()
        } else {
            missed.join(", ")
        }
    );
}
