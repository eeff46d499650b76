//! Why a client connection or session could not run.

/// Why a client session could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL or headers are invalid.
    #[error("invalid request: {0}")]
    Request(String),
    /// The server refused the upgrade with an HTTP status (and, when its answer said why, the
    /// reason: the `message` of a JSON body or the start of a text one).
    #[error("server answered HTTP {status}{}", because(.message))]
    Http {
        /// The status code.
        status: u16,
        /// Why, as the server said it; empty when it said nothing.
        message: String,
    },
    /// The connection failed or broke.
    #[error("connection failed: {0}")]
    Connection(String),
}

fn because(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// What a refusal's body says: the `message` of a JSON object, else the text; printable
/// characters only, at most 300 of them (it comes from the server and ends up in logs).
pub(crate) fn refusal_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let said = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| text.into_owned());
    said.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_why_in_one_printable_line() {
        let json = br#"{"code":"BadRequest","message":"Audiohook-Session-Id is not a UUID"}"#;
        assert_eq!(refusal_message(json), "Audiohook-Session-Id is not a UUID");
        assert_eq!(
            refusal_message(b"nope\r\nX-Injected: 1"),
            "nope  X-Injected: 1"
        );
        assert_eq!(refusal_message(&[b'a'; 1000]).len(), 300);
        assert_eq!(refusal_message(b""), "");
        let e = ClientError::Http {
            status: 400,
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "server answered HTTP 400: bad");
        let e = ClientError::Http {
            status: 401,
            message: String::new(),
        };
        assert_eq!(e.to_string(), "server answered HTTP 401");
    }
}
