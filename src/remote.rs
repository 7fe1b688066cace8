//! An OpenAI-compatible chat-completions server as the model (vLLM,
//! llama.cpp's llama-server, Ollama, ...): one HTTP request, one reply.
//!
//! Every fault becomes one line with the exit code the widgets rely on,
//! within the timeout. The API key travels only in the Authorization header
//! and is scrubbed from anything the server says back, because servers do
//! echo what they were sent and their words end up in our messages.

use crate::config::Secret;
use crate::error::{Error, Result};
use crate::prompt::Message;
use std::time::{Duration, Instant};

/// A one-line command's reply is a few hundred bytes; anything this large
/// is not an answer.
const MAX_BODY: u64 = 1 << 20;
/// Enough of a server's own error text to say what went wrong.
const MAX_DETAIL: usize = 200;

/// Where the server is: the chat-completions URL, and a form fit for
/// messages (no user:password, no query string).
#[derive(Debug, Clone)]
pub struct Endpoint {
    url: String,
    shown: String,
    https: bool,
}

impl Endpoint {
    /// Accepts the base URL (`http://gpu-box:8000/v1`), as OpenAI clients
    /// take it, or the full `…/chat/completions` URL.
    pub fn parse(base: &str) -> Result<Endpoint> {
        let base = base.trim();
        let bad = |why: &str| {
            Error::usage(format!(
                "endpoint `{}` {why}: use the server's base URL, e.g. http://gpu-box:8000/v1",
                shown(base)
            ))
        };
        let Some((scheme, rest)) = base.split_once("://") else {
            return Err(bad("is not a URL"));
        };
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(bad("is not an http:// or https:// URL"));
        }
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if host.rsplit('@').next().unwrap_or("").is_empty() {
            return Err(bad("names no host"));
        }
        let trimmed = base.trim_end_matches('/');
        let url = if trimmed.ends_with("/chat/completions") {
            trimmed.to_string()
        } else {
            format!("{trimmed}/chat/completions")
        };
        url.parse::<ureq::http::Uri>()
            .map_err(|_| bad("is not a valid URL"))?;
        Ok(Endpoint {
            url,
            shown: shown(trimmed),
            https: scheme.eq_ignore_ascii_case("https"),
        })
    }

    /// The endpoint as it may appear in messages and `--json`.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// `scheme://host[:port]/path` without credentials, query or fragment.
fn shown(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or("");
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or("");
            format!("{scheme}://{host}{path}")
        }
        None => url.chars().take(100).collect(),
    }
}

pub struct Request<'a> {
    pub messages: &'a [Message],
    /// The server's name for the model; some servers (llama-server, vLLM
    /// with one model) take the one they serve when it is left out.
    pub model: Option<&'a str>,
    pub max_tokens: usize,
    pub temperature: f64,
    pub seed: u64,
    pub timeout: Duration,
    pub api_key: Option<&'a Secret>,
}

#[derive(Debug, Default)]
pub struct Reply {
    pub content: String,
    /// The model the server says answered.
    pub model: Option<String>,
    pub prompt_tokens: Option<u64>,
    /// Prompt tokens the server took from its prefix cache, where it says.
    pub cached_tokens: Option<u64>,
    pub generated_tokens: Option<u64>,
    pub finish_reason: Option<String>,
    /// From sending the request to the end of the reply's body.
    pub request_ms: f64,
}

/// Sends the chat to the server and returns its reply.
pub fn chat(endpoint: &Endpoint, req: &Request) -> Result<Reply> {
    let key = req.api_key.map(Secret::expose);
    chat_inner(endpoint, req).map_err(|mut e| {
        if let Some(k) = key {
            e.message = scrub(&e.message, k);
        }
        e
    })
}

fn chat_inner(endpoint: &Endpoint, req: &Request) -> Result<Reply> {
    let mut body = serde_json::json!({
        "messages": req.messages.iter().map(|m| serde_json::json!({
            "role": m.role,
            "content": m.content,
        })).collect::<Vec<_>>(),
        "max_tokens": req.max_tokens,
        "temperature": req.temperature,
        "stream": false,
    });
    if let Some(model) = req.model {
        body["model"] = model.into();
    }
    if req.temperature > 0.0 {
        body["seed"] = req.seed.into();
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(req.timeout))
        // Status codes are answers to explain, not transport failures.
        .http_status_as_error(false)
        // A redirected POST loses its body or its key; say where it points instead.
        .max_redirects(0)
        .user_agent(concat!("cmdai/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut request = agent
        .post(&endpoint.url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json");
    if let Some(key) = req.api_key {
        request = request.header("Authorization", format!("Bearer {}", key.expose()));
    }
    let start = Instant::now();
    let fail = |e: ureq::Error| transport_error(e, endpoint, req.timeout);
    let mut response = request.send(body.to_string().as_bytes()).map_err(fail)?;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(shown);
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(fail)?;
    let request_ms = start.elapsed().as_secs_f64() * 1000.0;
    if !(200..300).contains(&status) {
        return Err(status_error(
            status,
            &bytes,
            endpoint,
            req,
            location.as_deref(),
        ));
    }
    let mut reply = parse_reply(&bytes, endpoint)?;
    reply.request_ms = request_ms;
    Ok(reply)
}

fn transport_error(e: ureq::Error, ep: &Endpoint, timeout: Duration) -> Error {
    let at = ep.shown();
    let unreachable = |why: &str| Error::other(format!("cannot reach the server at {at}: {why}"));
    match e {
        ureq::Error::Timeout(ureq::Timeout::Resolve) => unreachable(&format!(
            "its host name did not resolve within {}s",
            timeout.as_secs()
        )),
        ureq::Error::Timeout(_) => Error::other(format!(
            "the server at {at} did not answer within {}s; try again, or raise --timeout",
            timeout.as_secs()
        )),
        ureq::Error::HostNotFound => unreachable("host not found"),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                unreachable("connection refused (is the server running on that port?)")
            }
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
                Error::other(format!(
                    "the server at {at} closed the connection without a complete answer"
                ))
            }
            std::io::ErrorKind::TimedOut => Error::other(format!(
                "the server at {at} did not answer within {}s; try again, or raise --timeout",
                timeout.as_secs()
            )),
            // rustls reports a failed handshake through the stream as bad data.
            std::io::ErrorKind::InvalidData if ep.https => Error::other(format!(
                "TLS with the server at {at} failed: {} (does it speak https?)",
                crate::error::one_line(&io.to_string())
            )),
            // getaddrinfo's failures have no ErrorKind of their own.
            _ if io.to_string().contains("lookup address") => {
                unreachable("host not found (DNS lookup failed)")
            }
            _ => unreachable(&crate::error::one_line(&io.to_string())),
        },
        ureq::Error::ConnectionFailed => unreachable("connection failed"),
        ureq::Error::Rustls(tls) => Error::other(format!(
            "TLS with the server at {at} failed: {}",
            crate::error::one_line(&tls.to_string())
        )),
        ureq::Error::Tls(why) => Error::other(format!("TLS with the server at {at} failed: {why}")),
        ureq::Error::Protocol(p) => Error::other(format!(
            "the server at {at} did not answer in HTTP ({}); is that the right host and port?",
            crate::error::one_line(&p.to_string())
        )),
        ureq::Error::BodyExceedsLimit(_) => Error::other(format!(
            "the server at {at} sent more than {} KiB; that is not a command",
            MAX_BODY / 1024
        )),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => Error::usage(format!(
            "endpoint `{at}` is not a valid URL: use e.g. http://gpu-box:8000/v1"
        )),
        other => Error::other(format!(
            "the request to {at} failed: {}",
            crate::error::one_line(&other.to_string())
        )),
    }
}

fn status_error(
    status: u16,
    body: &[u8],
    ep: &Endpoint,
    req: &Request,
    location: Option<&str>,
) -> Error {
    let at = ep.shown();
    let detail = detail(body);
    let said = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    match status {
        401 | 403 => Error::usage(format!(
            "the server at {at} refused the request ({status}){said}; {}",
            if req.api_key.is_some() {
                "check CMDAI_API_KEY"
            } else {
                "it needs an API key in CMDAI_API_KEY"
            }
        )),
        404 if detail.to_lowercase().contains("model") => Error::model(format!(
            "the server at {at} does not serve model `{}` (404){said}; set remote_model to one it lists at {at}/models",
            req.model.unwrap_or("(none given)")
        )),
        404 => Error::usage(format!(
            "the server at {at} has no chat-completions API there (404){said}; endpoint should be its base URL, e.g. http://gpu-box:8000/v1"
        )),
        400 | 413 | 422 => Error::usage(format!(
            "the server at {at} rejected the request ({status}){said}"
        )),
        429 => Error::other(format!(
            "the server at {at} is busy or over its quota (429){said}; try again later"
        )),
        300..=399 => Error::usage(format!(
            "the server at {at} redirects ({status}) to {}; set endpoint to that address",
            location.unwrap_or("another address")
        )),
        500..=599 => Error::other(format!("the server at {at} failed ({status}){said}")),
        _ => Error::other(format!("the server at {at} answered HTTP {status}{said}")),
    }
}

/// The server's own words about an error, made safe for one line: the
/// OpenAI `{"error": {"message"}}` shape, FastAPI's `detail`, or the body.
fn detail(body: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(body) else {
        return String::new();
    };
    let said = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => {
            let e = &v["error"];
            let found = e["message"]
                .as_str()
                .or_else(|| e.as_str())
                .or_else(|| v["detail"].as_str())
                .or_else(|| v["message"].as_str())
                .map(str::to_string);
            found.unwrap_or_else(|| match &v["detail"] {
                serde_json::Value::Null => String::new(),
                d => d.to_string(),
            })
        }
        // HTML error pages say nothing a line could use.
        Err(_) if text.trim_start().starts_with('<') => String::new(),
        Err(_) => text.to_string(),
    };
    let one: String = said
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if one.chars().count() > MAX_DETAIL {
        let cut: String = one.chars().take(MAX_DETAIL).collect();
        format!("{cut}…")
    } else {
        one
    }
}

fn parse_reply(body: &[u8], ep: &Endpoint) -> Result<Reply> {
    let at = ep.shown();
    let text = std::str::from_utf8(body).map_err(|_| {
        Error::other(format!(
            "the server at {at} answered with bytes that are not UTF-8 text"
        ))
    })?;
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| {
        Error::other(format!(
            "the server at {at} did not answer with JSON; is it an OpenAI-compatible endpoint (…/v1)?"
        ))
    })?;
    if !v["error"].is_null() {
        return Err(Error::other(format!(
            "the server at {at} reported an error: {}",
            detail(body)
        )));
    }
    let choice = &v["choices"][0];
    let content = match &choice["message"]["content"] {
        serde_json::Value::String(s) => s.clone(),
        // No text at all: an empty answer, which extraction reports as such.
        serde_json::Value::Null if choice.is_object() => String::new(),
        _ => {
            return Err(Error::other(format!(
                "the server at {at} answered without choices[0].message.content; is it an OpenAI-compatible endpoint (…/v1)?"
            )))
        }
    };
    let usage = &v["usage"];
    Ok(Reply {
        content,
        model: v["model"].as_str().map(str::to_string),
        prompt_tokens: usage["prompt_tokens"].as_u64(),
        cached_tokens: usage["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .or_else(|| v["timings"]["cache_n"].as_u64()),
        generated_tokens: usage["completion_tokens"].as_u64(),
        finish_reason: choice["finish_reason"].as_str().map(str::to_string),
        request_ms: 0.0,
    })
}

/// `text` with every occurrence of the key replaced.
fn scrub(text: &str, key: &str) -> String {
    if key.is_empty() {
        text.to_string()
    } else {
        text.replace(key, "***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn endpoints_are_checked_and_shown_without_credentials() {
        let e = Endpoint::parse("http://gpu-box:8000/v1/").unwrap();
        assert_eq!(e.url, "http://gpu-box:8000/v1/chat/completions");
        assert_eq!(e.shown(), "http://gpu-box:8000/v1");
        let e = Endpoint::parse("https://u:pw@host/v1/chat/completions?k=s").unwrap();
        assert_eq!(e.shown(), "https://host/v1/chat/completions");
        assert!(!e.shown().contains("pw"));
        for bad in ["gpu-box:8000", "ftp://host/v1", "http:///v1", "http://"] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert_eq!(err.kind, Kind::Usage, "{bad}");
        }
    }

    #[test]
    fn server_details_are_one_short_line() {
        assert_eq!(
            detail(
                br#"{"error":{"message":"The model `x` does not exist.","type":"NotFoundError"}}"#
            ),
            "The model `x` does not exist."
        );
        assert_eq!(detail(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(detail(b"<html><body>502</body></html>"), "");
        assert_eq!(
            detail(b"line one\nline\ttwo\x1b[31m"),
            "line one line two[31m"
        );
        assert_eq!(detail(&[0xff, 0xfe]), "");
        assert!(detail("x".repeat(1000).as_bytes()).chars().count() <= MAX_DETAIL + 1);
    }

    #[test]
    fn replies_are_parsed() {
        let ep = Endpoint::parse("http://h/v1").unwrap();
        let r = parse_reply(
            br#"{"model":"m","choices":[{"message":{"role":"assistant","content":"```bash\nls\n```"},"finish_reason":"stop"}],"usage":{"prompt_tokens":900,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":880}}}"#,
            &ep,
        )
        .unwrap();
        assert_eq!(r.content, "```bash\nls\n```");
        assert_eq!(r.cached_tokens, Some(880));
        assert_eq!(r.model.as_deref(), Some("m"));
        let null = parse_reply(br#"{"choices":[{"message":{"content":null}}]}"#, &ep).unwrap();
        assert_eq!(null.content, "");
        assert!(parse_reply(br#"{"object":"list"}"#, &ep).is_err());
        assert!(parse_reply(b"not json", &ep)
            .unwrap_err()
            .message
            .contains("JSON"));
        assert!(parse_reply(b"\xff", &ep)
            .unwrap_err()
            .message
            .contains("UTF-8"));
    }

    #[test]
    fn the_key_is_scrubbed() {
        assert_eq!(scrub("bad key sk-1 given", "sk-1"), "bad key *** given");
        assert_eq!(scrub("x", ""), "x");
    }
}
