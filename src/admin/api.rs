//! The admin API's routes (DESIGN "Contracts"): links as JSON under `/api/v1/links`
//! and Prometheus text at `/metrics`. [`Api::handle`] maps one request to one
//! response without touching a socket, so every route is testable directly.
//!
//! A link in JSON has the keys of its `[[link]]` entry plus a read-only `state`;
//! `password` and `tls` are never echoed. A `state` key sent back (a GET result
//! edited and PUT) is ignored.

use std::sync::Arc;

use serde_json::{json, Value};

use super::http::Response;
use super::prometheus;
use crate::config::LinkConfig;
use crate::link::registry::{LinkRegistry, RegistryError};
use crate::link::LinkMetrics;
use crate::metrics::CoreMetrics;

const LINKS: &str = "/api/v1/links";

/// What the admin API reads and changes.
pub struct Api {
    registry: Arc<LinkRegistry>,
    cores: Vec<Arc<CoreMetrics>>,
}

/// The routes, as parsed from a path.
enum Route<'a> {
    Links,
    Link(&'a str),
    LinkMetrics(&'a str),
    Metrics,
}

impl Api {
    pub fn new(registry: Arc<LinkRegistry>, cores: Vec<Arc<CoreMetrics>>) -> Api {
        Api { registry, cores }
    }

    /// Answers one request. `target` is the path with an optional query (ignored).
    pub fn handle(&self, method: &str, target: &str, body: &[u8]) -> Response {
        let path = target.split(['?', '#']).next().unwrap_or("");
        let path = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let Some(route) = route(path) else {
            return Response::error(
                404,
                format!("no such endpoint: {path} (try {LINKS} or /metrics)"),
            );
        };
        match (route, method) {
            (Route::Links, "GET") => self.list(),
            (Route::Links, "POST") => self.create(body),
            (Route::Links, _) => not_allowed(method, "GET, POST"),
            (Route::Link(name), "GET") => self.get(name),
            (Route::Link(name), "PUT") => self.update(name, body),
            (Route::Link(name), "DELETE") => match self.registry.delete(name) {
                Ok(()) => Response::empty(204),
                Err(e) => registry_error(&e),
            },
            (Route::Link(_), _) => not_allowed(method, "GET, PUT, DELETE"),
            (Route::LinkMetrics(name), "GET") => match self.registry.get(name) {
                Some((config, metrics)) => Response::json(200, &metrics_json(&config, &metrics)),
                None => registry_error(&RegistryError::NotFound(name.to_owned())),
            },
            (Route::LinkMetrics(_), _) => not_allowed(method, "GET"),
            (Route::Metrics, "GET") => Response {
                status: 200,
                content_type: prometheus::CONTENT_TYPE,
                body: prometheus::render(&self.cores, &self.registry.list()).into_bytes(),
                allow: None,
            },
            (Route::Metrics, _) => not_allowed(method, "GET"),
        }
    }

    fn list(&self) -> Response {
        let links: Vec<Value> = self
            .registry
            .list()
            .iter()
            .map(|(config, metrics)| link_json(config, metrics))
            .collect();
        Response::json(200, &Value::Array(links))
    }

    fn get(&self, name: &str) -> Response {
        match self.registry.get(name) {
            Some((config, metrics)) => Response::json(200, &link_json(&config, &metrics)),
            None => registry_error(&RegistryError::NotFound(name.to_owned())),
        }
    }

    fn create(&self, body: &[u8]) -> Response {
        let value = match body_object(body) {
            Ok(value) => value,
            Err(response) => return response,
        };
        let config: LinkConfig = match serde_json::from_value(value) {
            Ok(config) => config,
            Err(e) => return Response::error(400, format!("not a link object: {e}")),
        };
        let name = config.name.clone();
        if let Err(e) = self.registry.create(config) {
            return registry_error(&e);
        }
        match self.registry.get(&name) {
            Some((config, metrics)) => Response::json(201, &link_json(&config, &metrics)),
            // Deleted by a concurrent request between the two calls.
            None => registry_error(&RegistryError::NotFound(name)),
        }
    }

    fn update(&self, name: &str, body: &[u8]) -> Response {
        let patch = match body_object(body) {
            Ok(patch) => patch,
            Err(response) => return response,
        };
        match self.registry.update(name, patch) {
            Ok(config) => {
                let metrics = self.registry.metrics(name).unwrap_or_default();
                Response::json(200, &link_json(&config, &metrics))
            }
            Err(e) => registry_error(&e),
        }
    }
}

fn route(path: &str) -> Option<Route<'_>> {
    if path == "/metrics" {
        return Some(Route::Metrics);
    }
    let rest = path.strip_prefix(LINKS)?;
    if rest.is_empty() {
        return Some(Route::Links);
    }
    let rest = rest.strip_prefix('/')?;
    match rest.split_once('/') {
        None => Some(Route::Link(rest)),
        Some((name, "metrics")) => Some(Route::LinkMetrics(name)),
        Some(_) => None,
    }
}

fn not_allowed(method: &str, allow: &'static str) -> Response {
    let mut response = Response::error(
        405,
        format!("method {method} is not allowed here (allowed: {allow})"),
    );
    response.allow = Some(allow);
    response
}

fn registry_error(err: &RegistryError) -> Response {
    Response::error(err.status(), err.to_string())
}

/// The request body as a JSON object, minus the read-only `state` key.
fn body_object(body: &[u8]) -> Result<Value, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Response::error(
            400,
            "the request body is empty; expected a JSON object",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut fields)) => {
            fields.remove("state");
            Ok(Value::Object(fields))
        }
        Ok(_) => Err(Response::error(
            400,
            "the request body must be a JSON object",
        )),
        Err(e) => Err(Response::error(
            400,
            format!("the request body is not valid JSON: {e}"),
        )),
    }
}

/// A link as the API shows it: its config keys without secrets, plus `state`.
fn link_json(config: &LinkConfig, metrics: &LinkMetrics) -> Value {
    let mut value = serde_json::to_value(config).unwrap_or_else(|_| json!({ "name": config.name }));
    if let Value::Object(fields) = &mut value {
        fields.remove("password");
        fields.remove("tls");
        fields.insert("state".into(), json!(metrics.state().as_str()));
    }
    value
}

fn metrics_json(config: &LinkConfig, m: &LinkMetrics) -> Value {
    let get = LinkMetrics::get;
    json!({
        "name": config.name,
        "state": m.state().as_str(),
        "routes_in": get(&m.routes_in),
        "routes_out": get(&m.routes_out),
        "messages_forwarded": get(&m.messages_forwarded),
        "messages_received": get(&m.messages_received),
        "bytes_forwarded": get(&m.bytes_forwarded),
        "backlog_messages": get(&m.backlog_messages),
        "backlog_bytes": get(&m.backlog_bytes),
        "inflight": get(&m.inflight),
        "dropped": get(&m.dropped),
        "resent": get(&m.resent),
        "reconnects": get(&m.reconnects),
        "last_error": m.last_error(),
        "rtt_ms": get(&m.rtt_us) as f64 / 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam::channel::{unbounded, Receiver};

    use crate::link::LinkCommand;

    const HUAWEI: &str = r#"{"name": "huawei", "server": "mqtt://h:1883", "topics": ["global/#"],
        "username": "link", "password": "secret"}"#;

    fn api() -> (Api, Receiver<LinkCommand>) {
        let (tx, rx) = unbounded();
        let registry = LinkRegistry::new("aliyun".into(), Vec::new(), None, tx).expect("registry");
        (
            Api::new(registry, vec![Arc::new(CoreMetrics::default())]),
            rx,
        )
    }

    /// (status, JSON body) of one request.
    fn call(api: &Api, method: &str, target: &str, body: &str) -> (u16, Value) {
        let response = api.handle(method, target, body.as_bytes());
        let json = if response.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&response.body).expect("a JSON body")
        };
        (response.status, json)
    }

    /// The `error` text of a refused request, checking its status.
    fn error(api: &Api, method: &str, target: &str, body: &str, status: u16) -> String {
        let (got, json) = call(api, method, target, body);
        assert_eq!(got, status, "{method} {target} {body}: {json}");
        json["error"].as_str().expect("an error message").to_owned()
    }

    #[test]
    fn does_post_create_a_link_shown_without_its_password() {
        let (api, rx) = api();
        let (status, link) = call(&api, "POST", "/api/v1/links", HUAWEI);
        assert_eq!(status, 201);
        assert_eq!(link["name"], "huawei");
        assert_eq!(link["server"], "mqtt://h:1883");
        assert_eq!(link["username"], "link");
        assert_eq!(link["pool_size"], 4);
        assert_eq!(link["enable"], true);
        assert_eq!(link["state"], "connecting");
        assert!(link.get("password").is_none());
        assert!(
            matches!(rx.try_recv(), Ok(LinkCommand::Upsert { ref config, .. }) if config.password.as_deref() == Some("secret"))
        );
        let (status, list) = call(&api, "GET", "/api/v1/links", "");
        assert_eq!(status, 200);
        assert_eq!(list, Value::Array(vec![link.clone()]));
        assert_eq!(call(&api, "GET", "/api/v1/links/huawei", ""), (200, link));
    }

    #[test]
    fn does_put_enable_false_disable_the_link_at_once() {
        let (api, rx) = api();
        call(&api, "POST", "/api/v1/links", HUAWEI);
        let (status, link) = call(&api, "PUT", "/api/v1/links/huawei", r#"{"enable": false}"#);
        assert_eq!(status, 200);
        assert_eq!(link["enable"], false);
        assert_eq!(link["state"], "disabled");
        let commands: Vec<bool> = rx
            .try_iter()
            .filter_map(|c| match c {
                LinkCommand::Upsert { config, .. } => Some(config.enable),
                LinkCommand::Remove { .. } => None,
            })
            .collect();
        assert_eq!(commands, vec![true, false]);
        // A GET result sent back, read-only `state` included, is accepted.
        let mut edited = link.clone();
        edited["enable"] = Value::Bool(true);
        let (status, link) = call(&api, "PUT", "/api/v1/links/huawei/", &edited.to_string());
        assert_eq!((status, &link["state"]), (200, &json!("connecting")));
    }

    #[test]
    fn does_delete_answer_204_then_404() {
        let (api, rx) = api();
        call(&api, "POST", "/api/v1/links", HUAWEI);
        assert_eq!(
            call(&api, "DELETE", "/api/v1/links/huawei", ""),
            (204, Value::Null)
        );
        assert!(
            matches!(rx.try_iter().last(), Some(LinkCommand::Remove { name }) if name == "huawei")
        );
        let err = error(&api, "DELETE", "/api/v1/links/huawei", "", 404);
        assert_eq!(err, "no link named \"huawei\"");
        assert_eq!(call(&api, "GET", "/api/v1/links", ""), (200, json!([])));
    }

    #[test]
    fn does_the_metrics_endpoint_report_every_documented_field() {
        let (api, _rx) = api();
        call(&api, "POST", "/api/v1/links", HUAWEI);
        let metrics = api.registry.metrics("huawei").expect("metrics");
        metrics.set_state(crate::link::LinkState::Degraded);
        LinkMetrics::add(&metrics.bytes_forwarded, 1234);
        LinkMetrics::set(&metrics.rtt_us, 2500);
        metrics.set_last_error("connection refused");
        let (status, m) = call(&api, "GET", "/api/v1/links/huawei/metrics", "");
        assert_eq!(status, 200);
        assert_eq!(
            m,
            json!({
                "name": "huawei", "state": "degraded", "routes_in": 0, "routes_out": 0,
                "messages_forwarded": 0, "messages_received": 0, "bytes_forwarded": 1234,
                "backlog_messages": 0, "backlog_bytes": 0, "inflight": 0, "dropped": 0,
                "resent": 0, "reconnects": 0, "last_error": "connection refused", "rtt_ms": 2.5,
            })
        );
        error(&api, "GET", "/api/v1/links/aws/metrics", "", 404);
    }

    #[test]
    fn does_get_metrics_serve_prometheus_text() {
        let (api, _rx) = api();
        call(&api, "POST", "/api/v1/links", HUAWEI);
        let response = api.handle("GET", "/metrics?x=1", b"");
        assert_eq!(response.status, 200);
        assert_eq!(response.content_type, prometheus::CONTENT_TYPE);
        let text = String::from_utf8(response.body).unwrap();
        assert!(
            text.contains("\nmeridian_link_up{link=\"huawei\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn which_bad_bodies_get_400_saying_what_is_wrong() {
        let (api, _rx) = api();
        let cases = [
            ("", "the request body is empty"),
            ("{\"name\": ", "the request body is not valid JSON"),
            ("[1]", "the request body must be a JSON object"),
            (
                r#"{"name": "aws"}"#,
                "not a link object: missing field `server`",
            ),
            (
                r#"{"name": "aws", "server": "h:1", "topics": ["a"], "colour": 1}"#,
                "not a link object: unknown field `colour`",
            ),
            (
                r#"{"name": "aws", "server": "h:1", "topics": ["$LINK/#"]}"#,
                "link \"aws\".topics[0]: \"$LINK/#\" is under $LINK",
            ),
            (
                r#"{"name": "aliyun", "server": "h:1", "topics": ["a"]}"#,
                "link \"aliyun\".name: \"aliyun\" is this cluster's own name",
            ),
            (
                r#"{"name": "aws", "server": "h:1", "topics": ["a/#", "a/b"]}"#,
                "link \"aws\".topics[1]: topics[1] \"a/b\" is redundant",
            ),
        ];
        for (body, message) in cases {
            let err = error(&api, "POST", "/api/v1/links", body, 400);
            assert!(err.starts_with(message), "{body}: {err}");
        }
        call(&api, "POST", "/api/v1/links", HUAWEI);
        let err = error(&api, "POST", "/api/v1/links", HUAWEI, 409);
        assert_eq!(err, "a link named \"huawei\" already exists");
        let err = error(
            &api,
            "PUT",
            "/api/v1/links/huawei",
            r#"{"pool_size": 99}"#,
            400,
        );
        assert!(
            err.starts_with("link \"huawei\".pool_size: 99 is out of range"),
            "{err}"
        );
        error(
            &api,
            "PUT",
            "/api/v1/links/aws",
            r#"{"enable": false}"#,
            404,
        );
    }

    #[test]
    fn are_unknown_paths_404_and_wrong_methods_405_with_allow() {
        let (api, _rx) = api();
        for path in [
            "/",
            "/api/v1",
            "/api/v1/linksx",
            "/api/v1/links/a/b",
            "/api/v1/links/a/metricsx",
        ] {
            let err = error(&api, "GET", path, "", 404);
            assert!(err.starts_with("no such endpoint: "), "{path}: {err}");
        }
        let cases = [
            ("DELETE", "/api/v1/links", "GET, POST"),
            ("POST", "/api/v1/links/huawei", "GET, PUT, DELETE"),
            ("PUT", "/api/v1/links/huawei/metrics", "GET"),
            ("POST", "/metrics", "GET"),
        ];
        for (method, path, allow) in cases {
            let response = api.handle(method, path, b"");
            assert_eq!(
                (response.status, response.allow),
                (405, Some(allow)),
                "{method} {path}"
            );
        }
    }
}
