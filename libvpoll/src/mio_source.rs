// SPDX-License-Identifier: MIT OR Apache-2.0

//! `mio::event::Source` for [`Vpoll`], so mio (and tokio) can register it.

use crate::vpoll::Vpoll;
use mio::unix::SourceFd;
use mio::{event, Interest, Registry, Token};
use std::io;
use std::os::fd::AsRawFd;

impl event::Source for Vpoll {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).deregister(registry)
    }
}
