//! A minimal SOCKS5 server on 127.0.0.1 (RFC 1928, no authentication) that
//! records where each client asked to go and then refuses the connection:
//! enough to prove a client used the proxy instead of connecting directly.
//! It stops when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Socks5 {
    pub port: u16,
    targets: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Socks5 {
    pub fn start() -> Socks5 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let targets = targets.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        if let Some(target) = handshake(stream) {
                            targets.lock().expect("lock").push(target);
                        }
                    }
                }
            })
        };
        Socks5 {
            port,
            targets,
            stop,
            thread: Some(thread),
        }
    }

    /// `host:port` of every CONNECT request received.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().expect("lock").clone()
    }
}

impl Drop for Socks5 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handshake(mut s: TcpStream) -> Option<String> {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = [0u8; 2];
    s.read_exact(&mut head).ok()?;
    let mut methods = vec![0u8; usize::from(head[1])];
    s.read_exact(&mut methods).ok()?;
    s.write_all(&[5, 0]).ok()?;
    let mut req = [0u8; 4];
    s.read_exact(&mut req).ok()?;
    let host = match req[3] {
        1 => {
            let mut ip = [0u8; 4];
            s.read_exact(&mut ip).ok()?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len).ok()?;
            let mut name = vec![0u8; usize::from(len[0])];
            s.read_exact(&mut name).ok()?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return None,
    };
    let mut port = [0u8; 2];
    s.read_exact(&mut port).ok()?;
    // 0x05: connection refused.
    let _ = s.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
    Some(format!("{host}:{}", u16::from_be_bytes(port)))
}
