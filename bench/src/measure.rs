// SPDX-License-Identifier: MIT OR Apache-2.0

//! Timing loops. Under `-icount shift=0` guest time counts instructions, so
//! one measured pass after a warm-up gives the same figure every run.

use std::time::Instant;

/// Nanoseconds per call of `op`, over `iterations` calls after a warm-up of
/// a tenth as many.
pub fn ns_per_op(iterations: u64, mut op: impl FnMut()) -> f64 {
    // Every subject is called the same way, through a pointer the optimiser
    // cannot see through: otherwise one subject's body may be inlined into
    // the loop and another's not, and the ratio measures that.
    let op: &mut dyn FnMut() = std::hint::black_box(&mut op);
    for _ in 0..iterations / 10 {
        op();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        op();
    }
    start.elapsed().as_nanos() as f64 / iterations as f64
}

/// The median of some samples (sorted in place).
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    }
}
