//! The TCP relay in front of each server's private `tiny_http` listener:
//! it copies bytes both ways, and lets a handler take the client's socket
//! over (to truncate a body, stall or hang up), which tiny_http alone
//! cannot do.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

/// The client-side sockets of the relayed connections, by the address the
/// private tiny_http listener sees for them. `None` once a handler took the
/// socket over: the relay then drops what tiny_http sends.
#[derive(Default)]
pub(crate) struct Relay {
    conns: Mutex<HashMap<SocketAddr, Arc<Mutex<Option<TcpStream>>>>>,
}

/// Locks, ignoring poisoning (a panicking thread must not wedge the server).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Relay {
    /// Takes the client socket of the connection tiny_http sees from `inner`.
    pub(crate) fn take(&self, inner: SocketAddr) -> Option<TcpStream> {
        let slot = lock(&self.conns).get(&inner).cloned()?;
        let socket = lock(&slot).take();
        socket
    }
}

const RELAY_BUFFER: usize = 64 * 1024;

/// Connects `client` to the private listener and copies bytes both ways on
/// two threads.
pub(crate) fn relay_connection(
    client: TcpStream,
    inner_addr: SocketAddr,
    relay: &Arc<Relay>,
) -> io::Result<()> {
    let inner = TcpStream::connect(inner_addr)?;
    let _ = inner.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let key = inner.local_addr()?;
    let slot = Arc::new(Mutex::new(Some(client.try_clone()?)));
    // Registered before any byte goes through, so the handler always finds it.
    lock(&relay.conns).insert(key, Arc::clone(&slot));

    let mut client_reader = client;
    let mut inner_writer = inner.try_clone()?;
    thread::Builder::new()
        .name("testidp-relay-up".into())
        .spawn(move || {
            let mut buf = vec![0u8; RELAY_BUFFER];
            loop {
                match client_reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if inner_writer.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = inner_writer.shutdown(Shutdown::Write);
        })?;

    let mut inner_reader = inner;
    let relay = Arc::clone(relay);
    thread::Builder::new()
        .name("testidp-relay-down".into())
        .spawn(move || {
            let mut buf = vec![0u8; RELAY_BUFFER];
            loop {
                let n = match inner_reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut guard = lock(&slot);
                // Taken over by a handler: tiny_http's bytes are dropped.
                if let Some(client) = guard.as_mut() {
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
            if let Some(client) = lock(&slot).take() {
                let _ = client.shutdown(Shutdown::Both);
            }
            let _ = inner_reader.shutdown(Shutdown::Both);
            lock(&relay.conns).remove(&key);
        })?;
    Ok(())
}
