// SPDX-License-Identifier: MIT OR Apache-2.0

//! Why vpoll exists: a user-level "socket" implementation whose sockets are
//! real file descriptors. A plain `poll()` loop waits on a pipe and on two of
//! these sockets together, and reacts to `IN`, `OUT`, `PRI` (urgent data) and
//! `HUP` that the user-level stack raises, exactly as it would for kernel
//! sockets. A "network" thread drives the stack one step at a time.
//!
//! Run: `cargo run -p vpoll --example userstack` (any backend; `VPOLL_BACKEND` forces one).
#![allow(unsafe_code)] // poll(2) on raw pollfds, as a C event loop would

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use vpoll::{Events, Vpoll};

/// Bytes a socket can queue for sending before `OUT` clears.
const SEND_SPACE: usize = 4;

/// A user-level stream socket: queues in this process, and a vpoll fd that
/// tells pollers what the queues allow.
struct UserSocket {
    name: &'static str,
    fd: Vpoll,
    inbox: Mutex<VecDeque<u8>>,
    urgent: Mutex<Option<u8>>,
    outbox: Mutex<Vec<u8>>,
}

impl UserSocket {
    fn new(name: &'static str) -> vpoll::Result<Arc<UserSocket>> {
        Ok(Arc::new(UserSocket {
            name,
            fd: Vpoll::with_events(Events::OUT)?, // empty send queue: writable
            inbox: Mutex::default(),
            urgent: Mutex::default(),
            outbox: Mutex::default(),
        }))
    }

    // --- the stack's side: the "network" delivers and drains ---

    fn arrive(&self, data: &[u8]) -> vpoll::Result<()> {
        self.inbox.lock().unwrap().extend(data);
        self.fd.add(Events::IN).map(drop)
    }

    fn arrive_urgent(&self, byte: u8) -> vpoll::Result<()> {
        *self.urgent.lock().unwrap() = Some(byte);
        // Urgent data is also data to read, as on a TCP socket.
        self.fd.add(Events::PRI | Events::IN).map(drop)
    }

    fn transmit(&self) -> vpoll::Result<usize> {
        let sent = std::mem::take(&mut *self.outbox.lock().unwrap()).len();
        self.fd.add(Events::OUT)?;
        Ok(sent)
    }

    fn peer_closed(&self) -> vpoll::Result<()> {
        self.fd.add(Events::HUP).map(drop)
    }

    // --- the application's side: the calls a socket API offers ---

    fn recv(&self) -> vpoll::Result<Vec<u8>> {
        let data: Vec<u8> = self.inbox.lock().unwrap().drain(..).collect();
        if self.urgent.lock().unwrap().is_none() {
            self.fd.del(Events::IN)?;
        }
        Ok(data)
    }

    fn recv_urgent(&self) -> vpoll::Result<Option<u8>> {
        let byte = self.urgent.lock().unwrap().take();
        self.fd.del(Events::PRI)?;
        Ok(byte)
    }

    fn send(&self, data: &[u8]) -> vpoll::Result<usize> {
        let mut out = self.outbox.lock().unwrap();
        let n = data.len().min(SEND_SPACE - out.len());
        out.extend(&data[..n]);
        if out.len() == SEND_SPACE {
            self.fd.del(Events::OUT)?;
        }
        Ok(n)
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("userstack: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (pipe_rd, pipe_wr) = nix::unistd::pipe()?;
    let (mut pipe_rd, pipe_wr) = (std::fs::File::from(pipe_rd), std::fs::File::from(pipe_wr));
    let a = UserSocket::new("A")?;
    let b = UserSocket::new("B")?;
    println!("userstack: backend {}", a.fd.backend());

    // The application fills A's send queue: A stops being writable.
    let sent = a.send(b"abcdef")?;
    println!("app: queued {sent} of 6 bytes on A; A writable again once the network takes them");

    // The network: one step at a time, each acknowledged by the poll loop.
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let network = {
        let (a, b) = (a.clone(), b.clone());
        std::thread::spawn(move || -> vpoll::Result<()> {
            let step = |f: &dyn Fn() -> vpoll::Result<()>| -> vpoll::Result<()> {
                f()?;
                ack_rx.recv().expect("poll loop alive");
                Ok(())
            };
            step(&|| {
                (&pipe_wr).write_all(b"ping").expect("pipe");
                Ok(())
            })?;
            step(&|| a.arrive(b"hello"))?;
            step(&|| b.arrive_urgent(b'!'))?;
            step(&|| a.transmit().map(drop))?;
            step(&|| b.peer_closed())?;
            Ok(())
        })
    };

    let mut waiting_out = true;
    let mut handled = 0;
    while handled < 5 {
        let out = if waiting_out { libc::POLLOUT } else { 0 };
        let mut fds = [
            pollfd(pipe_rd.as_raw_fd(), libc::POLLIN),
            pollfd(a.fd.as_raw_fd(), libc::POLLIN | libc::POLLPRI | out),
            pollfd(b.fd.as_raw_fd(), libc::POLLIN | libc::POLLPRI),
        ];
        // SAFETY: three valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, 20_000) };
        if n <= 0 {
            return Err(format!("poll returned {n}").into());
        }
        if fds[0].revents & libc::POLLIN != 0 {
            let mut buf = [0u8; 16];
            let n = pipe_rd.read(&mut buf)?;
            println!("pipe: IN -> read {:?}", String::from_utf8_lossy(&buf[..n]));
            handled += 1;
            ack_tx.send(())?;
        }
        for (p, sock) in [(&fds[1], &a), (&fds[2], &b)] {
            let name = sock.name;
            if p.revents & libc::POLLHUP != 0 {
                println!("socket {name}: HUP -> the peer closed");
                handled += 1;
                ack_tx.send(())?;
            } else if p.revents & libc::POLLPRI != 0 {
                let byte = sock.recv_urgent()?.ok_or("PRI without urgent data")?;
                println!("socket {name}: PRI -> urgent byte {:?}", byte as char);
                let rest = sock.recv()?;
                println!("socket {name}: then {} bytes of normal data", rest.len());
                handled += 1;
                ack_tx.send(())?;
            } else if p.revents & libc::POLLIN != 0 {
                let data = sock.recv()?;
                println!(
                    "socket {name}: IN -> read {:?}",
                    String::from_utf8_lossy(&data)
                );
                handled += 1;
                ack_tx.send(())?;
            } else if p.revents & libc::POLLOUT != 0 {
                let sent = sock.send(b"ef")?;
                println!("socket {name}: OUT -> queued the remaining {sent} bytes");
                waiting_out = false;
                handled += 1;
                ack_tx.send(())?;
            }
        }
    }
    network.join().expect("network thread")?;
    println!("userstack: all 5 events handled");
    Ok(())
}

fn pollfd(fd: RawFd, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}
