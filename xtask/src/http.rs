//! A minimal HTTP/1.0 client and server on the host's loopback, for the
//! network system tests and `bench net`: the guest fetches from the server
//! (at 10.0.2.2 through QEMU's user networking) and the host fetches from
//! the guest's busybox `httpd` through a forwarded port.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A server answering every GET with the same body, until dropped.
pub struct Server {
    pub port: u16,
    stop: Arc<AtomicBool>,
    /// Bodies sent in full.
    served: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on 127.0.0.1 on a free port.
    pub fn start(body: Arc<Vec<u8>>) -> Result<Server, String> {
        let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("HTTP server: {e}"))?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let (st, sv) = (stop.clone(), served.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => {
                        if serve_one(c, &body).is_ok() {
                            sv.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Server {
            port,
            stop,
            served,
            thread: Some(thread),
        })
    }

    /// Bodies sent in full so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_one(mut c: TcpStream, body: &[u8]) -> std::io::Result<()> {
    c.set_nonblocking(false)?;
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = c.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        req.extend_from_slice(&buf[..n]);
    }
    let head = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes())?;
    c.write_all(body)?;
    c.flush()?;
    c.shutdown(Shutdown::Write)
}

/// `GET path` from 127.0.0.1:`port`; the body of a 200 answer.
pub fn get(port: u16, path: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    c.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(c, "GET {path} HTTP/1.0\r\nHost: guest\r\n\r\n").map_err(|e| format!("send: {e}"))?;
    let mut resp = Vec::new();
    c.read_to_end(&mut resp)
        .map_err(|e| format!("receive: {e}"))?;
    let at = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no HTTP header in {} bytes", resp.len()))?;
    let status = String::from_utf8_lossy(&resp[..at]);
    let first = status.lines().next().unwrap_or("");
    if !first.contains(" 200 ") {
        return Err(format!("answer `{first}`"));
    }
    Ok(resp[at + 4..].to_vec())
}

/// A free TCP port on 127.0.0.1 (free when this returns; QEMU takes it
/// right after).
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_and_client_agree() {
        let body: Arc<Vec<u8>> = Arc::new((0..100_000u32).map(|i| (i * 7) as u8).collect());
        let s = Server::start(body.clone()).unwrap();
        let got = get(s.port, "/blob", Duration::from_secs(10)).unwrap();
        assert_eq!(&got, &*body);
        drop(s);
    }

    #[test]
    fn a_port_in_use_is_refused_by_the_net_check() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let net = crate::vmm::Net::forwarding(port, 80);
        let e = net.check().unwrap_err();
        assert!(e.contains(&format!("host port {port}")), "{e}");
        drop(l);
        net.check().unwrap();
    }
}
