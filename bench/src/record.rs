// SPDX-License-Identifier: MIT OR Apache-2.0

//! One benchmark result: a ratio of two subjects measured in the same run,
//! with its target. Printed as one line behind [`PREFIX`].

use serde::{Deserialize, Serialize};

/// What starts a result line on a console or in a log.
pub const PREFIX: &str = "VPOLL-BENCH ";

/// Which way a ratio has to go.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub enum Target {
    /// The ratio must not exceed this.
    AtMost(f64),
    /// The ratio must reach at least this.
    AtLeast(f64),
}

impl Target {
    /// Whether `ratio` meets the target.
    pub fn met(self, ratio: f64) -> bool {
        match self {
            Target::AtMost(t) => ratio <= t,
            Target::AtLeast(t) => ratio >= t,
        }
    }

    /// "≤ 0.70" or "≥ 1.50".
    pub fn text(self) -> String {
        match self {
            Target::AtMost(t) => format!("≤ {t:.2}"),
            Target::AtLeast(t) => format!("≥ {t:.2}"),
        }
    }
}

/// One ratio: `ours` over `peer` (or, for speed-ups, as `what` says).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Ratio {
    /// The metric's id in the issue (P1…P7).
    pub id: String,
    /// What was measured, in a few words.
    pub what: String,
    /// Our subject and its figure.
    pub ours: Subject,
    /// The peer and its figure.
    pub peer: Subject,
    /// The result: `ours.value / peer.value`, or its inverse for a speed-up.
    pub ratio: f64,
    /// Lowest and highest ratio over repeated runs, where the mode is noisy.
    pub spread: Option<(f64, f64)>,
    /// `None` for a figure given for context only.
    pub target: Option<Target>,
    /// Where it ran: "guest, icount shift=0, 1 vCPU" and the like.
    pub mode: String,
}

/// A measured subject.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Subject {
    /// "vpoll ioctl ADD+DEL", "eventfd write+read", …
    pub name: String,
    /// The figure.
    pub value: f64,
    /// Its unit: "ns/op", "bytes/fd", "ops/s".
    pub unit: String,
}

impl Subject {
    /// A subject named `name` measured at `value` `unit`.
    pub fn new(name: impl Into<String>, value: f64, unit: &str) -> Subject {
        Subject {
            name: name.into(),
            value,
            unit: unit.into(),
        }
    }
}

impl Ratio {
    /// `ours / peer`, against `target`.
    pub fn of(
        id: &str,
        what: &str,
        ours: Subject,
        peer: Subject,
        target: Option<Target>,
        mode: &str,
    ) -> Ratio {
        Ratio {
            id: id.into(),
            what: what.into(),
            ratio: ours.value / peer.value,
            ours,
            peer,
            spread: None,
            target,
            mode: mode.into(),
        }
    }

    /// Whether the target is met (`None` for context figures).
    pub fn met(&self) -> Option<bool> {
        self.target.map(|t| t.met(self.ratio))
    }

    /// The line to print.
    pub fn line(&self) -> String {
        format!(
            "{PREFIX}{}",
            serde_json::to_string(self).expect("a Ratio serialises")
        )
    }

    /// Parses a line that holds [`PREFIX`] (anywhere: consoles prefix timestamps).
    pub fn parse(line: &str) -> Option<Ratio> {
        let (_, json) = line.split_once(PREFIX)?;
        serde_json::from_str(json.trim()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_round_trips_behind_a_timestamp() {
        let r = Ratio::of(
            "P1",
            "add+del",
            Subject::new("vpoll", 70.0, "ns/op"),
            Subject::new("eventfd", 100.0, "ns/op"),
            Some(Target::AtMost(0.70)),
            "test",
        );
        assert!((r.ratio - 0.70).abs() < 1e-9);
        assert_eq!(r.met(), Some(true));
        let parsed = Ratio::parse(&format!("[  1.0] {}\r", r.line())).unwrap();
        assert_eq!(parsed, r);
        assert_eq!(Ratio::parse("VPOLL-BENCH {broken"), None);
    }

    #[test]
    fn targets_go_both_ways() {
        assert!(Target::AtLeast(1.5).met(1.5));
        assert!(!Target::AtLeast(1.5).met(1.49));
        assert!(!Target::AtMost(1.0).met(1.01));
        assert_eq!(Target::AtMost(0.7).text(), "≤ 0.70");
    }
}
