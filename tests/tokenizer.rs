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
