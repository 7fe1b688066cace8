//! The remote backend (`--endpoint`): a real llama.cpp server (the
//! OpenAI-compatible server of llama-cpp-python) on the 0.5B model for the
//! answers, tiny canned TCP servers for the faults. Every fault is one
//! line with its exit code, within the timeout, and the API key never
//! comes back in any output.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "sk-secret-test";

/// `cmdai` with an API key set and no proxy in the way of 127.0.0.1.
fn remote(cache: &Path) -> Command {
    let mut c = cmdai(cache);
    c.env("CMDAI_API_KEY", KEY);
    for v in ["http_proxy", "https_proxy", "all_proxy"] {
        c.env_remove(v).env_remove(v.to_uppercase());
    }
    c
}

fn assert_no_key(o: &Output) {
    for (name, text) in [("stdout", stdout(o)), ("stderr", stderr(o))] {
        assert!(!text.contains(KEY), "the API key leaked on {name}: {text}");
    }
}

/// Reads one HTTP request (headers and a Content-Length body), so that
/// closing the socket afterwards is a clean close, not a reset.
fn read_request(s: &mut TcpStream) -> String {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut r = BufReader::new(s);
    let mut head = String::new();
    let mut len = 0;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    let _ = r.read_exact(&mut body);
    head
}

/// A server on a free port that answers each request with `respond(request)`.
/// `None` holds the connection open without a word, for ever.
fn serve(respond: impl Fn(&str) -> Option<Vec<u8>> + Send + 'static) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in l.incoming().flatten() {
            let request = read_request(&mut s);
            match respond(&request) {
                Some(bytes) => {
                    let _ = s.write_all(&bytes);
                }
                None => held.push(s),
            }
        }
    });
    port
}

fn http(status: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn chat_reply(content: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    });
    http("200 OK", body.to_string().as_bytes())
}

/// Runs a request against `endpoint` in one of the three output modes and
/// checks the fault's one-line error, exit code and silence on stdout.
fn expect_fault(endpoint: &str, mode: &str, extra: &[&str], code: i32, needle: &str) -> Duration {
    let t = TempDir::new("remote-fault");
    let mut c = remote(t.path());
    c.args(["--endpoint", endpoint, "--timeout", "2"])
        .args(extra);
    if !mode.is_empty() {
        c.arg(mode);
    }
    let start = Instant::now();
    let o = c.args(["--", "list files"]).output().unwrap();
    let took = start.elapsed();
    assert_one_line_error(&o, code, needle);
    assert_eq!(stdout(&o), "", "{endpoint} {mode}: nothing on stdout");
    assert_no_key(&o);
    took
}

#[test]
fn server_faults_are_one_line_errors_without_the_key() {
    let cases: Vec<(&str, Vec<u8>, i32, &str)> =
        vec![
        (
            "500",
            http("500 Internal Server Error", br#"{"error":{"message":"CUDA out of memory"}}"#),
            1,
            "failed (500): CUDA out of memory",
        ),
        ("502 html", http("502 Bad Gateway", b"<html>bad gateway</html>"), 1, "failed (502)"),
        (
            "unknown model",
            http(
                "404 Not Found",
                br#"{"object":"error","message":"The model `nope` does not exist.","code":404}"#,
            ),
            3,
            "does not serve model `nope`",
        ),
        ("wrong path", http("404 Not Found", br#"{"detail":"Not Found"}"#), 2, "base URL"),
        ("429", http("429 Too Many Requests", b"slow down"), 1, "busy"),
        ("not json", http("200 OK", b"<!doctype html><p>hello"), 1, "did not answer with JSON"),
        ("not utf-8", http("200 OK", b"{\"choices\":\xff\xfe}"), 1, "not UTF-8"),
        ("no choices", http("200 OK", br#"{"object":"list","data":[]}"#), 1, "choices[0]"),
        ("prose", chat_reply("I am sorry, but I cannot help with that request."), 1, "prose"),
        ("empty", chat_reply(""), 1, "no command"),
        ("not http", b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(), 1, "did not answer in HTTP"),
    ];
    let modes = ["", "--json", "--widget"];
    for (i, (name, response, code, needle)) in cases.into_iter().enumerate() {
        let port = serve(move |_| Some(response.clone()));
        let url = format!("http://127.0.0.1:{port}/v1");
        let extra = ["--remote-model", "nope"];
        eprintln!("case {name}");
        expect_fault(&url, modes[i % modes.len()], &extra, code, needle);
    }

    // A server that echoes the request, Authorization header included, in
    // its refusal: the key is scrubbed from what cmdai repeats.
    let port = serve(|request| {
        let body = serde_json::json!({"error": {"message": format!("bad credentials: {request}")}});
        Some(http("401 Unauthorized", body.to_string().as_bytes()))
    });
    let url = format!("http://127.0.0.1:{port}/v1");
    for mode in modes {
        expect_fault(&url, mode, &[], 2, "refused the request (401)");
    }
}

#[test]
fn unreachable_and_stalled_servers_fail_within_the_timeout() {
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    expect_fault(
        &format!("http://127.0.0.1:{port}/v1"),
        "--widget",
        &[],
        1,
        "connection refused",
    );
    // A name that never resolves (.invalid is reserved for that).
    expect_fault("http://cmdai-test.invalid/v1", "", &[], 1, "cannot reach");
    // TLS spoken to a plain-HTTP server.
    let port = serve(|_| Some(http("400 Bad Request", b"plain http")));
    expect_fault(
        &format!("https://127.0.0.1:{port}/v1"),
        "--json",
        &[],
        1,
        "TLS",
    );
    // Not a URL at all: a usage error before any connection.
    expect_fault("gpu-box:8000", "", &[], 2, "not a URL");

    // Accepts, reads the request, never answers; then one that stops
    // half-way through its body. Both give up at the 2 s timeout.
    let silent = serve(|_| None);
    let halfway = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for mut s in l.incoming().flatten() {
                read_request(&mut s);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"choices\":[{\"mess",
                );
                held.push(s);
            }
        });
        port
    };
    for (port, mode) in [(silent, "--widget"), (halfway, "--json")] {
        let took = expect_fault(
            &format!("http://127.0.0.1:{port}/v1"),
            mode,
            &[],
            1,
            "did not answer within 2s",
        );
        assert!(took < Duration::from_secs(10), "took {took:?}");
    }
}

/// llama-cpp-python's OpenAI-compatible server on a free port, killed when
/// dropped.
struct LlamaServer {
    child: Child,
    url: String,
    _dir: TempDir,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LlamaServer {
    /// None when the server is not installed and CMDAI_SKIP_REMOTE_SERVER_TESTS=1.
    fn start(model: &Path) -> Option<LlamaServer> {
        let python = std::env::var("CMDAI_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let installed = Command::new(&python)
            .args(["-c", "import llama_cpp.server"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            if std::env::var("CMDAI_SKIP_REMOTE_SERVER_TESTS").as_deref() == Ok("1") {
                eprintln!("skipped: llama_cpp.server is not installed");
                return None;
            }
            panic!(
                "llama_cpp.server is not importable by {python}: run `{python} -m pip install 'llama-cpp-python[server]'` (or set CMDAI_SKIP_REMOTE_SERVER_TESTS=1 to skip)"
            );
        }
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir = TempDir::new("llama-server");
        let log = dir.path().join("server.log");
        let child = Command::new(&python)
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--n_ctx", "4096", "--n_threads", "2", "--api_key", KEY])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap())
            .spawn()
            .unwrap();
        let mut server = LlamaServer {
            child,
            url: format!("http://127.0.0.1:{port}/v1"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(240);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        loop {
            let ready = agent
                .get(format!("{}/models", server.url))
                .header("Authorization", format!("Bearer {KEY}"))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return Some(server);
            }
            let exited = server.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let err = std::fs::read_to_string(server._dir.path().join("server.err"))
                    .unwrap_or_default();
                let tail: Vec<&str> = err.lines().rev().take(5).collect();
                panic!("llama_cpp.server did not come up ({exited:?}): {tail:?}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

#[test]
fn a_real_llama_cpp_server_answers_like_the_local_model() {
    let model = model_file(SMALL);
    let Some(server) = LlamaServer::start(&model) else {
        return;
    };
    let t = prepared_cache("remote-real");
    // The first request prefills the whole prompt on the server: over a
    // minute on a busy 2-core machine.
    let remote = |cache: &Path| {
        let mut c = remote(cache);
        c.env("CMDAI_TIMEOUT", "600");
        c
    };
    // One of the prompt's worked examples: greedy decoding repeats it.
    let request = "list all files here including hidden ones, with sizes";
    let o = remote(t.path())
        .args([
            "--endpoint",
            &server.url,
            "--json",
            "--shell",
            "zsh",
            "--",
            request,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_key(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["backend"], "remote", "{v}");
    assert_eq!(v["cmd"], "ls -lah", "{v}");
    assert_eq!(v["risk"], "safe");
    assert_eq!(v["endpoint"], server.url.as_str());
    // The system prompt and every example went out.
    assert!(v["tokens"]["prompt"].as_u64().unwrap() > 1000, "{v}");
    assert!(v["timings_ms"]["request"].as_f64().unwrap() > 0.0);

    // The widget protocol: the command alone, no newline; the same again
    // from the endpoint in the config file.
    let config = t.path().join("config");
    std::fs::write(&config, format!("endpoint = {}\n", server.url)).unwrap();
    let o = remote(t.path())
        .env("CMDAI_CONFIG", &config)
        .args(["--widget", "--shell", "bash", "--", request])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ls -lah");
    assert_no_key(&o);

    // --local overrides the configured endpoint, and says so in --json.
    let o = remote(t.path())
        .env("CMDAI_CONFIG", &config)
        .args(["--local", "-m", SMALL, "--json", "--", request])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["backend"], "local", "{v}");

    // The real server's refusal of a wrong key: exit 2, the key not repeated.
    let o = remote(t.path())
        .env("CMDAI_API_KEY", "sk-wrong-key")
        .args(["--endpoint", &server.url, "--", request])
        .output()
        .unwrap();
    assert_one_line_error(&o, 2, "refused the request (401)");
    assert!(!stderr(&o).contains("sk-wrong-key"), "{}", stderr(&o));
}
