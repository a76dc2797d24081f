//! The admin control thread (DESIGN "Runtime control"): a plain std thread serving
//! the JSON API and Prometheus metrics over HTTP at `[admin] bind`. It never
//! touches the data path: link changes go through the [`LinkRegistry`], which
//! sends them to the link shard over a crossbeam channel; counters are read from
//! atomics.
//!
//! - [`api`]: the routes, socket-free. - [`http`]: bounded HTTP/1.1 framing.
//! - [`prometheus`]: the `/metrics` text.

pub mod api;
pub mod http;
pub mod prometheus;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::link::registry::LinkRegistry;
use crate::metrics::CoreMetrics;
use api::Api;

/// How long one client may take to send its request or read the response.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `bind` and serves the admin API on a thread named `meridian-admin`.
/// A bind failure is returned (naming `admin.bind`) so start-up can stop on it.
pub fn spawn(
    bind: SocketAddr,
    registry: Arc<LinkRegistry>,
    cores: Vec<Arc<CoreMetrics>>,
) -> io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(bind)
        .map_err(|e| io::Error::new(e.kind(), format!("admin.bind {bind}: {e}")))?;
    start(listener, Api::new(registry, cores))
}

/// Serves `api` on an already bound `listener`.
fn start(listener: TcpListener, api: Api) -> io::Result<JoinHandle<()>> {
    let local = listener.local_addr()?;
    let handle = std::thread::Builder::new()
        .name("meridian-admin".into())
        .spawn(move || serve(&listener, &api))?;
    tracing::info!(addr = %local, "admin API listening");
    Ok(handle)
}

/// Answers connections one at a time, for ever.
fn serve(listener: &TcpListener, api: &Api) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(e) = exchange(stream, api) {
                    tracing::debug!(error = %e, "admin connection failed");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                // Out of descriptors, typically: give the process a moment.
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// One request, one response, close.
fn exchange(mut stream: TcpStream, api: &Api) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let response = match http::read_request(&mut stream) {
        Ok(request) => {
            let response = api.handle(&request.method, &request.target, &request.body);
            tracing::debug!(method = %request.method, target = %request.target, status = response.status, "admin request");
            response
        }
        Err(Ok(refusal)) => refusal,
        Err(Err(e)) => return Err(e),
    };
    http::write_response(&mut stream, &response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    use crossbeam::channel::unbounded;

    #[test]
    fn does_a_real_http_client_get_the_link_list_and_metrics() {
        let (tx, _rx) = unbounded();
        let link: crate::config::LinkConfig = toml::from_str(
            "name = \"huawei\"\nserver = \"h:1883\"\ntopics = [\"a/#\"]\n\
             username = \"u\"\npassword = \"secret\"\n",
        )
        .expect("valid link TOML");
        let registry = LinkRegistry::new("aliyun".into(), vec![link], None, tx).expect("registry");
        let core = Arc::new(CoreMetrics::default());
        CoreMetrics::add(&core.connects, 5);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        start(listener, Api::new(registry, vec![core])).expect("admin thread");

        let request = |text: &str| {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream.write_all(text.as_bytes()).unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        };
        let response = request("GET /api/v1/links HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
        let links: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(links[0]["name"], "huawei");
        assert_eq!(links[0]["state"], "connecting");
        assert!(
            links[0].get("password").is_none(),
            "secrets are never echoed"
        );

        let response = request("GET /metrics HTTP/1.1\r\n\r\n");
        assert!(
            response.contains("Content-Type: text/plain; version=0.0.4"),
            "{response}"
        );
        assert!(response.contains("\nmeridian_connects 5\n"), "{response}");

        let response = request("PUT /api/v1/links/huawei HTTP/1.1\r\nContent-Length: 3\r\n\r\n{x}");
        assert!(
            response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{response}"
        );
        assert!(response.contains("not valid JSON"), "{response}");
    }

    #[test]
    fn is_a_taken_admin_address_reported_naming_the_key() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let (tx, _rx) = unbounded();
        let registry = LinkRegistry::new("aliyun".into(), Vec::new(), None, tx).expect("registry");
        let err = spawn(addr, registry, Vec::new()).expect_err("bind fails");
        assert!(
            err.to_string().starts_with(&format!("admin.bind {addr}: ")),
            "{err}"
        );
    }
}
