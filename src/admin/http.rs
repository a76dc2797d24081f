//! Just enough HTTP/1.1 for the admin API: read one request with bounded head and
//! body (`Content-Length` only), write one response, close. One connection at a
//! time with read/write timeouts, so a slow or hostile client costs at most a
//! timeout and never memory.

use std::io::{self, Read, Write};

/// Largest request line plus headers.
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body (a link object is a few hundred bytes).
const MAX_BODY: usize = 1024 * 1024;

/// One parsed request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent: path and optional query.
    pub target: String,
    pub body: Vec<u8>,
}

/// One response; `allow` is sent with 405.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub allow: Option<&'static str>,
}

impl Response {
    /// `status` with a JSON body.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        let mut body = value.to_string().into_bytes();
        body.push(b'\n');
        Response {
            status,
            content_type: "application/json",
            body,
            allow: None,
        }
    }

    /// `status` with `{"error": message}`.
    pub fn error(status: u16, message: impl Into<String>) -> Response {
        Response::json(status, &serde_json::json!({ "error": message.into() }))
    }

    /// `status` with no body (204).
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: Vec::new(),
            allow: None,
        }
    }
}

/// Reads one request from `stream`. `Err(Ok(response))` is a request we refuse
/// (answer it, then close); `Err(Err(io))` means the connection failed.
pub fn read_request<S: Read + Write>(
    stream: &mut S,
) -> Result<Request, Result<Response, io::Error>> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() >= MAX_HEAD {
            return Err(Ok(Response::error(
                431,
                format!("request head is larger than {MAX_HEAD} bytes"),
            )));
        }
        let mut chunk = [0u8; 4096];
        let want = chunk.len().min(MAX_HEAD + 4 - buf.len());
        let n = stream.read(&mut chunk[..want]).map_err(Err)?;
        if n == 0 {
            return Err(Err(io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| Ok(Response::error(400, "request head is not UTF-8")))?;
    let mut lines = head.split("\r\n");
    let (method, target) = parse_request_line(lines.next().unwrap_or("")).map_err(Ok)?;
    let mut length = 0usize;
    let mut expect_continue = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(Ok(Response::error(
                400,
                format!("malformed header line {line:?}"),
            )));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(|_| {
                Ok(Response::error(
                    400,
                    format!("Content-Length {value:?} is not a number"),
                ))
            })?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Ok(Response::error(
                411,
                "chunked bodies are not supported; send Content-Length",
            )));
        } else if name.eq_ignore_ascii_case("expect") && value.eq_ignore_ascii_case("100-continue")
        {
            expect_continue = true;
        }
    }
    if length > MAX_BODY {
        return Err(Ok(Response::error(
            413,
            format!("request body of {length} bytes is larger than {MAX_BODY}"),
        )));
    }
    let mut body = buf.split_off(head_end + 4);
    if body.len() > length {
        return Err(Ok(Response::error(
            400,
            "more bytes than Content-Length (pipelining is not supported)",
        )));
    }
    if expect_continue && body.len() < length {
        stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(Err)?;
    }
    let have = body.len();
    body.resize(length, 0);
    stream.read_exact(&mut body[have..]).map_err(Err)?;
    Ok(Request {
        method,
        target,
        body,
    })
}

/// Where the blank line ending the head starts.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

fn parse_request_line(line: &str) -> Result<(String, String), Response> {
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None)
            if !method.is_empty() && target.starts_with('/') && version.starts_with("HTTP/1.") =>
        {
            Ok((method.to_owned(), target.to_owned()))
        }
        _ => Err(Response::error(
            400,
            format!("malformed request line {line:?} (expected \"METHOD /path HTTP/1.1\")"),
        )),
    }
}

/// Writes `response` and ends the exchange (`Connection: close`).
pub fn write_response<W: Write>(stream: &mut W, response: &Response) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    if let Some(allow) = response.allow {
        head.push_str(&format!("Allow: {allow}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that yields `input` and records what is written.
    struct Pipe {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn pipe(input: impl Into<Vec<u8>>) -> Pipe {
        Pipe {
            input: io::Cursor::new(input.into()),
            output: Vec::new(),
        }
    }

    /// The status of the refusal `input` must get.
    fn refused(input: impl Into<Vec<u8>>) -> (u16, String) {
        match read_request(&mut pipe(input)) {
            Err(Ok(response)) => (
                response.status,
                String::from_utf8_lossy(&response.body).into_owned(),
            ),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn does_a_put_with_a_body_parse() {
        let request = read_request(&mut pipe(
            "PUT /api/v1/links/aws HTTP/1.1\r\nHost: x\r\ncontent-length: 17\r\n\r\n{\"enable\": false}",
        ))
        .unwrap();
        assert_eq!(
            request,
            Request {
                method: "PUT".into(),
                target: "/api/v1/links/aws".into(),
                body: b"{\"enable\": false}".to_vec(),
            }
        );
    }

    #[test]
    fn is_100_continue_answered_before_the_body_is_read() {
        let mut stream = pipe(
            "POST /api/v1/links HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        );
        // The body arrived with the head, so no 100 is needed.
        assert_eq!(read_request(&mut stream).unwrap().body, b"{}");
        assert!(stream.output.is_empty());
        // The body is still to come: the client waits for the 100.
        let mut stream = pipe(
            "POST /api/v1/links HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
        );
        assert!(matches!(read_request(&mut stream), Err(Err(_))));
        assert_eq!(stream.output, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn which_requests_are_refused_and_with_what() {
        assert_eq!(
            refused("GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").0,
            411
        );
        assert_eq!(
            refused("GET /x HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n").0,
            413
        );
        assert_eq!(
            refused("GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n").0,
            400
        );
        assert_eq!(refused("GET /x HTTP/1.1\r\nbad header\r\n\r\n").0, 400);
        assert_eq!(refused("GET x HTTP/1.1\r\n\r\n").0, 400);
        assert_eq!(refused("GET /x SPDY/3\r\n\r\n").0, 400);
        let (status, body) = refused(format!(
            "GET /x HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(20_000)
        ));
        assert_eq!(status, 431);
        assert!(body.contains("larger than 16384 bytes"), "{body}");
    }

    #[test]
    fn is_a_truncated_body_a_connection_error() {
        let result = read_request(&mut pipe(
            "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}",
        ));
        assert!(matches!(result, Err(Err(_))), "{result:?}");
    }

    #[test]
    fn does_a_405_carry_allow_and_close_the_connection() {
        let mut out = Vec::new();
        let mut response = Response::error(405, "no");
        response.allow = Some("GET, POST");
        write_response(&mut out, &response).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\n\
             Content-Length: 15\r\nConnection: close\r\nAllow: GET, POST\r\n\r\n{\"error\":\"no\"}\n"
        );
    }
}
