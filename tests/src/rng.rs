// SPDX-License-Identifier: MIT OR Apache-2.0

//! A small seeded generator (xorshift64*) for stress and fuzz loops: the seed
//! is printed, so a failing run can be replayed with `VPOLL_SEED`.

/// A deterministic pseudo-random sequence.
pub struct Rng(u64);

impl Rng {
    /// `VPOLL_SEED` if set, else one derived from the clock; prints it with `what`.
    pub fn from_env(what: &str) -> Rng {
        let seed = std::env::var("VPOLL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                t.as_nanos() as u64
            });
        println!("{what}: seed {seed} (replay with VPOLL_SEED={seed})");
        Rng::new(seed)
    }

    /// The sequence for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
