// SPDX-License-Identifier: MIT OR Apache-2.0

//! Printing for people, or JSON for scripts.

use serde::Serializer;
use vpoll::{Backend, Events};

/// Prints `value` as JSON (one line) or as `text` for people.
pub fn print(json: bool, value: &impl serde::Serialize, text: impl FnOnce() -> String) {
    if json {
        println!("{}", serde_json::to_string(value).expect("serialisable"));
    } else {
        println!("{}", text());
    }
}

/// A mask as JSON: `{"names": "IN|PRI", "mask": 3}`.
#[derive(serde::Serialize)]
pub struct Mask {
    pub names: String,
    pub mask: u32,
}

impl From<Events> for Mask {
    fn from(ev: Events) -> Mask {
        Mask {
            names: ev.to_string(),
            mask: ev.bits(),
        }
    }
}

pub fn events<S: Serializer>(ev: &Events, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&Mask::from(*ev), s)
}

pub fn backend<S: Serializer>(b: &Backend, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(b)
}

/// Wall-clock time of day, UTC, as `HH:MM:SS.mmm`.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, ms) = (now.as_secs() % 86_400, now.subsec_millis());
    format!(
        "{:02}:{:02}:{:02}.{ms:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
