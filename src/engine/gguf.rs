//! The GGUF file, memory-mapped. Metadata is parsed once; tensor data is
//! handed out as slices of the mapping, never copied.

use crate::error::{Context, Error, Kind, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::GgmlDType;
use memmap2::Mmap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Gguf {
    pub path: PathBuf,
    pub map: Arc<Mmap>,
    pub content: Content,
}

/// A tensor's place in the mapping.
pub struct TensorRef<'a> {
    pub dtype: GgmlDType,
    pub dims: Vec<usize>,
    pub bytes: &'a [u8],
}

const GGUF_MAGIC: &[u8; 4] = b"GGUF";

impl Gguf {
    pub fn open(path: &Path) -> Result<Self> {
        let refetch = "run `cmdai model fetch` to download it again, or pass another --model";
        let file = std::fs::File::open(path).context(Kind::Model, || {
            format!("cannot open model file {}", path.display())
        })?;
        // SAFETY: the mapping is read-only; the store only ever replaces model
        // files by atomic rename, so a mapped file is never written in place.
        let map = unsafe { Mmap::map(&file) }.context(Kind::Model, || {
            format!("cannot memory-map model file {}", path.display())
        })?;
        if map.len() < 4 || &map[..4] != GGUF_MAGIC {
            return Err(Error::model(format!(
                "{} is not a GGUF model file; {refetch}",
                path.display()
            )));
        }
        let mut cursor = std::io::Cursor::new(&map[..]);
        // candle's parser may panic on some malformed headers; a corrupt file
        // must end in a clear message, not a backtrace.
        let parsed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Content::read(&mut cursor)));
        let content = match parsed {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err(Error::model(format!(
                    "model file {} is corrupt or truncated ({}); {refetch}",
                    path.display(),
                    crate::error::one_line(&e.to_string())
                )))
            }
            Err(_) => {
                return Err(Error::model(format!(
                    "model file {} is corrupt; {refetch}",
                    path.display()
                )))
            }
        };
        let gguf = Gguf {
            path: path.to_path_buf(),
            map: Arc::new(map),
            content,
        };
        gguf.check_extents()?;
        Ok(gguf)
    }

    /// A truncated download parses fine (the header is intact) but its last
    /// tensors point past the end; catch that here rather than with a SIGBUS.
    fn check_extents(&self) -> Result<()> {
        for name in self.content.tensor_infos.keys() {
            self.tensor(name)?;
        }
        Ok(())
    }

    pub fn tensor(&self, name: &str) -> Result<TensorRef<'_>> {
        let info = self.content.tensor_infos.get(name).ok_or_else(|| {
            Error::model(format!(
                "model file {} has no tensor `{name}`: is it a Qwen2 GGUF?",
                self.path.display()
            ))
        })?;
        let dims = info.shape.dims().to_vec();
        let elems: usize = dims.iter().product();
        let block = info.ggml_dtype.block_size();
        if !elems.is_multiple_of(block) {
            return Err(Error::model(format!(
                "tensor `{name}` has {elems} elements, not a multiple of its block size"
            )));
        }
        let len = elems / block * info.ggml_dtype.type_size();
        let start = self.content.tensor_data_offset as usize + info.offset as usize;
        let end = start.saturating_add(len);
        if end > self.map.len() {
            return Err(Error::model(format!(
                "model file {} is truncated ({} bytes, tensor `{name}` needs {end}); \
                 run `cmdai model fetch` to download it again",
                self.path.display(),
                self.map.len()
            )));
        }
        Ok(TensorRef {
            dtype: info.ggml_dtype,
            dims,
            bytes: &self.map[start..end],
        })
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn value(&self, key: &str) -> Result<&Value> {
        self.content.metadata.get(key).ok_or_else(|| {
            Error::model(format!(
                "model file {} lacks metadata `{key}`: is it a Qwen2 GGUF?",
                self.path.display()
            ))
        })
    }

    pub fn usize(&self, key: &str) -> Result<usize> {
        let v = self.value(key)?;
        let n = match v {
            Value::U8(x) => *x as u64,
            Value::U16(x) => *x as u64,
            Value::U32(x) => *x as u64,
            Value::U64(x) => *x,
            Value::I32(x) if *x >= 0 => *x as u64,
            Value::I64(x) if *x >= 0 => *x as u64,
            _ => return Err(Error::model(format!("metadata `{key}` is not a count"))),
        };
        Ok(n as usize)
    }

    pub fn f32(&self, key: &str) -> Result<f32> {
        match self.value(key)? {
            Value::F32(x) => Ok(*x),
            Value::F64(x) => Ok(*x as f32),
            _ => Err(Error::model(format!("metadata `{key}` is not a number"))),
        }
    }

    pub fn string(&self, key: &str) -> Result<&str> {
        match self.value(key)? {
            Value::String(s) => Ok(s),
            _ => Err(Error::model(format!("metadata `{key}` is not a string"))),
        }
    }
}
