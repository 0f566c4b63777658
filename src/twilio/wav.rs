//! Duration of a PCM WAV file from its header, read from the file itself:
//! only the RIFF chunk headers are read (the body is skipped by seeking), so
//! a recording of any size costs a few small reads.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Chunks looked at before giving up (real files have 2 to 4 before `data`).
const MAX_CHUNKS: usize = 64;

/// Seconds of audio: the `data` chunk's size (bounded by the file's length)
/// divided by the `fmt ` chunk's byte rate. `None` when not a usable WAV.
pub fn duration_s(path: &Path) -> Option<f64> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut riff = [0u8; 12];
    file.read_exact(&mut riff).ok()?;
    if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return None;
    }
    let mut pos: u64 = 12;
    let mut byte_rate = None;
    for _ in 0..MAX_CHUNKS {
        let mut header = [0u8; 8];
        file.seek(SeekFrom::Start(pos)).ok()?;
        file.read_exact(&mut header).ok()?;
        let size = u64::from(u32::from_le_bytes(header[4..8].try_into().ok()?));
        let body = pos + 8;
        match &header[0..4] {
            b"fmt " => {
                let mut fmt = [0u8; 12];
                file.read_exact(&mut fmt).ok()?;
                byte_rate = Some(u32::from_le_bytes(fmt[8..12].try_into().ok()?));
            }
            b"data" => {
                let rate = byte_rate.filter(|r| *r > 0)?;
                // A streamed WAV may declare more (0xFFFFFFFF) than it holds.
                let size = size.min(len.saturating_sub(body));
                return Some(size as f64 / f64::from(rate));
            }
            _ => {}
        }
        pos = body + size + (size & 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(data_len: u32) -> Vec<u8> {
        // 8 kHz, mono, 16-bit: 16000 bytes/s.
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF");
        wav.extend_from_slice(&36u32.wrapping_add(data_len).to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        wav.extend_from_slice(&16u32.to_le_bytes());
        wav.extend_from_slice(&1u16.to_le_bytes());
        wav.extend_from_slice(&1u16.to_le_bytes());
        wav.extend_from_slice(&8000u32.to_le_bytes());
        wav.extend_from_slice(&16000u32.to_le_bytes());
        wav.extend_from_slice(&2u16.to_le_bytes());
        wav.extend_from_slice(&16u16.to_le_bytes());
        wav.extend_from_slice(b"LIST");
        wav.extend_from_slice(&3u32.to_le_bytes());
        wav.extend_from_slice(b"abc\0");
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&data_len.to_le_bytes());
        wav
    }

    #[test]
    fn duration_from_the_header_of_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.wav");
        let mut wav = header(8000);
        wav.extend(std::iter::repeat_n(0u8, 8000));
        std::fs::write(&path, &wav).expect("write");
        assert_eq!(duration_s(&path), Some(0.5));
        // A streamed header that claims more than the file holds.
        let mut wav = header(u32::MAX);
        wav.extend(std::iter::repeat_n(0u8, 16000));
        std::fs::write(&path, &wav).expect("write");
        assert_eq!(duration_s(&path), Some(1.0));
        std::fs::write(&path, b"not a wav file").expect("write");
        assert_eq!(duration_s(&path), None);
    }
}
