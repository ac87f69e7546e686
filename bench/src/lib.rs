// SPDX-License-Identifier: MIT OR Apache-2.0

//! vpoll's benchmarks. Absolute times in an emulated guest are noise; what
//! counts is the ratio of two subjects measured in the same run. Every
//! benchmark therefore yields a [`Ratio`], printed as one line for the host
//! to collect (`vpoll-bench-report` turns them into a table and a plot).

pub mod churn;
pub mod fd;
pub mod http;
pub mod measure;
pub mod netstack;
pub mod record;
pub mod report;
