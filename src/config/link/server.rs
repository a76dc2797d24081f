//! A link's `server` key: `host:port`, `mqtt://host:port` or `[v6]:port`, checked
//! for shape only (the host is resolved when the link connects, not here).

/// Splits `server` into host and port, or says what is wrong with it.
pub(super) fn parse_server(server: &str) -> Result<(String, u16), String> {
    let rest = match server.split_once("://") {
        None => server,
        Some(("mqtt", rest)) => rest,
        Some(("mqtts", _)) => {
            return Err(format!(
                "{server:?}: TLS links (mqtts://) are not available yet; use mqtt://"
            ))
        }
        Some((scheme, _)) => {
            return Err(format!(
                "{server:?} has scheme {scheme:?}; expected host:port or mqtt://host:port"
            ))
        }
    };
    let malformed =
        || format!("{server:?} is not host:port (e.g. \"broker.example:1883\", \"[::1]:1883\")");
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, port) = bracketed.split_once("]:").ok_or_else(malformed)?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{server:?}: [{host}] is not an IPv6 address"));
        }
        (host, port)
    } else {
        let (host, port) = rest.rsplit_once(':').ok_or_else(malformed)?;
        if host.contains(':') {
            return Err(format!(
                "{server:?}: an IPv6 address needs brackets, e.g. \"[::1]:1883\""
            ));
        }
        (host, port)
    };
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#'))
    {
        return Err(malformed());
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "{server:?}: port {port:?} is not a port number (1..=65535)"
        )),
        Ok(port) => Ok((host.to_owned(), port)),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_server;

    #[test]
    fn which_server_spellings_are_accepted() {
        let cases = [
            ("broker.example:1883", ("broker.example", 1883)),
            ("mqtt://broker.example:1884", ("broker.example", 1884)),
            ("10.0.0.7:1883", ("10.0.0.7", 1883)),
            ("[::1]:1883", ("::1", 1883)),
            ("mqtt://[fe80::1]:11883", ("fe80::1", 11883)),
            // Shape only: nothing is resolved.
            ("no-such-host.invalid:1883", ("no-such-host.invalid", 1883)),
        ];
        for (server, (host, port)) in cases {
            assert_eq!(
                parse_server(server),
                Ok((host.to_owned(), port)),
                "{server}"
            );
        }
    }

    #[test]
    fn which_server_spellings_are_rejected_and_why() {
        let cases = [
            ("broker.example", "is not host:port"),
            ("broker.example:0", "not a port number"),
            ("broker.example:65536", "not a port number"),
            (":1883", "is not host:port"),
            ("::1:1883", "needs brackets"),
            ("[nope]:1883", "is not an IPv6 address"),
            ("http://broker.example:80", "has scheme \"http\""),
            ("mqtt://broker.example:1883/x", "not a port number"),
            (
                "mqtts://broker.example:8883",
                "TLS links (mqtts://) are not available yet",
            ),
        ];
        for (server, words) in cases {
            let err = parse_server(server).expect_err(server);
            assert!(err.contains(words), "{server}: {err}");
        }
    }
}
