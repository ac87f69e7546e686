// SPDX-License-Identifier: MIT OR Apache-2.0

//! The results as a Markdown table and as an SVG bar chart of the ratios,
//! each bar against its target.

use crate::record::{Ratio, Target};
use std::fmt::Write;

fn figure(value: f64, unit: &str) -> String {
    if value >= 100.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// The Markdown table, one row per ratio.
pub fn markdown(ratios: &[Ratio]) -> String {
    let mut out = String::from(
        "| id | what | ours | peer | ratio | target | met | mode |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in ratios {
        let ratio = match r.spread {
            Some((lo, hi)) => format!("**{:.3}** ({lo:.3}…{hi:.3})", r.ratio),
            None => format!("**{:.3}**", r.ratio),
        };
        let (target, met) = match (r.target, r.met()) {
            (Some(t), Some(true)) => (t.text(), "yes"),
            (Some(t), _) => (t.text(), "**no**"),
            (None, _) => ("context".to_string(), "–"),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {}: {} | {}: {} | {ratio} | {target} | {met} | {} |",
            r.id,
            r.what,
            r.ours.name,
            figure(r.ours.value, &r.ours.unit),
            r.peer.name,
            figure(r.peer.value, &r.peer.unit),
            r.mode
        );
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A horizontal bar per ratio, a tick at its target, green when met.
pub fn svg(ratios: &[Ratio], title: &str) -> String {
    const ROW: f64 = 28.0;
    const LABEL: f64 = 330.0;
    const PLOT: f64 = 420.0;
    const TOP: f64 = 48.0;
    let max = ratios
        .iter()
        .flat_map(|r| {
            let t = match r.target {
                Some(Target::AtMost(t) | Target::AtLeast(t)) => t,
                None => 0.0,
            };
            [r.ratio, r.spread.map_or(0.0, |s| s.1), t]
        })
        .fold(1.0_f64, f64::max)
        * 1.1;
    let x = |v: f64| LABEL + v / max * PLOT;
    let height = TOP + ROW * ratios.len() as f64 + 40.0;
    let width = LABEL + PLOT + 80.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">{}</text>"#,
        escape(title)
    );
    // Ratio 1.0: the peer's own figure.
    let _ = writeln!(
        out,
        r##"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#888" stroke-dasharray="4 3"/><text x="{0}" y="{3}" text-anchor="middle" fill="#555">1.0 = peer</text>"##,
        x(1.0),
        TOP - 8.0,
        height - 30.0,
        height - 14.0
    );
    for (i, r) in ratios.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let colour = match r.met() {
            Some(true) => "#3a9d5d",
            Some(false) => "#d0433b",
            None => "#8aa4c8",
        };
        let label = format!("{} {} / {}", r.id, r.ours.name, r.peer.name);
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LABEL - 8.0,
            y + 15.0,
            escape(&label)
        );
        let _ = writeln!(
            out,
            r#"<rect x="{LABEL}" y="{}" width="{:.1}" height="{}" fill="{colour}"/>"#,
            y + 4.0,
            x(r.ratio) - LABEL,
            ROW - 10.0
        );
        if let Some((lo, hi)) = r.spread {
            let _ = writeln!(
                out,
                r#"<line x1="{:.1}" y1="{2}" x2="{:.1}" y2="{2}" stroke="black"/>"#,
                x(lo),
                x(hi),
                y + ROW / 2.0
            );
        }
        if let Some(Target::AtMost(t) | Target::AtLeast(t)) = r.target {
            let _ = writeln!(
                out,
                r#"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="black" stroke-width="2"/>"#,
                x(t),
                y + 1.0,
                y + ROW - 3.0
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}">{:.3}</text>"#,
            x(r.ratio.max(r.spread.map_or(0.0, |s| s.1))) + 6.0,
            y + 15.0,
            r.ratio
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="10" y="{}" fill="#555">bar: ratio (green: target met, red: missed, blue: context); black tick: target; whisker: spread</text>"##,
        height - 2.0
    );
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Subject;

    fn sample() -> Vec<Ratio> {
        vec![
            Ratio::of(
                "P1",
                "pair",
                Subject::new("vpoll", 60.0, "ns/op"),
                Subject::new("eventfd", 100.0, "ns/op"),
                Some(Target::AtMost(0.7)),
                "icount",
            ),
            Ratio::of(
                "P2",
                "pair",
                Subject::new("vpoll", 110.0, "ns/op"),
                Subject::new("C <module>", 100.0, "ns/op"),
                Some(Target::AtMost(1.0)),
                "icount",
            ),
        ]
    }

    #[test]
    fn the_table_says_which_targets_are_met() {
        let md = markdown(&sample());
        assert!(md.contains("| P1 | pair | vpoll: 60.0 ns/op | eventfd: 100 ns/op | **0.600** | ≤ 0.70 | yes | icount |"), "{md}");
        assert!(md.contains("| **1.100** | ≤ 1.00 | **no** |"), "{md}");
    }

    #[test]
    fn the_plot_has_a_bar_per_ratio_and_escapes_names() {
        let svg = svg(&sample(), "t");
        assert_eq!(svg.matches("<rect x=").count(), 2);
        assert!(svg.contains("C &lt;module&gt;"));
        assert!(svg.contains("#d0433b"), "the missed target is red");
    }
}
