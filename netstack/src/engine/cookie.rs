// SPDX-License-Identifier: MIT OR Apache-2.0

//! SYN cookies: how a listener whose SYN queue is full still answers every
//! SYN, as Linux does (`tcp_syncookies = 1`). The SYN-ACK's sequence number
//! is a cookie that encodes the client's MSS and a keyed hash of the
//! connection; nothing is kept. A client's ACK that returns a good cookie
//! is the whole handshake, which the stack then replays to smoltcp (a SYN
//! from the client, the ACK).
//!
//! smoltcp picks its own initial sequence number, so such a connection's
//! numbers in smoltcp differ from the ones on the wire by a fixed amount,
//! learnt from the SYN-ACK smoltcp answers the replayed SYN with (kept
//! back: the client has the cookie's). The stack adds it to the
//! acknowledgment of every segment that comes in, and takes it from the
//! sequence number of every segment that goes out ([`Shifts`]).
//!
//! As in Linux, a cookie carries no window scaling, SACK or timestamps (the
//! SYN-ACK offers none): such a connection's window is at most 64 KiB.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use smoltcp::time::Instant;
use smoltcp::wire::TcpSeqNumber;

use super::segment::{self, Tuple};
use crate::link::Outgoing;

/// The segment sizes a cookie can stand for (three bits): the largest not
/// above the client's is used. 536 is TCP's default (no option).
const MSS: [u16; 8] = [536, 1220, 1360, 1440, 1460, 4312, 8960, 65_495];

/// A cookie's clock ticks every 64 s (five bits of it go in the cookie)...
const TICK_MS: i64 = 64_000;
/// ...and a cookie is good for two ticks after the one it was made in
/// (Linux's `MAX_SYNCOOKIE_AGE`): two to three minutes.
const MAX_AGE: u32 = 2;

/// Makes and checks cookies, with a key of its own.
pub(super) struct Cookies {
    key: RandomState,
    /// When the last cookie was made, by any listener.
    last: Option<Instant>,
}

impl Cookies {
    pub fn new() -> Cookies {
        Cookies {
            key: RandomState::new(),
            last: None,
        }
    }

    /// Whether a cookie made now could still come back (one was made
    /// within a cookie's life): a cheap test before any per-segment work.
    pub fn made_lately(&self, now: Instant, life: smoltcp::time::Duration) -> bool {
        self.last.is_some_and(|t| now < t + life)
    }

    /// The initial sequence number for a SYN-ACK answering a SYN on `tuple`
    /// with sequence `isn` and MSS option `mss`.
    pub fn make(
        &mut self,
        now: Instant,
        tuple: Tuple,
        isn: TcpSeqNumber,
        mss: Option<u16>,
    ) -> TcpSeqNumber {
        self.last = Some(now);
        let tick = ticks(now);
        let mss = mss.unwrap_or(MSS[0]);
        let index = MSS.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32;
        let cookie = (tick & 31) << 27 | index << 24 | self.hash(tuple, isn, tick, index);
        TcpSeqNumber(cookie as i32)
    }

    /// The client's MSS if an ACK on `tuple` with sequence `seq` and
    /// acknowledgment `ack` returns a cookie this made (lately).
    pub fn check(
        &self,
        now: Instant,
        tuple: Tuple,
        seq: TcpSeqNumber,
        ack: TcpSeqNumber,
    ) -> Option<u16> {
        let cookie = ack.0.wrapping_sub(1) as u32;
        let isn = TcpSeqNumber(seq.0.wrapping_sub(1));
        let now = ticks(now);
        let age = now.wrapping_sub(cookie >> 27) & 31;
        if age > MAX_AGE {
            return None;
        }
        let index = cookie >> 24 & 7;
        let good = self.hash(tuple, isn, now.wrapping_sub(age), index) == cookie & 0x00ff_ffff;
        good.then(|| MSS[index as usize])
    }

    /// 24 bits of a keyed hash (SipHash) of the connection.
    fn hash(&self, tuple: Tuple, isn: TcpSeqNumber, tick: u32, index: u32) -> u32 {
        self.key.hash_one((tuple, isn.0, tick, index)) as u32 & 0x00ff_ffff
    }
}

fn ticks(now: Instant) -> u32 {
    (now.total_millis() / TICK_MS) as u32
}

/// How a cookie connection's numbers in smoltcp relate to the wire's.
enum Shift {
    /// smoltcp's SYN-ACK is not out yet: the client knows our first
    /// sequence as `cookie`; its own next one is `seq`, its window `window`.
    Pending {
        cookie: TcpSeqNumber,
        seq: TcpSeqNumber,
        window: u16,
    },
    /// smoltcp's sequence numbers minus the wire's.
    Known(i32),
}

/// A handshake whose SYN-ACK smoltcp just sent (and the stack kept back):
/// the ACK that completes it, in smoltcp's numbers, is the stack's to give.
pub(super) struct Captured {
    pub tuple: Tuple,
    pub seq: TcpSeqNumber,
    pub ack: TcpSeqNumber,
    pub window: u16,
}

/// The cookie connections, by their ends.
#[derive(Default)]
pub(super) struct Shifts {
    map: HashMap<Tuple, Shift>,
    pub captured: Vec<Captured>,
}

impl Shifts {
    /// A cookie connection whose SYN smoltcp is about to have.
    pub fn expect(&mut self, tuple: Tuple, cookie: TcpSeqNumber, seq: TcpSeqNumber, window: u16) {
        self.map.insert(
            tuple,
            Shift::Pending {
                cookie,
                seq,
                window,
            },
        );
    }

    pub fn remove(&mut self, tuple: &Tuple) {
        self.map.remove(tuple);
    }

    pub fn is_known(&self, tuple: &Tuple) -> bool {
        matches!(self.map.get(tuple), Some(Shift::Known(_)))
    }

    /// A cookie connection whose numbers in smoltcp are not known yet (its
    /// SYN-ACK waits for the client's Ethernet address): what the client
    /// sends meanwhile would reach smoltcp in the wrong numbers, and be
    /// reset, so it is dropped (the client sends it again).
    pub fn is_pending(&self, tuple: &Tuple) -> bool {
        !self.map.is_empty() && matches!(self.map.get(tuple), Some(Shift::Pending { .. }))
    }

    /// Puts the incoming segment in `frame`, of connection `tuple`, into
    /// smoltcp's numbers (a checksum-valid one only: this makes it valid).
    pub fn incoming(&self, tuple: &Tuple, frame: &mut [u8]) {
        if self.map.is_empty() {
            // No cookie connection: no hashing on every packet.
            return;
        }
        let Some(&Shift::Known(shift)) = self.map.get(tuple) else {
            return;
        };
        segment::rewrite(frame, |_, _, tcp| {
            if tcp.ack() {
                tcp.set_ack_number(TcpSeqNumber(tcp.ack_number().0.wrapping_add(shift)));
            }
        });
    }
}

impl Outgoing for Shifts {
    fn outgoing(&mut self, frame: &mut [u8]) -> bool {
        if self.map.is_empty() {
            return true;
        }
        let (map, captured) = (&mut self.map, &mut self.captured);
        segment::rewrite(frame, |src, dst, tcp| {
            let tuple = Tuple {
                local: src,
                remote: dst,
            };
            match map.get_mut(&tuple) {
                None => true,
                Some(Shift::Known(shift)) => {
                    tcp.set_seq_number(TcpSeqNumber(tcp.seq_number().0.wrapping_sub(*shift)));
                    true
                }
                Some(&mut Shift::Pending {
                    cookie,
                    seq,
                    window,
                }) => {
                    if tcp.syn() && tcp.ack() {
                        let ours = tcp.seq_number();
                        map.insert(tuple, Shift::Known(ours.0.wrapping_sub(cookie.0)));
                        captured.push(Captured {
                            tuple,
                            seq,
                            ack: ours + 1,
                            window,
                        });
                    }
                    // Nothing of a connection whose numbers are not known
                    // yet goes out.
                    false
                }
            }
        })
        .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{IpAddress, IpEndpoint};

    fn tuple(port: u16) -> Tuple {
        let a: IpAddress = "10.0.0.1".parse().unwrap();
        let b: IpAddress = "10.0.0.2".parse().unwrap();
        Tuple {
            local: IpEndpoint::new(a, 80),
            remote: IpEndpoint::new(b, port),
        }
    }

    /// A cookie comes back good for its connection only, with the MSS it
    /// was made for rounded down to the table, and only for a few minutes.
    #[test]
    fn a_cookie_checks_for_its_connection_and_only_lately() {
        let mut cookies = Cookies::new();
        let t0 = Instant::from_secs(1_000_000);
        let isn = TcpSeqNumber(-5);
        let cookie = cookies.make(t0, tuple(4000), isn, Some(1460));
        let ack = cookie + 1;
        let seq = isn + 1;
        assert_eq!(cookies.check(t0, tuple(4000), seq, ack), Some(1460));
        assert_eq!(
            cookies.check(
                t0 + smoltcp::time::Duration::from_secs(128),
                tuple(4000),
                seq,
                ack
            ),
            Some(1460)
        );
        assert_eq!(
            cookies.check(
                t0 + smoltcp::time::Duration::from_secs(200),
                tuple(4000),
                seq,
                ack
            ),
            None
        );
        assert_eq!(
            cookies.check(t0, tuple(4001), seq, ack),
            None,
            "another port"
        );
        assert_eq!(
            cookies.check(t0, tuple(4000), seq + 1, ack),
            None,
            "another ISN"
        );
        assert_eq!(
            cookies.check(t0, tuple(4000), seq, ack + (1 << 24)),
            None,
            "another MSS"
        );
        let other = Cookies::new();
        assert_eq!(other.check(t0, tuple(4000), seq, ack), None, "another key");
        let small = cookies.make(t0, tuple(4000), isn, Some(1300));
        assert_eq!(cookies.check(t0, tuple(4000), seq, small + 1), Some(1220));
        let none = cookies.make(t0, tuple(4000), isn, None);
        assert_eq!(cookies.check(t0, tuple(4000), seq, none + 1), Some(536));
    }

    /// Of 100,000 guessed acknowledgments, about none pass (24 bits of hash).
    #[test]
    fn guessed_cookies_fail() {
        let cookies = Cookies::new();
        let now = Instant::from_secs(5_000);
        let passed = (0..100_000u32)
            .filter(|&i| {
                let ack = TcpSeqNumber(i.wrapping_mul(2_654_435_761) as i32);
                cookies
                    .check(now, tuple(5000), TcpSeqNumber(1), ack)
                    .is_some()
            })
            .count();
        assert!(passed <= 2, "{passed} guesses passed");
    }
}
