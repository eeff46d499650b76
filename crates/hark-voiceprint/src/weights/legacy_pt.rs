//! A reader for legacy (pre-1.6, non-zip) PyTorch checkpoints such as Resemblyzer's
//! `pretrained.pt`.
//!
//! The file is five pickles followed by raw tensor storages (see `voiceprint.md` §2.1). Only the
//! pickle opcodes that occur in such files are understood, and nothing is ever executed: globals
//! are names, and the only call that means anything is `torch._utils._rebuild_tensor_v2`, which
//! becomes a description of a view into a storage. Everything else is refused with an error, so
//! a hostile file cannot do more than fail to load.

use std::collections::HashMap;
use std::rc::Rc;

use crate::VoiceprintError;

/// A tensor read from the checkpoint: row-major shape and f32 data.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Elements in row-major order.
    pub data: Vec<f32>,
}

/// The most elements one tensor may have (the GE2E model's largest has 262 144).
const MAX_TENSOR_ELEMENTS: usize = 1 << 26;
/// The deepest MARK nesting accepted.
const MAX_STACK: usize = 1 << 16;

/// A value on the pickle machine's stack. Shared with `Rc` so that memo lookups are cheap and a
/// hostile file cannot make copies grow exponentially.
#[derive(Clone, Debug)]
enum Value {
    None,
    Bool,
    Int(i64),
    Float,
    Str(String),
    Bytes,
    Tuple(Vec<Rc<Value>>),
    List(Vec<Rc<Value>>),
    Dict(Vec<(Rc<Value>, Rc<Value>)>),
    Global { module: String, name: String },
    Storage { key: String },
    Tensor(TensorView),
    Opaque,
    Mark,
}

/// Where a tensor's elements live inside a storage.
#[derive(Clone, Debug)]
struct TensorView {
    key: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

fn bad(message: impl Into<String>) -> VoiceprintError {
    VoiceprintError::Checkpoint(message.into())
}

/// A byte cursor that never reads past the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], VoiceprintError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| bad(format!("truncated at byte {}", self.pos)))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, VoiceprintError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], VoiceprintError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn line(&mut self) -> Result<String, VoiceprintError> {
        let rest = &self.bytes[self.pos..];
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("unterminated GLOBAL name"))?;
        let text = String::from_utf8_lossy(&rest[..len]).into_owned();
        self.pos += len + 1;
        Ok(text)
    }

    fn text(&mut self, n: usize) -> Result<String, VoiceprintError> {
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

/// The pickle virtual machine, restricted to the opcodes of protocol-2 torch checkpoints.
struct Machine<'c, 'a> {
    input: &'c mut Cursor<'a>,
    stack: Vec<Rc<Value>>,
    memo: HashMap<u32, Rc<Value>>,
    /// Storage key → element type, collected from persistent ids.
    dtypes: HashMap<String, String>,
}

impl Machine<'_, '_> {
    fn push(&mut self, value: Value) -> Result<(), VoiceprintError> {
        if self.stack.len() >= MAX_STACK {
            return Err(bad("pickle stack too deep"));
        }
        self.stack.push(Rc::new(value));
        Ok(())
    }

    fn pop(&mut self) -> Result<Rc<Value>, VoiceprintError> {
        self.stack
            .pop()
            .ok_or_else(|| bad("pickle stack underflow"))
    }

    fn pop_to_mark(&mut self) -> Result<Vec<Rc<Value>>, VoiceprintError> {
        let mark = self
            .stack
            .iter()
            .rposition(|v| matches!(**v, Value::Mark))
            .ok_or_else(|| bad("no MARK on the pickle stack"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn top_mut(&mut self) -> Result<&mut Value, VoiceprintError> {
        let top = self.stack.last_mut().ok_or_else(|| bad("empty stack"))?;
        Ok(Rc::make_mut(top))
    }

    fn memoize(&mut self, index: u32) -> Result<(), VoiceprintError> {
        let top = self.stack.last().ok_or_else(|| bad("PUT on empty stack"))?;
        self.memo.insert(index, Rc::clone(top));
        Ok(())
    }

    fn recall(&mut self, index: u32) -> Result<(), VoiceprintError> {
        let value = self
            .memo
            .get(&index)
            .cloned()
            .ok_or_else(|| bad(format!("GET of unknown memo {index}")))?;
        if self.stack.len() >= MAX_STACK {
            return Err(bad("pickle stack too deep"));
        }
        self.stack.push(value);
        Ok(())
    }

    /// Runs until STOP and returns the pickled object.
    fn run(&mut self) -> Result<Rc<Value>, VoiceprintError> {
        loop {
            let op = self.input.u8()?;
            match op {
                0x80 => {
                    self.input.u8()?; // PROTO n
                }
                b'.' => return self.pop(),
                b'}' => self.push(Value::Dict(Vec::new()))?,
                b']' => self.push(Value::List(Vec::new()))?,
                b')' => self.push(Value::Tuple(Vec::new()))?,
                b'(' => self.push(Value::Mark)?,
                b'N' => self.push(Value::None)?,
                0x88 | 0x89 => self.push(Value::Bool)?,
                b'K' => {
                    let v = self.input.u8()?;
                    self.push(Value::Int(i64::from(v)))?
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.input.array()?);
                    self.push(Value::Int(i64::from(v)))?
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.input.array()?);
                    self.push(Value::Int(i64::from(v)))?
                }
                0x8a => self.long1()?,
                b'G' => {
                    self.input.array::<8>()?;
                    self.push(Value::Float)?
                }
                b'X' => {
                    let n = u32::from_le_bytes(self.input.array()?) as usize;
                    let s = self.input.text(n)?;
                    self.push(Value::Str(s))?
                }
                0x8c => {
                    let n = usize::from(self.input.u8()?);
                    let s = self.input.text(n)?;
                    self.push(Value::Str(s))?
                }
                b'U' => {
                    let n = usize::from(self.input.u8()?);
                    self.input.take(n)?;
                    self.push(Value::Bytes)?
                }
                b'T' => {
                    let n = u32::from_le_bytes(self.input.array()?) as usize;
                    self.input.take(n)?;
                    self.push(Value::Bytes)?
                }
                b'q' => {
                    let i = self.input.u8()?;
                    self.memoize(u32::from(i))?
                }
                b'r' => {
                    let i = u32::from_le_bytes(self.input.array()?);
                    self.memoize(i)?
                }
                b'h' => {
                    let i = self.input.u8()?;
                    self.recall(u32::from(i))?
                }
                b'j' => {
                    let i = u32::from_le_bytes(self.input.array()?);
                    self.recall(i)?
                }
                b'c' => {
                    let module = self.input.line()?;
                    let name = self.input.line()?;
                    self.push(Value::Global { module, name })?
                }
                _ => self.collection_op(op)?,
            }
        }
    }

    /// Opcodes that build tuples, lists and dicts, or reduce.
    fn collection_op(&mut self, op: u8) -> Result<(), VoiceprintError> {
        match op {
            b't' => {
                let items = self.pop_to_mark()?;
                self.push(Value::Tuple(items))
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < n {
                    return Err(bad("pickle stack underflow"));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push(Value::Tuple(items))
            }
            b'a' => {
                let item = self.pop()?;
                match self.top_mut()? {
                    Value::List(list) => {
                        list.push(item);
                        Ok(())
                    }
                    _ => Err(bad("APPEND to a non-list")),
                }
            }
            b'e' => {
                let items = self.pop_to_mark()?;
                match self.top_mut()? {
                    Value::List(list) => {
                        list.extend(items);
                        Ok(())
                    }
                    _ => Err(bad("APPENDS to a non-list")),
                }
            }
            b's' => {
                let value = self.pop()?;
                let key = self.pop()?;
                self.set_items(vec![key, value])
            }
            b'u' => {
                let items = self.pop_to_mark()?;
                self.set_items(items)
            }
            b'b' => {
                // BUILD sets state on an object (OrderedDict metadata): irrelevant here.
                self.pop()?;
                Ok(())
            }
            b'Q' => self.persistent_id(),
            b'R' => self.reduce(),
            _ => Err(bad(format!("unsupported pickle opcode 0x{op:02x}"))),
        }
    }

    fn long1(&mut self) -> Result<(), VoiceprintError> {
        let n = usize::from(self.input.u8()?);
        let bytes = self.input.take(n)?;
        let mut value: i64 = 0;
        for (i, b) in bytes.iter().enumerate().take(8) {
            value |= i64::from(*b) << (8 * i);
        }
        if (1..8).contains(&n) && bytes[n - 1] & 0x80 != 0 {
            value -= 1i64 << (8 * n);
        }
        self.push(Value::Int(value))
    }

    fn set_items(&mut self, items: Vec<Rc<Value>>) -> Result<(), VoiceprintError> {
        if !items.len().is_multiple_of(2) {
            return Err(bad("SETITEMS with an odd number of items"));
        }
        match self.top_mut()? {
            Value::Dict(dict) => {
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    dict.push((k, v));
                }
                Ok(())
            }
            _ => Err(bad("SETITEM on a non-dict")),
        }
    }

    /// BINPERSID: `('storage', StorageType, key, location, numel[, view])` names a raw storage.
    fn persistent_id(&mut self) -> Result<(), VoiceprintError> {
        let pid = self.pop()?;
        let Value::Tuple(fields) = &*pid else {
            return Err(bad("persistent id is not a tuple"));
        };
        let (Some(kind), Some(key)) = (fields.get(1), fields.get(2)) else {
            return Err(bad("persistent id too short"));
        };
        let (Value::Global { name: dtype, .. }, Value::Str(key)) = (&**kind, &**key) else {
            return Err(bad("persistent id without storage type and key"));
        };
        self.dtypes.insert(key.clone(), dtype.clone());
        self.push(Value::Storage { key: key.clone() })
    }

    /// REDUCE: only tensor rebuilds and `OrderedDict()` mean anything; other calls are opaque.
    fn reduce(&mut self) -> Result<(), VoiceprintError> {
        let args = self.pop()?;
        let callable = self.pop()?;
        let value = match (&*callable, &*args) {
            (Value::Global { module, name }, Value::Tuple(args))
                if module == "torch._utils" && name.starts_with("_rebuild_tensor") =>
            {
                Value::Tensor(tensor_view(args)?)
            }
            (Value::Global { module, name }, _)
                if module == "collections" && name == "OrderedDict" =>
            {
                Value::Dict(Vec::new())
            }
            _ => Value::Opaque,
        };
        self.push(value)
    }
}

fn int(value: &Value) -> Result<usize, VoiceprintError> {
    match value {
        Value::Int(i) => usize::try_from(*i).map_err(|_| bad("negative tensor dimension")),
        _ => Err(bad("tensor argument is not an integer")),
    }
}

fn ints(value: &Value) -> Result<Vec<usize>, VoiceprintError> {
    match value {
        Value::Tuple(items) => items.iter().map(|v| int(v)).collect(),
        _ => Err(bad("tensor size or stride is not a tuple")),
    }
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, ...)`.
fn tensor_view(args: &[Rc<Value>]) -> Result<TensorView, VoiceprintError> {
    let [storage, offset, shape, stride, ..] = args else {
        return Err(bad("tensor rebuild with too few arguments"));
    };
    let Value::Storage { key, .. } = &**storage else {
        return Err(bad("tensor rebuilt from something that is not a storage"));
    };
    let view = TensorView {
        key: key.clone(),
        offset: int(offset)?,
        shape: ints(shape)?,
        stride: ints(stride)?,
    };
    if view.shape.len() != view.stride.len() {
        return Err(bad("tensor size and stride differ in rank"));
    }
    Ok(view)
}

fn run_pickle(
    input: &mut Cursor<'_>,
    dtypes: &mut HashMap<String, String>,
) -> Result<Rc<Value>, VoiceprintError> {
    let mut machine = Machine {
        input,
        stack: Vec::new(),
        memo: HashMap::new(),
        dtypes: HashMap::new(),
    };
    let value = machine.run()?;
    dtypes.extend(machine.dtypes);
    Ok(value)
}

/// Reads the `model_state` tensors of a legacy checkpoint: name → tensor.
pub fn read_model_state(bytes: &[u8]) -> Result<HashMap<String, Tensor>, VoiceprintError> {
    let mut input = Cursor { bytes, pos: 0 };
    let mut dtypes = HashMap::new();
    match &*run_pickle(&mut input, &mut dtypes)? {
        Value::Int(_) => {}
        _ => return Err(bad("missing magic number; not a legacy torch checkpoint")),
    }
    run_pickle(&mut input, &mut dtypes)?; // protocol version
    run_pickle(&mut input, &mut dtypes)?; // sys_info
    let object = run_pickle(&mut input, &mut dtypes)?;
    let keys = run_pickle(&mut input, &mut dtypes)?;
    let Value::List(keys) = &*keys else {
        return Err(bad("storage key list missing"));
    };
    let storages = read_storages(&mut input, keys, &dtypes)?;
    let views = model_state_views(&object)?;
    let mut tensors = HashMap::new();
    for (name, view) in views {
        let storage = storages
            .get(&view.key)
            .ok_or_else(|| bad(format!("{name}: storage {} is not f32", view.key)))?;
        tensors.insert(name.clone(), materialise(&name, &view, storage)?);
    }
    Ok(tensors)
}

/// The raw storages after the pickles: for each key, `u64 numel` then the elements.
fn read_storages(
    input: &mut Cursor<'_>,
    keys: &[Rc<Value>],
    dtypes: &HashMap<String, String>,
) -> Result<HashMap<String, Vec<f32>>, VoiceprintError> {
    let mut storages = HashMap::new();
    for key in keys {
        let Value::Str(key) = &**key else {
            return Err(bad("storage key is not a string"));
        };
        let numel = u64::from_le_bytes(input.array()?);
        let dtype = dtypes
            .get(key)
            .map(String::as_str)
            .unwrap_or("FloatStorage");
        let size =
            element_size(dtype).ok_or_else(|| bad(format!("unknown storage type {dtype}")))?;
        let len = usize::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(size))
            .ok_or_else(|| bad("storage size overflows"))?;
        let raw = input.take(len)?;
        if dtype == "FloatStorage" {
            let data = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            storages.insert(key.clone(), data);
        }
    }
    Ok(storages)
}

fn element_size(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "DoubleStorage" | "LongStorage" => 8,
        "FloatStorage" | "IntStorage" => 4,
        "HalfStorage" | "ShortStorage" | "BFloat16Storage" => 2,
        "ByteStorage" | "CharStorage" | "BoolStorage" => 1,
        _ => return None,
    })
}

/// The `(name, view)` pairs of `object["model_state"]`.
fn model_state_views(object: &Value) -> Result<Vec<(String, TensorView)>, VoiceprintError> {
    let Value::Dict(top) = object else {
        return Err(bad("checkpoint object is not a dict"));
    };
    let state = top
        .iter()
        .find(|(k, _)| matches!(&**k, Value::Str(s) if s == "model_state"))
        .map(|(_, v)| v)
        .ok_or_else(|| bad("no model_state in checkpoint"))?;
    let Value::Dict(state) = &**state else {
        return Err(bad("model_state is not a dict"));
    };
    Ok(state
        .iter()
        .filter_map(|(k, v)| match (&**k, &**v) {
            (Value::Str(name), Value::Tensor(view)) => Some((name.clone(), view.clone())),
            _ => None,
        })
        .collect())
}

/// Copies a (possibly strided) view out of its storage into row-major order.
fn materialise(name: &str, view: &TensorView, storage: &[f32]) -> Result<Tensor, VoiceprintError> {
    let numel = view
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_TENSOR_ELEMENTS)
        .ok_or_else(|| bad(format!("{name}: tensor too large")))?;
    // The furthest element the view touches must lie inside the storage.
    let last = view
        .shape
        .iter()
        .zip(&view.stride)
        .try_fold(view.offset, |acc, (&d, &s)| {
            acc.checked_add(d.saturating_sub(1).checked_mul(s)?)
        })
        .ok_or_else(|| bad(format!("{name}: view overflows")))?;
    if numel > 0 && last >= storage.len() {
        return Err(bad(format!("{name}: view reaches past its storage")));
    }
    let mut data = Vec::with_capacity(numel);
    let mut index = vec![0usize; view.shape.len()];
    for _ in 0..numel {
        let at: usize = view.offset
            + index
                .iter()
                .zip(&view.stride)
                .map(|(i, s)| i * s)
                .sum::<usize>();
        data.push(storage[at]);
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < view.shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(Tensor {
        shape: view.shape.clone(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny checkpoint in the legacy layout, written opcode by opcode.
    fn checkpoint(values: &[f32]) -> Vec<u8> {
        let mut b = Vec::new();
        // magic (LONG1), protocol, sys_info
        b.extend_from_slice(&[0x80, 2, 0x8a, 2, 0x6c, 0xfc, b'.']);
        b.extend_from_slice(&[0x80, 2, b'M', 0xe9, 0x03, b'.']);
        b.extend_from_slice(&[0x80, 2, b'}', b'.']);
        // {"model_state": {"w": _rebuild_tensor_v2(pid, 0, (2, 2), (1, 2))}}  (a transposed view)
        b.extend_from_slice(&[0x80, 2, b'}', b'q', 0, b'X']);
        b.extend_from_slice(&11u32.to_le_bytes());
        b.extend_from_slice(b"model_state");
        b.extend_from_slice(b"ccollections\nOrderedDict\nq\x01)Rq\x02X");
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(b"w");
        b.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        b.extend_from_slice(b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04NtQ");
        b.extend_from_slice(
            b"K\x00K\x02K\x02\x86K\x01K\x02\x86\x89ccollections\nOrderedDict\n)RtR",
        );
        b.extend_from_slice(b"ss.");
        // storage keys, then the storage
        b.extend_from_slice(b"\x80\x02]X\x01\x00\x00\x000a.");
        b.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    #[test]
    fn reads_a_strided_tensor() {
        let state = read_model_state(&checkpoint(&[1.0, 2.0, 3.0, 4.0])).unwrap();
        let w = &state["w"];
        assert_eq!(w.shape, vec![2, 2]);
        // stride (1, 2) over [1, 2, 3, 4] is the transpose.
        assert_eq!(w.data, vec![1.0, 3.0, 2.0, 4.0]);
    }

    #[test]
    fn a_short_storage_is_refused() {
        let mut bytes = checkpoint(&[1.0, 2.0, 3.0, 4.0]);
        bytes.truncate(bytes.len() - 4);
        assert!(matches!(
            read_model_state(&bytes),
            Err(VoiceprintError::Checkpoint(m)) if m.contains("truncated")
        ));
    }

    #[test]
    fn a_view_past_its_storage_is_refused() {
        // The 2 × 2 view needs index 3; the storage has only 3 elements.
        assert!(matches!(
            read_model_state(&checkpoint(&[1.0, 2.0, 3.0])),
            Err(VoiceprintError::Checkpoint(m)) if m.contains("past its storage")
        ));
    }

    #[test]
    fn unknown_opcodes_and_garbage_are_errors() {
        assert!(read_model_state(b"").is_err());
        assert!(read_model_state(b"\x80\x02cos\nsystem\n(X\x02\x00\x00\x00lstR.").is_err());
        assert!(read_model_state(&[0xff; 64]).is_err());
    }

    #[test]
    fn self_referencing_memo_does_not_blow_up() {
        // L = []; memo; then 40 × (GET L, GET L, build tuple, PUT) — shared, not copied.
        let mut b = vec![0x80, 2, b']', b'q', 0];
        for _ in 0..40 {
            b.extend_from_slice(&[b'h', 0, b'h', 0, 0x86, b'q', 0]);
        }
        b.push(b'.');
        let mut cursor = Cursor { bytes: &b, pos: 0 };
        assert!(run_pickle(&mut cursor, &mut HashMap::new()).is_ok());
    }
}
