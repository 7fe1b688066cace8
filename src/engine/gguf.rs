//! The GGUF file, memory-mapped. The header is parsed in place: scalar
//! metadata is decoded, but arrays (the 150k-entry vocabulary and merges)
//! stay where they are in the mapping and are read by whoever needs them,
//! so opening a model costs microseconds, not a parse of every token.
//! Tensor data is handed out as slices of the mapping, never copied.

use crate::error::{Context, Error, Kind, Result};
use candle_core::quantized::GgmlDType;
use memmap2::Mmap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Gguf {
    pub path: PathBuf,
    pub map: Arc<Mmap>,
    pub content: Content,
}

/// What the header says: metadata by key, tensor layout by name.
pub struct Content {
    pub metadata: HashMap<String, Value>,
    pub tensor_infos: HashMap<String, TensorInfo>,
    /// Where tensor data starts in the file; tensor offsets are from here.
    pub tensor_data_offset: u64,
    /// Whether lengths are u32 (version 1) rather than u64.
    short_lengths: bool,
}

pub struct TensorInfo {
    pub ggml_dtype: GgmlDType,
    /// Outermost dimension first (the reverse of the file's order), as
    /// candle's shapes are.
    pub dims: Vec<usize>,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Array),
}

/// An array left in the mapping: `bytes` are its elements, encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Array {
    pub elem: ValueType,
    pub len: u64,
    /// Byte range of the elements in the file.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
}

impl ValueType {
    fn from_u32(t: u32) -> std::result::Result<Self, String> {
        use ValueType::*;
        Ok(match t {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return Err(format!("unknown value type {t}")),
        })
    }

    /// Size of a fixed-size element; None for strings and arrays.
    fn fixed_size(self) -> Option<usize> {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => Some(1),
            U16 | I16 => Some(2),
            U32 | I32 | F32 => Some(4),
            U64 | I64 | F64 => Some(8),
            String | Array => None,
        }
    }
}

/// A tensor's place in the mapping.
pub struct TensorRef<'a> {
    pub dtype: GgmlDType,
    pub dims: Vec<usize>,
    pub bytes: &'a [u8],
}

const GGUF_MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
/// Nested arrays deeper than this are a corrupt file, not a model.
const MAX_DEPTH: usize = 64;
const MAX_DIMS: u32 = 4;

type ParseResult<T> = std::result::Result<T, String>;

/// A bounds-checked cursor over the mapping: every read either succeeds or
/// says the file ended, so no header can make us read out of bounds.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
    short_lengths: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], pos: usize, short_lengths: bool) -> Self {
        Reader {
            buf,
            pos,
            short_lengths,
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> ParseResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| format!("file ends inside the header at byte {}", self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> ParseResult<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> ParseResult<u8> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> ParseResult<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> ParseResult<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> ParseResult<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A length or count: u32 in version 1, u64 after.
    pub(crate) fn length(&mut self) -> ParseResult<u64> {
        if self.short_lengths {
            Ok(self.u32()? as u64)
        } else {
            self.u64()
        }
    }

    /// A string's bytes, in place. Trailing NULs are dropped: some writers
    /// add them, and candle (whose ids we must match) drops them too.
    pub(crate) fn str_bytes(&mut self) -> ParseResult<&'a [u8]> {
        let len = self.length()?;
        let len = usize::try_from(len).map_err(|_| format!("string length {len} too large"))?;
        let mut s = self.take(len)?;
        while let [rest @ .., 0] = s {
            s = rest;
        }
        Ok(s)
    }

    fn string(&mut self) -> ParseResult<String> {
        Ok(String::from_utf8_lossy(self.str_bytes()?).into_owned())
    }

    fn value(&mut self, t: ValueType, depth: usize) -> ParseResult<Value> {
        use ValueType as T;
        Ok(match t {
            T::U8 => Value::U8(self.u8()?),
            T::I8 => Value::I8(self.u8()? as i8),
            T::U16 => Value::U16(self.u16()?),
            T::I16 => Value::I16(self.u16()? as i16),
            T::U32 => Value::U32(self.u32()?),
            T::I32 => Value::I32(self.u32()? as i32),
            T::U64 => Value::U64(self.u64()?),
            T::I64 => Value::I64(self.u64()? as i64),
            T::F32 => Value::F32(f32::from_bits(self.u32()?)),
            T::F64 => Value::F64(f64::from_bits(self.u64()?)),
            T::Bool => match self.u8()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(format!("bad bool value {b}")),
            },
            T::String => Value::String(self.string()?),
            T::Array => Value::Array(self.skip_array(depth + 1)?),
        })
    }

    /// Steps over an array, recording where its elements are.
    fn skip_array(&mut self, depth: usize) -> ParseResult<Array> {
        if depth > MAX_DEPTH {
            return Err("arrays nested too deep".into());
        }
        let elem = ValueType::from_u32(self.u32()?)?;
        let len = self.length()?;
        let start = self.pos;
        match elem.fixed_size() {
            Some(size) => {
                let bytes = usize::try_from(len)
                    .ok()
                    .and_then(|n| n.checked_mul(size))
                    .ok_or_else(|| format!("array of {len} elements too large"))?;
                self.take(bytes)?;
            }
            None => {
                for _ in 0..len {
                    match elem {
                        ValueType::String => {
                            self.str_bytes()?;
                        }
                        _ => {
                            self.skip_array(depth + 1)?;
                        }
                    }
                }
            }
        }
        Ok(Array {
            elem,
            len,
            start,
            end: self.pos,
        })
    }
}

fn dtype_from_u32(t: u32) -> ParseResult<GgmlDType> {
    Ok(match t {
        0 => GgmlDType::F32,
        1 => GgmlDType::F16,
        2 => GgmlDType::Q4_0,
        3 => GgmlDType::Q4_1,
        6 => GgmlDType::Q5_0,
        7 => GgmlDType::Q5_1,
        8 => GgmlDType::Q8_0,
        9 => GgmlDType::Q8_1,
        10 => GgmlDType::Q2K,
        11 => GgmlDType::Q3K,
        12 => GgmlDType::Q4K,
        13 => GgmlDType::Q5K,
        14 => GgmlDType::Q6K,
        15 => GgmlDType::Q8K,
        30 => GgmlDType::BF16,
        _ => return Err(format!("unknown tensor type {t}")),
    })
}

impl Content {
    /// Parses the header of a whole GGUF file held in `buf`.
    pub fn parse(buf: &[u8]) -> ParseResult<Content> {
        let mut r = Reader::new(buf, 0, false);
        if r.take(4)? != GGUF_MAGIC {
            return Err("bad magic".into());
        }
        let version = r.u32()?;
        r.short_lengths = match version {
            1 => true,
            2 | 3 => false,
            v => return Err(format!("unsupported GGUF version {v}")),
        };
        let tensor_count = r.length()?;
        let kv_count = r.length()?;
        // Each entry takes at least a dozen bytes, so counts the file cannot
        // hold are corruption; checking first keeps a garbage count from
        // reserving gigabytes below.
        let room = (buf.len() / 12) as u64;
        if tensor_count > room || kv_count > room {
            return Err(format!(
                "header declares {tensor_count} tensors and {kv_count} metadata entries"
            ));
        }
        let mut metadata = HashMap::with_capacity(kv_count as usize);
        for _ in 0..kv_count {
            let key = r.string()?;
            let t = ValueType::from_u32(r.u32()?)?;
            let v = r.value(t, 0)?;
            metadata.insert(key, v);
        }
        let mut tensor_infos = HashMap::with_capacity(tensor_count as usize);
        for _ in 0..tensor_count {
            let name = r.string()?;
            let n_dims = r.u32()?;
            if n_dims > MAX_DIMS {
                return Err(format!("tensor `{name}` has {n_dims} dimensions"));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                let d = r.length()?;
                dims.push(usize::try_from(d).map_err(|_| format!("dimension {d} too large"))?);
            }
            dims.reverse();
            let ggml_dtype = dtype_from_u32(r.u32()?)?;
            let offset = r.u64()?;
            tensor_infos.insert(
                name,
                TensorInfo {
                    ggml_dtype,
                    dims,
                    offset,
                },
            );
        }
        let alignment = match metadata.get("general.alignment") {
            Some(Value::U8(v)) => *v as u64,
            Some(Value::U16(v)) => *v as u64,
            Some(Value::U32(v)) => *v as u64,
            Some(Value::I8(v)) if *v > 0 => *v as u64,
            Some(Value::I16(v)) if *v > 0 => *v as u64,
            Some(Value::I32(v)) if *v > 0 => *v as u64,
            _ => DEFAULT_ALIGNMENT,
        }
        .max(1);
        let tensor_data_offset = (r.pos as u64).div_ceil(alignment) * alignment;
        Ok(Content {
            metadata,
            tensor_infos,
            tensor_data_offset,
            short_lengths: r.short_lengths,
        })
    }
}

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
        let content = Content::parse(&map).map_err(|e| {
            Error::model(format!(
                "model file {} is corrupt or truncated ({}); {refetch}",
                path.display(),
                crate::error::one_line(&e)
            ))
        })?;
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
        let dims = info.dims.clone();
        let elems = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::model(format!("tensor `{name}` has too many elements")))?;
        let block = info.ggml_dtype.block_size();
        if !elems.is_multiple_of(block) {
            return Err(Error::model(format!(
                "tensor `{name}` has {elems} elements, not a multiple of its block size"
            )));
        }
        let len = (elems / block).saturating_mul(info.ggml_dtype.type_size());
        let start = (self.content.tensor_data_offset as usize).saturating_add(info.offset as usize);
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

    pub fn value(&self, key: &str) -> Result<&Value> {
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

    /// Where each string of an array of strings is in the mapping, in order:
    /// (offset, length), so callers can index 150k strings without copying.
    pub fn string_spans(&self, key: &str) -> Result<Vec<(u32, u32)>> {
        let a = self.array(key, ValueType::String)?;
        let mut r = Reader::new(&self.map, a.start, self.content.short_lengths);
        let base = self.map.as_ptr() as usize;
        let mut out = Vec::with_capacity(a.len as usize);
        for _ in 0..a.len {
            let s = r.str_bytes().map_err(Error::model)?;
            let start = s.as_ptr() as usize - base;
            let span = u32::try_from(start)
                .ok()
                .zip(u32::try_from(s.len()).ok())
                .ok_or_else(|| Error::model(format!("metadata `{key}` lies past 4 GiB")))?;
            out.push(span);
        }
        Ok(out)
    }

    /// The elements of an integer array, as u32 (as candle reads token types).
    pub fn u32s(&self, key: &str) -> Result<Vec<u32>> {
        let a = match self.value(key)? {
            Value::Array(a) => *a,
            _ => return Err(Error::model(format!("metadata `{key}` is not an array"))),
        };
        let size = a
            .elem
            .fixed_size()
            .filter(|_| !matches!(a.elem, ValueType::F32 | ValueType::F64 | ValueType::Bool))
            .ok_or_else(|| Error::model(format!("metadata `{key}` is not an integer array")))?;
        let bytes = self.map.get(a.start..a.end).unwrap_or_default();
        // One loop per element type: a per-element length would cost a
        // memcpy call each, 1 ms over a vocabulary's token types.
        fn each<const N: usize>(b: &[u8], f: impl Fn([u8; N]) -> u32) -> Vec<u32> {
            b.chunks_exact(N)
                .map(|c| {
                    let mut a = [0u8; N];
                    a.copy_from_slice(c);
                    f(a)
                })
                .collect()
        }
        // Signed values are sign-extended, then truncated: candle's `as u32`.
        Ok(match (a.elem, size) {
            (ValueType::I8, _) => each::<1>(bytes, |x| x[0] as i8 as u32),
            (ValueType::I16, _) => each::<2>(bytes, |x| i16::from_le_bytes(x) as u32),
            (_, 1) => each::<1>(bytes, |x| x[0] as u32),
            (_, 2) => each::<2>(bytes, |x| u16::from_le_bytes(x) as u32),
            (_, 4) => each::<4>(bytes, u32::from_le_bytes),
            _ => each::<8>(bytes, |x| u64::from_le_bytes(x) as u32),
        })
    }

    fn array(&self, key: &str, elem: ValueType) -> Result<Array> {
        match self.value(key)? {
            Value::Array(a) if a.elem == elem => Ok(*a),
            _ => Err(Error::model(format!(
                "metadata `{key}` is not an array of {elem:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kvs: &[u8], n_kv: u64) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&n_kv.to_le_bytes());
        b.extend_from_slice(kvs);
        b
    }

    fn string(s: &str) -> Vec<u8> {
        let mut b = (s.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(s.as_bytes());
        b
    }

    #[test]
    fn arrays_stay_in_place_and_every_cut_is_an_error() {
        let mut kv = string("a");
        kv.extend_from_slice(&9u32.to_le_bytes());
        kv.extend_from_slice(&8u32.to_le_bytes());
        kv.extend_from_slice(&2u64.to_le_bytes());
        kv.extend(string("x y"));
        kv.extend(string("zz\0"));
        kv.extend(string("n"));
        kv.extend_from_slice(&4u32.to_le_bytes());
        kv.extend_from_slice(&7u32.to_le_bytes());
        let file = header(&kv, 2);
        let c = Content::parse(&file).unwrap();
        assert_eq!(c.metadata["n"], Value::U32(7));
        let Value::Array(a) = c.metadata["a"] else {
            panic!("not an array")
        };
        assert_eq!((a.elem, a.len), (ValueType::String, 2));
        let mut r = Reader::new(&file, a.start, false);
        assert_eq!(r.str_bytes().unwrap(), b"x y");
        assert_eq!(r.str_bytes().unwrap(), b"zz");
        for cut in 0..file.len() {
            assert!(Content::parse(&file[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn garbage_counts_and_lengths_are_errors() {
        let mut kv = string("a");
        kv.extend_from_slice(&9u32.to_le_bytes());
        kv.extend_from_slice(&4u32.to_le_bytes());
        kv.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(Content::parse(&header(&kv, 1)).is_err());
        assert!(Content::parse(&header(&[0xff; 64], 1)).is_err());
        assert!(Content::parse(&header(&[], u64::MAX)).is_err());
    }
}
