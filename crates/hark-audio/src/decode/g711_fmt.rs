//! G.711 WAVs whose `fmt ` chunk is 16 bytes long.
//!
//! μ-law (`WAVE_FORMAT_MULAW`, 7) and A-law (`WAVE_FORMAT_ALAW`, 6) are not PCM, so their `fmt `
//! chunk should be a WAVEFORMATEX with `cbSize` (18 bytes), and symphonia refuses anything else
//! ("malformed fmt_mulaw chunk"). Many writers leave `cbSize` out, Genesys' AudioHook reference
//! sample files among them. Such a file is shown to symphonia with `cbSize = 0` added: the header
//! up to the end of `fmt ` is rewritten in memory (chunk and RIFF sizes grow by 2), and the rest
//! is read from the source unchanged. Every other input passes through untouched.

use std::io::{self, Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

const WAVE_FORMAT_ALAW: u16 = 6;
const WAVE_FORMAT_MULAW: u16 = 7;
/// Chunks before `fmt ` are copied into the rewritten header; beyond this, give up.
const MAX_HEADER: u64 = 64 * 1024;
/// Chunks looked at before `fmt `.
const MAX_CHUNKS: usize = 16;

/// `source`, with a 16-byte G.711 `fmt ` chunk widened to 18 bytes if it has one.
pub(super) fn normalize(mut source: Box<dyn MediaSource>) -> io::Result<Box<dyn MediaSource>> {
    if !source.is_seekable() {
        return Ok(source);
    }
    let found = find_short_g711_fmt(&mut source)?;
    source.seek(SeekFrom::Start(0))?;
    let Some(fmt_at) = found else {
        return Ok(source);
    };
    // Everything before the `fmt ` body, the 16-byte body, then `cbSize = 0`. A file that ends
    // inside it is left to symphonia, which reports it.
    let mut header = vec![0u8; (fmt_at + 8 + 16) as usize];
    if !read_fully(&mut source, &mut header)? {
        source.seek(SeekFrom::Start(0))?;
        return Ok(source);
    }
    header.extend_from_slice(&[0, 0]);
    let body_len = fmt_at as usize + 4;
    header[body_len..body_len + 4].copy_from_slice(&18u32.to_le_bytes());
    let riff_size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    header[4..8].copy_from_slice(&riff_size.saturating_add(2).to_le_bytes());
    let rest_at = fmt_at + 8 + 16;
    Ok(Box::new(Patched {
        inner: source,
        header,
        rest_at,
        pos: 0,
        inner_pos: Some(rest_at),
    }))
}

/// The offset of a `fmt ` chunk header that says G.711 in 16 bytes, if the input is a RIFF
/// WAVE with one among its first chunks.
fn find_short_g711_fmt(source: &mut Box<dyn MediaSource>) -> io::Result<Option<u64>> {
    let mut riff = [0u8; 12];
    if !read_fully(source, &mut riff)? || &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return Ok(None);
    }
    let mut at = 12u64;
    for _ in 0..MAX_CHUNKS {
        let mut chunk = [0u8; 8];
        if at > MAX_HEADER || !read_fully(source, &mut chunk)? {
            return Ok(None);
        }
        let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        if &chunk[0..4] == b"fmt " {
            if size != 16 {
                return Ok(None);
            }
            let mut tag = [0u8; 2];
            if !read_fully(source, &mut tag)? {
                return Ok(None);
            }
            let format = u16::from_le_bytes(tag);
            let g711 = format == WAVE_FORMAT_MULAW || format == WAVE_FORMAT_ALAW;
            return Ok(g711.then_some(at));
        }
        // Chunks are padded to an even length.
        at = at.saturating_add(8).saturating_add(size + (size & 1));
        source.seek(SeekFrom::Start(at))?;
    }
    Ok(None)
}

/// Fills `buf`; false if the input ends first.
fn read_fully(source: &mut Box<dyn MediaSource>, buf: &mut [u8]) -> io::Result<bool> {
    match source.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// The rewritten header followed by the source from `rest_at` on.
struct Patched {
    inner: Box<dyn MediaSource>,
    header: Vec<u8>,
    /// Where the unchanged rest starts in `inner`.
    rest_at: u64,
    /// Position in the patched stream.
    pos: u64,
    /// Position of `inner`, when known.
    inner_pos: Option<u64>,
}

impl Patched {
    fn header_len(&self) -> u64 {
        self.header.len() as u64
    }
}

impl Read for Patched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.header_len() {
            let from = self.pos as usize;
            let n = buf.len().min(self.header.len() - from);
            buf[..n].copy_from_slice(&self.header[from..from + n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let target = self.rest_at + (self.pos - self.header_len());
        if self.inner_pos != Some(target) {
            self.inner.seek(SeekFrom::Start(target))?;
        }
        // Unknown until the read succeeds.
        self.inner_pos = None;
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        self.inner_pos = Some(target + n as u64);
        Ok(n)
    }
}

impl Seek for Patched {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "seek out of range");
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => {
                let len = self
                    .byte_len()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "length unknown"))?;
                len.checked_add_signed(d)
            }
        };
        self.pos = pos.ok_or_else(invalid)?;
        Ok(self.pos)
    }
}

impl MediaSource for Patched {
    fn is_seekable(&self) -> bool {
        self.inner.is_seekable()
    }

    fn byte_len(&self) -> Option<u64> {
        self.inner
            .byte_len()
            .map(|len| len.saturating_sub(self.rest_at) + self.header_len())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// RIFF WAVE with a 16-byte `fmt ` of `format` and 5 data bytes.
    fn wav(format: u16) -> Vec<u8> {
        let mut w = b"RIFF".to_vec();
        w.extend_from_slice(&(4 + 24 + 13u32).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&format.to_le_bytes());
        w.extend_from_slice(&[1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0]);
        w.extend_from_slice(b"data");
        w.extend_from_slice(&5u32.to_le_bytes());
        w.extend_from_slice(&[1, 2, 3, 4, 5]);
        w
    }

    fn read_all(source: &mut Box<dyn MediaSource>) -> Vec<u8> {
        let mut out = Vec::new();
        source.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn a_short_g711_fmt_gains_cb_size_and_seeks_stay_consistent() {
        let original = wav(WAVE_FORMAT_MULAW);
        let mut source = normalize(Box::new(Cursor::new(original.clone()))).unwrap();
        let mut expected = original[..36].to_vec();
        expected[4..8].copy_from_slice(&(4 + 26 + 13u32).to_le_bytes());
        expected[16..20].copy_from_slice(&18u32.to_le_bytes());
        expected.extend_from_slice(&[0, 0]);
        expected.extend_from_slice(&original[36..]);
        assert_eq!(source.byte_len(), Some(expected.len() as u64));
        assert_eq!(read_all(&mut source), expected);
        // Back into the header, then past it.
        for at in [3u64, 37, 40] {
            source.seek(SeekFrom::Start(at)).unwrap();
            assert_eq!(read_all(&mut source), expected[at as usize..], "from {at}");
        }
        assert_eq!(
            source.seek(SeekFrom::End(-2)).unwrap(),
            expected.len() as u64 - 2
        );
        assert_eq!(read_all(&mut source), [4, 5]);
        assert!(source.seek(SeekFrom::Current(-100)).is_err());
    }

    #[test]
    fn other_inputs_pass_through_untouched() {
        for input in [
            wav(1),
            wav(3),
            b"RIFF".to_vec(),
            b"fLaC\0\0\0\0".to_vec(),
            Vec::new(),
        ] {
            let mut source = normalize(Box::new(Cursor::new(input.clone()))).unwrap();
            assert_eq!(read_all(&mut source), input);
        }
    }
}
