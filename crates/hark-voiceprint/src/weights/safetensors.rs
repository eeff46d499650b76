//! The safetensors file format: an 8-byte little-endian header length, a JSON header naming each
//! tensor's dtype, shape and byte range, then the tensor bytes.
//!
//! hark writes only f32 tensors, in name order, with metadata keys in name order and the header
//! padded with spaces to 8 bytes, so the same tensors always give the same bytes. The reader
//! accepts any valid file with f32 tensors and checks every offset.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::VoiceprintError;

use super::legacy_pt::Tensor;

/// The largest header accepted (the GE2E header is about 1.5 KiB).
const MAX_HEADER: u64 = 1 << 20;

fn bad(message: impl Into<String>) -> VoiceprintError {
    VoiceprintError::Weights(message.into())
}

/// Serialises f32 tensors and string metadata into safetensors bytes, deterministically.
pub fn write(tensors: &BTreeMap<String, Tensor>, metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut header = String::from("{");
    let mut entries = Vec::new();
    if !metadata.is_empty() {
        let fields: Vec<String> = metadata
            .iter()
            .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
            .collect();
        entries.push(format!("\"__metadata__\":{{{}}}", fields.join(",")));
    }
    let mut offset = 0usize;
    for (name, tensor) in tensors {
        let end = offset + tensor.data.len() * 4;
        let shape: Vec<String> = tensor.shape.iter().map(usize::to_string).collect();
        entries.push(format!(
            "{}:{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            json_string(name),
            shape.join(",")
        ));
        offset = end;
    }
    header.push_str(&entries.join(","));
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for tensor in tensors.values() {
        for v in &tensor.data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

fn json_string(s: &str) -> String {
    // serde_json escapes exactly as JSON requires; a &str always serialises.
    serde_json::to_string(s).unwrap_or_default()
}

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// A parsed safetensors file: f32 tensors by name and the metadata.
#[derive(Debug)]
pub struct SafeTensors {
    /// Tensors by name.
    pub tensors: BTreeMap<String, Tensor>,
    /// The `__metadata__` strings.
    pub metadata: BTreeMap<String, String>,
}

/// Parses safetensors bytes holding f32 tensors.
pub fn read(bytes: &[u8]) -> Result<SafeTensors, VoiceprintError> {
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("file shorter than its header length"))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER || header_len as usize > bytes.len() - 8 {
        return Err(bad(format!("header length {header_len} is out of range")));
    }
    let header = &bytes[8..8 + header_len as usize];
    let data = &bytes[8 + header_len as usize..];
    let mut raw: BTreeMap<String, serde_json::Value> = serde_json::from_slice(header)
        .map_err(|e| bad(format!("header is not a JSON object: {e}")))?;
    let metadata = match raw.remove("__metadata__") {
        Some(m) => serde_json::from_value(m).map_err(|e| bad(format!("__metadata__: {e}")))?,
        None => BTreeMap::new(),
    };
    let mut tensors = BTreeMap::new();
    for (name, value) in raw {
        let entry: Entry =
            serde_json::from_value(value).map_err(|e| bad(format!("tensor {name}: {e}")))?;
        tensors.insert(name.clone(), tensor(&name, &entry, data)?);
    }
    Ok(SafeTensors { tensors, metadata })
}

fn tensor(name: &str, entry: &Entry, data: &[u8]) -> Result<Tensor, VoiceprintError> {
    if entry.dtype != "F32" {
        return Err(bad(format!("tensor {name} is {}, not F32", entry.dtype)));
    }
    let [start, end] = entry.data_offsets;
    let elements = entry
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("tensor {name}: shape overflows")))?;
    if start > end || end > data.len() || Some(end - start) != elements.checked_mul(4) {
        return Err(bad(format!(
            "tensor {name}: byte range {start}..{end} does not fit its shape or the file"
        )));
    }
    let values = data[start..end]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Tensor {
        shape: entry.shape.clone(),
        data: values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (BTreeMap<String, Tensor>, BTreeMap<String, String>) {
        let mut tensors = BTreeMap::new();
        tensors.insert(
            "b".to_owned(),
            Tensor {
                shape: vec![2, 3],
                data: vec![1.0, -2.0, 3.5, 0.0, 5.0, f32::MIN_POSITIVE],
            },
        );
        tensors.insert(
            "a".to_owned(),
            Tensor {
                shape: vec![1],
                data: vec![42.0],
            },
        );
        let mut metadata = BTreeMap::new();
        metadata.insert("source".to_owned(), "tests \"quoted\"".to_owned());
        (tensors, metadata)
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let (tensors, metadata) = sample();
        let bytes = write(&tensors, &metadata);
        assert_eq!(bytes, write(&tensors, &metadata));
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        assert_eq!(header_len % 8, 0);
        let parsed = read(&bytes).unwrap();
        assert_eq!(parsed.tensors, tensors);
        assert_eq!(parsed.metadata, metadata);
        // Tensors are laid out in name order: "a" first.
        let start = 8 + header_len as usize;
        assert_eq!(&bytes[start..start + 4], &42.0f32.to_le_bytes());
    }

    #[test]
    fn damaged_files_are_refused() {
        let (tensors, metadata) = sample();
        let bytes = write(&tensors, &metadata);
        assert!(read(&bytes[..4]).is_err());
        assert!(read(&bytes[..bytes.len() - 1]).is_err());
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read(&huge).is_err());
        let mut f16 = bytes.clone();
        let at = f16.windows(3).position(|w| w == b"F32").unwrap();
        f16[at + 1..at + 3].copy_from_slice(b"16");
        assert!(matches!(read(&f16), Err(VoiceprintError::Weights(m)) if m.contains("not F32")));
    }
}
