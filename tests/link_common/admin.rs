//! A tiny HTTP/1.1 client for the admin API on std::net (one request per
//! connection, `Connection: close`, the response read until the server closes),
//! and the link metrics read through it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// Limit for one request and its response.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Response {
    /// The body as JSON (`Value::Null` for an empty body); panics naming the body.
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Sends `method path` with `body` (JSON when not empty) to the admin API at `addr`.
pub fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> Response {
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to the admin API at {addr}: {e}"));
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .expect("timeout");
    stream
        .set_write_timeout(Some(HTTP_TIMEOUT))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .unwrap_or_else(|e| panic!("send {method} {path}: {e}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("read the response to {method} {path}: {e}"));
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in the response to {method} {path}: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    Response {
        status,
        content_type,
        body: body.to_owned(),
    }
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, "")
}

/// `GET /api/v1/links/{link}/metrics` as JSON; panics unless 200.
pub fn metrics(addr: SocketAddr, link: &str) -> Value {
    let response = get(addr, &format!("/api/v1/links/{link}/metrics"));
    assert_eq!(
        response.status, 200,
        "metrics of link {link}: {}",
        response.body
    );
    response.json()
}

/// One counter of `GET /api/v1/links/{link}/metrics`.
pub fn counter(addr: SocketAddr, link: &str, key: &str) -> u64 {
    let m = metrics(addr, link);
    m[key]
        .as_u64()
        .unwrap_or_else(|| panic!("metrics of link {link} have no counter {key}: {m}"))
}

/// The `state` of a link (`connected`, `connecting`, `degraded`, `disabled`).
pub fn state(addr: SocketAddr, link: &str) -> String {
    metrics(addr, link)["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
