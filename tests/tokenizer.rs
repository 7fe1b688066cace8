//! The tokenizer built from GGUF metadata gives llama.cpp's ids for the
//! reference texts in tests/data/qwen_tokens.json (from llama.cpp).

mod common;
use cmdai::engine::gguf::Gguf;
use cmdai::engine::tokenizer::Tokenizer;
use common::*;

fn reference() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/qwen_tokens.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn matches_llama_cpp_ids() {
    let reference = reference();
    let models = reference["models"].as_object().unwrap();
    let mut checked = 0;
    for (key, cases) in models {
        let name = if key.contains("1.5b") { DEFAULT } else { SMALL };
        let gguf = Gguf::open(&model_file(name)).unwrap();
        let mut tok = Tokenizer::from_gguf(&gguf).unwrap();
        for case in cases.as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            assert_eq!(
                tok.encode_template(text).unwrap(),
                ids(&case["ids"]),
                "{key}: {text:?}"
            );
            assert_eq!(
                tok.encode_plain(text).unwrap(),
                ids(&case["ids_no_special"]),
                "{key} plain: {text:?}"
            );
            if case["roundtrip_ok"].as_bool() == Some(true) {
                assert_eq!(tok.decode(&ids(&case["ids"])).unwrap(), text);
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} reference cases");
}

/// The `tokenizers`-based tokenizer cmdai used before (candle's
/// `TokenizerFromGguf` over candle's parsed GGUF): ours must give its ids.
fn reference_tokenizer(path: &std::path::Path) -> tokenizers::Tokenizer {
    use candle_core::quantized::tokenizer::TokenizerFromGguf;
    let mut f = std::fs::File::open(path).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut f).unwrap();
    tokenizers::Tokenizer::from_gguf(&content).unwrap()
}

struct Pair {
    ours: Tokenizer,
    theirs: tokenizers::Tokenizer,
}

impl Pair {
    fn new(name: &str) -> Pair {
        let path = model_file(name);
        let gguf = Gguf::open(&path).unwrap();
        Pair {
            ours: Tokenizer::from_gguf(&gguf).unwrap(),
            theirs: reference_tokenizer(&path),
        }
    }

    /// With merges looked up by table, the path for vocabularies whose
    /// merges are not in token order.
    fn with_merge_table(name: &str) -> Pair {
        let path = model_file(name);
        let gguf = Gguf::open(&path).unwrap();
        Pair {
            ours: Tokenizer::from_gguf_with_merge_table(&gguf).unwrap(),
            theirs: reference_tokenizer(&path),
        }
    }

    fn theirs(&mut self, text: &str, special_as_text: bool) -> Vec<u32> {
        self.theirs.set_encode_special_tokens(special_as_text);
        self.theirs.encode(text, false).unwrap().get_ids().to_vec()
    }

    /// Both modes, and decoding, agree with the reference on `text`.
    fn check(&mut self, text: &str) {
        let template = self.ours.encode_template(text).unwrap();
        assert_eq!(template, self.theirs(text, false), "template: {text:?}");
        let plain = self.ours.encode_plain(text).unwrap();
        assert_eq!(plain, self.theirs(text, true), "plain: {text:?}");
        for ids in [&template, &plain] {
            let decoded = self.ours.decode(ids).unwrap();
            assert_eq!(decoded, self.theirs.decode(ids, false).unwrap());
            // NFC may change non-ASCII text; everything else comes back.
            if text.is_ascii() {
                assert_eq!(decoded, text);
            }
        }
    }
}

fn eval_requests() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("eval");
    let mut out = Vec::new();
    for file in ["dev.jsonl", "dev2.jsonl"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            for key in ["nl", "orig_nl"] {
                if let Some(s) = v[key].as_str() {
                    out.push(s.to_string());
                }
            }
            for key in ["gold", "orig_gold"] {
                for g in v[key].as_array().into_iter().flatten() {
                    if let Some(s) = g.as_str() {
                        out.push(s.to_string());
                    }
                }
            }
        }
    }
    assert!(out.len() > 100, "only {} eval texts", out.len());
    out
}

#[test]
fn same_ids_as_tokenizers_on_eval_requests_and_prompts() {
    let mut pair = Pair::new(DEFAULT);
    let ctx = cmdai::context::Context {
        shell: cmdai::context::Shell::Bash,
        os: "Linux (GNU coreutils)",
        listing: vec!["src/".into(), "Cargo.toml".into(), "notes café.txt".into()],
    };
    for os in ["Linux (GNU coreutils)", "macOS (BSD userland)"] {
        pair.check(&cmdai::prompt::prefix(os));
    }
    for request in eval_requests() {
        pair.check(&request);
        let prompt = cmdai::prompt::build(&ctx, &request);
        pair.check(&prompt.prefix);
        for seg in &prompt.turn {
            match seg {
                cmdai::prompt::Segment::Template(s) | cmdai::prompt::Segment::User(s) => {
                    pair.check(s)
                }
            }
        }
    }
}

#[test]
fn same_ids_as_tokenizers_on_hard_text() {
    for mut pair in [Pair::new(SMALL), Pair::with_merge_table(SMALL)] {
        for case in HARD {
            pair.check(case);
        }
    }
}

const HARD: &[&str] = &[
    "",
    " ",
    "\n",
    "a",
    "<|im_start|>user\nlist files<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|><|im_end|><|endoftext|><|im_start",
    "x<|fim_prefix|>y<|fim_middle|>z<|fim_suffix|><|repo_name|><|file_sep|>",
    "<tool_call>{}</tool_call><|box_start|><|quad_end|><|vision_pad|>",
    "<|endoftext|>  <|endoftext|>\n\n<|im_end|>",
    "   leading and trailing   ",
    "tabs\tand\t\ttabs \t \n\t\n",
    "line\r\nwindows\r\n\r\n  \r\n",
    "many\n\n\n\nnewlines\n \n  \n   x",
    "   \n   ",
    "trailing space ",
    "trailing spaces   ",
    "12345 67890 3.14159 1,000,000 0x1F",
    "!!! ... --- ??? ;;; ::: ((( ))) [[]] {{}} <<>> || && $$ ## @@ %% ^^ ** ~~",
    " !x ?y  ,z",
    "it's we'll they're I've I'm he'd don't IT'S WE'LL THEY'RE I'VE I'M HE'D",
    "'s 'S ''s 'x '",
    "café naïve résumé Ångström Zürich façade",
    "e\u{301}cole n\u{303} A\u{30a} combining \u{301}\u{302}\u{303} marks",
    "中文字符 日本語のテキスト 한국어 텍스트",
    "emoji 🦀🚀 👨‍👩‍👧 🏳️‍🌈 flags 🇫🇷",
    "Ελληνικά русский עברית العربية हिन्दी",
    "\u{a0}nbsp\u{2028}ls\u{2029}ps\u{3000}ideo\u{85}nel\u{200b}zw\u{feff}bom",
    "\u{1}\u{2}\u{7f}\u{80}\u{9f} controls",
    "①②③ ½ ⅓ Ⅻ ٣٤٥ ๑๒๓",
    "ﬁ ﬂ ﬃ compatibility Ω Å K",
    "\u{fffd}\u{e000}\u{10ffff}",
    "find . -name '*.rs' -mtime -1 | xargs grep -n \"fn main\" 2>/dev/null",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "                                                                ",
];

#[test]
fn same_ids_as_tokenizers_on_random_text() {
    let mut pair = Pair::new(SMALL);
    let alphabet: Vec<&str> = vec![
        " ",
        " ",
        " ",
        "\n",
        "\r",
        "\t",
        "'",
        "s",
        "ll",
        "a",
        "Z",
        "word",
        "Hello",
        "7",
        "42",
        ".",
        "-",
        "/",
        "|",
        "\"",
        "$",
        "<|im_end|>",
        "<|",
        "|>",
        "é",
        "e\u{301}",
        "中",
        "🦀",
        "\u{a0}",
        "\u{3000}",
        "ß",
        "Ⅻ",
        "٣",
        "\u{200d}",
        "x",
        "_",
        "=",
        ",",
        "<",
        ">",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = next() % 24;
        let text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        pair.check(&text);
    }
}

#[test]
fn same_ids_as_tokenizers_on_every_token_text() {
    let mut pair = Pair::new(SMALL);
    let n = pair.theirs.get_vocab_size(true) as u32;
    for id in 0..n {
        let text = pair.theirs.decode(&[id], false).unwrap();
        assert_eq!(pair.ours.decode(&[id]).unwrap(), text, "decode {id}");
        let theirs_id = pair
            .theirs
            .token_to_id(&pair.theirs.id_to_token(id).unwrap());
        let token = pair.theirs.id_to_token(id).unwrap();
        assert_eq!(pair.ours.token_id(&token), theirs_id, "token_id {token:?}");
        let template = pair.ours.encode_template(&text).unwrap();
        assert_eq!(
            template,
            pair.theirs(&text, false),
            "template {id}: {text:?}"
        );
        let plain = pair.ours.encode_plain(&text).unwrap();
        assert_eq!(plain, pair.theirs(&text, true), "plain {id}: {text:?}");
    }
}

/// Load time of the GGUF header plus tokenizer, before (candle's parser and
/// the `tokenizers` tokenizer) and now, interleaved:
/// `cargo test --release --test tokenizer load_time -- --ignored --nocapture`
#[test]
#[ignore]
fn load_time() {
    use std::time::Instant;
    let path = model_file(DEFAULT);
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let (mut old, mut open, mut tok) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        let file = std::fs::File::open(&path).unwrap();
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let mut cursor = std::io::Cursor::new(&map[..]);
        let content = candle_core::quantized::gguf_file::Content::read(&mut cursor).unwrap();
        use candle_core::quantized::tokenizer::TokenizerFromGguf;
        let t2 = tokenizers::Tokenizer::from_gguf(&content).unwrap();
        old.push(ms(t));
        drop((t2, content));

        let t = Instant::now();
        let gguf = Gguf::open(&path).unwrap();
        open.push(ms(t));
        let t = Instant::now();
        let mut tokenizer = Tokenizer::from_gguf(&gguf).unwrap();
        tok.push(ms(t));
        assert!(!tokenizer.encode_plain("x").unwrap().is_empty());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    println!(
        "median of 7: before {:.1} ms (candle parse + tokenizers); now open {:.2} ms + tokenizer {:.2} ms",
        median(&mut old),
        median(&mut open),
        median(&mut tok)
    );
}
